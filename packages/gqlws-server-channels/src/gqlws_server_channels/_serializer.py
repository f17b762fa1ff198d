"""Broadcast payloads as msgpack bytes, for the trip through the channel layer.

msgpack carries None, bool, int, float, str, bytes, list and str-keyed dicts by
itself. Everything else rides in an msgpack extension type, one code per kind;
the codes below are the wire format, shared by every process on one layer, so
they never change meaning:

====  ===========  ====================================================
code  kind         ext data
====  ===========  ====================================================
1     tuple        the items, packed as an msgpack array
2     set          the items, packed as an msgpack array
3     frozenset    the items, packed as an msgpack array
4     date         proleptic ordinal, big-endian uint32
5     datetime     year..microsecond and fold (12 bytes), then the zone
6     time         hour..microsecond and fold (8 bytes), then the zone
7     timedelta    days, seconds, microseconds (int32, uint32, uint32)
8     Decimal      ``str(value)`` in ASCII (keeps sign, exponent, NaN)
9     UUID         the 16 bytes
10    Enum member  ``module:qualname:name`` in UTF-8
11    Enum member  ``[module, qualname, value]`` (a combined Flag value)
12    Model        ``[app_label, model_name, adding, db, {attname: value}]``
13    int          two's complement, big-endian (ints beyond 64 bits)
====  ===========  ====================================================

A zone is empty (naive), ``U`` (UTC), ``O`` and a signed int64 microsecond
offset (``datetime.timezone``), ``N``, the offset and a UTF-8 name (a
``datetime.timezone`` with its own name), or ``Z`` and a ``zoneinfo`` key.
Any other ``tzinfo`` (pytz, dateutil) arrives as a ``datetime.timezone`` with
the same UTC offset; one with no offset makes the value naive, as Python
already counts it.

Packing uses ``strict_types=True`` so that tuples, and subclasses of the
built-in types, reach the ``default`` hook instead of being flattened:
IntEnum / StrEnum members keep their class, tuples stay tuples. Other
subclasses (``OrderedDict``, ``defaultdict``, named tuples, Django's
``SafeString``, ``numpy.float64``) travel as their built-in base type, as
they did in django-channels-graphql-ws.

A Django model instance travels as its concrete field values (raw attribute
values, foreign keys as ids, a file field as its name) and its ``_state``
(``adding`` and ``db``). Deferred fields stay deferred and are never fetched
while packing. Many-to-many values, related objects cached by
``select_related`` or ``prefetch_related``, annotations and any other
attribute set on the instance are not carried: reading them at the receiver
queries the database as usual.
"""

from __future__ import annotations

import enum
import functools
import importlib
import struct
import uuid
from collections.abc import Callable
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any, Final
from zoneinfo import ZoneInfo

import msgpack
from django.apps import apps
from django.db.models import DEFERRED, Model
from django.db.models.fields.files import FieldFile

__all__ = ["Serializer"]

_TUPLE: Final = 1
_SET: Final = 2
_FROZENSET: Final = 3
_DATE: Final = 4
_DATETIME: Final = 5
_TIME: Final = 6
_TIMEDELTA: Final = 7
_DECIMAL: Final = 8
_UUID: Final = 9
_ENUM: Final = 10
_ENUM_VALUE: Final = 11
_MODEL: Final = 12
_BIGINT: Final = 13

_DATE_STRUCT: Final = struct.Struct(">I")
_DATETIME_STRUCT: Final = struct.Struct(">HBBBBBIB")
_TIME_STRUCT: Final = struct.Struct(">BBBIB")
_TIMEDELTA_STRUCT: Final = struct.Struct(">iII")
_OFFSET_STRUCT: Final = struct.Struct(">q")

_UTC: Final = timezone.utc
_ONE_MICROSECOND: Final = timedelta(microseconds=1)

_ZONE_UTC: Final = b"U"
_ZONE_OFFSET: Final = b"O"
_ZONE_NAMED_OFFSET: Final = b"N"
_ZONE_KEY: Final = b"Z"

# The range msgpack packs as a native integer; beyond it the packer hands the
# int to `default`.
_INT_MIN: Final = -(2**63)
_INT_MAX: Final = 2**64 - 1

_new_tuple: Final = tuple.__new__


class _DecodeError(ValueError):
    """A payload that does not decode; raised once, never wrapped again."""


def _ext(code: int, data: bytes) -> msgpack.ExtType:
    # `ExtType.__new__` checks its arguments in Python, which costs more than
    # the rest of packing a datetime; ours are valid by construction, so build
    # the named tuple the way namedtuple's own `_make` does, minus its checks.
    return _new_tuple(msgpack.ExtType, (code, data))


def _pack(data: object) -> bytes:
    return msgpack.packb(data, default=_default, use_bin_type=True, strict_types=True)


def _unpack(data: bytes) -> Any:
    return msgpack.unpackb(data, ext_hook=_ext_hook, raw=False, strict_map_key=False)


def _unsupported(obj: object, why: str) -> TypeError:
    return TypeError(
        f"cannot serialise object of type {type(obj).__qualname__!r} in a broadcast payload: {why}"
    )


def _encode_tuple(obj: tuple[object, ...]) -> msgpack.ExtType:
    return _ext(_TUPLE, _pack(list(obj)))


def _encode_set(obj: set[object]) -> msgpack.ExtType:
    return _ext(_SET, _pack(list(obj)))


def _encode_frozenset(obj: frozenset[object]) -> msgpack.ExtType:
    return _ext(_FROZENSET, _pack(list(obj)))


def _encode_date(obj: date) -> msgpack.ExtType:
    return _ext(_DATE, _DATE_STRUCT.pack(obj.toordinal()))


def _encode_zone(obj: datetime | time) -> bytes:
    tz = obj.tzinfo
    if tz is None:
        return b""
    if tz is _UTC:
        return _ZONE_UTC
    if type(tz) is timezone:
        offset = tz.utcoffset(None)
        micros = _OFFSET_STRUCT.pack(offset // _ONE_MICROSECOND)
        name = tz.tzname(None)
        if name == timezone(offset).tzname(None):
            return _ZONE_OFFSET + micros
        return _ZONE_NAMED_OFFSET + micros + name.encode()
    if isinstance(tz, ZoneInfo) and tz.key is not None:
        return _ZONE_KEY + tz.key.encode()
    # pytz, dateutil and the like: keep the instant via the UTC offset.
    current = obj.utcoffset()
    if current is None:
        return b""
    return _ZONE_OFFSET + _OFFSET_STRUCT.pack(current // _ONE_MICROSECOND)


def _encode_datetime(obj: datetime) -> msgpack.ExtType:
    fields = _DATETIME_STRUCT.pack(
        obj.year,
        obj.month,
        obj.day,
        obj.hour,
        obj.minute,
        obj.second,
        obj.microsecond,
        obj.fold,
    )
    tz = obj.tzinfo
    if tz is None:
        return _ext(_DATETIME, fields)
    if tz is _UTC:
        return _ext(_DATETIME, fields + _ZONE_UTC)
    return _ext(_DATETIME, fields + _encode_zone(obj))


def _encode_time(obj: time) -> msgpack.ExtType:
    fields = _TIME_STRUCT.pack(obj.hour, obj.minute, obj.second, obj.microsecond, obj.fold)
    return _ext(_TIME, fields + _encode_zone(obj))


def _encode_timedelta(obj: timedelta) -> msgpack.ExtType:
    return _ext(_TIMEDELTA, _TIMEDELTA_STRUCT.pack(obj.days, obj.seconds, obj.microseconds))


def _encode_decimal(obj: Decimal) -> msgpack.ExtType:
    return _ext(_DECIMAL, Decimal.__str__(obj).encode("ascii"))


def _encode_uuid(obj: uuid.UUID) -> msgpack.ExtType:
    return _ext(_UUID, obj.bytes)


def _encode_bigint(obj: int) -> msgpack.ExtType:
    return _ext(_BIGINT, obj.to_bytes(obj.bit_length() // 8 + 1, "big", signed=True))


@functools.lru_cache(maxsize=1024)
def _enum_path(cls: type[enum.Enum]) -> tuple[str, str]:
    module, qualname = cls.__module__, cls.__qualname__
    try:
        found = _import_enum(module, qualname)
    except Exception:
        found = None
    if found is not cls:
        raise TypeError(
            f"cannot serialise object of type {qualname!r} in a broadcast payload: "
            f"its enum class cannot be imported as {module}.{qualname}"
        )
    return module, qualname


def _encode_enum(obj: enum.Enum) -> msgpack.ExtType:
    cls = type(obj)
    module, qualname = _enum_path(cls)
    name = obj.name
    if name is not None and cls.__members__.get(name) is obj:
        return _ext(_ENUM, f"{module}:{qualname}:{name}".encode())
    # A combined Flag value has no member name of its own.
    return _ext(_ENUM_VALUE, _pack([module, qualname, obj.value]))


def _encode_model(obj: Model) -> msgpack.ExtType:
    opts = obj._meta
    attributes = obj.__dict__
    values: dict[str, object] = {}
    for field in opts.concrete_fields:
        attname = field.attname
        # A deferred field is absent from `__dict__`; `getattr` would query it.
        if attname in attributes:
            value = attributes[attname]
            if isinstance(value, FieldFile):
                value = value.name
            values[attname] = value
    state = obj._state
    return _ext(_MODEL, _pack([opts.app_label, opts.model_name, state.adding, state.db, values]))


def _int_value(obj: int) -> object:
    value = int.__int__(obj)
    return value if _INT_MIN <= value <= _INT_MAX else _encode_bigint(value)


_Encoder = Callable[[Any], object]

# Exact types first: one dict lookup serves the common case.
_ENCODERS: Final[dict[type, _Encoder]] = {
    tuple: _encode_tuple,
    set: _encode_set,
    frozenset: _encode_frozenset,
    date: _encode_date,
    datetime: _encode_datetime,
    time: _encode_time,
    timedelta: _encode_timedelta,
    Decimal: _encode_decimal,
    uuid.UUID: _encode_uuid,
    int: _encode_bigint,
}

# Then base classes, in order: Enum before int and str (IntEnum, StrEnum),
# datetime before date. Built-in subclasses become their base type.
_BASE_ENCODERS: Final[tuple[tuple[type, _Encoder], ...]] = (
    (enum.Enum, _encode_enum),
    (Model, _encode_model),
    (int, _int_value),
    (float, float.__float__),
    (str, str.__str__),
    (bytes, lambda obj: bytes(memoryview(obj))),
    (dict, dict),
    (list, list),
    (tuple, _encode_tuple),
    (set, _encode_set),
    (frozenset, _encode_frozenset),
    (datetime, _encode_datetime),
    (date, _encode_date),
    (time, _encode_time),
    (timedelta, _encode_timedelta),
    (Decimal, _encode_decimal),
    (uuid.UUID, _encode_uuid),
)

_SUPPORTED: Final = (
    "a payload holds None, bool, int, float, str, bytes, list, tuple, dict, set, frozenset, "
    "date, datetime, time, timedelta, Decimal, UUID, Enum members and Django model instances"
)


def _default(obj: object) -> object:
    encoder = _ENCODERS.get(type(obj))
    if encoder is not None:
        return encoder(obj)
    for base, encoder in _BASE_ENCODERS:
        if isinstance(obj, base):
            return encoder(obj)
    raise _unsupported(obj, _SUPPORTED)


def _decode_tuple(data: bytes) -> tuple[object, ...]:
    return tuple(_unpack_list(data))


def _decode_set(data: bytes) -> set[object]:
    return set(_unpack_list(data))


def _decode_frozenset(data: bytes) -> frozenset[object]:
    return frozenset(_unpack_list(data))


def _unpack_list(data: bytes) -> list[object]:
    items = _unpack(data)
    if type(items) is not list:
        raise _DecodeError(f"invalid broadcast payload: expected an array, got {items!r}")
    return items


def _decode_date(data: bytes) -> date:
    (ordinal,) = _DATE_STRUCT.unpack(data)
    return date.fromordinal(ordinal)


@functools.lru_cache(maxsize=64)
def _fixed_zone(micros: int, name: str | None) -> timezone:
    offset = timedelta(microseconds=micros)
    return timezone(offset) if name is None else timezone(offset, name)


def _decode_zone(zone: bytes) -> tzinfo | None:
    if not zone:
        return None
    if zone == _ZONE_UTC:
        return _UTC
    kind = zone[:1]
    if kind == _ZONE_OFFSET and len(zone) == 9:
        return _fixed_zone(_OFFSET_STRUCT.unpack_from(zone, 1)[0], None)
    if kind == _ZONE_NAMED_OFFSET and len(zone) > 9:
        return _fixed_zone(_OFFSET_STRUCT.unpack_from(zone, 1)[0], zone[9:].decode())
    if kind == _ZONE_KEY and len(zone) > 1:
        return ZoneInfo(zone[1:].decode())
    raise _DecodeError(f"invalid broadcast payload: unknown time zone record {zone!r}")


def _decode_datetime(data: bytes) -> datetime:
    year, month, day, hour, minute, second, micro, fold = _DATETIME_STRUCT.unpack_from(data)
    zone = data[_DATETIME_STRUCT.size :]
    tz = _UTC if zone == _ZONE_UTC else _decode_zone(zone)
    # The constructor checks every field, so damaged bytes fail here. Passing
    # `fold` by keyword doubles its cost, hence only when it is set.
    if fold:
        return datetime(year, month, day, hour, minute, second, micro, tz, fold=fold)
    return datetime(year, month, day, hour, minute, second, micro, tz)


def _decode_time(data: bytes) -> time:
    hour, minute, second, micro, fold = _TIME_STRUCT.unpack_from(data)
    tz = _decode_zone(data[_TIME_STRUCT.size :])
    if fold:
        return time(hour, minute, second, micro, tz, fold=fold)
    return time(hour, minute, second, micro, tz)


def _decode_timedelta(data: bytes) -> timedelta:
    days, seconds, microseconds = _TIMEDELTA_STRUCT.unpack(data)
    return timedelta(days=days, seconds=seconds, microseconds=microseconds)


def _decode_decimal(data: bytes) -> Decimal:
    return Decimal(data.decode("ascii"))


def _decode_uuid(data: bytes) -> uuid.UUID:
    return uuid.UUID(bytes=data)


def _decode_bigint(data: bytes) -> int:
    value = int.from_bytes(data, "big", signed=True)
    if _INT_MIN <= value <= _INT_MAX:
        raise _DecodeError(f"invalid broadcast payload: {value} is not beyond 64 bits")
    return value


@functools.lru_cache(maxsize=1024)
def _import_enum(module: str, qualname: str) -> type[enum.Enum]:
    found: object = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    if not (isinstance(found, type) and issubclass(found, enum.Enum)):
        raise _DecodeError(f"invalid broadcast payload: {module}.{qualname} is not an enum")
    return found


def _decode_enum(data: bytes) -> enum.Enum:
    module, qualname, name = data.decode().split(":", 2)
    return _import_enum(module, qualname)[name]


def _decode_enum_value(data: bytes) -> enum.Enum:
    module, qualname, value = _unpack(data)
    return _import_enum(module, qualname)(value)


def _decode_model(data: bytes) -> Model:
    app_label, model_name, adding, db, values = _unpack(data)
    model: type[Model] = apps.get_model(app_label, model_name)
    fields = model._meta.concrete_fields
    row = [values.pop(field.attname, DEFERRED) for field in fields]
    if values:
        raise _DecodeError(
            f"invalid broadcast payload: model {app_label}.{model_name} "
            f"has no fields {sorted(values)}"
        )
    if adding:
        instance = model(*row)
        instance._state.db = db
        return instance
    # `from_db` takes the loaded fields only, as a queryset hands them over.
    loaded = [
        (field.attname, value)
        for field, value in zip(fields, row, strict=True)
        if value is not DEFERRED
    ]
    saved: Model = model.from_db(db, [name for name, _ in loaded], [value for _, value in loaded])
    return saved


_DECODERS: Final[dict[int, tuple[str, Callable[[bytes], object]]]] = {
    _TUPLE: ("a tuple", _decode_tuple),
    _SET: ("a set", _decode_set),
    _FROZENSET: ("a frozenset", _decode_frozenset),
    _DATE: ("a date", _decode_date),
    _DATETIME: ("a datetime", _decode_datetime),
    _TIME: ("a time", _decode_time),
    _TIMEDELTA: ("a timedelta", _decode_timedelta),
    _DECIMAL: ("a Decimal", _decode_decimal),
    _UUID: ("a UUID", _decode_uuid),
    _ENUM: ("an enum member", _decode_enum),
    _ENUM_VALUE: ("an enum member", _decode_enum_value),
    _MODEL: ("a model instance", _decode_model),
    _BIGINT: ("an int", _decode_bigint),
}


def _ext_hook(code: int, data: bytes) -> object:
    entry = _DECODERS.get(code)
    if entry is None:
        raise _DecodeError(f"invalid broadcast payload: unknown extension type code {code}")
    kind, decoder = entry
    try:
        return decoder(data)
    except _DecodeError:
        raise
    except Exception as exc:
        raise _DecodeError(
            f"invalid broadcast payload: cannot decode {kind} (extension type {code}): {exc}"
        ) from exc


class Serializer:
    """Packs broadcast payloads into msgpack bytes and back.

    A payload crosses the channel layer once per broadcast and is unpacked
    once per subscribed connection, so both directions are plain functions
    over module-level hooks: no state, safe from any thread.
    """

    @staticmethod
    def serialize(data: object) -> bytes:
        """Pack a payload into bytes for the channel layer.

        Args:
            data: The payload: msgpack natives (None, bool, int, float, str,
                bytes, list, dict with keys of any supported type) plus
                tuple, set, frozenset, date, datetime, time, timedelta,
                Decimal, UUID, members of importable Enum classes and Django
                model instances, nested in any combination.

        Returns:
            The msgpack bytes.

        Raises:
            TypeError: Something in the payload has a type not listed above,
                or is a member of an Enum class that cannot be imported by
                its module and qualified name.
            ValueError: The payload nests too deeply or contains itself.
        """
        try:
            return _pack(data)
        except RecursionError as exc:
            raise ValueError(
                "cannot serialise a broadcast payload: it nests too deeply or contains itself"
            ) from exc

    @staticmethod
    def deserialize(data: bytes) -> object:
        """Unpack bytes made by `serialize` into a fresh payload.

        Args:
            data: The bytes `serialize` returned.

        Returns:
            The payload, with the types it had when packed. Model instances
            are built without a database query.

        Raises:
            TypeError: `data` is not bytes-like.
            ValueError: `data` is not a payload `serialize` made, or names a
                model, enum or time zone this process does not know.
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(
                f"a broadcast payload must be bytes, got an object of type "
                f"{type(data).__qualname__!r}"
            )
        try:
            return _unpack(data)
        except _DecodeError:
            raise
        except (ValueError, TypeError, RecursionError) as exc:
            raise ValueError(f"invalid broadcast payload: {exc}") from exc
