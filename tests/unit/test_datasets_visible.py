"""Visible tests derived from docstring examples, and reproducible problem selection."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from app.benchmark.datasets import load_benchmark, load_problems, select_tasks
from app.benchmark.visible_tests import derive_visible_tests, with_visible_tests
from app.errors import InvalidInput
from app.reflexion.models import Task

DOCTEST = '''
def add(a: int, b: int) -> int:
    """Add two numbers.
    >>> add(1, 2)
    3
    >>> add(
    ...   -1, 1)
    0
    >>> add(0.5, 0.25)
    0.75
    >>> print(add(1, 1))
    2
    >>> add(x, 1)
    5
    >>> add(1, 2)
    3
    """
'''

INLINE = """
def is_odd(n):
    '''Examples:
    is_odd(3) ==> true
    is_odd(4) => False
    * is_odd(5) ➞ True
    for is_odd(7) == True
    is_odd(9) -> 9 is odd so True
    is_odd(11)   # returns True
    Input: 3 Output: True
    >>> is_odd(13) == True
    '''
"""

FOR_NAME = """
def digits(lst):
    '''For lst = [1, 2] the output should be 3
    For other = [5] the output should be 5
    '''
"""


def test_doctest_examples_become_asserts() -> None:
    assert derive_visible_tests(DOCTEST, "add") == [
        "assert add(1, 2) == 3",
        "assert add(-1, 1) == 0",
        "assert abs(add(0.5, 0.25) - 0.75) < 1e-6",
    ]


def test_inline_examples_in_every_humaneval_spelling() -> None:
    assert derive_visible_tests(INLINE, "is_odd") == [
        "assert is_odd(13) == True",
        "assert is_odd(3) == True",
        "assert is_odd(4) == False",
        "assert is_odd(5) == True",
        "assert is_odd(7) == True",
        "assert is_odd(11) == True",
    ]


def test_for_name_examples_only_for_the_single_parameter() -> None:
    assert derive_visible_tests(FOR_NAME, "digits") == ["assert digits([1, 2]) == 3"]


def test_other_functions_and_prose_are_ignored() -> None:
    assert derive_visible_tests(DOCTEST, "sub") == []
    assert derive_visible_tests("def f(x):\n    '''Returns x.'''\n", "f") == []


def test_existing_visible_tests_are_kept() -> None:
    task = Task(id="a", prompt=DOCTEST, entry_point="add", tests="", visible_tests=["assert add(2, 2) == 4"])
    assert with_visible_tests(task).visible_tests == ["assert add(2, 2) == 4"]
    bare = task.model_copy(update={"visible_tests": []})
    assert with_visible_tests(bare).visible_tests[0] == "assert add(1, 2) == 3"


def test_humaneval_coverage_of_derived_tests() -> None:
    tasks = load_problems()
    derived = {t.id: derive_visible_tests(t.prompt, t.entry_point) for t in tasks}
    assert len(tasks) == 164
    assert sum(bool(v) for v in derived.values()) == 138
    assert sum(len(v) for v in derived.values()) == 400
    assert derived["HumanEval/0"] == [
        "assert has_close_elements([1.0, 2.0, 3.0], 0.5) == False",
        "assert has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3) == True",
    ]
    # none of them may touch the hidden tests' `check`/`candidate`
    assert not any("check(candidate" in a or "candidate)" in a for v in derived.values() for a in v)


def test_selection_by_ids_keeps_the_given_order_and_rejects_unknown_ids() -> None:
    tasks = load_problems()
    chosen = select_tasks(tasks, ids=["HumanEval/5", "HumanEval/2", "HumanEval/5"])
    assert [t.id for t in chosen] == ["HumanEval/5", "HumanEval/2"]
    with pytest.raises(InvalidInput, match="HumanEval/999"):
        select_tasks(tasks, ids=["HumanEval/999"])


def test_seeded_sample_is_reproducible_and_in_dataset_order() -> None:
    tasks = load_problems()
    a = [t.id for t in select_tasks(tasks, limit=10, seed=7)]
    b = [t.id for t in select_tasks(tasks, limit=10, seed=7)]
    c = [t.id for t in select_tasks(tasks, limit=10, seed=8)]
    assert a == b and a != c and len(set(a)) == 10
    order = [t.id for t in tasks]
    assert sorted(a, key=order.index) == a
    with pytest.raises(InvalidInput):
        select_tasks(tasks, limit=0)


def test_load_benchmark_reads_any_humaneval_shaped_gz_file(tmp_path: Path) -> None:
    path = tmp_path / "mini.jsonl.gz"
    record = {"task_id": "mini/0", "prompt": DOCTEST, "entry_point": "add", "test": "def check(c): pass\n"}
    with gzip.open(path, "wt") as handle:
        handle.write(json.dumps(record) + "\n")
    (task,) = load_benchmark(path)
    assert task.id == "mini/0" and task.visible_tests[0] == "assert add(1, 2) == 3"
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(InvalidInput, match="no problems"):
        load_benchmark(empty)
