"""Broadcast payloads survive the msgpack trip with their types and values."""

from __future__ import annotations

import enum
import math
import uuid
from collections import OrderedDict, defaultdict, namedtuple
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import msgpack
import pytest
from django.db import connection, models
from django.db.models import Model
from django.db.models.fields.files import FieldFile
from django.test.utils import CaptureQueriesContext
from django.utils.safestring import mark_safe
from gqlws_server_channels._serializer import Serializer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.testapp.models import Book


class Color(enum.Enum):
    RED = "red"
    GREEN = (0, 255, 0)
    CRIMSON = "red"  # noqa: PIE796 (an alias of RED, on purpose)


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Mood(str, enum.Enum):
    HAPPY = "happy"
    SAD = "sad"


class Perm(enum.Flag):
    R = 4
    W = 2
    X = 1


class Bits(enum.IntFlag):
    ONE = 1
    TWO = 2


class Outer:
    class Inner(enum.Enum):
        A = 1


class Foo:
    """A type the serializer knows nothing about."""


PARIS = ZoneInfo("Europe/Paris")
IST = timezone(timedelta(hours=5, minutes=30))
ODD = timezone(-timedelta(hours=3, minutes=7, seconds=11, microseconds=5))
NAMED = timezone(timedelta(hours=1), "CET")
UTC = timezone.utc


def roundtrip(value: object) -> object:
    return Serializer.deserialize(Serializer.serialize(value))


def same_zone(a: tzinfo | None, b: tzinfo | None) -> bool:
    if a is None or b is None:
        return a is b
    if type(a) is not type(b):
        return False
    if isinstance(a, ZoneInfo):
        assert isinstance(b, ZoneInfo)
        return a.key == b.key
    return bool(a.utcoffset(None) == b.utcoffset(None) and a.tzname(None) == b.tzname(None))


def same(a: object, b: object) -> bool:
    """Equal, of the same type, all the way down (and NaN equals NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        assert isinstance(b, float)
        if math.isnan(a):
            return math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, Decimal):
        # The string keeps sign, exponent and the kind of NaN.
        return str(a) == str(b)
    if isinstance(a, (datetime, time)):
        assert isinstance(b, (datetime, time))
        return (
            a.replace(tzinfo=None) == b.replace(tzinfo=None)
            and a.fold == b.fold
            and same_zone(a.tzinfo, b.tzinfo)
        )
    if isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple))
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        assert isinstance(b, dict)
        return len(a) == len(b) and all(
            same(ka, kb) and same(va, vb)
            for (ka, va), (kb, vb) in zip(a.items(), b.items(), strict=True)
        )
    if isinstance(a, (set, frozenset)):
        assert isinstance(b, (set, frozenset))
        return len(a) == len(b) and all(any(same(x, y) for y in b) for x in a)
    if isinstance(a, Model):
        assert isinstance(b, Model)
        return (
            a._state.adding == b._state.adding
            and a._state.db == b._state.db
            and a.get_deferred_fields() == b.get_deferred_fields()
            and all(
                same(a.__dict__[f.attname], b.__dict__[f.attname])
                for f in a._meta.concrete_fields
                if f.attname in a.__dict__
            )
        )
    return a == b


def assert_roundtrip(value: object) -> object:
    result = roundtrip(value)
    assert same(value, result), f"{value!r} came back as {result!r}"
    return result


VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**63 - 1,
    -(2**63),
    2**64 - 1,
    2**64,
    -(2**63) - 1,
    10**40,
    -(10**40),
    1.5,
    -0.0,
    math.inf,
    math.nan,
    "",
    "héllo ☃",
    b"",
    b"\x00\xff",
    [],
    [1, "a", None],
    {},
    {"a": 1, "b": [2.5]},
    date(2024, 2, 29),
    date.min,
    date.max,
    datetime(2024, 5, 1, 12, 30, 15, 123456),
    datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC),
    datetime(2024, 5, 1, 12, 30, tzinfo=IST),
    datetime(2024, 5, 1, 12, 30, tzinfo=ODD),
    datetime(2024, 5, 1, 12, 30, tzinfo=NAMED),
    datetime(2024, 7, 1, 12, 30, tzinfo=PARIS),
    datetime(2024, 10, 27, 2, 30, tzinfo=PARIS, fold=1),
    datetime(2024, 10, 27, 2, 30, fold=1),
    datetime.min,
    datetime.max,
    datetime.max.replace(tzinfo=UTC),
    time(0, 0),
    time(23, 59, 59, 999999),
    time(12, 30, tzinfo=UTC),
    time(12, 30, tzinfo=IST),
    time(12, 30, tzinfo=NAMED),
    time(12, 30, tzinfo=PARIS),
    time(1, 30, fold=1),
    timedelta(0),
    timedelta(days=-1, seconds=5, microseconds=7),
    timedelta.max,
    timedelta.min,
    Decimal("1.50"),
    Decimal("-0"),
    Decimal("1E+3"),
    Decimal("123456789012345678901234567890.000000001"),
    Decimal("NaN"),
    Decimal("sNaN"),
    Decimal("-Infinity"),
    uuid.UUID("12345678-1234-5678-1234-567812345678"),
    uuid.uuid4(),
    Color.RED,
    Color.GREEN,
    Color.CRIMSON,
    Priority.HIGH,
    Mood.SAD,
    Perm.R,
    Perm.R | Perm.W,
    Perm(0),
    Bits.ONE | Bits.TWO,
    Outer.Inner.A,
    set(),
    {1, "a", (1, 2), frozenset({3})},
    frozenset(),
    frozenset({b"x", 2.5, None}),
    (),
    (1,),
    (1, (2, 3), [4, (5,)]),
    {1: "one", 2: "two"},
    {(1, 2): "pair", None: "none", 2.5: "float", True: "bool", b"k": "bytes"},
    {Color.RED: 1, Priority.LOW: 2, date(2024, 1, 1): 3, frozenset({1}): 4},
    {uuid.UUID(int=1): [{"nested": (1, {2: {3}})}]},
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_value_round_trips_with_type(value: object) -> None:
    assert_roundtrip(value)


def test_enum_members_come_back_as_the_same_object() -> None:
    for member in [Color.RED, Color.CRIMSON, Priority.HIGH, Mood.HAPPY, Outer.Inner.A]:
        assert roundtrip(member) is member
    assert roundtrip(Perm.R | Perm.X) == Perm.R | Perm.X


def test_tuples_stay_tuples_and_lists_stay_lists() -> None:
    result = roundtrip([(1, [2]), [(3,)]])
    assert result == [(1, [2]), [(3,)]]
    assert isinstance(result, list)
    assert type(result[0]) is tuple
    assert type(result[0][1]) is list
    assert type(result[1]) is list
    assert type(result[1][0]) is tuple


def test_aware_datetimes_keep_their_offset_and_zone() -> None:
    for zone in [UTC, IST, ODD, NAMED, PARIS]:
        value = datetime(2024, 1, 15, 8, 0, tzinfo=zone)
        result = roundtrip(value)
        assert isinstance(result, datetime)
        assert result == value
        assert result.utcoffset() == value.utcoffset()
        assert result.tzname() == value.tzname()
    assert roundtrip(datetime(2024, 1, 1, tzinfo=UTC)).tzinfo is UTC  # type: ignore[attr-defined]
    paris = roundtrip(datetime(2024, 7, 1, tzinfo=PARIS))
    assert isinstance(paris, datetime)
    assert paris.tzinfo is PARIS  # ZoneInfo caches one instance per key
    naive = roundtrip(datetime(2024, 1, 1))
    assert isinstance(naive, datetime)
    assert naive.tzinfo is None


def test_fold_picks_the_second_of_two_ambiguous_times() -> None:
    first = datetime(2024, 10, 27, 2, 30, tzinfo=PARIS)
    second = first.replace(fold=1)
    result = roundtrip([first, second])
    assert isinstance(result, list)
    assert [r.utcoffset() for r in result] == [timedelta(hours=2), timedelta(hours=1)]


class FixedZone(tzinfo):
    """A tzinfo of a third kind, like pytz or dateutil zones."""

    def utcoffset(self, dt: datetime | None) -> timedelta:
        return timedelta(hours=-4)

    def dst(self, dt: datetime | None) -> timedelta:
        return timedelta(0)

    def tzname(self, dt: datetime | None) -> str:
        return "EDT"


class NoOffsetZone(tzinfo):
    """A tzinfo that knows no offset: Python calls its values naive."""

    def utcoffset(self, dt: datetime | None) -> None:
        return None

    def dst(self, dt: datetime | None) -> None:
        return None

    def tzname(self, dt: datetime | None) -> None:
        return None


def test_other_tzinfo_arrives_as_a_fixed_offset() -> None:
    value = datetime(2024, 6, 1, 12, 0, tzinfo=FixedZone())
    result = roundtrip(value)
    assert isinstance(result, datetime)
    assert result == value
    assert result.tzinfo == timezone(timedelta(hours=-4))
    moment = roundtrip(time(12, 0, tzinfo=FixedZone()))
    assert moment == time(12, 0, tzinfo=timezone(timedelta(hours=-4)))
    # Python counts a value whose zone gives no offset as naive; so do we.
    assert roundtrip(datetime(2024, 6, 1, tzinfo=NoOffsetZone())) == datetime(2024, 6, 1)


def test_builtin_subclasses_travel_as_their_base_type() -> None:
    class Big(int):
        pass

    class Ratio(float):
        pass

    Point = namedtuple("Point", "x y")
    nested: defaultdict[str, list[int]] = defaultdict(list, {"a": [1]})
    value = [
        OrderedDict([("b", 1), ("a", 2)]),
        nested,
        Point(1, 2),
        mark_safe("<b>"),
        Big(7),
        Big(2**70),
        Ratio(0.5),
    ]
    result = roundtrip(value)
    expected = [{"b": 1, "a": 2}, {"a": [1]}, (1, 2), "<b>", 7, 2**70, 0.5]
    assert same(result, expected)


def test_nested_combinations_round_trip() -> None:
    books = [Book(title="A", published=date(2020, 1, 2), price=Decimal("9.99")), Book(title="B")]
    value = {
        "books": books,
        ("shelf", 1): {frozenset({Color.RED, Priority.LOW}): [books[0], (books[1], None)]},
        7: [{date(2024, 1, 1): {uuid.UUID(int=7): timedelta(seconds=3)}}],
        "deep": [[[[[(Decimal("1.0"), {2**70: {time(1, tzinfo=PARIS)}})]]]]],
    }
    result = assert_roundtrip(value)
    assert isinstance(result, dict)
    assert [type(book) for book in result["books"]] == [Book, Book]


def test_unsaved_model_round_trips_without_a_query() -> None:
    book = Book(title="Dune", published=date(1965, 8, 1), price=Decimal("12.50"))
    # No `django_db` mark: pytest-django fails any query this would make.
    result = roundtrip({"book": book})
    assert isinstance(result, dict)
    copy = result["book"]
    assert type(copy) is Book
    assert copy is not book
    pk: int | None = copy.pk
    assert pk is None
    assert copy._state.adding is True
    assert copy._state.db is None
    assert (copy.title, copy.published, copy.price) == ("Dune", date(1965, 8, 1), Decimal("12.50"))
    assert type(copy.price) is Decimal
    assert copy.published is not None
    assert type(copy.published) is date


def test_unsaved_model_keeps_raw_attribute_values() -> None:
    # What the user set, before any cleaning, is what arrives.
    book = Book(title="raw", published=None, price="3.10")
    copy = roundtrip(book)
    assert isinstance(copy, Book)
    assert copy.price == "3.10"
    assert copy.published is None


@pytest.mark.django_db
def test_saved_model_round_trips_without_a_query() -> None:
    book = Book.objects.create(title="Emma", published=date(1815, 12, 23), price=Decimal("7.00"))
    fetched = Book.objects.get(pk=book.pk)
    with CaptureQueriesContext(connection) as queries:
        data = Serializer.serialize([fetched, {"again": fetched}])
        result = Serializer.deserialize(data)
    assert len(queries) == 0
    assert isinstance(result, list)
    copy = result[0]
    assert type(copy) is Book
    assert copy.pk == book.pk
    assert copy._state.adding is False
    assert copy._state.db == "default"
    assert (copy.title, copy.published, copy.price) == (
        "Emma",
        date(1815, 12, 23),
        Decimal("7.00"),
    )
    assert copy == fetched  # Django compares saved instances by pk
    assert result[1]["again"] == fetched
    assert result[1]["again"] is not copy


@pytest.mark.django_db
def test_saved_models_work_as_keys_and_set_members() -> None:
    first = Book.objects.create(title="one")
    second = Book.objects.create(title="two")
    result = roundtrip({first: {second}, "set": frozenset({first, second})})
    assert isinstance(result, dict)
    assert result == {first: {second}, "set": frozenset({first, second})}


@pytest.mark.django_db
def test_saved_model_goes_through_from_db(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str | None, list[str], list[object]]] = []
    original = Book.from_db.__func__  # type: ignore[attr-defined]

    def from_db(cls: type[Book], db: str | None, names: list[str], values: list[object]) -> Book:
        calls.append((db, list(names), list(values)))
        book: Book = original(cls, db, names, values)
        return book

    monkeypatch.setattr(Book, "from_db", classmethod(from_db))
    book = Book.objects.create(title="Persuasion")
    result = roundtrip(Book.objects.get(pk=book.pk))
    assert isinstance(result, Book)
    assert calls[-1] == (
        "default",
        ["id", "title", "published", "price"],
        [book.pk, "Persuasion", None, None],
    )


@pytest.mark.django_db
def test_deferred_fields_stay_deferred_and_are_not_queried() -> None:
    book = Book.objects.create(title="Ulysses", published=date(1922, 2, 2), price=Decimal("30"))
    partial = Book.objects.only("title").get(pk=book.pk)
    with CaptureQueriesContext(connection) as queries:
        copy = roundtrip(partial)
    assert len(queries) == 0
    assert isinstance(copy, Book)
    assert copy.get_deferred_fields() == {"published", "price"}
    assert copy.title == "Ulysses"
    assert copy._state.adding is False
    # Reading a deferred field at the receiver loads it, as Django does.
    assert copy.published == date(1922, 2, 2)


def test_file_field_value_travels_as_its_name() -> None:
    book = Book(title="x")
    # Book has no file field; any FieldFile in a field's slot takes this path.
    book.__dict__["title"] = FieldFile(book, models.FileField(), "covers/x.png")
    copy = roundtrip(book)
    assert isinstance(copy, Book)
    assert copy.title == "covers/x.png"


def test_many_to_many_and_related_objects_are_not_carried() -> None:
    book = Book(title="x")
    book.extra = "annotation"  # type: ignore[attr-defined]
    book._state.fields_cache["author"] = object()
    copy = roundtrip(book)
    assert isinstance(copy, Book)
    assert not hasattr(copy, "extra")
    assert copy._state.fields_cache == {}


def test_model_payload_missing_a_field_defers_it() -> None:
    data = ext(12, ["testapp", "book", False, "default", {"id": 3, "title": "t"}])
    copy = Serializer.deserialize(data)
    assert isinstance(copy, Book)
    assert copy.pk == 3
    assert copy.get_deferred_fields() == {"published", "price"}


def ext(code: int, body: object) -> bytes:
    return msgpack.packb(msgpack.ExtType(code, msgpack.packb(body)))


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (Foo(), "Foo"),
        ([1, {"a": (Foo(),)}], "Foo"),
        ({"k": {1: Foo()}}, "Foo"),
        ({Foo(): 1}, "Foo"),
        (object(), "object"),
        (1j, "complex"),
        (lambda: None, "function"),
        ({1, 2, Foo()}, "Foo"),
        (Book(title=Foo()), "Foo"),  # type: ignore[misc]
        (msgpack, "module"),
    ],
    ids=repr,
)
def test_unsupported_type_fails_at_serialize(value: object, name: str) -> None:
    with pytest.raises(TypeError, match=rf"cannot serialise object of type '{name}'"):
        Serializer.serialize(value)


def test_enum_that_cannot_be_imported_fails_at_serialize() -> None:
    class Local(enum.Enum):
        A = 1

    with pytest.raises(TypeError, match=r"'test_enum_that.*Local'.*cannot be imported"):
        Serializer.serialize({"x": Local.A})


def test_cyclic_payload_fails_with_value_error() -> None:
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(ValueError, match=r"recursion|contains itself"):
        Serializer.serialize(loop)
    through_tuple: list[object] = []
    through_tuple.append((through_tuple,))
    with pytest.raises(ValueError, match=r"recursion|contains itself"):
        Serializer.serialize(through_tuple)


def damaged(code: int, data: bytes) -> bytes:
    return msgpack.packb(msgpack.ExtType(code, data))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xc1",
        b"\x92\x01",
        b"\x01\x02",
        b"\xa2\xff\xfe",
        b"\x82\x01",
        damaged(99, b""),
        damaged(4, b"\x00\x00\x00\x00"),
        damaged(4, b"\x01"),
        damaged(5, bytes(12)),
        damaged(5, b"\x07\xe8\x05\x01\x63\x00\x00\x00\x00\x00\x00\x00"),
        damaged(5, b"\x07\xe8\x05\x01\x00\x00\x00\x00\x00\x00\x00\x00Q"),
        damaged(5, b"\x07\xe8\x05\x01\x00\x00\x00\x00\x00\x00\x00\x00O\x00"),
        damaged(5, b"\x07\xe8\x05\x01\x00\x00\x00\x00\x00\x00\x00\x00ZNo/Such_Zone"),
        damaged(6, b"\x18\x00\x00\x00\x00\x00\x00\x00"),
        damaged(7, b"\x00"),
        damaged(8, b"one"),
        damaged(9, b"short"),
        damaged(10, b"tests.server.test_serializer:Color:BLUE"),
        damaged(10, b"no_such_module_here:Color:RED"),
        damaged(10, b"tests.server.test_serializer:Foo:A"),
        damaged(10, b"nocolons"),
        damaged(11, msgpack.packb(["tests.server.test_serializer", "Perm", 99])),
        damaged(2, msgpack.packb([[1]])),
        damaged(1, msgpack.packb({"not": "a list"})),
        ext(12, ["nosuchapp", "book", True, None, {}]),
        ext(12, ["testapp", "book", True, None, {"title": "x", "isbn": "1"}]),
        ext(12, ["testapp", "book"]),
        damaged(13, b""),
    ],
    ids=repr,
)
def test_invalid_bytes_raise_value_error(data: bytes) -> None:
    with pytest.raises(ValueError, match="invalid broadcast payload"):
        Serializer.deserialize(data)


def test_invalid_payload_keeps_the_cause() -> None:
    with pytest.raises(ValueError, match=r"cannot decode a date") as info:
        Serializer.deserialize(damaged(4, b"\x01"))
    assert info.value.__cause__ is not None


def test_deserialize_rejects_what_is_not_bytes() -> None:
    with pytest.raises(TypeError, match="must be bytes"):
        Serializer.deserialize("text")  # type: ignore[arg-type]


def test_serialize_from_many_threads_at_once() -> None:
    payloads = [
        {"n": n, "at": datetime(2024, 1, 1, tzinfo=UTC), "t": (n, {n})} for n in range(200)
    ]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(roundtrip, payloads))
    assert results == payloads


zones = st.sampled_from([None, UTC, IST, ODD, NAMED, PARIS, ZoneInfo("America/New_York")])
hashables = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary()
    | st.dates()
    | st.datetimes(timezones=zones)
    | st.times(timezones=zones)
    | st.timedeltas()
    | st.decimals(allow_nan=False)
    | st.uuids()
    | st.sampled_from([*Color, *Priority, *Mood, *Perm, Perm.R | Perm.W, Outer.Inner.A]),
    lambda inner: st.lists(inner, max_size=4).map(tuple) | st.frozensets(inner, max_size=4),
    max_leaves=8,
)
books = st.builds(
    Book,
    title=st.text(max_size=20),
    published=st.none() | st.dates(),
    price=st.none() | st.decimals(places=2, allow_nan=False, allow_infinity=False),
)
payloads = st.recursive(
    hashables | st.floats() | st.decimals() | books,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.dictionaries(hashables, inner, max_size=4)
        | st.dictionaries(st.text(), inner, max_size=4)
        | st.sets(hashables, max_size=4)
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payloads)
def test_any_payload_round_trips(value: object) -> None:
    assert_roundtrip(value)
