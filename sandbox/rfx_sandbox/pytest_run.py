"""Run a pytest module in the harness against the candidate, reached through references.

Pytest must not be a way in: under runc the candidate shares the harness's uid and may write
anything under /tmp, so pytest is given nothing it would read from there. The module's source never
touches a file: pytest collects a read-only placeholder in the image (/opt/rfx/pytest/test_solution.py)
and the collector swaps in a module compiled here from the source in memory, with pytest's own
assertion rewriting (so a failing assert names expected and actual values). Rootdir and config are
the read-only directory and its empty pytest.ini; conftest files, the cache, plugin autoloading and
output capturing (which would take over fd 1, the runner's channel) are off; imports use importlib
mode. `solution` is a module object whose attributes resolve to the candidate's names on first use.
The verdict comes from the reports pytest hands this plugin, never from text anything printed.

Outcomes: passed; a failed assert (or pytest.fail / pytest.raises not raising) is failed; any other
exception in a test, or an error in a fixture or at collection, is error; skipped tests are listed
and never count; xfail/xpass are what pytest reports (xfailed and non-strict xpassed do not fail the
run, strict xpassed does); nothing collected or every test skipped is no_signal.
"""

from __future__ import annotations

import linecache
import os
import sys
import textwrap
import types

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

ROOT = "/opt/rfx/pytest"
PLACEHOLDER = ROOT + "/test_solution.py"
LIBRARY = "/opt/rfx/pylib"
MODULE = "solution"
ARGS = [
    "-c", ROOT + "/pytest.ini", "--rootdir", ROOT, "--noconftest", "--import-mode=importlib",
    "-p", "no:cacheprovider", "-p", "no:stepwise", "-p", "no:faulthandler", "-p", "no:pastebin",
    "-p", "no:junitxml", "-p", "no:doctest", "-p", "no:terminal", "--capture=no",
    "-W", "ignore::pytest.PytestAssertRewriteWarning", PLACEHOLDER,
]
KEEP = 2000


class Solution(types.ModuleType):
    """`import solution` / `from solution import X`: each name, on first use, is resolved in the
    candidate and stands for what it is there (the same stand-ins the other formats' tests see)."""

    def __init__(self, bind: Callable[[list[str], dict[str, Any]], dict[str, str]]) -> None:
        super().__init__(MODULE)
        self.__file__ = "<solution>"
        self._bind = bind

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        found: dict[str, Any] = {}
        self._bind([name], found)
        if name not in found:
            raise AttributeError(f"module 'solution' has no attribute {name!r}")
        setattr(self, name, found[name])
        return found[name]


class Collector:
    """The plugin: swaps the source in, and keeps one record per test from pytest's own reports."""

    def __init__(self, pytest: Any, source: str) -> None:
        self.pytest = pytest
        self.source = source
        self.tests: dict[str, dict[str, Any]] = {}
        self.collect_errors: list[dict[str, Any]] = []
        self.kinds: dict[tuple[str, str], type[BaseException]] = {}

    def pytest_pycollect_makemodule(self, module_path: Any, parent: Any) -> Any:
        if str(module_path) != PLACEHOLDER:
            return None
        return InMemoryModule.from_parent(parent, path=module_path, source=self.source)

    def pytest_runtest_makereport(self, item: Any, call: Any) -> None:
        if call.excinfo is not None:
            self.kinds[(item.nodeid, call.when)] = call.excinfo.type

    def pytest_collectreport(self, report: Any) -> None:
        if report.failed:
            self.collect_errors.append(
                {"name": "collection", "passed": False, "message": _text(report)[:KEEP], "outcome": "error"}
            )

    def pytest_runtest_logreport(self, report: Any) -> None:
        name = report.nodeid.split("::", 1)[-1]
        fresh = {"name": name, "passed": True, "message": "", "outcome": "passed"}
        entry = self.tests.setdefault(name, fresh)
        xfail = getattr(report, "wasxfail", None)
        if report.when == "call" and xfail is not None:
            entry["outcome"] = "xfailed" if report.skipped else "xpassed"
            entry["message"] = f"{entry['outcome']}: {xfail}"[:KEEP] if xfail else entry["outcome"]
            if report.failed:  # a strict xpass
                entry.update(passed=False, outcome="failed")
            return
        if report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else _text(report)
            entry.update(passed=False, skipped=True, outcome="skipped", message=str(reason)[:KEEP])
            return
        if not report.failed or entry["outcome"] in ("failed", "error"):
            return
        kind = self.kinds.get((report.nodeid, report.when))
        # no exception: pytest itself failed the test (a strict xpass)
        asserted = kind is None or issubclass(kind, AssertionError | self.pytest.fail.Exception)
        outcome = "failed" if report.when == "call" and asserted else "error"
        entry.update(passed=False, outcome=outcome, message=_text(report)[:KEEP])


def _make_module_class(pytest: Any) -> type:
    from _pytest.assertion.rewrite import rewrite_asserts

    class Module(pytest.Module):  # type: ignore[misc, name-defined]
        """The collected module: compiled from the source held in memory, never read from disk."""

        def __init__(self, *args: Any, source: str = "", **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._source = source

        def _getobj(self) -> Any:
            import ast

            module = types.ModuleType("test_solution")
            module.__file__ = PLACEHOLDER
            tree = ast.parse(self._source, PLACEHOLDER)
            rewrite_asserts(tree, self._source.encode(), PLACEHOLDER, self.config)
            lines = self._source.splitlines(keepends=True)
            linecache.cache[PLACEHOLDER] = (len(self._source), None, lines, PLACEHOLDER)
            sys.modules["test_solution"] = module
            exec(compile(tree, PLACEHOLDER, "exec", dont_inherit=True), module.__dict__)
            return module

    return Module


InMemoryModule: Any = None


def _text(report: Any) -> str:
    crash = getattr(getattr(report, "longrepr", None), "reprcrash", None)
    full = str(getattr(report, "longreprtext", "") or "")
    if crash is not None and getattr(crash, "message", ""):
        lines = [line[1:].rstrip() for line in full.splitlines() if line.startswith("E ")]
        return textwrap.dedent("\n".join(lines)).strip() if lines else str(crash.message)
    return full


def run(source: str, bind: Callable[[list[str], dict[str, Any]], dict[str, str]]) -> dict[str, Any]:
    """Run the module's tests; the harness's report (status, complete, tests, detail)."""
    global InMemoryModule
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    os.environ.pop("PYTEST_ADDOPTS", None)
    os.environ.pop("PYTEST_PLUGINS", None)
    if LIBRARY not in sys.path:
        sys.path.append(LIBRARY)
    import pytest

    InMemoryModule = _make_module_class(pytest)
    sys.modules[MODULE] = Solution(bind)
    collector = Collector(pytest, source)
    code = pytest.main(list(ARGS), plugins=[collector])
    tests = collector.collect_errors + list(collector.tests.values())
    report: dict[str, Any] = {"status": "error", "complete": False, "tests": tests, "detail": ""}
    counted = [t for t in tests if not t.get("skipped")]
    if int(code) in (2, 3, 4):  # interrupted, internal error, usage error: nothing to believe
        report["detail"] = f"pytest could not run the tests (exit code {int(code)})"
    elif any(t["outcome"] == "error" for t in tests):
        report["detail"] = "a test or fixture raised an exception, or the module did not collect"
    elif any(not t["passed"] for t in counted):
        report["status"] = "failed"
    elif not counted:
        report["status"] = "no_signal"
        report["detail"] = "no test ran (nothing collected, or every test skipped)"
    elif int(code) in (0,):
        report["status"], report["complete"] = "passed", True
    else:
        report["detail"] = f"pytest ended with exit code {int(code)}"
    return report
