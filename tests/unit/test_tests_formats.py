"""Task.tests_format: declared or detected, never guessed; what each format needs of the task."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.reflexion.models import Task
from app.reflexion.test_formats import FormatError, assert_lines, detect, resolve

CHECK = "def check(candidate):\n    assert candidate(1) == 2\n"
ASSERTS = "assert inc(1) == 2\nassert inc(-1) == 0\n"
PYTEST = "from solution import inc\n\ndef test_inc():\n    assert inc(1) == 2\n"


@pytest.mark.parametrize(
    ("text", "found"),
    [
        (CHECK, ["check"]),
        ("METADATA = {}\n\n" + CHECK, ["check"]),
        (ASSERTS, ["asserts"]),
        ('"""doc"""\n' + ASSERTS, ["asserts"]),
        (PYTEST, ["pytest"]),
        ("import pytest\n\ndef helper():\n    pass\n", ["pytest"]),
        ("def test_inc():\n    assert inc(1) == 2\n", ["pytest"]),
        ("from solution import inc\n" + ASSERTS, ["asserts", "pytest"]),
        (CHECK + "\ndef test_inc():\n    pass\n", ["check", "pytest"]),
        ("x = 1\n", []),
        ("def broken(:\n", []),
    ],
)
def test_detection_reads_the_top_level(text: str, found: list[str]) -> None:
    assert detect(text) == found


def test_ambiguous_or_unknown_text_asks_for_a_declaration() -> None:
    with pytest.raises(FormatError, match=r"could be asserts or pytest: declare tests_format"):
        resolve("from solution import inc\n" + ASSERTS, None)
    with pytest.raises(FormatError, match=r"cannot tell the format of tests.*declare tests_format"):
        resolve("print('hi')\n", None)
    # declared, the same text is taken as written
    assert resolve("from solution import inc\n" + ASSERTS, "asserts") == "asserts"


def test_assert_lines_from_text_and_from_mbpp_lists() -> None:
    assert assert_lines(ASSERTS) == ["assert inc(1) == 2", "assert inc(-1) == 0"]
    multi = "assert inc(\n    1\n) == 2, 'one'\n"
    assert assert_lines(multi) == ["assert inc(\n    1\n) == 2, 'one'"]
    assert assert_lines(["assert inc(1) == 2", "assert inc(2) == 3"]) == [
        "assert inc(1) == 2",
        "assert inc(2) == 3",
    ]
    assert assert_lines("from solution import inc\nassert inc(1) == 2\n") == ["assert inc(1) == 2"]


@pytest.mark.parametrize(
    ("tests", "fragment"),
    [
        ("assert inc(1) == 2\nprint(inc(3))\n", "not a expr at line 2"),
        (["assert inc(1) == 2", "x = inc(2)"], "tests[1]: asserts-format tests hold only assert"),
        (["assert inc(1) =="], "tests[0]: not valid Python"),
        ("from solution import inc as f\nassert f(1) == 2\n", "no alias or *"),
        ("from solution import *\nassert inc(1) == 2\n", "no alias or *"),
    ],
)
def test_asserts_format_refuses_what_it_would_silently_skip(tests: str | list[str], fragment: str) -> None:
    with pytest.raises(FormatError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        resolve(tests, "asserts")


def task(**fields: object) -> Task:
    return Task.model_validate({"id": "t", "prompt": "def inc(x):\n    pass\n"} | fields)


def test_task_records_the_detected_format() -> None:
    assert task(entry_point="inc", tests=CHECK).tests_format == "check"
    assert task(tests=ASSERTS).tests_format == "asserts"
    assert task(tests=["assert inc(1) == 2"]).tests_format == "asserts"
    assert task(entry_point="inc", tests="").tests_format is None


def test_entry_point_is_required_for_check_only() -> None:
    with pytest.raises(ValidationError, match="entry_point is required for check tests"):
        task(tests=CHECK)
    assert task(tests=ASSERTS).entry_point is None


def test_bad_formats_are_validation_errors() -> None:
    with pytest.raises(ValidationError, match="declare tests_format"):
        task(tests="from solution import inc\n" + ASSERTS)
    with pytest.raises(ValidationError, match="tests as a list are assert lines"):
        task(entry_point="inc", tests=["assert inc(1) == 2"], tests_format="check")
    with pytest.raises(ValidationError, match="needs tests that define check"):
        task(entry_point="inc", tests=ASSERTS, tests_format="check")
    with pytest.raises(ValidationError, match="tests_format"):
        task(tests=ASSERTS, tests_format="doctest")


def test_pytest_modules_go_to_the_judge_whole() -> None:
    module = task(tests=PYTEST)
    assert (module.tests_format, module.subject()) == ("pytest", "inc")  # its first import from solution
    assert task(tests="import pytest\n\ndef test_x():\n    pass\n").subject() == ""
    submission = module.hidden_submission("code")
    assert (submission.pytest, submission.tests, submission.asserts) == (PYTEST, "", [])


def test_subject_and_hidden_submission_follow_the_format() -> None:
    asserts = task(tests="assert len([1]) == 1\nassert inc(1) == 2\n")
    assert asserts.subject() == "inc"  # the first name called that the prompt defines
    submission = asserts.hidden_submission("def inc(x):\n    return x + 1\n")
    assert submission.asserts == ["assert len([1]) == 1", "assert inc(1) == 2"]
    assert submission.tests == "" and submission.entry_point is None
    checked = task(entry_point="inc", tests=CHECK).hidden_submission("code")
    assert (checked.tests, checked.entry_point, checked.asserts) == (CHECK, "inc", [])
    named = task(entry_point="inc", tests=["assert other(1) == 2"])
    assert named.subject() == "inc"


def test_round_trip_keeps_the_format() -> None:
    original = task(tests=["assert inc(1) == 2"])
    again = Task.model_validate_json(original.model_dump_json())
    assert again == original and again.tests_format == "asserts"


def test_visible_tests_may_be_one_check_program_or_pytest_module() -> None:
    lines = task(tests=ASSERTS, visible_tests=["assert inc(1) == 2"])
    assert lines.visible_tests_format == "asserts"
    assert lines.visible_submission("code").asserts == ["assert inc(1) == 2"]
    module = task(tests=ASSERTS, visible_tests=[PYTEST])
    assert module.visible_tests_format == "pytest" and module.visible_submission("code").pytest == PYTEST
    check = task(entry_point="inc", tests=ASSERTS, visible_tests=[CHECK])
    submission = check.visible_submission("code")
    assert check.visible_tests_format == "check" and (submission.tests, submission.entry_point) == (
        CHECK,
        "inc",
    )
    assert task(tests=ASSERTS).visible_tests_format is None
    with pytest.raises(ValidationError, match="entry_point is required for check visible tests"):
        task(tests=ASSERTS, visible_tests=[CHECK])
    with pytest.raises(ValidationError, match="are one program: give a single item"):
        task(tests=ASSERTS, visible_tests=[PYTEST, PYTEST], visible_tests_format="pytest")
