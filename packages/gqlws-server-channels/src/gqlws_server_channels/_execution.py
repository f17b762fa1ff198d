"""GraphQL execution helpers: the document cache, validation rules, error
formatting, and running sync user code off the event loop."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import logging
import os
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from graphql import (
    ASTValidationRule,
    DocumentNode,
    ExecutionContext,
    ExecutionResult,
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    MiddlewareManager,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    default_field_resolver,
    execute,
    parse,
    specified_rules,
    validate,
)
from graphql.pyutils import Path, Undefined
from graphql.validation import NoSchemaIntrospectionCustomRule

__all__ = [
    "DocumentCache",
    "PreparedOperation",
    "format_error",
    "format_result",
    "max_depth_rule",
    "run_inline",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

# Document cache.

_Rules = tuple[type[ASTValidationRule], ...]


class DocumentCache:
    """Parsed and validated documents, shared by every connection.

    Keyed by (schema, rules, document text), bounded, least recently used
    out first. It holds schemas, rule classes and documents only: nothing of
    a connection stays alive through it.

    Args:
        maxsize: how many documents to keep.
    """

    def __init__(self, maxsize: int = 1000) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[tuple[int, str], DocumentNode | list[GraphQLError]] = (
            OrderedDict()
        )
        # (schema, rules) -> a small int, so a lookup hashes two short
        # values rather than a tuple of some thirty rule classes.
        self._namespaces: dict[tuple[GraphQLSchema, _Rules], int] = {}

    def namespace(self, schema: GraphQLSchema, rules: _Rules) -> int:
        """The key part standing for (schema, rules); compute it once."""
        return self._namespaces.setdefault((schema, rules), len(self._namespaces))

    def get(
        self, schema: GraphQLSchema, rules: _Rules, query: str, *, namespace: int | None = None
    ) -> DocumentNode | list[GraphQLError]:
        """The document for `query`, or the errors that refuse it.

        Args:
            schema: the schema to validate against.
            rules: the validation rules.
            query: the document text.
            namespace: `namespace(schema, rules)`, when the caller kept it.
        """
        if namespace is None:
            namespace = self.namespace(schema, rules)
        key = (namespace, query)
        entries = self._entries
        found = entries.get(key)
        if found is not None:
            entries.move_to_end(key)
            return found
        try:
            document = parse(query)
        except GraphQLError as error:
            result: DocumentNode | list[GraphQLError] = [error]
        else:
            errors = validate(schema, document, rules)
            result = errors if errors else document
        entries[key] = result
        if len(entries) > self.maxsize:
            entries.popitem(last=False)
        return result


#: The cache every consumer shares (one process, one cache).
document_cache = DocumentCache()


def validation_rules(
    extra: Collection[type[ASTValidationRule]],
    *,
    max_query_depth: int | None,
    allow_introspection: bool,
) -> _Rules:
    """The full rule tuple for a consumer's settings (stable, hashable)."""
    rules: list[type[ASTValidationRule]] = list(specified_rules)
    rules.extend(extra)
    if max_query_depth is not None:
        rules.append(max_depth_rule(max_query_depth))
    if not allow_introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    return tuple(rules)


@functools.cache
def max_depth_rule(max_depth: int) -> type[ASTValidationRule]:
    """A validation rule refusing operations nested deeper than `max_depth`.

    Depth counts nested selection sets through fragments; introspection
    fields (`__schema`, `__type`) are not counted, so tools keep working.
    The class is cached per depth, so the rule tuple stays a stable key.
    """
    if isinstance(max_depth, bool) or not isinstance(max_depth, int) or max_depth < 1:
        raise ValueError(f"max_query_depth must be a positive int, got {max_depth!r}")

    class MaxDepthRule(ASTValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: object) -> None:
            context = self.context
            assert isinstance(context, ValidationContext)
            depth = _depth(node.selection_set, context, set())
            if depth > max_depth:
                name = f"'{node.name.value}'" if node.name else "anonymous operation"
                self.report_error(
                    GraphQLError(
                        f"{name} is {depth} levels deep, more than the {max_depth} allowed",
                        node,
                    )
                )

    MaxDepthRule.__name__ = MaxDepthRule.__qualname__ = f"MaxDepthRule{max_depth}"
    return MaxDepthRule


def _depth(
    selection_set: SelectionSetNode | None, context: ValidationContext, seen: set[str]
) -> int:
    if selection_set is None:
        return 0
    deepest = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            if selection.name.value.startswith("__"):
                continue
            depth = 1 + _depth(selection.selection_set, context, seen)
        elif isinstance(selection, InlineFragmentNode):
            depth = _depth(selection.selection_set, context, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = context.get_fragment(name)
            if fragment is None or name in seen:
                # Unknown or cyclic spreads are other rules' business.
                continue
            depth = _depth(fragment.selection_set, context, seen | {name})
        else:  # pragma: no cover - the AST has no other selection kind
            continue
        deepest = max(deepest, depth)
    return deepest


# Executing one operation for many root values.


class _NotificationContext(ExecutionContext):
    """graphql-core's execution context, minus a task per notification.

    graphql-core gathers the awaitable fields of a selection set, which
    wraps each in a task. A subscription has one root field (a validation
    rule says so), usually awaitable (`publish` is a coroutine): awaiting
    it directly gives the same result without the task.
    """

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        fields: dict[str, list[FieldNode]],
    ) -> Any:
        if len(fields) != 1:
            return super().execute_fields(parent_type, source_value, path, fields)
        ((name, nodes),) = fields.items()
        result = self.execute_field(
            parent_type, source_value, nodes, Path(path, name, parent_type.name)
        )
        if result is Undefined:
            return {}
        if self.is_awaitable(result):
            return _one_field(name, result)
        return {name: result}


async def _one_field(name: str, result: Any) -> dict[str, Any]:
    return {name: await result}


def _fresh_errors(template: ExecutionContext) -> Callable[[ExecutionContext], None] | None:
    """How to give a copy of `template` an error list of its own, for the
    graphql-core versions whose `execute()` tail we mirror (3.2.x)."""
    try:
        parameters = list(inspect.signature(template.execute_operation).parameters)
    except (TypeError, ValueError):  # pragma: no cover - not a plain method
        return None
    if parameters != ["operation", "root_value"]:
        return None
    collected = getattr(template, "collected_errors", None)
    if collected is not None:
        kind = type(collected)

        def reset_collected(context: ExecutionContext) -> None:
            context.collected_errors = kind()

        return reset_collected
    if isinstance(getattr(template, "errors", None), list):

        def reset_list(context: ExecutionContext) -> None:
            # graphql-core before 3.2.14 (hence not in its type hints).
            context.errors = []  # type: ignore[attr-defined]

        return reset_list
    return None  # pragma: no cover - an execution context of another shape


class PreparedOperation:
    """An operation executed for many root values: the notifications of one
    subscription.

    `execute()` coerces the variables, finds the operation and builds an
    execution context each time; for a subscription all of that is the same
    for every notification. This builds the context once and runs a shallow
    copy of it (own root value, own errors; fields collected once, shared)
    per notification. Where graphql-core's shape is not the one this knows,
    it calls `execute()` every time instead.

    Args:
        schema: the schema.
        document: the validated document.
        context: the context value.
        variables: the raw variables.
        operation_name: the operation to run.
        middleware: the middleware, or None.
    """

    __slots__ = ("_args", "_reset", "_template")

    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        *,
        context: object,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        middleware: MiddlewareManager | None,
    ) -> None:
        self._args = (schema, document, context, variables, operation_name, middleware)
        self._template: ExecutionContext | None = None
        self._reset: Callable[[ExecutionContext], None] | None = None
        built = _NotificationContext.build(
            schema, document, None, context, variables, operation_name, middleware=middleware
        )
        if isinstance(built, ExecutionContext):
            self._reset = _fresh_errors(built)
            if self._reset is not None:
                self._template = built

    def run(self, root_value: object) -> ExecutionResult | Awaitable[ExecutionResult]:
        """Execute for `root_value`: what `execute()` returns."""
        template = self._template
        if template is None:
            schema, document, context, variables, operation_name, middleware = self._args
            return execute(
                schema,
                document,
                root_value,
                context,
                variables,
                operation_name,
                middleware=middleware,
            )
        # A shallow copy, without `copy.copy`'s generic protocol.
        context = object.__new__(type(template))
        context.__dict__.update(template.__dict__)
        assert self._reset is not None
        self._reset(context)
        context.root_value = root_value
        # What `execute()` does once its context is built.
        try:
            result = context.execute_operation(context.operation, root_value)
            if context.is_awaitable(result):
                return _await_response(context, result)  # type: ignore[arg-type]
        except GraphQLError as error:
            return _error_response(context, error)
        return _response(context, result)


def _errors_of(context: ExecutionContext) -> list[GraphQLError]:
    collected = getattr(context, "collected_errors", None)
    errors: list[GraphQLError] = (
        collected.errors if collected is not None else getattr(context, "errors")  # noqa: B009
    )
    return errors


def _response(context: ExecutionContext, data: Any) -> ExecutionResult:
    return context.build_response(data, _errors_of(context))


def _error_response(context: ExecutionContext, error: GraphQLError) -> ExecutionResult:
    collected = getattr(context, "collected_errors", None)
    if collected is not None:
        collected.add(error, None)
    else:
        _errors_of(context).append(error)
    return _response(context, None)


async def _await_response(context: ExecutionContext, result: Awaitable[Any]) -> ExecutionResult:
    try:
        data = await result
    except GraphQLError as error:
        return _error_response(context, error)
    return _response(context, data)


# Errors.

INTERNAL_ERROR_MESSAGE = "Internal server error"


def format_error(error: BaseException, *, mask: bool = False) -> dict[str, Any]:
    """Format an exception for the client.

    `GraphQLError` keeps the spec format (`message`, `locations`, `path`,
    `extensions`). Any other exception becomes "ClassName: message" with
    `extensions.code` set to the class name. With `mask`, errors that come
    from unexpected exceptions (not a `GraphQLError` raised on purpose) say
    only "Internal server error". Never a traceback.
    """
    if isinstance(error, GraphQLError):
        original = error.original_error
        if mask and original is not None and not isinstance(original, GraphQLError):
            masked: dict[str, Any] = {"message": INTERNAL_ERROR_MESSAGE}
            if error.locations is not None:
                masked["locations"] = [loc.formatted for loc in error.locations]
            if error.path is not None:
                masked["path"] = error.path
            masked["extensions"] = {"code": "INTERNAL_SERVER_ERROR"}
            return masked
        return dict(error.formatted)
    if mask:
        return {"message": INTERNAL_ERROR_MESSAGE, "extensions": {"code": "INTERNAL_SERVER_ERROR"}}
    name = type(error).__name__
    return {"message": f"{name}: {error}", "extensions": {"code": name}}


def format_result(result: ExecutionResult, *, mask: bool = False) -> dict[str, Any]:
    """An execution result as the `payload` of a `next` message."""
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        payload["errors"] = [format_error(e, mask=mask) for e in result.errors]
    if result.extensions:
        payload["extensions"] = result.extensions
    return payload


def is_request_error(result: ExecutionResult) -> bool:
    """Whether the result reports errors raised before execution started.

    Such errors (unknown operation, bad variables) have no `path`; every
    field error has one, even when it nulled the whole `data`.
    """
    errors = result.errors
    return result.data is None and bool(errors) and all(e.path is None for e in errors or ())


# Sync user code off the loop.


def run_inline(func: T) -> T:
    """Mark a sync resolver as cheap: it runs on the event loop, not in a thread.

    Sync resolvers run in the consumer's worker threads, so blocking code
    (the Django ORM, `time.sleep`) never stalls other connections. A resolver
    that only computes (no IO, no lock) is faster inline.
    """
    func._gqlws_inline = True  # type: ignore[attr-defined]
    return func


def _is_inline(resolver: Callable[..., object]) -> bool:
    if getattr(resolver, "_gqlws_inline", False) or resolver is default_field_resolver:
        return True
    target = resolver.func if isinstance(resolver, functools.partial) else resolver
    if getattr(target, "_gqlws_inline", False):
        return True
    if inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target):
        return True
    # Graphene's default resolvers (attribute or key lookups) and identity.
    module = getattr(target, "__module__", "") or ""
    return module.startswith(("graphene.types.resolver", "graphene.types.schema"))


def make_offload_middleware(
    executor: Callable[[], ThreadPoolExecutor],
) -> Callable[..., object]:
    """A graphql-core middleware running sync user resolvers in `executor()`.

    It must be the innermost middleware so that it sees the field resolver
    itself; cheap resolvers (defaults, async ones, `run_inline`) are called
    directly. The decision is cached per resolver.
    """
    decisions: dict[Callable[..., object], bool] = {}

    def offload_sync_resolvers(
        next_: Callable[..., object], root: object, info: object, **args: object
    ) -> object:
        inline = decisions.get(next_)
        if inline is None:
            inline = decisions[next_] = _is_inline(next_)
        if inline:
            return next_(root, info, **args)
        return Deferred(run_sync, executor(), next_, root, info, **args)

    return offload_sync_resolvers


class Deferred:
    """An awaitable that creates its coroutine only when awaited.

    graphql-core gathers field results a loop step after the resolvers
    returned them; an operation cancelled in between (the client completed
    it, or left) would drop coroutines never awaited, each with a warning.
    """

    __slots__ = ("_args", "_func", "_kwargs")

    def __init__(self, func: Callable[..., Any], /, *args: object, **kwargs: object) -> None:
        self._func = func
        self._args = args
        self._kwargs = kwargs

    def __await__(self) -> Any:
        return self._func(*self._args, **self._kwargs).__await__()


def _call_with_db_hygiene(
    func: Callable[..., T], args: tuple[object, ...], kwargs: dict[str, object]
) -> T:
    # What `channels.db.database_sync_to_async` does around ORM work: drop
    # connections that outlived their age or broke, before and after.
    from django.db import close_old_connections

    close_old_connections()
    try:
        return func(*args, **kwargs)
    finally:
        close_old_connections()


async def run_sync(
    executor: ThreadPoolExecutor, func: Callable[..., Any], /, *args: object, **kwargs: object
) -> Any:
    """Run sync `func` in `executor` with the caller's contextvars; await
    the result too when `func` returned an awaitable."""
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()
    result = await loop.run_in_executor(
        executor, functools.partial(context.run, _call_with_db_hygiene, func, args, kwargs)
    )
    if inspect.isawaitable(result):
        result = await result
    return result


async def call_user(
    executor: ThreadPoolExecutor, func: Callable[..., Any], /, *args: object, **kwargs: object
) -> Any:
    """Call a user hook, sync or async: async ones on the loop, sync ones in
    `executor` (unless marked with `run_inline`)."""
    target = func.func if isinstance(func, functools.partial) else func
    if inspect.iscoroutinefunction(target) or getattr(target, "_gqlws_inline", False):
        result = func(*args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result
    return await run_sync(executor, func, *args, **kwargs)


def new_executor(max_workers: int | None) -> ThreadPoolExecutor:
    """The worker pool for sync user code."""
    if max_workers is None:
        max_workers = min(32, (os.cpu_count() or 1) + 4)
    return ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="gqlws")
