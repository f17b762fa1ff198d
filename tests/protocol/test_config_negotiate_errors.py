"""Configuration validation, subprotocol negotiation, close codes and errors."""

from __future__ import annotations

import dataclasses

import pytest
from gqlws_protocol import (
    DEFAULT_PREFERENCE,
    ClientConfig,
    CloseCode,
    LocalProtocolError,
    ProtocolError,
    RemoteProtocolError,
    ServerConfig,
    Subprotocol,
    negotiate,
)

from .helpers import LEGACY, MAX_REASON_BYTES, MODERN

# Configuration.


def test_server_config_defaults() -> None:
    config = ServerConfig()
    assert config.init_timeout == 10.0
    assert config.ping_interval is None
    assert config.pong_timeout is None
    assert config.confirm_subscriptions is False
    assert config.confirmation_payload == {"data": None}
    assert config.max_operations == 100
    assert config.json_loads is None
    assert config.json_dumps is None


def test_client_config_defaults() -> None:
    config = ClientConfig()
    assert config.ack_timeout == 10.0
    assert config.ping_interval is None
    assert config.pong_timeout is None
    assert config.keepalive_timeout is None


def test_configs_are_frozen_and_keyword_only() -> None:
    config = ServerConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.init_timeout = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        ServerConfig(5)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        ClientConfig(5)  # type: ignore[call-arg]


@pytest.mark.parametrize("field", ["init_timeout", "ping_interval"])
@pytest.mark.parametrize("value", [0, -1, float("inf"), float("nan")])
def test_server_seconds_must_be_positive_and_finite(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        ServerConfig(**{field: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("field", ["ack_timeout", "ping_interval", "keepalive_timeout"])
@pytest.mark.parametrize("value", [0, -0.5, float("inf")])
def test_client_seconds_must_be_positive_and_finite(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        ClientConfig(**{field: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["10", True, [1]])
def test_seconds_must_be_numbers(value: object) -> None:
    with pytest.raises(TypeError, match="init_timeout"):
        ServerConfig(init_timeout=value)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="ack_timeout"):
        ClientConfig(ack_timeout=value)  # type: ignore[arg-type]


def test_int_seconds_are_accepted() -> None:
    assert ServerConfig(init_timeout=3).init_timeout == 3
    assert ClientConfig(ack_timeout=1).ack_timeout == 1


def test_pong_timeout_needs_ping_interval() -> None:
    with pytest.raises(ValueError, match="ping_interval"):
        ServerConfig(pong_timeout=5)
    with pytest.raises(ValueError, match="ping_interval"):
        ClientConfig(pong_timeout=5)
    with pytest.raises(ValueError, match="pong_timeout"):
        ServerConfig(ping_interval=5, pong_timeout=0)
    with pytest.raises(ValueError, match="pong_timeout"):
        ClientConfig(ping_interval=5, pong_timeout=-1)


def test_confirm_subscriptions_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match="confirm_subscriptions"):
        ServerConfig(confirm_subscriptions=1)  # type: ignore[arg-type]


def test_confirmation_payload_must_be_a_mapping() -> None:
    with pytest.raises(TypeError, match="confirmation_payload"):
        ServerConfig(confirmation_payload=[None])  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "3"])
def test_max_operations_must_be_a_positive_int_or_none(value: object) -> None:
    with pytest.raises(ValueError, match="max_operations"):
        ServerConfig(max_operations=value)  # type: ignore[arg-type]


def test_max_operations_none_and_one_are_accepted() -> None:
    assert ServerConfig(max_operations=None).max_operations is None
    assert ServerConfig(max_operations=1).max_operations == 1


# Negotiation (reference/protocols.md C.1 items 1-3).


@pytest.mark.parametrize(
    ("offered", "expected"),
    [
        (["graphql-transport-ws"], MODERN),
        (["graphql-ws"], LEGACY),
        (["foo", "graphql-transport-ws"], MODERN),
        # Both offered (gql offers the legacy token first): the current one wins.
        (["graphql-ws", "graphql-transport-ws"], MODERN),
        ([" graphql-ws "], LEGACY),
        ([b"graphql-transport-ws"], MODERN),
        ([b"graphql-ws", "bar"], LEGACY),
        ([], None),
        (["graphql-subscriptions"], None),
        (["GRAPHQL-WS"], None),
    ],
)
def test_negotiate_picks_the_preferred_offered_subprotocol(
    offered: list[str | bytes], expected: Subprotocol | None
) -> None:
    assert negotiate(offered) is expected


def test_negotiate_follows_the_given_preference() -> None:
    both = ["graphql-transport-ws", "graphql-ws"]
    assert negotiate(both, preference=[LEGACY, MODERN]) is LEGACY
    assert negotiate(both, preference=["graphql-ws"]) is LEGACY
    assert negotiate(["graphql-transport-ws"], preference=[LEGACY]) is None


def test_negotiate_rejects_an_unknown_preference() -> None:
    with pytest.raises(ValueError, match="nope"):
        negotiate(["graphql-ws"], preference=["nope"])


def test_default_preference_puts_the_current_protocol_first() -> None:
    assert DEFAULT_PREFERENCE == (MODERN, LEGACY)


# Close codes and the exception tree.


@pytest.mark.parametrize(
    ("member", "value"),
    [
        (CloseCode.NORMAL_CLOSURE, 1000),
        (CloseCode.GOING_AWAY, 1001),
        (CloseCode.PROTOCOL_ERROR, 1002),
        (CloseCode.INTERNAL_ERROR, 1011),
        (CloseCode.SERVICE_RESTART, 1012),
        (CloseCode.TRY_AGAIN_LATER, 1013),
        (CloseCode.BAD_GATEWAY, 1014),
        (CloseCode.BAD_REQUEST, 4400),
        (CloseCode.UNAUTHORIZED, 4401),
        (CloseCode.FORBIDDEN, 4403),
        (CloseCode.SUBPROTOCOL_NOT_ACCEPTABLE, 4406),
        (CloseCode.CONNECTION_INITIALISATION_TIMEOUT, 4408),
        (CloseCode.SUBSCRIBER_ALREADY_EXISTS, 4409),
        (CloseCode.TOO_MANY_INITIALISATION_REQUESTS, 4429),
        (CloseCode.INTERNAL_SERVER_ERROR, 4500),
        (CloseCode.BAD_RESPONSE, 4004),
        (CloseCode.INTERNAL_CLIENT_ERROR, 4005),
        (CloseCode.TERMINATED, 4499),
        (CloseCode.CONNECTION_ACKNOWLEDGEMENT_TIMEOUT, 4504),
    ],
)
def test_close_codes_match_the_specs(member: CloseCode, value: int) -> None:
    # reference/protocols.md A.4; RFC 6455 section 7.4.1.
    assert member == value


def test_protocol_error_is_abstract() -> None:
    with pytest.raises(TypeError):
        ProtocolError("x")


def test_errors_carry_code_and_a_reason_that_fits() -> None:
    exc = RemoteProtocolError("ø" * 100, code=CloseCode.UNAUTHORIZED)
    assert exc.code == 4401
    assert isinstance(exc, ProtocolError)
    assert str(exc) == "ø" * 100
    assert len(exc.reason.encode()) <= MAX_REASON_BYTES
    assert exc.reason.endswith("…")
    assert exc.reason != "ø" * 100
    local = LocalProtocolError("short")
    assert local.code == CloseCode.BAD_REQUEST
    assert local.reason == "short"
    assert not isinstance(local, RemoteProtocolError)
