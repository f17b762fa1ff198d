"""Checklist C.1: the server side of `graphql-transport-ws` (24 items)."""

from __future__ import annotations

import uuid

from ._options import LEGACY, MODERN
from ._probe import JsonObject, Probe, Received, Socket, describe
from ._registry import item

__all__: list[str] = []

TYPENAME = "{ __typename }"
COUNT = (
    "subscription ($to: Int!, $interval: Float, $tag: String) "
    "{ count(to: $to, interval: $interval, tag: $tag) }"
)
# The longest close reason a close frame carries (RFC 6455: 125 bytes of
# payload, 2 of them the code).
MAX_REASON_BYTES = 123


def check_typename(probe: Probe, payload: JsonObject) -> None:
    """The result of `{ __typename }`: data with a string, no errors."""
    data = payload.get("data")
    if (
        payload.get("errors")
        or not isinstance(data, dict)
        or not isinstance(data.get("__typename"), str)
    ):
        probe.fail(f"expected data {{'__typename': <string>}}, observed {describe(payload, 0)}")


def check_error_list(probe: Probe, message: JsonObject) -> None:
    """An `error` payload: a non-empty array of objects with a `message`."""
    errors = message.get("payload")
    if (
        not isinstance(errors, list)
        or not errors
        or not all(isinstance(e, dict) and isinstance(e.get("message"), str) for e in errors)
    ):
        probe.fail(
            "expected an error payload that is a non-empty array of objects with a "
            f"'message', observed {describe(message, 0)}"
        )


async def count_values(probe: Probe, socket: Socket, op_id: str, values: range) -> None:
    """Expect `count` results with these values, in order."""
    for value in values:
        payload = await socket.result(op_id)
        if payload.get("data") != {"count": value} or payload.get("errors"):
            probe.fail(f"expected data {{'count': {value}}}, observed {describe(payload, 0)}")


async def long_subscription(
    socket: Socket, op_id: str, *, interval: float | None = None, tag: str | None = None
) -> None:
    """Start a `count` that lasts, and wait for its first result.

    Its events come `interval` seconds apart; by default far enough apart
    that none falls into the waits of an item.
    """
    if interval is None:
        interval = max(2.0, 10 * socket.probe.options.quiet)
    await socket.start(
        op_id, COUNT, {"to": 100_000, "interval": interval, "tag": tag}, subscription=True
    )
    await socket.result(op_id)


@item("C.1.1", "handshake offering graphql-transport-ws selects it", MODERN)
async def handshake_exact(probe: Probe) -> str:
    handshake, _ = await probe.handshake([MODERN])
    if not handshake.accepted:
        probe.fail(
            f"expected 101 with {MODERN!r}, observed a refusal "
            f"({handshake.code}, {handshake.reason})"
        )
    if handshake.subprotocol != MODERN:
        probe.fail(f"expected subprotocol {MODERN!r}, observed {handshake.subprotocol!r}")
    return f"selected {MODERN!r}"


@item("C.1.2", "the supported token wins among several offered", MODERN)
async def handshake_choice(probe: Probe) -> None:
    winner = probe.options.dual_winner
    for offer, wanted in (
        (["foo", MODERN], (MODERN,)),
        ([LEGACY, MODERN], (winner,) if winner else (MODERN, LEGACY)),
    ):
        async with probe.case(f"offering {', '.join(offer)}"):
            handshake, _ = await probe.handshake(offer)
            if not handshake.accepted:
                probe.fail(
                    f"expected 101, observed a refusal ({handshake.code}, {handshake.reason})"
                )
            if handshake.subprotocol not in wanted:
                probe.fail(
                    f"expected subprotocol {' or '.join(map(repr, wanted))}, "
                    f"observed {handshake.subprotocol!r}"
                )


@item("C.1.3", "a handshake offering no supported token is refused", MODERN)
async def handshake_none(probe: Probe) -> str:
    handshake, socket = await probe.handshake(["foo"])
    if not handshake.accepted:
        return f"refused ({handshake.code}, {handshake.reason})"
    assert socket is not None
    if handshake.subprotocol is not None:
        probe.fail(f"expected a refusal, observed 101 selecting {handshake.subprotocol!r}")
    await socket.expect_close(4406, what="101 without a subprotocol")
    return "101 without a subprotocol, then close 4406"


@item("C.1.4", "no connection_init closes 4408 after the init timeout", MODERN)
async def init_timeout(probe: Probe) -> str:
    declared = probe.options.init_timeout
    if declared is None:
        probe.skip("no init timeout declared (option init_timeout)")
    started = probe.now()
    socket = await probe.connect()
    accepted = probe.now()
    slack = max(0.3, declared / 2)
    await socket.expect_close(4408, timeout=declared + slack)
    # The server's timer starts between our request and its accept.
    if probe.now() - started < declared - 0.05:
        probe.fail(
            f"closed 4408 after {probe.now() - started:.2f} s, before the declared init "
            f"timeout {declared:g} s"
        )
    elapsed = probe.now() - accepted
    return f"closed 4408 {elapsed:.2f} s after the accept (declared {declared:g} s)"


@item("C.1.5", "connection_init with no, null or object payload is acked", MODERN)
async def init_payloads(probe: Probe) -> None:
    for label, message in (
        ("no payload", {"type": "connection_init"}),
        ("payload null", {"type": "connection_init", "payload": None}),
        ("payload {}", {"type": "connection_init", "payload": {}}),
    ):
        async with probe.case(label):
            socket = await probe.connect()
            await socket.send(message)
            ack = await socket.expect("connection_ack")
            if ack.get("payload") is not None and not isinstance(ack.get("payload"), dict):
                probe.fail(
                    f"the ack payload is neither absent, null nor an object: {describe(ack, 0)}"
                )


@item("C.1.6", "connection_init with a non-object payload closes 4400", MODERN)
async def init_bad_payloads(probe: Probe) -> None:
    for label, payload in (('payload "x"', "x"), ("payload []", []), ("payload 1", 1)):
        async with probe.case(label):
            socket = await probe.connect()
            await socket.send({"type": "connection_init", "payload": payload})
            await socket.expect_close(4400)


@item("C.1.7", "a second connection_init closes 4429", MODERN)
async def init_twice(probe: Probe) -> None:
    async with probe.case("second before the ack"):
        socket = await probe.connect()
        await socket.send({"type": "connection_init"})
        await socket.send({"type": "connection_init"})
        await socket.expect_close(4429, allow=("connection_ack",))
    async with probe.case("second after the ack"):
        socket = await probe.connect(init=True)
        await socket.send({"type": "connection_init"})
        await socket.expect_close(4429)


@item("C.1.8", "an init the auth hook refuses closes 4403 without ack", MODERN)
async def init_rejected(probe: Probe) -> None:
    payload = probe.options.reject_payload
    if payload is None:
        probe.skip("no refused payload declared (option reject_payload)")
    socket = await probe.connect()
    await socket.send({"type": "connection_init", "payload": dict(payload)})
    await socket.expect_close(4403)


@item("C.1.9", "subscribe before the ack closes 4401", MODERN)
async def subscribe_early(probe: Probe) -> None:
    async with probe.case("before connection_init"):
        socket = await probe.connect()
        await socket.start("early", TYPENAME)
        await socket.expect_close(4401)
    async with probe.case("while the auth hook runs"):
        payload = probe.options.slow_init_payload
        if payload is None:
            probe.skip("no slow payload declared (option slow_init_payload)")
        socket = await probe.connect()
        await socket.send({"type": "connection_init", "payload": dict(payload)})
        await socket.start("early", TYPENAME)
        await socket.expect_close(4401)


async def ping_echo(probe: Probe, socket: Socket, payload: JsonObject) -> None:
    await socket.send({"type": "ping", "payload": payload})
    pong = await socket.expect("pong")
    if pong.get("payload") != payload:
        probe.fail(f"expected the pong to echo {payload}, observed {describe(pong, 0)}")


@item("C.1.10", "ping is answered by pong echoing the payload", MODERN)
async def ping(probe: Probe) -> None:
    socket = await probe.connect()
    async with probe.case("before connection_init"):
        await ping_echo(probe, socket, {"n": 1})
    async with probe.case("after the ack"):
        await socket.init()
        await ping_echo(probe, socket, {"n": 1})


@item("C.1.11", "an unsolicited pong gets no reply", MODERN)
async def pong(probe: Probe) -> None:
    socket = await probe.connect(init=True)
    await socket.send({"type": "pong"})
    await socket.silence(what="after an unsolicited pong")
    await ping_echo(probe, socket, {"n": 2})


@item("C.1.12", "malformed frames close 4400", MODERN)
async def malformed(probe: Probe) -> None:
    stimuli: list[tuple[str, str | bytes]] = [
        ("non-JSON text", "{not json"),
        ("JSON array", '[{"type":"ping"}]'),
        ("JSON number", "1"),
        ("object without type", '{"payload":{}}'),
        ("type not a string", '{"type":1}'),
        ("unknown type", '{"type":"unknown-type"}'),
        ("binary frame", b'{"type":"ping"}'),
    ]
    for label, frame in stimuli:
        async with probe.case(label):
            socket = await probe.connect(init=True)
            if isinstance(frame, bytes):
                await socket.send_bytes(frame)
            else:
                await socket.send(frame)
            await socket.expect_close(4400)


@item("C.1.13", "malformed subscribe messages close 4400", MODERN)
async def malformed_subscribe(probe: Probe) -> None:
    query = {"query": TYPENAME}
    stimuli: list[tuple[str, JsonObject]] = [
        ("missing id", {"type": "subscribe", "payload": query}),
        ('id ""', {"id": "", "type": "subscribe", "payload": query}),
        ("numeric id", {"id": 1, "type": "subscribe", "payload": query}),
        ("missing payload", {"id": "1", "type": "subscribe"}),
        ("non-string query", {"id": "1", "type": "subscribe", "payload": {"query": 1}}),
        (
            "array variables",
            {"id": "1", "type": "subscribe", "payload": {**query, "variables": []}},
        ),
        (
            "non-string operationName",
            {"id": "1", "type": "subscribe", "payload": {**query, "operationName": 1}},
        ),
        (
            "non-object extensions",
            {"id": "1", "type": "subscribe", "payload": {**query, "extensions": "x"}},
        ),
    ]
    for label, message in stimuli:
        async with probe.case(label):
            socket = await probe.connect(init=True)
            await socket.send(message)
            await socket.expect_close(4400)


@item("C.1.14", "server-only messages from the client close 4400", MODERN)
async def wrong_direction(probe: Probe) -> None:
    stimuli: list[tuple[str, JsonObject]] = [
        ("next", {"id": "1", "type": "next", "payload": {"data": {}}}),
        ("error", {"id": "1", "type": "error", "payload": [{"message": "x"}]}),
        ("connection_ack", {"type": "connection_ack"}),
    ]
    for label, message in stimuli:
        async with probe.case(label):
            socket = await probe.connect(init=True)
            await socket.send(message)
            await socket.expect_close(4400)


@item("C.1.15", "a query gives one next, then complete, same id", MODERN)
async def single_result(probe: Probe) -> None:
    socket = await probe.connect(init=True)
    await socket.start("q1", TYPENAME)
    check_typename(probe, await socket.result("q1"))
    await socket.expect("complete", "q1")


@item("C.1.16", "a subscription's events come in order, then complete", MODERN)
async def stream(probe: Probe) -> None:
    socket = await probe.connect(init=True)
    await socket.start("s1", COUNT, {"to": 3}, subscription=True)
    await count_values(probe, socket, "s1", range(3))
    await socket.expect("complete", "s1")


@item("C.1.17", "client complete stops the stream and closes its source", MODERN)
async def client_complete(probe: Probe) -> None:
    tag = uuid.uuid4().hex
    socket = await probe.connect(init=True)
    await long_subscription(socket, "s1", interval=max(probe.options.quiet / 2, 0.05), tag=tag)
    await socket.stop("s1")
    await socket.silence(what="after the client's complete")
    closed = await probe.source_closed(tag, socket=socket)
    if closed is None:
        probe.fail(f"closed(tag: {tag!r}) is null: the server does not track the source")
    if not closed:
        probe.fail(f"the source was not closed within {probe.options.timeout:g} s of the complete")


@item("C.1.18", "reusing an active id closes 4409 naming the id", MODERN)
async def duplicate_id(probe: Probe) -> None:
    async with probe.case("active subscription"):
        socket = await probe.connect(init=True)
        await long_subscription(socket, "dup-sub")
        await socket.start("dup-sub", TYPENAME)
        close = await socket.expect_close(4409)
        if "dup-sub" not in (close.reason or ""):
            probe.fail(f"the close reason does not mention the id 'dup-sub': {close.reason!r}")
    async with probe.case("slow query still executing"):
        socket = await probe.connect(init=True)
        seconds = 2 * probe.options.timeout
        await socket.start("dup-slow", f"{{ slow(seconds: {seconds:g}) }}")
        await socket.start("dup-slow", TYPENAME)
        close = await socket.expect_close(4409)
        if "dup-slow" not in (close.reason or ""):
            probe.fail(f"the close reason does not mention the id 'dup-slow': {close.reason!r}")


@item("C.1.19", "an id may be reused once its operation completed", MODERN)
async def reuse_id(probe: Probe) -> None:
    socket = await probe.connect(init=True)
    for _ in range(2):
        check_typename(probe, await socket.execute("again", TYPENAME))
    for _ in range(2):
        await socket.start("again-sub", COUNT, {"to": 1}, subscription=True)
        await count_values(probe, socket, "again-sub", range(1))
        await socket.expect("complete", "again-sub")


@item("C.1.20", "a validation error gives one error, no complete", MODERN)
async def validation_error(probe: Probe) -> None:
    socket = await probe.connect(init=True)
    await socket.start("v1", "{ fieldThatDoesNotExist }")
    check_error_list(probe, await socket.expect("error", "v1"))
    await socket.silence(what="after the error")
    check_typename(probe, await socket.execute("alive", TYPENAME))


@item("C.1.21", "a resolver error comes in next with errors, then complete", MODERN)
async def resolver_error(probe: Probe) -> None:
    socket = await probe.connect(init=True)
    await socket.start("f1", "{ fail }")
    payload = await socket.result("f1")
    errors = payload.get("errors")
    if not isinstance(errors, list) or not errors or "data" not in payload:
        probe.fail(
            "expected a result with 'data' and non-empty 'errors', "
            f"observed {describe(payload, 0)}"
        )
    await socket.expect("complete", "f1")


@item("C.1.22", "a failing source or a syntax error gives an error message", MODERN)
async def stream_error(probe: Probe) -> None:
    async with probe.case("source raising after one event"):
        socket = await probe.connect(init=True)
        await socket.start("x1", "subscription { oneThenFail }", subscription=True)
        await socket.result("x1")
        check_error_list(probe, await socket.expect("error", "x1"))
        await socket.silence(what="after the error")
        check_typename(probe, await socket.execute("alive", TYPENAME))
    async with probe.case("syntax error"):
        socket = await probe.connect(init=True)
        await socket.start("syn", "{ __typename")
        if probe.options.modern_syntax_error == "close":
            await socket.expect_close(4400)
        else:
            check_error_list(probe, await socket.expect("error", "syn"))
            check_typename(probe, await socket.execute("alive", TYPENAME))


@item("C.1.23", "unknown ids are ignored; concurrent streams interleave", MODERN)
async def concurrency(probe: Probe) -> None:
    async with probe.case("complete for an id never used"):
        socket = await probe.connect(init=True)
        await socket.send({"id": "never-used", "type": "complete"})
        await ping_echo(probe, socket, {"n": 3})
    async with probe.case("two concurrent subscriptions"):
        socket = await probe.connect(init=True)
        slow = max(0.5, 2 * probe.options.quiet)
        await socket.start("slow", COUNT, {"to": 2, "interval": slow}, subscription=True)
        await socket.start("fast", COUNT, {"to": 3, "interval": 0.01}, subscription=True)
        seen: list[tuple[str, object]] = []
        done: set[str] = set()
        while len(done) < 2:
            message = await socket.message(slow + probe.options.timeout)
            if not isinstance(message, dict):
                probe.fail(
                    f"expected results of 'slow' and 'fast', observed {describe(message, slow)}"
                )
            op_id, kind = message.get("id"), message.get("type")
            if op_id not in ("slow", "fast") or kind not in ("next", "complete"):
                probe.fail(
                    f"expected results of 'slow' and 'fast', observed {describe(message, 0)}"
                )
            assert isinstance(op_id, str)
            if kind == "complete":
                done.add(op_id)
                seen.append((op_id, "complete"))
            else:
                payload = message.get("payload")
                data = payload.get("data") if isinstance(payload, dict) else None
                seen.append((op_id, data.get("count") if isinstance(data, dict) else data))
        order = " ".join(f"{op_id}:{value}" for op_id, value in seen)
        for op_id, values in (("slow", [0, 1, "complete"]), ("fast", [0, 1, 2, "complete"])):
            if [value for i, value in seen if i == op_id] != values:
                probe.fail(f"expected {op_id!r} to give {values} in order, observed {order}")
        if seen.index(("fast", "complete")) > seen.index(("slow", 1)):
            probe.fail(f"the slow subscription stalled the fast one: {order}")


@item("C.1.24", "short close reasons; hooks run on close; operation limit", MODERN)
async def limits(probe: Probe) -> None:
    async with probe.case("close reasons at most 123 bytes"):
        long_id = "id-" + "x" * 200
        socket = await probe.connect(init=True)
        await long_subscription(socket, long_id)
        await socket.start(long_id, TYPENAME)
        await socket.expect_close(None)
        socket = await probe.connect(init=True)
        await socket.send({"type": "unknown-" + "y" * 300})
        await socket.expect_close(None)
        frames = [frame for result in probe.earlier for frame in result.frames]
        frames += probe.frames
        for frame in frames:
            reason = frame.reason or ""
            if (
                frame.kind == "close"
                and not frame.sent
                and len(reason.encode()) > MAX_REASON_BYTES
            ):
                probe.fail(f"a close reason has {len(reason.encode())} bytes: {reason!r}")
    async with probe.case("client close 1000 ends every operation"):
        tags = [uuid.uuid4().hex, uuid.uuid4().hex]
        socket = await probe.connect(init=True)
        for n, tag in enumerate(tags):
            await long_subscription(socket, f"s{n}", tag=tag)
        await socket.close(1000)
        checker = await probe.connect(init=True)
        for tag in tags:
            if not await probe.source_closed(tag, socket=checker):
                probe.fail(
                    f"the source tagged {tag!r} was not closed after the client closed 1000"
                )
    async with probe.case("operation limit"):
        limit = probe.options.max_operations
        if limit is None:
            probe.skip("no operation limit declared (option max_operations)")
        socket = await probe.connect(init=True)
        for n in range(limit):
            await long_subscription(socket, f"op{n}")
        await socket.start("over", COUNT, {"to": 1}, subscription=True)
        message = await socket.message()
        if isinstance(message, Received) or message is None or message.get("type") != "error":
            probe.fail(
                f"expected an 'error' for operation {limit + 1} of {limit}, "
                f"observed {describe(message, probe.options.timeout)}"
            )
        if message.get("id") != "over":
            probe.fail(f"expected the 'error' for id 'over', observed {describe(message, 0)}")
        check_error_list(probe, message)
        await socket.silence(what="after the error")
