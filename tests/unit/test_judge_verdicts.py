"""Pure parts of the judge: the plain-data codec, the assert rewrite and the verdict rules."""

from __future__ import annotations

import collections
import datetime
import decimal
import enum
import fractions
import math
import sys

import pytest

from app.judge.verdicts import humaneval_result, truncate, verdict_from_report
from app.paths import sandbox_dir
from app.reflexion.models import TestResult, Verdict

sys.path.insert(0, str(sandbox_dir()))
from rfx_sandbox import refs, wire
from rfx_sandbox.rewrite import AssertSite, free_names, rewrite_assert_line, rewrite_module

OK = {"outcome": "ok"}


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        0,
        -5,
        2**80,
        -(2**70),
        1.5,
        math.inf,
        "héllo\udcff",
        b"\x00\xff",
        3 + 4j,
        [1, [2, (3, 4)]],
        (1,),
        {"a": 1, 2: [3]},
        {1, 2},
        frozenset({"x"}),
        {(1, 2): {"k": None}},
        [],
    ],
)
def test_codec_round_trips_plain_data_exactly(value: object) -> None:
    decoded = wire.decode(wire.dumps(wire.encode(value)))
    assert decoded == value
    assert type(decoded) is type(value)


class Colour(enum.Enum):
    RED = 1
    GREEN = (2, "g")


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 5


Point = collections.namedtuple("Point", ["x", "y"])

RICHER = [
    Point(1, [2]),
    Colour.GREEN,
    Level.HIGH,
    decimal.Decimal("1.10"),
    fractions.Fraction(-3, 9),
    datetime.datetime(
        2024, 2, 29, 23, 59, 58, 7, tzinfo=datetime.timezone(datetime.timedelta(hours=-3), "X")
    ),
    datetime.datetime(2024, 1, 1),
    datetime.date(1999, 12, 31),
    datetime.time(1, 2, 3, 4),
    datetime.timedelta(days=-1, seconds=5, microseconds=6),
    collections.deque([1, [2]], maxlen=3),
    collections.OrderedDict([("b", 1), ("a", 2)]),
    collections.defaultdict(list, {"k": [1]}),
    collections.Counter("abracadabra"),
    bytearray(b"\x00ab"),
]


@pytest.mark.parametrize("value", RICHER, ids=[type(v).__name__ for v in RICHER])
def test_codec_rebuilds_richer_standard_types_from_their_state(value: object) -> None:
    """Sent by the candidate ("c"), received by the harness ("h"): the harness has no class of the
    candidate's, so enums and namedtuples are rebuilt as its own classes with the same name, fields
    and members; sent back, they become the candidate's own class again."""
    raw = wire.dumps(wire.encode(value))
    wire.SIDE = "h"
    try:
        decoded = wire.decode(raw)
        back = wire.dumps(wire.encode(decoded))
    finally:
        wire.SIDE = "c"
    assert decoded == value or isinstance(value, enum.Enum)
    assert type(decoded).__name__ == type(value).__name__
    assert repr(decoded) == repr(value)
    if isinstance(value, enum.Enum):
        assert type(decoded) is not type(value)  # rebuilt, not the sender's class
        assert [m.name for m in type(decoded)] == [m.name for m in type(value)]
        assert decoded.value == value.value  # type: ignore[attr-defined]
    elif isinstance(value, tuple):
        assert decoded._fields == ("x", "y") and decoded.y == [2]  # type: ignore[attr-defined]
    else:
        assert type(decoded) is type(value)
    assert wire.decode(back) is value if isinstance(value, enum.Enum) else wire.decode(back) == value
    if isinstance(value, collections.defaultdict):
        assert decoded["missing"] == []  # type: ignore[index]
    if isinstance(value, collections.deque):
        assert decoded.maxlen == 3  # type: ignore[attr-defined]


def test_codec_the_same_foreign_class_is_rebuilt_once() -> None:
    wire.SIDE = "h"
    try:
        first, second = wire.decode(wire.dumps(wire.encode([Level.LOW, Level.HIGH])))  # type: ignore[misc]
        third = wire.decode(wire.dumps(wire.encode(Point(0, 0))))
        fourth = wire.decode(wire.dumps(wire.encode(Point(1, 1))))
    finally:
        wire.SIDE = "c"
    assert type(first) is type(second) and first < second and second == 5
    assert type(third) is type(fourth)


def test_codec_refuses_a_defaultdict_with_a_factory_of_the_senders() -> None:
    with pytest.raises(TypeError, match="default_factory"):
        wire.encode(collections.defaultdict(lambda: 7))


def test_codec_refuses_objects_that_could_fake_equality() -> None:
    class AlwaysEqual:
        def __eq__(self, other: object) -> bool:
            return True

    with pytest.raises(TypeError, match="AlwaysEqual"):
        wire.encode(AlwaysEqual())
    with pytest.raises(TypeError):
        wire.encode([1, AlwaysEqual()])


def test_codec_turns_subclasses_into_plain_types() -> None:
    class Sneaky(int):
        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = int.__hash__

    decoded = wire.decode(wire.dumps(wire.encode(Sneaky(3))))
    assert type(decoded) is int and decoded == 3 and decoded != 4


BAD_VALUES = [
    b'{"x": 1}',
    b'{"t": 1}',
    b'{"d": [[1]]}',
    b"[",
    b'{"i": "zz"}',
    b'{"s": [[1]]}',
    b'{"r": 0}',
    b'{"p": 0}',
    b'{"dd": ["os.system", []]}',
    b'{"en": [0, "E", "Enum", [["_x_", 1]], 1]}',
    b'{"nt": [0, "P", ["import"], [1]]}',
    b'{"dt": [[2024, 13, 1], [0, 0, 0, 0, 0], null]}',
    b'{"fr": [1, 0]}',
    b'{"dq": [[], -1]}',
]


@pytest.mark.parametrize("raw", BAD_VALUES)
def test_decoder_rejects_malformed_values(raw: bytes) -> None:
    with pytest.raises(wire.WireError):
        wire.decode(raw)


def test_rewrite_names_each_assert_by_its_source() -> None:
    sites: list[AssertSite] = []
    tests = (
        "def check(candidate):\n    assert candidate(1) == 2\n"
        "    for i in range(3):\n        assert candidate(i) > 0, 'msg'\n"
    )
    rewrite_module(tests, sites, "<tests>")
    assert [s.name for s in sites] == ["assert candidate(1) == 2", "assert candidate(i) > 0, 'msg'"]
    assert sites[0].op == "==" and sites[0].left_src == "candidate(1)" and sites[0].left_is_call
    assert sites[1].op == ">"


def test_rewrite_leaves_walrus_asserts_alone_but_still_compiles() -> None:
    sites: list[AssertSite] = []
    rewrite_module("def check(c):\n    assert (y := c(1)) == 1\n    assert y\n", sites, "<tests>")
    assert [s.name for s in sites] == ["assert y"]


def test_visible_line_must_be_one_assert() -> None:
    with pytest.raises(SyntaxError):
        rewrite_assert_line("x = f(1)", [])
    with pytest.raises(SyntaxError):
        rewrite_assert_line("assert f(1) ==", [])
    sites: list[AssertSite] = []
    rewrite_assert_line("assert  f(2) == 3  ", sites)
    assert sites[0].name == "assert f(2) == 3"


def test_free_names_are_what_the_tests_need_from_the_program() -> None:
    tests = "import math\nX = 1\ndef check(candidate):\n    assert math.fabs(poly(X, candidate(2))) < 1\n"
    assert free_names([tests, "assert helper(1) == len([])"]) == ["helper", "poly"]


def test_passed_needs_complete_positive_evidence() -> None:
    passing = {"status": "passed", "complete": True, "tests": [{"name": "t", "passed": True}]}
    assert verdict_from_report(passing, OK, 1.0).status == "passed"
    for forged in (
        {**passing, "complete": False},
        {**passing, "tests": []},
        {**passing, "tests": [{"name": "t", "passed": True}, {"name": "u", "passed": False}]},
        {**passing, "tests": [{"name": "t", "passed": "yes"}]},
    ):
        assert verdict_from_report(forged, OK, 1.0).status == "sandbox_error"


@pytest.mark.parametrize(
    ("outcome", "status"), [("timeout", "timeout"), ("memory", "memory"), ("crashed", "error")]
)
def test_runner_observations_override_the_report(outcome: str, status: str) -> None:
    passing = {"status": "passed", "complete": True, "tests": [{"name": "t", "passed": True}]}
    verdict = verdict_from_report(passing, {"outcome": outcome, "detail": "x"}, 5.0)
    assert verdict.status == status and not verdict.passed


def test_unknown_status_is_not_believed() -> None:
    assert verdict_from_report({"status": "great"}, OK, 1.0).status == "sandbox_error"


def test_humaneval_result_strings() -> None:
    assert humaneval_result(Verdict(status="passed")) == "passed"
    assert humaneval_result(Verdict(status="timeout")) == "timed out"
    message = "f(1) returned 2, expected 3"
    failing = Verdict(status="failed", tests=[TestResult(name="a", passed=False, message=message)])
    assert humaneval_result(failing) == "failed: f(1) returned 2, expected 3"
    assert humaneval_result(Verdict(status="error", detail="boom")) == "failed: boom"


def test_truncate_says_how_much_was_cut() -> None:
    assert truncate("abc", 10) == "abc"
    cut = truncate("x" * 100, 10)
    assert cut.startswith("x" * 10) and "truncated 90" in cut


class NoSession:
    """Stands for the harness's session in pure tests: any request to the candidate fails the test."""

    def ref_op(self, *args: object) -> object:
        raise AssertionError(f"the candidate was asked: {args}")


def stand_in(table: refs.Table, number: int = 7) -> object:
    graph = [[1, "Base", [], []], [2, "Liar", [1], ["inc"]]]
    return table.decode("o", [number, 2, graph, None])


def test_a_stand_in_compared_with_test_data_is_unequal_without_asking() -> None:
    refs.bind(NoSession())
    table = refs.Table()
    liar = stand_in(table)
    assert type(liar).__name__ == "Liar" and isinstance(liar, table.types[1])
    assert liar != 3 and not (liar == 3) and not (3 == liar)  # noqa: SIM201, SIM300 (both sides)
    assert [liar] != [3] and liar not in [3, "x", None] and (liar,) != (3,)
    assert {"k": liar} != {"k": 3}
    with pytest.raises(TypeError):
        liar < 3  # noqa: B015
    assert table.decode("o", [7]) is liar  # the same reference is the same stand-in


def test_a_stand_in_sent_back_is_a_number_and_a_test_function_a_handle() -> None:
    table = refs.Table()
    liar = stand_in(table)

    def helper(v: int) -> int:
        return v

    encoder = wire.Encoder(refs=table)
    assert encoder.encode([liar, helper, helper]) == [{"o": [7]}, {"h": 0}, {"h": 0}]
    assert table.decode("h", 0) is helper
    with pytest.raises(TypeError, match="only plain data and functions"):
        wire.Encoder(refs=table).encode(object())


@pytest.mark.parametrize(
    "data",
    [
        [99],  # never described
        [7, 5, [[5, "X", [], []]], "coroutine"],  # a coroutine of a class that is not one
        [7, 2, [[2, "X", []]], None],  # a class entry without its method list
        [7, 2, [[2, 3, [], []]], None],  # a name that is not a string
        ["7"],
    ],
)
def test_forged_references_are_protocol_violations(data: object) -> None:
    with pytest.raises(wire.WireError):
        refs.Table().decode("o", data)
    with pytest.raises(wire.WireError):
        refs.Table().decode("h", 0)  # a handle the tests never passed
