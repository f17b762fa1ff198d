"""Operation bookkeeping: limits, duplicates, results, cancellation, misuse."""

from __future__ import annotations

import json

import pytest
from gqlws_protocol import (
    ClientConfig,
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
    LocalProtocolError,
    Next,
    Ping,
    Pong,
    RemoteProtocolError,
    ServerConfig,
    ServerConnection,
    Subprotocol,
    Subscribe,
)

from .helpers import (
    CANCEL,
    DIALECTS,
    LEGACY,
    MAX_REASON_BYTES,
    MODERN,
    RESULT,
    cancel_text,
    client_in,
    server_in,
    subscribe_text,
)

READY = ConnectionState.READY
IDLE = ConnectionState.IDLE
INITIALIZING = ConnectionState.INITIALIZING
CLOSED = ConnectionState.CLOSED


def result_text(subprotocol: Subprotocol, op_id: str, payload: object) -> str:
    return json.dumps(
        {"type": RESULT[subprotocol], "id": op_id, "payload": payload}, separators=(",", ":")
    )


def _frames(machine: ServerConnection | ClientConnection) -> list[dict[str, object]]:
    out = []
    for frame in machine.data_to_send():
        assert isinstance(frame, str)
        out.append(json.loads(frame))
    return out


# Server: the operation limit.


@pytest.mark.parametrize("subprotocol", DIALECTS)
def test_subscribe_over_max_operations_gets_an_error_message_and_the_socket_stays(
    subprotocol: Subprotocol,
) -> None:
    server = server_in(subprotocol, READY, ServerConfig(init_timeout=None, max_operations=2))
    assert server.receive_text(subscribe_text(subprotocol, "1"), 1.0) == [
        Subscribe(id="1", query="{ a }")
    ]
    assert server.receive_text(subscribe_text(subprotocol, "2"), 1.0) == [
        Subscribe(id="2", query="{ a }")
    ]
    assert server.data_to_send() == []
    assert server.receive_text(subscribe_text(subprotocol, "3"), 1.0) == []
    [reply] = _frames(server)
    assert reply["type"] == "error"
    assert reply["id"] == "3"
    errors = reply["payload"] if subprotocol is MODERN else [reply["payload"]]
    assert isinstance(errors, list)
    assert len(errors) == 1
    assert "at most 2" in errors[0]["message"]
    assert errors[0]["extensions"] == {"code": "TOO_MANY_OPERATIONS"}
    assert server.state is READY
    assert server.active_operations == {"1", "2"}
    # The refused id is not active: results for it are dropped.
    server.send(Next(id="3", payload={"data": None}))
    assert server.data_to_send() == []
    # Once one ends, a new one fits.
    server.send(Complete(id="1"))
    server.data_to_send()
    assert server.receive_text(subscribe_text(subprotocol, "3"), 2.0) == [
        Subscribe(id="3", query="{ a }")
    ]
    assert server.active_operations == {"2", "3"}


def test_default_max_operations_is_100() -> None:
    server = server_in(MODERN, READY, ServerConfig(init_timeout=None))
    for n in range(100):
        assert server.receive_text(subscribe_text(MODERN, str(n)), 1.0) != []
    assert server.receive_text(subscribe_text(MODERN, "100"), 1.0) == []
    assert len(server.active_operations) == 100


def test_unlimited_operations_when_max_operations_is_none() -> None:
    server = server_in(MODERN, READY, ServerConfig(init_timeout=None, max_operations=None))
    for n in range(300):
        server.receive_text(subscribe_text(MODERN, str(n)), 1.0)
    assert len(server.active_operations) == 300
    assert server.data_to_send() == []


# Server: duplicate ids.


def test_modern_duplicate_id_of_a_running_query_closes_4409() -> None:
    server = server_in(MODERN, READY, operations=("q",))
    with pytest.raises(RemoteProtocolError) as info:
        server.receive_text(subscribe_text(MODERN, "q"), 1.0)
    assert info.value.code == 4409
    assert info.value.reason == "Subscriber for q already exists"
    assert server.data_to_send() == [CloseFrame(4409, "Subscriber for q already exists")]
    assert server.state is CLOSED


def test_modern_duplicate_id_of_an_answered_query_closes_4409() -> None:
    # The single result went out but `complete` did not yet: still active.
    server = server_in(MODERN, READY, operations=("q",))
    server.send(Next(id="q", payload={"data": {"a": 1}}))
    server.data_to_send()
    with pytest.raises(RemoteProtocolError) as info:
        server.receive_text(subscribe_text(MODERN, "q"), 1.0)
    assert info.value.code == 4409


def test_modern_duplicate_id_of_an_active_subscription_closes_4409() -> None:
    server = server_in(MODERN, READY, operations=("s",))
    server.subscription_active("s")
    with pytest.raises(RemoteProtocolError) as info:
        server.receive_text(subscribe_text(MODERN, "s"), 1.0)
    assert info.value.code == 4409


@pytest.mark.parametrize("ended_by", ["server-complete", "server-error", "client-complete"])
@pytest.mark.parametrize("subprotocol", DIALECTS)
def test_id_may_be_reused_once_its_operation_ended(
    subprotocol: Subprotocol, ended_by: str
) -> None:
    server = server_in(subprotocol, READY, operations=("1",))
    if ended_by == "server-complete":
        server.send(Complete(id="1"))
    elif ended_by == "server-error":
        server.send(Error(id="1", errors=[{"message": "x"}]))
    else:
        server.receive_text(cancel_text(subprotocol, "1"), 1.0)
    server.data_to_send()
    assert server.active_operations == frozenset()
    assert server.receive_text(subscribe_text(subprotocol, "1", "{ b }"), 2.0) == [
        Subscribe(id="1", query="{ b }")
    ]
    assert server.data_to_send() == []


def test_legacy_duplicate_id_replaces_the_operation() -> None:
    server = server_in(LEGACY, READY, operations=("1",))
    server.subscription_active("1")
    events = server.receive_text(subscribe_text(LEGACY, "1", "{ b }"), 1.0)
    assert events == [Complete(id="1"), Subscribe(id="1", query="{ b }")]
    # No `complete` goes out for the replaced operation; the socket stays.
    assert server.data_to_send() == []
    assert server.state is READY
    assert server.active_operations == {"1"}
    # The new operation starts fresh: a single result, then complete.
    server.send(Next(id="1", payload={"data": {"b": 1}}))
    with pytest.raises(LocalProtocolError):
        server.send(Next(id="1", payload={"data": {"b": 2}}))
    server.send(Complete(id="1"))
    assert [f["type"] for f in _frames(server)] == ["data", "complete"]


def test_legacy_duplicate_id_at_the_limit_replaces_instead_of_refusing() -> None:
    config = ServerConfig(init_timeout=None, max_operations=1)
    server = server_in(LEGACY, READY, config, operations=("1",))
    events = server.receive_text(subscribe_text(LEGACY, "1", "{ b }"), 1.0)
    assert events == [Complete(id="1"), Subscribe(id="1", query="{ b }")]
    assert server.data_to_send() == []


# Server: results.


@pytest.mark.parametrize("subprotocol", DIALECTS)
def test_query_sends_at_most_one_next_then_complete(subprotocol: Subprotocol) -> None:
    server = server_in(subprotocol, READY, operations=("q",))
    server.send(Next(id="q", payload={"data": {"a": 1}}))
    with pytest.raises(LocalProtocolError, match="'q'"):
        server.send(Next(id="q", payload={"data": {"a": 2}}))
    server.send(Complete(id="q"))
    assert _frames(server) == [
        {"type": RESULT[subprotocol], "id": "q", "payload": {"data": {"a": 1}}},
        {"type": "complete", "id": "q"},
    ]
    assert server.active_operations == frozenset()


@pytest.mark.parametrize("subprotocol", DIALECTS)
def test_subscription_active_allows_many_results(subprotocol: Subprotocol) -> None:
    server = server_in(subprotocol, READY, operations=("s",))
    server.subscription_active("s")
    assert server.data_to_send() == []
    for n in range(5):
        server.send(Next(id="s", payload={"data": {"n": n}}))
    server.send(Complete(id="s"))
    frames = _frames(server)
    assert [f["payload"] for f in frames[:-1]] == [{"data": {"n": n}} for n in range(5)]
    assert frames[-1] == {"type": "complete", "id": "s"}


@pytest.mark.parametrize("subprotocol", DIALECTS)
def test_confirmation_is_queued_before_any_result_and_only_once(
    subprotocol: Subprotocol,
) -> None:
    config = ServerConfig(init_timeout=None, confirm_subscriptions=True)
    server = server_in(subprotocol, READY, config, operations=("s",))
    server.subscription_active("s")
    server.subscription_active("s")
    server.send(Next(id="s", payload={"data": {"n": 1}}))
    server.subscription_active("s")
    assert _frames(server) == [
        {"type": RESULT[subprotocol], "id": "s", "payload": {"data": None}},
        {"type": RESULT[subprotocol], "id": "s", "payload": {"data": {"n": 1}}},
    ]


def test_confirmation_payload_is_configurable() -> None:
    config = ServerConfig(
        init_timeout=None,
        confirm_subscriptions=True,
        confirmation_payload={"data": {"confirmed": True}},
    )
    server = server_in(MODERN, READY, config, operations=("s",))
    server.subscription_active("s")
    assert server.data_to_send() == [
        '{"type":"next","id":"s","payload":{"data":{"confirmed":true}}}'
    ]


def test_no_confirmation_without_confirm_subscriptions() -> None:
    server = server_in(MODERN, READY, operations=("s",))
    server.subscription_active("s")
    assert server.data_to_send() == []


def test_subscription_active_is_a_no_op_for_ended_unknown_or_answered_operations() -> None:
    config = ServerConfig(init_timeout=None, confirm_subscriptions=True)
    server = server_in(MODERN, READY, config, operations=("done", "answered"))
    server.send(Complete(id="done"))
    server.send(Next(id="answered", payload={"data": 1}))
    server.data_to_send()
    server.subscription_active("done")
    server.subscription_active("never")
    server.subscription_active("answered")
    assert server.data_to_send() == []
    # "answered" did not become a stream.
    with pytest.raises(LocalProtocolError):
        server.send(Next(id="answered", payload={"data": 2}))
    assert server.active_operations == {"answered"}


@pytest.mark.parametrize("end", ["complete", "error"])
@pytest.mark.parametrize("subprotocol", DIALECTS)
def test_server_sends_nothing_for_an_id_after_it_ended_it(
    subprotocol: Subprotocol, end: str
) -> None:
    server = server_in(subprotocol, READY, operations=("1",))
    server.subscription_active("1")
    if end == "complete":
        server.send(Complete(id="1"))
    else:
        server.send(Error(id="1", errors=[{"message": "x"}]))
    assert len(server.data_to_send()) == 1
    server.send(Next(id="1", payload={"data": None}))
    server.send(Error(id="1", errors=[{"message": "y"}]))
    server.send(Complete(id="1"))
    server.subscription_active("1")
    assert server.data_to_send() == []


@pytest.mark.parametrize("subprotocol", DIALECTS)
def test_server_sends_nothing_for_an_id_the_client_cancelled(subprotocol: Subprotocol) -> None:
    server = server_in(subprotocol, READY, operations=("1",))
    server.subscription_active("1")
    assert server.receive_text(cancel_text(subprotocol, "1"), 1.0) == [Complete(id="1")]
    cancel_answer = server.data_to_send()
    # Legacy: `stop` is answered with `complete` (Apollo ref); modern: nothing.
    assert cancel_answer == (['{"type":"complete","id":"1"}'] if subprotocol is LEGACY else [])
    server.send(Next(id="1", payload={"data": None}))
    server.send(Error(id="1", errors=[{"message": "late"}]))
    server.send(Complete(id="1"))
    assert server.data_to_send() == []
    # A second cancel for the same id is an unknown id now.
    assert server.receive_text(cancel_text(subprotocol, "1"), 1.0) == []
    assert server.data_to_send() == []


@pytest.mark.parametrize("subprotocol", DIALECTS)
def test_server_sends_are_dropped_once_the_connection_closed(subprotocol: Subprotocol) -> None:
    server = server_in(subprotocol, READY, operations=("1",))
    assert server.receive_close(None) == [ConnectionClosed(code=1006)]
    assert server.active_operations == frozenset()
    server.send(Next(id="1", payload={"data": None}))
    server.send(Complete(id="1"))
    server.send(ConnectionAck())
    server.subscription_active("1")
    server.close(1000)
    assert server.data_to_send() == []
    assert server.receive_close(1000) == []


# Client: operations.


@pytest.mark.parametrize("subprotocol", DIALECTS)
def test_client_subscribe_before_ack_is_held_and_sent_right_after_the_ack(
    subprotocol: Subprotocol,
) -> None:
    client = ClientConnection(subprotocol, ClientConfig(ack_timeout=None), now=0.0)
    client.send(Subscribe(id="early", query="{ a }"))
    client.send(ConnectionInit(payload={"t": 1}))
    client.send(Subscribe(id="later", query="{ b }"))
    assert client.data_to_send() == ['{"type":"connection_init","payload":{"t":1}}']
    assert client.active_operations == {"early", "later"}
    assert client.receive_text('{"type":"connection_ack"}', 1.0) == [ConnectionAck()]
    start = "subscribe" if subprotocol is MODERN else "start"
    assert client.data_to_send() == [
        f'{{"type":"{start}","id":"early","payload":{{"query":"{{ a }}"}}}}',
        f'{{"type":"{start}","id":"later","payload":{{"query":"{{ b }}"}}}}',
    ]
    # They are ordinary sent operations now.
    assert client.receive_text(result_text(subprotocol, "early", {"data": 1}), 2.0) == [
        Next(id="early", payload={"data": 1})
    ]


@pytest.mark.parametrize("subprotocol", DIALECTS)
def test_client_cancel_of_a_held_subscribe_sends_nothing(subprotocol: Subprotocol) -> None:
    client = client_in(subprotocol, INITIALIZING)
    client.send(Subscribe(id="a", query="{ a }"))
    client.send(Subscribe(id="b", query="{ b }"))
    client.send(Complete(id="a"))
    assert client.data_to_send() == []
    assert client.active_operations == {"b"}
    client.receive_text('{"type":"connection_ack"}', 1.0)
    [frame] = _frames(client)
    assert frame["id"] == "b"


@pytest.mark.parametrize("subprotocol", DIALECTS)
def test_client_cancel_sends_exactly_one_complete_or_stop(subprotocol: Subprotocol) -> None:
    client = client_in(subprotocol, READY, operations=("1",))
    client.send(Complete(id="1"))
    client.send(Complete(id="1"))
    assert _frames(client) == [{"type": CANCEL[subprotocol], "id": "1"}]
    assert client.active_operations == frozenset()
    # Whatever the server still sends for it is dropped (the messages crossed).
    assert client.receive_text(result_text(subprotocol, "1", {"data": None}), 1.0) == []
    assert client.receive_text('{"type":"complete","id":"1"}', 1.0) == []
    assert client.state is READY


@pytest.mark.parametrize("end", ["complete", "error"])
@pytest.mark.parametrize("subprotocol", DIALECTS)
def test_client_sends_nothing_for_an_id_the_server_ended(
    subprotocol: Subprotocol, end: str
) -> None:
    client = client_in(subprotocol, READY, operations=("1",))
    if end == "complete":
        text = '{"type":"complete","id":"1"}'
    elif subprotocol is MODERN:
        text = '{"type":"error","id":"1","payload":[{"message":"x"}]}'
    else:
        text = '{"type":"error","id":"1","payload":{"message":"x"}}'
    [event] = client.receive_text(text, 1.0)
    assert isinstance(event, (Complete, Error))
    client.send(Complete(id="1"))
    assert client.data_to_send() == []
    assert client.active_operations == frozenset()
    # Anything after the end is dropped, and the id may be used again.
    assert client.receive_text(result_text(subprotocol, "1", {"data": None}), 1.0) == []
    client.send(Subscribe(id="1", query="{ a }"))
    assert len(client.data_to_send()) == 1


@pytest.mark.parametrize("subprotocol", DIALECTS)
def test_client_ignores_frames_for_unknown_ids(subprotocol: Subprotocol) -> None:
    client = client_in(subprotocol, READY, operations=("1",))
    error = (
        '{"type":"error","id":"x","payload":[{"message":"e"}]}'
        if subprotocol is MODERN
        else '{"type":"error","id":"x","payload":{"message":"e"}}'
    )
    for text in (
        result_text(subprotocol, "x", {"data": 1}),
        error,
        '{"type":"complete","id":"x"}',
    ):
        assert client.receive_text(text, 1.0) == []
    assert client.data_to_send() == []
    assert client.state is READY
    assert client.active_operations == {"1"}


@pytest.mark.parametrize("subprotocol", DIALECTS)
def test_server_ignores_a_cancel_for_an_unknown_id(subprotocol: Subprotocol) -> None:
    server = server_in(subprotocol, READY, operations=("1",))
    assert server.receive_text(cancel_text(subprotocol, "nope"), 1.0) == []
    assert server.data_to_send() == []
    assert server.active_operations == {"1"}


@pytest.mark.parametrize("subprotocol", DIALECTS)
def test_client_accepts_many_results_then_complete(subprotocol: Subprotocol) -> None:
    client = client_in(subprotocol, READY, operations=("s",))
    events: list[Event] = []
    for n in range(4):
        events += client.receive_text(result_text(subprotocol, "s", {"data": {"n": n}}), 1.0)
    events += client.receive_text('{"type":"complete","id":"s"}', 1.0)
    assert events == [Next(id="s", payload={"data": {"n": n}}) for n in range(4)] + [
        Complete(id="s")
    ]


@pytest.mark.parametrize("subprotocol", DIALECTS)
def test_client_close_on_legacy_sends_connection_terminate_first(
    subprotocol: Subprotocol,
) -> None:
    client = client_in(subprotocol, READY, operations=("1",))
    client.close(1000, "bye")
    expected: list[object] = [CloseFrame(1000, "bye")]
    if subprotocol is LEGACY:
        expected.insert(0, '{"type":"connection_terminate"}')
    assert client.data_to_send() == expected
    assert client.active_operations == frozenset()
    client.close()
    assert client.data_to_send() == []


def test_legacy_client_connection_error_before_the_ack_fails_the_held_operations() -> None:
    client = client_in(LEGACY, INITIALIZING)
    client.send(Subscribe(id="1", query="{ a }"))
    events = client.receive_text('{"type":"connection_error","payload":{"message":"no"}}', 1.0)
    assert events == [
        ConnectionRejected(payload={"message": "no"}, reason="no"),
        ConnectionClosed(code=4403, reason="no"),
    ]
    assert client.data_to_send() == [CloseFrame(1000, "")]
    assert client.active_operations == frozenset()
    # The held subscribe never goes out.
    assert client.receive_text('{"type":"connection_ack"}', 2.0) == []
    assert client.data_to_send() == []


# Misuse: LocalProtocolError, nothing queued, nothing changed.


def _server_misuse_cases() -> list[object]:
    cases: list[object] = []
    for sp in DIALECTS:
        cases += [
            pytest.param(sp, IDLE, ConnectionAck(), id=f"{sp}-ack-before-init"),
            pytest.param(sp, READY, ConnectionAck(), id=f"{sp}-second-ack"),
            pytest.param(sp, IDLE, ConnectionRejected(), id=f"{sp}-reject-before-init"),
            pytest.param(sp, READY, ConnectionRejected(), id=f"{sp}-reject-after-ack"),
            pytest.param(sp, IDLE, Next(id="1", payload={}), id=f"{sp}-next-before-init"),
            pytest.param(sp, INITIALIZING, Next(id="1", payload={}), id=f"{sp}-next-before-ack"),
            pytest.param(
                sp,
                INITIALIZING,
                Error(id="1", errors=[{"message": "x"}]),
                id=f"{sp}-error-before-ack",
            ),
            pytest.param(sp, INITIALIZING, Complete(id="1"), id=f"{sp}-complete-before-ack"),
            pytest.param(sp, READY, ConnectionInit(), id=f"{sp}-server-sends-init"),
            pytest.param(
                sp, READY, Subscribe(id="9", query="{ a }"), id=f"{sp}-server-sends-subscribe"
            ),
            pytest.param(sp, READY, ConnectionClosed(code=1000), id=f"{sp}-send-closed-event"),
            pytest.param(sp, READY, Error(id="1", errors=[]), id=f"{sp}-error-without-errors"),
        ]
    cases += [
        pytest.param(LEGACY, READY, Ping(), id="legacy-server-ping"),
        pytest.param(LEGACY, IDLE, Ping(), id="legacy-server-ping-idle"),
    ]
    return cases


@pytest.mark.parametrize(("subprotocol", "state", "event"), _server_misuse_cases())
def test_server_misuse_raises_local_protocol_error_and_changes_nothing(
    subprotocol: Subprotocol, state: ConnectionState, event: Event
) -> None:
    server = server_in(subprotocol, state, operations=("1",))
    before = server.active_operations
    with pytest.raises(LocalProtocolError):
        server.send(event)
    assert server.data_to_send() == []
    assert server.state is state
    assert server.active_operations == before


def _client_misuse_cases() -> list[object]:
    cases: list[object] = []
    for sp in DIALECTS:
        cases += [
            pytest.param(sp, READY, Subscribe(id="1", query="{ b }"), id=f"{sp}-duplicate-id"),
            pytest.param(sp, READY, Subscribe(id="", query="{ b }"), id=f"{sp}-empty-id"),
            pytest.param(sp, IDLE, Subscribe(id="", query="{ b }"), id=f"{sp}-empty-id-idle"),
            pytest.param(sp, INITIALIZING, ConnectionInit(), id=f"{sp}-second-init"),
            pytest.param(sp, READY, ConnectionInit(), id=f"{sp}-init-after-ack"),
            pytest.param(sp, READY, Next(id="1", payload={}), id=f"{sp}-client-sends-next"),
            pytest.param(sp, READY, ConnectionAck(), id=f"{sp}-client-sends-ack"),
            pytest.param(
                sp, READY, Error(id="1", errors=[{"message": "x"}]), id=f"{sp}-client-error"
            ),
            pytest.param(sp, READY, ConnectionRejected(), id=f"{sp}-client-rejects"),
            pytest.param(sp, READY, ConnectionClosed(code=1000), id=f"{sp}-send-closed-event"),
            pytest.param(
                sp, CLOSED, Subscribe(id="2", query="{ a }"), id=f"{sp}-subscribe-after-close"
            ),
        ]
    cases += [
        pytest.param(LEGACY, READY, Ping(), id="legacy-client-ping"),
        pytest.param(LEGACY, READY, Pong(), id="legacy-client-pong"),
    ]
    return cases


@pytest.mark.parametrize(("subprotocol", "state", "event"), _client_misuse_cases())
def test_client_misuse_raises_local_protocol_error_and_changes_nothing(
    subprotocol: Subprotocol, state: ConnectionState, event: Event
) -> None:
    client = client_in(subprotocol, state, operations=("1",))
    before = client.active_operations
    with pytest.raises(LocalProtocolError):
        client.send(event)
    assert client.data_to_send() == []
    assert client.state is state
    assert client.active_operations == before


def test_client_duplicate_id_of_a_held_subscribe_is_refused() -> None:
    client = client_in(MODERN, INITIALIZING)
    client.send(Subscribe(id="1", query="{ a }"))
    with pytest.raises(LocalProtocolError, match="'1'"):
        client.send(Subscribe(id="1", query="{ b }"))
    client.receive_text('{"type":"connection_ack"}', 1.0)
    assert len(client.data_to_send()) == 1


@pytest.mark.parametrize("subprotocol", DIALECTS)
def test_client_sends_other_than_subscribe_after_close_are_dropped(
    subprotocol: Subprotocol,
) -> None:
    client = client_in(subprotocol, CLOSED)
    client.send(Complete(id="1"))
    client.send(ConnectionInit())
    assert client.data_to_send() == []


def test_modern_server_and_client_may_ping_and_pong_in_any_open_state() -> None:
    for state in (IDLE, INITIALIZING, READY):
        server = server_in(MODERN, state)
        server.send(Ping(payload={"s": 1}))
        server.send(Pong())
        assert server.data_to_send() == ['{"type":"ping","payload":{"s":1}}', '{"type":"pong"}']
        client = client_in(MODERN, state)
        client.send(Ping())
        client.send(Pong(payload={"c": 1}))
        assert client.data_to_send() == ['{"type":"ping"}', '{"type":"pong","payload":{"c":1}}']


def test_legacy_server_may_send_ka_by_hand() -> None:
    server = server_in(LEGACY, READY)
    server.send(Pong())
    assert server.data_to_send() == ['{"type":"ka"}']


# Rejection by the server.


def test_modern_server_rejection_closes_4403_with_the_reason() -> None:
    server = server_in(MODERN, INITIALIZING)
    server.send(ConnectionRejected(reason="bad token"))
    assert server.data_to_send() == [CloseFrame(4403, "bad token")]
    assert server.state is CLOSED


def test_legacy_server_rejection_sends_connection_error_then_closes_4403() -> None:
    server = server_in(LEGACY, INITIALIZING)
    server.send(ConnectionRejected(payload={"message": "no", "code": 7}, reason="denied"))
    assert server.data_to_send() == [
        '{"type":"connection_error","payload":{"message":"no","code":7}}',
        CloseFrame(4403, "denied"),
    ]
    assert server.state is CLOSED


# Close reasons fit a close frame.


def _assert_reason_fits(reason: str) -> None:
    assert len(reason.encode()) <= MAX_REASON_BYTES
    reason.encode().decode()  # whole characters only


@pytest.mark.parametrize("op_id", ["x" * 10_000, "é" * 500, "😀" * 300, "a" + "€" * 60])
def test_4409_reason_with_a_huge_id_fits_a_close_frame(op_id: str) -> None:
    server = server_in(MODERN, READY, operations=(op_id,))
    with pytest.raises(RemoteProtocolError) as info:
        server.receive_text(subscribe_text(MODERN, op_id), 1.0)
    [frame] = server.data_to_send()
    assert isinstance(frame, CloseFrame)
    assert frame.code == 4409
    assert frame.reason == info.value.reason
    _assert_reason_fits(frame.reason)
    assert frame.reason.startswith("Subscriber for ")
    assert frame.reason.endswith("…")
    # The exception keeps the whole message.
    assert op_id in str(info.value)


@pytest.mark.parametrize(
    "text",
    [
        '{"type":"' + "t" * 5000 + '"}',
        '{"type":"complete","id":' + json.dumps(["é" * 5000]) + "}",
        '{"type":' + json.dumps(["x" * 100] * 100) + "}",
        '{"type":"subscribe","id":' + json.dumps(list(range(1000))) + "}",
    ],
)
@pytest.mark.parametrize("role", ["server", "client"])
def test_every_protocol_error_reason_fits_a_close_frame(role: str, text: str) -> None:
    machine: ServerConnection | ClientConnection = (
        server_in(MODERN, READY) if role == "server" else client_in(MODERN, READY)
    )
    with pytest.raises(RemoteProtocolError) as info:
        machine.receive_text(text, 1.0)
    [frame] = machine.data_to_send()
    assert isinstance(frame, CloseFrame)
    _assert_reason_fits(frame.reason)
    _assert_reason_fits(info.value.reason)


def test_rejection_and_local_close_reasons_are_cut_to_fit() -> None:
    server = server_in(MODERN, INITIALIZING)
    server.send(ConnectionRejected(reason="ü" * 200))
    [frame] = server.data_to_send()
    assert isinstance(frame, CloseFrame)
    _assert_reason_fits(frame.reason)
    client = client_in(MODERN, READY)
    client.close(1000, "x" * 124)
    [frame] = client.data_to_send()
    assert isinstance(frame, CloseFrame)
    assert frame.reason == "x" * 120 + "…"
    _assert_reason_fits(frame.reason)
    # Exactly 123 bytes stay whole.
    client = client_in(MODERN, READY)
    client.close(1000, "x" * 123)
    assert client.data_to_send() == [CloseFrame(1000, "x" * 123)]
