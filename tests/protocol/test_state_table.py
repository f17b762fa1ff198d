"""The whole (state x incoming message) matrix of both machines.

One table per role. Each row is one incoming message of one dialect; its
four cells say what happens in IDLE, INITIALIZING, READY and CLOSED. States
are reached by driving the machine (see helpers): the server's READY has the
operation "1" started; the client's READY has the operation "1" subscribed.

A cell is either `Ok(events, frames, state)`: these events come back, these
frames are queued, the machine ends in that state; or `Fail(code)`:
`RemoteProtocolError` with that code, exactly one close frame with it queued,
CLOSED. `ErrorReply(id)` stands for the legacy server's `error` answer to a
bad frame (its text is free; it must be an `error` object with a message).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest
from gqlws_protocol import (
    ClientConnection,
    CloseFrame,
    Complete,
    ConnectionAck,
    ConnectionClosed,
    ConnectionInit,
    ConnectionRejected,
    ConnectionState,
    Error,
    Event,
    Frame,
    Next,
    Ping,
    Pong,
    RemoteProtocolError,
    ServerConnection,
    Subprotocol,
    Subscribe,
)

from .helpers import LEGACY, MAX_REASON_BYTES, MODERN, client_in, server_in

IDLE = ConnectionState.IDLE
INITIALIZING = ConnectionState.INITIALIZING
READY = ConnectionState.READY
CLOSED = ConnectionState.CLOSED
STATES = (IDLE, INITIALIZING, READY, CLOSED)


@dataclass(frozen=True)
class ErrorReply:
    """A legacy `error` answer to a bad frame, naming `id` when there was one."""

    id: str | None = None


@dataclass(frozen=True)
class Closes:
    """A close frame with this code (and this reason, when given)."""

    code: int
    reason: str | None = None


@dataclass(frozen=True)
class Ok:
    """These events come back, these frames are queued, the state becomes `state`."""

    events: list[Event] = field(default_factory=list)
    frames: list[str | ErrorReply | Closes] = field(default_factory=list)
    #: None: the state does not change.
    state: ConnectionState | None = None


@dataclass(frozen=True)
class Fail:
    """RemoteProtocolError with `code`; only its close frame queued; CLOSED."""

    code: int


Cell = Ok | Fail
#: Nothing at all: no event, no frame, no change.
NOTHING = Ok()


#: Ignored in every state.
IGNORED: tuple[Cell, Cell, Cell, Cell] = (NOTHING, NOTHING, NOTHING, NOTHING)


def everywhere(cell: Cell) -> tuple[Cell, Cell, Cell, Cell]:
    """`cell` in the three open states; a closed machine ignores everything."""
    return (cell, cell, cell, NOTHING)


SUB2 = '{"type":"%s","id":"2","payload":{"query":"{ b }"}}'

# fmt: off
# (subprotocol, row name, text) -> (IDLE, INITIALIZING, READY, CLOSED)
SERVER_TABLE: dict[tuple[Subprotocol, str, str], tuple[Cell, Cell, Cell, Cell]] = {
    # graphql-transport-ws (reference/protocols.md A.3)
    (MODERN, "connection_init", '{"type":"connection_init","payload":{"t":1}}'): (
        Ok([ConnectionInit(payload={"t": 1})], state=INITIALIZING),
        Fail(4429),
        Fail(4429),
        NOTHING,
    ),
    (MODERN, "ping", '{"type":"ping","payload":{"n":1}}'): everywhere(
        Ok([Ping(payload={"n": 1})], ['{"type":"pong","payload":{"n":1}}'])
    ),
    (MODERN, "ping-without-payload", '{"type":"ping"}'): everywhere(
        Ok([Ping()], ['{"type":"pong"}'])
    ),
    (MODERN, "pong", '{"type":"pong","payload":{"n":1}}'): everywhere(
        Ok([Pong(payload={"n": 1})])
    ),
    (MODERN, "subscribe", SUB2 % "subscribe"): (
        Fail(4401),
        Fail(4401),
        Ok([Subscribe(id="2", query="{ b }")]),
        NOTHING,
    ),
    (MODERN, "subscribe-active-id", '{"type":"subscribe","id":"1","payload":{"query":"{ b }"}}'): (
        Fail(4401),
        Fail(4401),
        Fail(4409),
        NOTHING,
    ),
    (MODERN, "complete", '{"type":"complete","id":"1"}'): (
        NOTHING,
        NOTHING,
        Ok([Complete(id="1")]),
        NOTHING,
    ),
    (MODERN, "complete-unknown-id", '{"type":"complete","id":"9"}'): IGNORED,
    (MODERN, "wrong-direction-next", '{"type":"next","id":"1","payload":{}}'): everywhere(
        Fail(4400)
    ),
    (MODERN, "wrong-direction-error", '{"type":"error","id":"1","payload":[{"message":"x"}]}'): (
        everywhere(Fail(4400))
    ),
    (MODERN, "wrong-direction-connection_ack", '{"type":"connection_ack"}'): everywhere(
        Fail(4400)
    ),
    (MODERN, "unknown-type", '{"type":"start","id":"2","payload":{"query":"{ b }"}}'): (
        everywhere(Fail(4400))
    ),
    (MODERN, "garbage", "}{"): everywhere(Fail(4400)),
    # graphql-ws (reference/protocols.md B.3, C.2; start before init is 4401 by policy)
    (LEGACY, "connection_init", '{"type":"connection_init","payload":{"t":1}}'): (
        Ok([ConnectionInit(payload={"t": 1})], state=INITIALIZING),
        Fail(4429),
        Fail(4429),
        NOTHING,
    ),
    (LEGACY, "start", SUB2 % "start"): (
        Fail(4401),
        Fail(4401),
        Ok([Subscribe(id="2", query="{ b }")]),
        NOTHING,
    ),
    # A repeated id replaces the operation: the adapter stops the old one first.
    (LEGACY, "start-active-id", '{"type":"start","id":"1","payload":{"query":"{ b }"}}'): (
        Fail(4401),
        Fail(4401),
        Ok([Complete(id="1"), Subscribe(id="1", query="{ b }")]),
        NOTHING,
    ),
    (LEGACY, "stop", '{"type":"stop","id":"1"}'): (
        NOTHING,
        NOTHING,
        Ok([Complete(id="1")], ['{"type":"complete","id":"1"}']),
        NOTHING,
    ),
    (LEGACY, "stop-unknown-id", '{"type":"stop","id":"9"}'): IGNORED,
    (LEGACY, "connection_terminate", '{"type":"connection_terminate"}'): everywhere(
        Ok(
            [ConnectionClosed(code=1000, reason="connection_terminate")],
            [Closes(1000, "connection_terminate")],
            state=CLOSED,
        )
    ),
    (LEGACY, "modern-ping", '{"type":"ping"}'): everywhere(Ok(frames=[ErrorReply()])),
    (LEGACY, "wrong-direction-data", '{"type":"data","id":"1","payload":{}}'): everywhere(
        Ok(frames=[ErrorReply("1")])
    ),
    (LEGACY, "wrong-direction-error", '{"type":"error","id":"1","payload":{"message":"x"}}'): (
        everywhere(Ok(frames=[ErrorReply("1")]))
    ),
    (LEGACY, "wrong-direction-complete", '{"type":"complete","id":"1"}'): everywhere(
        Ok(frames=[ErrorReply("1")])
    ),
    (LEGACY, "wrong-direction-connection_ack", '{"type":"connection_ack"}'): everywhere(
        Ok(frames=[ErrorReply()])
    ),
    (LEGACY, "wrong-direction-ka", '{"type":"ka"}'): everywhere(Ok(frames=[ErrorReply()])),
    (LEGACY, "wrong-direction-connection_error", '{"type":"connection_error"}'): everywhere(
        Ok(frames=[ErrorReply()])
    ),
    (LEGACY, "unknown-type", '{"type":"subscribe","id":"2","payload":{"query":"{ b }"}}'): (
        everywhere(Ok(frames=[ErrorReply("2")]))
    ),
    (LEGACY, "garbage", "}{"): everywhere(Ok(frames=[ErrorReply()])),
}

# (subprotocol, row name, text) -> (IDLE, INITIALIZING, READY, CLOSED)
CLIENT_TABLE: dict[tuple[Subprotocol, str, str], tuple[Cell, Cell, Cell, Cell]] = {
    # graphql-transport-ws (A.12: only ping/pong may precede the ack, else 4004)
    (MODERN, "connection_ack", '{"type":"connection_ack","payload":{"s":1}}'): (
        Ok([ConnectionAck(payload={"s": 1})], state=READY),
        Ok([ConnectionAck(payload={"s": 1})], state=READY),
        Fail(4004),
        NOTHING,
    ),
    (MODERN, "ping", '{"type":"ping","payload":{"n":1}}'): everywhere(
        Ok([Ping(payload={"n": 1})], ['{"type":"pong","payload":{"n":1}}'])
    ),
    (MODERN, "pong", '{"type":"pong"}'): everywhere(Ok([Pong()])),
    (MODERN, "next", '{"type":"next","id":"1","payload":{"data":{"a":1}}}'): (
        Fail(4004),
        Fail(4004),
        Ok([Next(id="1", payload={"data": {"a": 1}})]),
        NOTHING,
    ),
    (MODERN, "next-unknown-id", '{"type":"next","id":"9","payload":{"data":null}}'): (
        Fail(4004),
        Fail(4004),
        NOTHING,
        NOTHING,
    ),
    (MODERN, "error", '{"type":"error","id":"1","payload":[{"message":"x"}]}'): (
        Fail(4004),
        Fail(4004),
        Ok([Error(id="1", errors=[{"message": "x"}])]),
        NOTHING,
    ),
    (MODERN, "complete", '{"type":"complete","id":"1"}'): (
        Fail(4004),
        Fail(4004),
        Ok([Complete(id="1")]),
        NOTHING,
    ),
    (MODERN, "complete-unknown-id", '{"type":"complete","id":"9"}'): (
        Fail(4004),
        Fail(4004),
        NOTHING,
        NOTHING,
    ),
    (MODERN, "wrong-direction-subscribe", SUB2 % "subscribe"): everywhere(Fail(4004)),
    (MODERN, "wrong-direction-connection_init", '{"type":"connection_init"}'): everywhere(
        Fail(4004)
    ),
    (MODERN, "unknown-type", '{"type":"ka"}'): everywhere(Fail(4004)),
    (MODERN, "garbage", "}{"): everywhere(Fail(4004)),
    # graphql-ws (B.4, C.4: `ka` is accepted before and after the ack)
    (LEGACY, "connection_ack", '{"type":"connection_ack"}'): (
        Ok([ConnectionAck()], state=READY),
        Ok([ConnectionAck()], state=READY),
        Fail(4004),
        NOTHING,
    ),
    (LEGACY, "connection_error", '{"type":"connection_error","payload":{"message":"no"}}'): (
        everywhere(
            Ok(
                [
                    ConnectionRejected(payload={"message": "no"}, reason="no"),
                    ConnectionClosed(code=4403, reason="no"),
                ],
                [Closes(1000, "")],
                state=CLOSED,
            )
        )
    ),
    (LEGACY, "ka", '{"type":"ka"}'): everywhere(Ok([Pong()])),
    (LEGACY, "data", '{"type":"data","id":"1","payload":{"data":{"a":1}}}'): (
        Fail(4004),
        Fail(4004),
        Ok([Next(id="1", payload={"data": {"a": 1}})]),
        NOTHING,
    ),
    (LEGACY, "data-unknown-id", '{"type":"data","id":"9","payload":{"data":null}}'): (
        Fail(4004),
        Fail(4004),
        NOTHING,
        NOTHING,
    ),
    (LEGACY, "error", '{"type":"error","id":"1","payload":{"message":"x"}}'): (
        Fail(4004),
        Fail(4004),
        Ok([Error(id="1", errors=[{"message": "x"}])]),
        NOTHING,
    ),
    (LEGACY, "complete", '{"type":"complete","id":"1"}'): (
        Fail(4004),
        Fail(4004),
        Ok([Complete(id="1")]),
        NOTHING,
    ),
    (LEGACY, "wrong-direction-start", SUB2 % "start"): everywhere(Fail(4004)),
    (LEGACY, "wrong-direction-stop", '{"type":"stop","id":"1"}'): everywhere(Fail(4004)),
    (LEGACY, "wrong-direction-connection_init", '{"type":"connection_init"}'): everywhere(
        Fail(4004)
    ),
    (LEGACY, "wrong-direction-connection_terminate", '{"type":"connection_terminate"}'): (
        everywhere(Fail(4004))
    ),
    (LEGACY, "unknown-type-ping", '{"type":"ping"}'): everywhere(Fail(4004)),
    (LEGACY, "garbage", "}{"): everywhere(Fail(4004)),
}
# fmt: on


def _cases(
    table: dict[tuple[Subprotocol, str, str], tuple[Cell, Cell, Cell, Cell]],
) -> list[object]:
    return [
        pytest.param(subprotocol, state, text, cell, id=f"{subprotocol.value}-{name}-{state.name}")
        for (subprotocol, name, text), cells in table.items()
        for state, cell in zip(STATES, cells, strict=True)
    ]


def _check_frame(frame: Frame, expected: str | ErrorReply | Closes) -> None:
    if isinstance(expected, Closes):
        assert isinstance(frame, CloseFrame)
        assert frame.code == expected.code
        if expected.reason is not None:
            assert frame.reason == expected.reason
    elif isinstance(expected, ErrorReply):
        assert isinstance(frame, str)
        message = json.loads(frame)
        assert message["type"] == "error"
        assert message.get("id") == expected.id
        assert isinstance(message["payload"]["message"], str)
    else:
        assert frame == expected


def _check(machine: ServerConnection | ClientConnection, text: str, cell: Cell) -> None:
    before = machine.state
    if isinstance(cell, Fail):
        with pytest.raises(RemoteProtocolError) as info:
            machine.receive_text(text, 1.0)
        assert info.value.code == cell.code
        assert machine.data_to_send() == [CloseFrame(cell.code, info.value.reason)]
        assert len(info.value.reason.encode()) <= MAX_REASON_BYTES
        assert machine.state is CLOSED
        assert machine.active_operations == frozenset()
        return
    assert machine.receive_text(text, 1.0) == cell.events
    frames = machine.data_to_send()
    assert len(frames) == len(cell.frames), frames
    for frame, expected in zip(frames, cell.frames, strict=True):
        _check_frame(frame, expected)
    assert machine.state is (cell.state or before)


@pytest.mark.parametrize(("subprotocol", "state", "text", "cell"), _cases(SERVER_TABLE))
def test_server_state_table(
    subprotocol: Subprotocol, state: ConnectionState, text: str, cell: Cell
) -> None:
    _check(server_in(subprotocol, state, operations=("1",)), text, cell)


@pytest.mark.parametrize(("subprotocol", "state", "text", "cell"), _cases(CLIENT_TABLE))
def test_client_state_table(
    subprotocol: Subprotocol, state: ConnectionState, text: str, cell: Cell
) -> None:
    _check(client_in(subprotocol, state, operations=("1",)), text, cell)


def test_tables_cover_every_type_each_side_can_decode() -> None:
    from gqlws_protocol._codec import _TABLES, Role

    for role, table in ((Role.SERVER, SERVER_TABLE), (Role.CLIENT, CLIENT_TABLE)):
        for subprotocol in (MODERN, LEGACY):
            decoders, wrong_way, _ = _TABLES[(subprotocol, role)]
            seen = {
                json.loads(text)["type"]
                for (sp, _, text) in table
                if sp is subprotocol and text.startswith("{")
            }
            assert set(decoders) <= seen, (role, subprotocol, set(decoders) - seen)
            assert set(wrong_way) <= seen, (role, subprotocol, set(wrong_way) - seen)
