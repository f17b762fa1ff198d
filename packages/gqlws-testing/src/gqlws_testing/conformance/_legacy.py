"""Checklist C.2: the server side of the legacy `graphql-ws` (12 items)."""

from __future__ import annotations

import itertools
import uuid

from ._modern import TYPENAME, check_typename, long_subscription
from ._options import LEGACY
from ._probe import JsonObject, Probe, Received, Socket, describe
from ._registry import item

__all__: list[str] = []


def check_error_object(probe: Probe, message: JsonObject) -> None:
    """A legacy `error` payload: one object with a `message`."""
    payload = message.get("payload")
    if not isinstance(payload, dict) or not isinstance(payload.get("message"), str):
        probe.fail(
            f"expected an error payload that is an object with a 'message', "
            f"observed {describe(message, 0)}"
        )


async def raw_message(probe: Probe, socket: Socket, timeout: float) -> JsonObject:
    """The next message, keep-alives included; anything else fails."""
    message = await socket.message(timeout, keepalives=True)
    if not isinstance(message, dict):
        probe.fail(f"expected a message, observed {describe(message, timeout)}")
    return message


@item("C.2.1", "handshake offering graphql-ws selects it", LEGACY)
async def handshake(probe: Probe) -> str:
    result, _ = await probe.handshake([LEGACY])
    if not result.accepted:
        probe.fail(
            f"expected 101 with {LEGACY!r}, observed a refusal ({result.code}, {result.reason})"
        )
    if result.subprotocol != LEGACY:
        probe.fail(f"expected subprotocol {LEGACY!r}, observed {result.subprotocol!r}")
    return f"selected {LEGACY!r}"


@item("C.2.2", "connection_init is acked, then ka follows", LEGACY)
async def ack_then_ka(probe: Probe) -> str:
    socket = await probe.connect()
    await socket.send({"type": "connection_init"})
    ack = await raw_message(probe, socket, probe.options.timeout)
    if ack.get("type") != "connection_ack":
        probe.fail(f"expected 'connection_ack', observed {describe(ack, 0)}")
    keepalive = probe.options.keepalive
    if keepalive is None:
        probe.skip("the ack came; ka not checked: no keep-alive declared (option keepalive)")
    following = await raw_message(probe, socket, keepalive + probe.options.timeout)
    if following.get("type") != "ka":
        probe.fail(f"expected 'ka' after the ack, observed {describe(following, 0)}")
    return "ack, then ka"


@item("C.2.3", "no ka before the ack; ka about every interval after", LEGACY)
async def ka_interval(probe: Probe) -> str:
    interval = probe.options.keepalive
    if interval is None:
        probe.skip("no keep-alive declared (option keepalive)")
    socket = await probe.connect()
    before = max(probe.options.quiet, 1.5 * interval)
    if probe.options.init_timeout is not None:
        before = min(before, 0.8 * probe.options.init_timeout)
    message = await socket.message(before, keepalives=True)
    if message is not None:
        probe.fail(f"expected nothing before connection_init, observed {describe(message, 0)}")
    await socket.send({"type": "connection_init"})
    ack = await raw_message(probe, socket, probe.options.timeout)
    if ack.get("type") != "connection_ack":
        probe.fail(f"expected 'connection_ack' first, observed {describe(ack, 0)}")
    times: list[float] = []
    while len(times) < 3:
        message = await raw_message(probe, socket, interval + probe.options.timeout)
        if message.get("type") != "ka":
            probe.fail(f"expected 'ka', observed {describe(message, 0)}")
        times.append(probe.now())
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    shown = ", ".join(f"{gap:.3f}" for gap in gaps)
    for gap in gaps:
        if not 0.5 * interval <= gap <= 1.5 * interval + 0.1:
            probe.fail(f"expected ka about {interval:g} s apart, observed gaps of {shown} s")
    return f"ka gaps {shown} s (declared {interval:g} s)"


@item("C.2.4", "a refused init gives connection_error, then a close", LEGACY)
async def init_rejected(probe: Probe) -> str:
    payload = probe.options.reject_payload
    if payload is None:
        probe.skip("no refused payload declared (option reject_payload)")
    socket = await probe.connect()
    await socket.send({"type": "connection_init", "payload": dict(payload)})
    error = await socket.expect("connection_error")
    if not isinstance(error.get("payload"), dict):
        probe.fail(
            f"expected a connection_error payload that is an object, observed {describe(error, 0)}"
        )
    close = await socket.expect_close(probe.options.legacy_reject_close)
    return f"connection_error, then close {close.code}"


@item("C.2.5", "start before connection_init closes 4401", LEGACY)
async def start_early(probe: Probe) -> None:
    code = probe.options.legacy_start_before_init
    if code is None:
        probe.skip(
            "no close code declared for start before init (option legacy_start_before_init)"
        )
    socket = await probe.connect()
    await socket.start("early", TYPENAME)
    await socket.expect_close(code)


@item("C.2.6", "a query gives one data, then complete", LEGACY)
async def query(probe: Probe) -> None:
    socket = await probe.connect(init=True)
    await socket.start("q1", TYPENAME)
    check_typename(probe, await socket.result("q1"))
    await socket.expect("complete", "q1")


@item("C.2.7", "stop ends the data of a subscription, then complete", LEGACY)
async def stop(probe: Probe) -> None:
    tag = uuid.uuid4().hex
    socket = await probe.connect(init=True)
    await long_subscription(socket, "s1", interval=max(probe.options.quiet / 2, 0.05), tag=tag)
    await socket.stop("s1")
    await socket.expect("complete", "s1")
    await socket.silence(what="after the complete")
    if not await probe.source_closed(tag, socket=socket):
        probe.fail(f"the source was not closed within {probe.options.timeout:g} s of the stop")


@item("C.2.8", "a validation error gives the documented answer", LEGACY)
async def validation_error(probe: Probe) -> None:
    socket = await probe.connect(init=True)
    await socket.start("v1", "{ fieldThatDoesNotExist }")
    if probe.options.legacy_validation_error == "data":
        payload = await socket.result("v1")
        if not payload.get("errors"):
            probe.fail(f"expected data with 'errors', observed {describe(payload, 0)}")
        await socket.expect("complete", "v1")
    else:
        check_error_object(probe, await socket.expect("error", "v1"))
        await socket.silence(what="after the error")


@item("C.2.9", "a resolver error comes in data with errors", LEGACY)
async def resolver_error(probe: Probe) -> None:
    socket = await probe.connect(init=True)
    await socket.start("f1", "{ fail }")
    payload = await socket.result("f1")
    errors = payload.get("errors")
    if not isinstance(errors, list) or not errors:
        probe.fail(f"expected a result with non-empty 'errors', observed {describe(payload, 0)}")


@item("C.2.10", "start with an active id replaces the operation", LEGACY)
async def replace(probe: Probe) -> None:
    tag = uuid.uuid4().hex
    socket = await probe.connect(init=True)
    await long_subscription(socket, "x1", tag=tag)
    await socket.start("x1", TYPENAME)
    while True:
        message = await socket.message()
        if isinstance(message, dict) and message == {"id": "x1", "type": "complete"}:
            # The replaced operation's own complete may come first.
            continue
        if not isinstance(message, dict) or message.get("id") != "x1":
            probe.fail(
                "expected the new operation's 'data', observed "
                f"{describe(message, probe.options.timeout)}"
            )
        break
    payload = message.get("payload")
    if message.get("type") != "data" or not isinstance(payload, dict):
        probe.fail(f"expected the new operation's 'data', observed {describe(message, 0)}")
    check_typename(probe, payload)
    await socket.expect("complete", "x1")
    if not await probe.source_closed(tag, socket=socket):
        probe.fail("the replaced operation's source was not closed")


@item("C.2.11", "stop for an unknown id is ignored; terminate closes", LEGACY)
async def terminate(probe: Probe) -> None:
    async with probe.case("stop for an id never used"):
        socket = await probe.connect(init=True)
        await socket.stop("never-used")
        await socket.silence(what="after the stop")
        check_typename(probe, await socket.execute("alive", TYPENAME))
    async with probe.case("connection_terminate"):
        tag = uuid.uuid4().hex
        socket = await probe.connect(init=True)
        await long_subscription(socket, "t1", tag=tag)
        await socket.send({"type": "connection_terminate"})
        await socket.expect_close(probe.options.legacy_terminate_close)
        if not await probe.source_closed(tag):
            probe.fail("the operation's source was not closed after connection_terminate")


@item("C.2.12", "bad JSON and unknown types get the documented answer", LEGACY)
async def bad_frames(probe: Probe) -> None:
    policy = probe.options.legacy_bad_frame
    for label, frame in (
        ("unparsable JSON", "{not json"),
        ("unknown type", '{"id":"b1","type":"unknown-type"}'),
    ):
        async with probe.case(label):
            socket = await probe.connect(init=True)
            await socket.send(frame)
            if policy == "error":
                check_error_object(probe, await socket.expect("error"))
            elif policy == "ignore":
                await socket.silence(what=f"after {label}")
            else:
                message = await socket.message(probe.options.quiet)
                if isinstance(message, Received):
                    probe.fail(
                        f"expected the socket to stay open, observed {describe(message, 0)}"
                    )
            check_typename(probe, await socket.execute("alive", TYPENAME))
