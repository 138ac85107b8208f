"""The three shapes a task's tests come in, told apart by declaration or by reading them.

* `check`: a human-eval program defining `check(candidate)`, called with the entry point;
* `asserts`: assert statements (MBPP's `test_list`), each its own test, naming what they test;
* `pytest`: a pytest module (`test_*` functions, `import pytest`, `from solution import X`).

Detection reads the program's top level and never guesses: text that fits more than one shape, or
none, must be declared (`tests_format`), because judging tests in the wrong shape reports a verdict
about something the author did not write. The module under test is named `solution`; its
`from solution import a, b` lines only name what the tests use, so they carry over to the judge as
the names themselves (an alias would rename the candidate's function, and is refused).

Pure: standard library only.
"""

from __future__ import annotations

import ast
from typing import Literal, TypeGuard

TestsFormat = Literal["check", "asserts", "pytest"]
FORMATS: tuple[TestsFormat, ...] = ("check", "asserts", "pytest")
MODULE = "solution"


class FormatError(ValueError):
    """Tests that do not fit their declared (or any single detectable) format; the text says why."""


def resolve(tests: str | list[str], declared: TestsFormat | None) -> TestsFormat | None:
    """The format of `tests`: the declared one after checking it fits, else the detected one.

    None for empty tests (a task without hidden tests). Raises FormatError otherwise.
    """
    if isinstance(tests, list):
        if declared not in (None, "asserts"):
            raise FormatError(f"tests as a list are assert lines; tests_format {declared!r} needs one text")
        assert_lines(tests)
        return "asserts" if tests else None
    if not tests.strip():
        return None
    if declared is not None:
        if declared == "asserts":
            assert_lines(tests)
        elif _tree(tests) is None:
            raise FormatError(f"tests ({declared}) do not parse as Python")
        elif declared == "check" and "check" not in _defined(_tree(tests)):
            raise FormatError("tests_format 'check' needs tests that define check(candidate)")
        return declared
    fits = detect(tests)
    if len(fits) == 1:
        return fits[0]
    if not fits:
        raise FormatError(
            "cannot tell the format of tests (no check(candidate), assert lines or pytest tests): "
            "declare tests_format as one of check, asserts, pytest"
        )
    return _ambiguous(fits)


def _ambiguous(fits: list[TestsFormat]) -> TestsFormat:
    raise FormatError(f"tests could be {' or '.join(fits)}: declare tests_format as one of {', '.join(fits)}")


def detect(tests: str) -> list[TestsFormat]:
    """Every format the text fits, in FORMATS order (one means unambiguous)."""
    tree = _tree(tests)
    if tree is None:
        return []
    body = [n for n in tree.body if not _is_docstring(n)]
    defined = _defined(tree)
    fits: list[TestsFormat] = []
    if "check" in defined:
        fits.append("check")
    if (
        body
        and all(isinstance(n, ast.Assert) or _imports_solution(n) for n in body)
        and any(isinstance(n, ast.Assert) for n in body)
    ):
        fits.append("asserts")
    imports = {a.name for n in body if isinstance(n, ast.Import) for a in n.names}
    if (
        any(name.startswith("test") for name in defined if name != "check")
        or "pytest" in imports
        or any(_imports_solution(n) for n in body)
    ):
        fits.append("pytest")
    return fits


def assert_lines(tests: str | list[str]) -> list[str]:
    """The assert statements of asserts-format tests, one source text each, in order.

    A list holds one statement per item; a text holds statements separated by lines. `from solution
    import a, b` lines are dropped (the names resolve to the candidate's anyway); anything else that
    is not an assert is refused, since it would be silently skipped otherwise.
    """
    items = tests if isinstance(tests, list) else [tests]
    lines: list[str] = []
    for number, item in enumerate(items, start=1):
        where = f"tests[{number - 1}]" if isinstance(tests, list) else "tests"
        tree = _tree(item)
        if tree is None:
            raise FormatError(f"{where}: not valid Python")
        for node in tree.body:
            if _imports_solution(node):
                _check_no_alias(node, where)
                continue
            if not isinstance(node, ast.Assert):
                kind = type(node).__name__.lower()
                raise FormatError(
                    f"{where}: asserts-format tests hold only assert statements (and "
                    f"`from {MODULE} import ...`), not a {kind} at line {node.lineno}"
                )
            lines.append(ast.get_source_segment(item, node) or ast.unparse(node))
    return lines


def _check_no_alias(node: ast.ImportFrom, where: str) -> None:
    aliased = [a.name for a in node.names if a.asname or a.name == "*"]
    if aliased:
        raise FormatError(f"{where}: import the names themselves from {MODULE} (no alias or *): {aliased[0]}")


def _imports_solution(node: ast.stmt) -> TypeGuard[ast.ImportFrom]:
    return isinstance(node, ast.ImportFrom) and node.module == MODULE and node.level == 0


def imported_names(tests: str) -> list[str]:
    """Names a pytest module imports from `solution`, in order (the code must define them)."""
    tree = _tree(tests)
    if tree is None:
        return []
    return [
        a.name
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom) and _imports_solution(n)
        for a in n.names
    ]


def called_names(lines: list[str]) -> list[str]:
    """Names called as functions (or classes) in the asserts, in order of first use."""
    names: list[str] = []
    for line in lines:
        tree = _tree(line)
        if tree is None:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id not in names:
                names.append(node.func.id)
    return names


def _tree(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        return None


def _defined(tree: ast.Module | None) -> set[str]:
    if tree is None:
        return set()
    return {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}


def _is_docstring(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )
