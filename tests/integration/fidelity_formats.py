"""Task shapes in the pytest and assert-list formats, each with a right and a wrong solution.

tests/integration/test_fidelity.py judges each in the sandbox and runs pytest in-process on the same
files (the module as `test_solution.py`, the code as `solution.py`; an assert list as one test per
assert), and the per-test outcomes must agree.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FormatShape:
    id: str
    format: str  # pytest | asserts
    tests: str | list[str]
    right: str
    wrong: str


STATS = """class EmptyError(Exception):
    pass


def mean(xs):
    if not xs:
        raise ValueError("mean of nothing")
    return sum(xs) / len(xs)


class Stack:
    def __init__(self):
        self.items = []

    def push(self, x):
        self.items.append(x)

    def pop(self):
        if not self.items:
            raise EmptyError("empty")
        return self.items.pop()

    def __len__(self):
        return len(self.items)
"""

FORMAT_SHAPES: list[FormatShape] = [
    FormatShape(
        "pytest_parametrize_approx",
        "pytest",
        "import pytest\nfrom solution import mean\n\n\n"
        "@pytest.mark.parametrize('xs,expected', [([1, 2], 1.5), ([1, 2, 3], 2), ([0.1, 0.2], 0.15)])\n"
        "def test_mean(xs, expected):\n    assert mean(xs) == pytest.approx(expected)\n",
        STATS,
        STATS.replace("/ len(xs)", "/ 2"),
    ),
    FormatShape(
        "pytest_fixture_class_raises",
        "pytest",
        "import pytest\nfrom solution import Stack, EmptyError\n\n\n@pytest.fixture\ndef stack():\n"
        "    s = Stack()\n    s.push(1)\n    s.push(2)\n    return s\n\n\n"
        "def test_lifo(stack):\n    assert stack.pop() == 2\n    assert len(stack) == 1\n\n\n"
        "def test_empty(stack):\n    stack.pop()\n    stack.pop()\n    with pytest.raises(EmptyError):\n"
        "        stack.pop()\n",
        STATS,
        STATS.replace("return self.items.pop()", "return self.items.pop(0)"),
    ),
    FormatShape(
        "pytest_raises_match_builtin",
        "pytest",
        "import pytest\nfrom solution import mean\n\n\ndef test_nothing():\n"
        "    with pytest.raises(ValueError, match='nothing'):\n        mean([])\n\n\n"
        "def test_one():\n    assert mean([4]) == 4\n",
        STATS,
        STATS.replace('raise ValueError("mean of nothing")', "return 0"),
    ),
    FormatShape(
        "pytest_module_import_and_classes",
        "pytest",
        "import solution\n\n\nclass TestWords:\n    def test_split(self):\n"
        "        assert solution.words('a b  c') == ['a', 'b', 'c']\n\n"
        "    def test_count(self):\n        assert solution.count('a b a') == {'a': 2, 'b': 1}\n",
        "def words(s):\n    return s.split()\n\n\ndef count(s):\n    out = {}\n"
        "    for w in words(s):\n        out[w] = out.get(w, 0) + 1\n    return out\n",
        "def words(s):\n    return s.split(' ')\n\n\ndef count(s):\n    out = {}\n"
        "    for w in s.split():\n        out[w] = out.get(w, 0) + 1\n    return out\n",
    ),
    FormatShape(
        "pytest_generator_and_sets",
        "pytest",
        "from solution import evens, unique\n\n\n"
        "def test_evens():\n    assert list(evens(7)) == [0, 2, 4, 6]\n\n\n"
        "def test_unique():\n    assert unique([3, 1, 3]) == {1, 3}\n",
        "def evens(n):\n    yield from range(0, n, 2)\n\n\ndef unique(xs):\n    return set(xs)\n",
        "def evens(n):\n    yield from range(0, n - 1, 2)\n\n\ndef unique(xs):\n    return set(xs)\n",
    ),
    FormatShape(
        "asserts_mbpp_list",
        "asserts",
        ["assert max_of(1, 5, 3) == 5", "assert max_of(1, 2, 9) == 9", "assert max_of(2, 2, 2) == 2"],
        "def max_of(a, b, c):\n    return max(a, b, c)\n",
        "def max_of(a, b, c):\n    return a if a > b else b\n",
    ),
    FormatShape(
        "asserts_text_with_solution_import",
        "asserts",
        "from solution import pairs\nassert pairs([1, 5, 3]) == [(1, 5), (5, 3)]\n"
        "assert pairs([]) == []\nassert pairs([7]) == []\n",
        "def pairs(xs):\n    return list(zip(xs, xs[1:]))\n",
        "def pairs(xs):\n    return [(x, x + 1) for x in xs[:-1]] if xs else []\n",
    ),
    FormatShape(
        "asserts_objects_and_exceptions_classes",
        "asserts",
        ["assert Counter().add(2).add(3).total == 5", "assert len(Counter().add(1).items) == 1"],
        "class Counter:\n    def __init__(self):\n        self.total = 0\n        self.items = []\n"
        "    def add(self, n):\n        self.total += n\n        self.items.append(n)\n        return self\n",
        "class Counter:\n    def __init__(self):\n        self.total = 0\n        self.items = []\n"
        "    def add(self, n):\n        self.total = n\n        self.items.append(n)\n        return self\n",
    ),
]
