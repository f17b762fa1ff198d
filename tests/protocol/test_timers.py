"""Deadlines with explicit `now` values: init and ack timeouts, pings, pongs, `ka`."""

from __future__ import annotations

import pytest
from gqlws_protocol import (
    ClientConfig,
    ClientConnection,
    CloseFrame,
    ConnectionAck,
    ConnectionClosed,
    ConnectionInit,
    ConnectionState,
    ServerConfig,
    ServerConnection,
    Subprotocol,
)

from .helpers import DIALECTS, LEGACY, MODERN, state_of

INIT = '{"type":"connection_init"}'
ACK = '{"type":"connection_ack"}'
PING = '{"type":"ping"}'
PONG = '{"type":"pong"}'
KA = '{"type":"ka"}'


# Server: connection-init timeout (A.5).


@pytest.mark.parametrize("subprotocol", DIALECTS)
def test_server_closes_4408_when_no_init_arrives_in_time(subprotocol: Subprotocol) -> None:
    server = ServerConnection(subprotocol, ServerConfig(init_timeout=5), now=100.0)
    assert server.next_deadline() == 105.0
    assert server.handle_timeout(104.999) == []
    assert server.data_to_send() == []
    assert state_of(server) is ConnectionState.IDLE
    assert server.next_deadline() == 105.0

    assert server.handle_timeout(105.0) == [
        ConnectionClosed(code=4408, reason="Connection initialisation timeout")
    ]
    assert server.data_to_send() == [CloseFrame(4408, "Connection initialisation timeout")]
    assert server.state is ConnectionState.CLOSED
    assert server.next_deadline() is None
    # Later timeouts do nothing more.
    assert server.handle_timeout(1000.0) == []
    assert server.data_to_send() == []


@pytest.mark.parametrize("subprotocol", DIALECTS)
def test_server_does_not_close_4408_after_init_even_while_the_ack_is_pending(
    subprotocol: Subprotocol,
) -> None:
    # A slow on_connect hook: init received at 101, no ack yet at 106.
    server = ServerConnection(subprotocol, ServerConfig(init_timeout=5), now=100.0)
    server.receive_text(INIT, 101.0)
    assert server.next_deadline() is None
    assert server.handle_timeout(106.0) == []
    assert server.handle_timeout(500.0) == []
    assert server.data_to_send() == []
    assert server.state is ConnectionState.INITIALIZING
    server.send(ConnectionAck())
    assert server.data_to_send() == [ACK]


def test_server_default_init_timeout_is_ten_seconds() -> None:
    server = ServerConnection(MODERN, now=0.0)
    assert server.next_deadline() == 10.0


def test_server_without_init_timeout_has_no_deadline() -> None:
    server = ServerConnection(MODERN, ServerConfig(init_timeout=None), now=0.0)
    assert server.next_deadline() is None
    assert server.handle_timeout(1e9) == []
    assert server.state is ConnectionState.IDLE


# Server: pings (modern) and keep-alives (legacy).


def _acked_server(
    subprotocol: Subprotocol, config: ServerConfig, at: float, frames: list[object] | None = None
) -> ServerConnection:
    """A server created at 0 that got `connection_init` at `at` and acked it.

    The outbox is drained into `frames` when given.
    """
    server = ServerConnection(subprotocol, config, now=0.0)
    server.receive_text(INIT, at)
    server.send(ConnectionAck())
    sent = server.data_to_send()
    if frames is not None:
        frames += sent
    return server


def test_modern_server_pings_every_interval_only_after_the_ack() -> None:
    config = ServerConfig(init_timeout=None, ping_interval=10)
    server = ServerConnection(MODERN, config, now=0.0)
    assert server.next_deadline() == 10.0
    # Before the ack: the schedule moves on, nothing is sent.
    assert server.handle_timeout(10.0) == []
    assert server.data_to_send() == []
    assert server.next_deadline() == 20.0
    server.receive_text(INIT, 12.0)
    assert server.handle_timeout(20.0) == []
    assert server.data_to_send() == []
    server.send(ConnectionAck())
    assert server.data_to_send() == [ACK]
    assert server.next_deadline() == 30.0
    assert server.handle_timeout(29.9) == []
    assert server.data_to_send() == []
    assert server.handle_timeout(30.0) == []
    assert server.data_to_send() == [PING]
    assert server.next_deadline() == 40.0
    assert server.handle_timeout(40.0) == []
    assert server.data_to_send() == [PING]


def test_server_late_timer_sends_one_ping_not_a_burst() -> None:
    server = _acked_server(MODERN, ServerConfig(init_timeout=None, ping_interval=10), at=1.0)
    assert server.handle_timeout(55.0) == []
    assert server.data_to_send() == [PING]
    assert server.next_deadline() == 65.0


def test_modern_server_closes_1001_when_the_pong_is_late() -> None:
    config = ServerConfig(init_timeout=None, ping_interval=10, pong_timeout=3)
    server = _acked_server(MODERN, config, at=1.0)
    # Acked at 1: the ping is due at 1 + 10, its pong at 11 + 3.
    assert server.next_deadline() == 11.0
    server.handle_timeout(11.0)
    assert server.data_to_send() == [PING]
    assert server.next_deadline() == 14.0
    assert server.handle_timeout(13.99) == []
    assert server.data_to_send() == []
    [closed] = server.handle_timeout(14.0)
    assert isinstance(closed, ConnectionClosed)
    assert closed.code == 1001
    [frame] = server.data_to_send()
    assert isinstance(frame, CloseFrame)
    assert frame.code == 1001
    assert server.state is ConnectionState.CLOSED
    assert server.next_deadline() is None


def test_modern_server_pong_in_time_keeps_the_connection() -> None:
    config = ServerConfig(init_timeout=None, ping_interval=10, pong_timeout=3)
    server = _acked_server(MODERN, config, at=1.0)
    server.handle_timeout(11.0)
    assert server.data_to_send() == [PING]
    server.receive_text(PONG, 13.0)
    # The pong disarmed the 14.0 deadline; the next ping is due at 11 + 10.
    assert server.next_deadline() == 21.0
    assert server.handle_timeout(14.0) == []
    assert server.data_to_send() == []
    assert server.handle_timeout(21.0) == []
    assert server.data_to_send() == [PING]
    assert server.next_deadline() == 24.0


def test_modern_server_pong_timeout_counts_from_the_first_unanswered_ping() -> None:
    # pong_timeout longer than the interval: the second ping does not
    # push the deadline of the first one back.
    config = ServerConfig(init_timeout=None, ping_interval=10, pong_timeout=15)
    server = _acked_server(MODERN, config, at=1.0)
    server.handle_timeout(11.0)
    server.handle_timeout(21.0)
    assert server.data_to_send() == [PING, PING]
    # 11 + 15, not 21 + 15; the third ping (31) comes later.
    assert server.next_deadline() == 26.0
    assert server.handle_timeout(25.99) == []
    [closed] = server.handle_timeout(26.0)
    assert isinstance(closed, ConnectionClosed)
    assert closed.code == 1001


def test_legacy_server_sends_ka_right_after_the_ack_then_every_interval() -> None:
    config = ServerConfig(init_timeout=None, ping_interval=10)
    server = ServerConnection(LEGACY, config, now=0.0)
    # No `ka` before the ack.
    assert server.handle_timeout(10.0) == []
    assert server.data_to_send() == []
    server.receive_text(INIT, 11.0)
    assert server.handle_timeout(20.0) == []
    assert server.data_to_send() == []
    server.send(ConnectionAck())
    assert server.data_to_send() == [ACK, KA]
    assert server.next_deadline() == 30.0
    assert server.handle_timeout(30.0) == []
    assert server.data_to_send() == [KA]
    assert server.handle_timeout(40.0) == []
    assert server.data_to_send() == [KA]


def test_modern_server_first_ping_is_one_interval_after_the_init_not_the_socket() -> None:
    config = ServerConfig(init_timeout=None, ping_interval=10, pong_timeout=3)
    server = ServerConnection(MODERN, config, now=100.0)
    server.receive_text(INIT, 104.0)
    server.send(ConnectionAck())
    assert server.data_to_send() == [ACK]
    # 104 + 10; counted from the socket it would be 110.
    assert server.next_deadline() == 114.0
    assert server.handle_timeout(110.0) == []
    assert server.data_to_send() == []
    assert server.handle_timeout(113.999) == []
    assert server.data_to_send() == []
    assert server.handle_timeout(114.0) == []
    assert server.data_to_send() == [PING]
    assert server.next_deadline() == 117.0


@pytest.mark.parametrize(
    ("last_frame", "ack_time"),
    [(None, 104.0), (PING, 106.0), (PONG, 106.0)],
    ids=["init", "ping", "pong"],
)
def test_modern_server_ack_counts_from_the_last_frame_received(
    last_frame: str | None, ack_time: float
) -> None:
    # `send()` takes no time: the ack uses the latest `now` the server got.
    config = ServerConfig(init_timeout=None, ping_interval=10)
    server = ServerConnection(MODERN, config, now=100.0)
    server.receive_text(INIT, 104.0)
    if last_frame is not None:
        server.receive_text(last_frame, 106.0)
    server.send(ConnectionAck())
    assert server.next_deadline() == ack_time + 10


def test_server_ack_counts_from_the_last_timer_call() -> None:
    config = ServerConfig(init_timeout=None, ping_interval=10)
    server = ServerConnection(MODERN, config, now=100.0)
    server.receive_text(INIT, 104.0)
    assert server.handle_timeout(107.0) == []
    server.send(ConnectionAck())
    assert server.next_deadline() == 117.0
    assert server.handle_timeout(116.9) == []
    assert server.data_to_send() == [ACK]
    assert server.handle_timeout(117.0) == []
    assert server.data_to_send() == [PING]


def test_legacy_server_ka_after_the_ack_then_one_interval_after_the_ack() -> None:
    # Reference checklist C.2.3: consecutive `ka` about T apart, counting
    # the one that follows the ack.
    config = ServerConfig(init_timeout=None, ping_interval=10)
    server = ServerConnection(LEGACY, config, now=0.0)
    server.receive_text(INIT, 3.0)
    server.send(ConnectionAck())
    assert server.data_to_send() == [ACK, KA]
    assert server.next_deadline() == 13.0
    # Counted from the socket, the next `ka` would come at 10, 7 s after the first.
    assert server.handle_timeout(10.0) == []
    assert server.data_to_send() == []
    assert server.handle_timeout(12.99) == []
    assert server.data_to_send() == []
    assert server.handle_timeout(13.0) == []
    assert server.data_to_send() == [KA]
    assert server.next_deadline() == 23.0
    assert server.handle_timeout(23.0) == []
    assert server.data_to_send() == [KA]


def test_legacy_server_without_ping_interval_sends_no_ka() -> None:
    frames: list[object] = []
    server = _acked_server(LEGACY, ServerConfig(init_timeout=None), at=1.0, frames=frames)
    assert frames == [ACK]
    assert server.next_deadline() is None


def test_legacy_server_ignores_pong_timeout_because_clients_never_answer_ka() -> None:
    config = ServerConfig(init_timeout=None, ping_interval=10, pong_timeout=3)
    frames: list[object] = []
    server = _acked_server(LEGACY, config, at=1.0, frames=frames)
    assert frames == [ACK, KA]
    assert server.next_deadline() == 11.0
    server.handle_timeout(11.0)
    assert server.data_to_send() == [KA]
    # No pong deadline at 14: only the next `ka`.
    assert server.next_deadline() == 21.0
    assert server.handle_timeout(14.0) == []
    assert server.data_to_send() == []
    assert server.state is ConnectionState.READY


def test_server_next_deadline_is_the_earliest_timer() -> None:
    config = ServerConfig(init_timeout=30, ping_interval=10, pong_timeout=3)
    server = ServerConnection(MODERN, config, now=0.0)
    assert server.next_deadline() == 10.0
    server.handle_timeout(10.0)
    assert server.next_deadline() == 20.0
    server.handle_timeout(20.0)
    assert server.next_deadline() == 30.0
    server.receive_text(INIT, 25.0)
    assert server.next_deadline() == 30.0
    # The ack replaces the schedule: first ping at 25 + 10, not at 30.
    server.send(ConnectionAck())
    assert server.next_deadline() == 35.0
    assert server.handle_timeout(30.0) == []
    assert server.data_to_send() == [ACK]
    assert server.next_deadline() == 35.0
    server.handle_timeout(35.0)
    assert server.data_to_send() == [PING]
    assert server.next_deadline() == 38.0


def test_server_timers_stop_when_the_peer_closes() -> None:
    config = ServerConfig(init_timeout=5, ping_interval=10)
    server = ServerConnection(MODERN, config, now=0.0)
    assert server.receive_close(1000) == [ConnectionClosed(code=1000)]
    assert server.next_deadline() is None
    assert server.handle_timeout(100.0) == []
    assert server.data_to_send() == []


# Client: connection-ack timeout, pings, legacy keep-alive watchdog.


@pytest.mark.parametrize("subprotocol", DIALECTS)
def test_client_closes_4504_when_no_ack_arrives_in_time(subprotocol: Subprotocol) -> None:
    client = ClientConnection(subprotocol, ClientConfig(ack_timeout=5), now=100.0)
    client.send(ConnectionInit())
    assert client.data_to_send() == [INIT]
    assert client.next_deadline() == 105.0
    assert client.handle_timeout(104.9) == []
    assert client.data_to_send() == []
    assert client.handle_timeout(105.0) == [
        ConnectionClosed(code=4504, reason="Connection acknowledgement timeout")
    ]
    assert client.data_to_send() == [CloseFrame(4504, "Connection acknowledgement timeout")]
    assert client.state is ConnectionState.CLOSED
    assert client.next_deadline() is None
    assert client.handle_timeout(200.0) == []


@pytest.mark.parametrize("subprotocol", DIALECTS)
def test_client_ack_in_time_disarms_the_ack_timeout(subprotocol: Subprotocol) -> None:
    client = ClientConnection(subprotocol, ClientConfig(ack_timeout=5), now=100.0)
    client.send(ConnectionInit())
    client.receive_text(ACK, 104.0)
    assert client.next_deadline() is None
    assert client.handle_timeout(200.0) == []
    assert client.state is ConnectionState.READY


def test_client_default_ack_timeout_is_ten_seconds() -> None:
    assert ClientConnection(MODERN, now=5.0).next_deadline() == 15.0


def test_modern_client_pings_after_the_ack_and_closes_4499_without_pong() -> None:
    config = ClientConfig(ack_timeout=None, ping_interval=10, pong_timeout=3)
    client = ClientConnection(MODERN, config, now=0.0)
    client.send(ConnectionInit())
    client.data_to_send()
    assert client.next_deadline() == 10.0
    # No ping before the ack.
    assert client.handle_timeout(10.0) == []
    assert client.data_to_send() == []
    client.receive_text(ACK, 11.0)
    # Pings count from the ack: 11 + 10.
    assert client.next_deadline() == 21.0
    assert client.handle_timeout(20.0) == []
    assert client.data_to_send() == []
    assert client.handle_timeout(21.0) == []
    assert client.data_to_send() == [PING]
    assert client.next_deadline() == 24.0
    assert client.handle_timeout(23.9) == []
    [closed] = client.handle_timeout(24.0)
    assert isinstance(closed, ConnectionClosed)
    assert closed.code == 4499
    [frame] = client.data_to_send()
    assert isinstance(frame, CloseFrame)
    assert frame.code == 4499
    assert client.state is ConnectionState.CLOSED


def test_modern_client_first_ping_is_one_interval_after_the_ack_arrived() -> None:
    config = ClientConfig(ack_timeout=None, ping_interval=10)
    client = ClientConnection(MODERN, config, now=0.0)
    client.send(ConnectionInit())
    assert client.data_to_send() == [INIT]
    client.receive_text(ACK, 7.0)
    # 7 + 10; counted from the socket it would be 10.
    assert client.next_deadline() == 17.0
    assert client.handle_timeout(10.0) == []
    assert client.data_to_send() == []
    assert client.handle_timeout(16.99) == []
    assert client.data_to_send() == []
    assert client.handle_timeout(17.0) == []
    assert client.data_to_send() == [PING]
    assert client.next_deadline() == 27.0


def test_modern_client_pong_in_time_keeps_the_connection() -> None:
    config = ClientConfig(ack_timeout=None, ping_interval=10, pong_timeout=3)
    client = ClientConnection(MODERN, config, now=0.0)
    client.send(ConnectionInit())
    client.receive_text(ACK, 1.0)
    client.data_to_send()
    client.handle_timeout(11.0)
    assert client.data_to_send() == [PING]
    client.receive_text(PONG, 12.0)
    # The pong disarmed the 14.0 deadline; the next ping is due at 11 + 10.
    assert client.next_deadline() == 21.0
    assert client.handle_timeout(14.0) == []
    assert client.data_to_send() == []
    assert client.handle_timeout(21.0) == []
    assert client.data_to_send() == [PING]
    assert client.state is ConnectionState.READY


def test_modern_client_without_pong_timeout_keeps_pinging() -> None:
    config = ClientConfig(ack_timeout=None, ping_interval=10)
    client = ClientConnection(MODERN, config, now=0.0)
    client.send(ConnectionInit())
    client.receive_text(ACK, 1.0)
    client.data_to_send()
    for now in (11.0, 21.0, 31.0):
        assert client.next_deadline() == now
        assert client.handle_timeout(now) == []
        assert client.data_to_send() == [PING]
    assert client.next_deadline() == 41.0


def test_legacy_client_never_pings() -> None:
    config = ClientConfig(ack_timeout=None, ping_interval=10, pong_timeout=3)
    client = ClientConnection(LEGACY, config, now=0.0)
    client.send(ConnectionInit())
    client.receive_text(ACK, 1.0)
    client.data_to_send()
    assert client.next_deadline() is None
    assert client.handle_timeout(100.0) == []
    assert client.data_to_send() == []


def test_legacy_client_ka_watchdog_starts_at_the_first_ka_and_closes_4499() -> None:
    config = ClientConfig(ack_timeout=None, keepalive_timeout=30)
    client = ClientConnection(LEGACY, config, now=0.0)
    client.send(ConnectionInit())
    client.data_to_send()
    assert client.next_deadline() is None
    # Some servers send `ka` before the ack.
    client.receive_text(KA, 5.0)
    assert client.next_deadline() == 35.0
    client.receive_text(ACK, 6.0)
    client.receive_text(KA, 20.0)
    assert client.next_deadline() == 50.0
    assert client.handle_timeout(49.9) == []
    assert client.data_to_send() == []
    [closed] = client.handle_timeout(50.0)
    assert isinstance(closed, ConnectionClosed)
    assert closed.code == 4499
    [frame] = client.data_to_send()
    assert isinstance(frame, CloseFrame)
    assert frame.code == 4499
    assert client.next_deadline() is None


def test_modern_client_ignores_the_legacy_keepalive_timeout() -> None:
    config = ClientConfig(ack_timeout=None, keepalive_timeout=30)
    client = ClientConnection(MODERN, config, now=0.0)
    client.send(ConnectionInit())
    client.receive_text(ACK, 1.0)
    client.receive_text(PONG, 2.0)
    assert client.next_deadline() is None


def test_client_next_deadline_is_the_earliest_timer() -> None:
    config = ClientConfig(ack_timeout=15, ping_interval=10, pong_timeout=3)
    client = ClientConnection(MODERN, config, now=0.0)
    assert client.next_deadline() == 10.0
    client.send(ConnectionInit())
    client.handle_timeout(10.0)
    assert client.next_deadline() == 15.0
    client.receive_text(ACK, 12.0)
    # The ack disarms 15 and moves the ping from 20 to 12 + 10.
    assert client.next_deadline() == 22.0
    client.handle_timeout(22.0)
    assert client.data_to_send() == [INIT, PING]
    assert client.next_deadline() == 25.0


def test_client_timers_stop_when_closed_locally() -> None:
    config = ClientConfig(ack_timeout=5, ping_interval=10)
    client = ClientConnection(MODERN, config, now=0.0)
    client.close()
    assert client.data_to_send() == [CloseFrame(1000, "")]
    assert client.next_deadline() is None
    assert client.handle_timeout(100.0) == []
    assert client.data_to_send() == []
