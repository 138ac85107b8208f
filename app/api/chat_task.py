"""Turn the last user message of a chat request into a Task, and say where its tests came from.

A chat client has no Task form, so the message is read the way a person writes it: a function or
class (with a docstring), fenced or plain, plus free text. The first `def`/`class` of that code is the
entry point; the task id is a hash of the task's text, so the same question reuses its lessons.
Tests, in order of precedence: the request's `rfx.tests`, a fenced block of asserts in the message,
the docstring's examples (parsed, never run). Tests found this way are both the feedback and the
grading tests (there are no hidden ones). With none, the model's own tests are the feedback and
the result is unverified. A pytest module (in `rfx.tests` or a fenced block of the message) is the
grading and the feedback tests whole, judged by pytest in the sandbox; its tests import the code
under test from `solution`.
"""

from __future__ import annotations

import ast
import hashlib
import re
from dataclasses import dataclass
from typing import Literal

from pydantic import ValidationError

from app.benchmark.visible_tests import derive_visible_tests
from app.errors import InvalidInput
from app.reflexion.models import Task
from app.reflexion.vocabulary import FeedbackSource

TestsSource = Literal["rfx", "message", "docstring", "none"]

_FENCE = re.compile(r"^[ \t]*```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)^[ \t]*```[ \t]*$", re.M | re.S)
_DEF = re.compile(r"^(?:async[ \t]+)?(?:def|class)[ \t]+([A-Za-z_][A-Za-z0-9_]*)", re.M)
_PYTEST = re.compile(r"^\s*(?:import pytest|from pytest\b|def test_\w*\s*\(|@pytest\.)", re.M)


class ChatTaskError(InvalidInput):
    """Bad input found while reading the message; `param` names the request field it came from."""

    def __init__(self, detail: str, param: str) -> None:
        super().__init__(detail)
        self.param = param


@dataclass(frozen=True)
class ChatTask:
    task: Task
    feedback: FeedbackSource
    tests_source: TestsSource

    @property
    def verified(self) -> bool:
        """Whether the final answer is graded by tests someone other than the model wrote."""
        return self.tests_source != "none"


def read_task(text: str, *, tests: str | list[str] | None = None, param: str = "messages") -> ChatTask:
    """The Task a message asks for; `tests` (from `rfx.tests`) wins over tests in the message."""
    blocks = [(lang.lower(), body) for lang, body in _FENCE.findall(text)]
    module = next((b for _, b in blocks if _PYTEST.search(b)), None) if tests is None else None
    if module is not None:
        blocks = [(lang, b) for lang, b in blocks if b is not module]
    python = (b for lang, b in blocks if lang in ("", "python", "py") and _DEF.search(b))
    code_block = next(python, None)
    if code_block is None:
        code_block = _plain_code(_FENCE.sub("", text))
    if code_block is None:
        raise ChatTaskError(
            "the last user message holds no function or class to write: include its `def` line "
            "(with a docstring saying what it does)",
            param,
        )
    code = _code_without_tests(code_block)
    match = _DEF.search(code)
    assert match is not None  # both sources above only return text with a def/class line
    entry_point = match.group(1)
    free_text = re.sub(r"\n\s*\n", "\n\n", _FENCE.sub("", text).replace(code_block.strip(), "")).strip()
    prompt = (_as_comment(free_text) + "\n" if free_text else "") + code.rstrip() + "\n"
    task_id = "chat/" + hashlib.sha256(prompt.encode()).hexdigest()[:16]
    module_source: TestsSource = "message"
    if isinstance(tests, str) and _PYTEST.search(tests):
        module, module_source = tests, "rfx"
    if module is not None:
        try:
            task = Task(
                id=task_id, prompt=prompt, entry_point=entry_point, tests=module, tests_format="pytest"
            )
        except ValidationError as exc:
            detail = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
            raise ChatTaskError(f"the pytest module: {detail}", "rfx.tests" if tests else param) from None
        return ChatTask(task, "oracle", module_source)
    asserts, check, source = _tests(blocks, code_block, tests, prompt, entry_point)
    if source == "none":
        task = Task(id=task_id, prompt=prompt, entry_point=entry_point, tests="")
        return ChatTask(task, "self_tests", "none")
    if check is not None:
        task = Task(id=task_id, prompt=prompt, entry_point=entry_point, tests=check)
        return ChatTask(task, "oracle", source)
    task = Task(
        id=task_id,
        prompt=prompt,
        entry_point=entry_point,
        tests=asserts_check(asserts, entry_point),
        visible_tests=asserts,
    )
    return ChatTask(task, "visible", source)


def asserts_check(asserts: list[str], entry_point: str) -> str:
    """A `check(candidate)` program running the asserts, which call the function by its own name."""
    body = "\n".join(f"    {line}" for line in asserts)
    return f"def check(candidate):\n    {entry_point} = candidate\n{body}\n"


def _tests(
    blocks: list[tuple[str, str]],
    code_block: str,
    given: str | list[str] | None,
    prompt: str,
    entry_point: str,
) -> tuple[list[str], str | None, TestsSource]:
    """(assert lines, a check program, where they came from)."""
    if given is not None:
        if isinstance(given, list):
            return _assert_lines("\n".join(given), "rfx.tests"), None, "rfx"
        if re.search(r"^def check\s*\(", given, re.M):
            return [], given, "rfx"
        return _assert_lines(given, "rfx.tests"), None, "rfx"
    found: list[str] = []
    for _lang, block in blocks:
        found.extend(_asserts_in(block))
    found.extend(a for a in _asserts_in(code_block) if a not in found)
    if found:
        return found, None, "message"
    derived = derive_visible_tests(prompt, entry_point)
    return (derived, None, "docstring") if derived else ([], None, "none")


def _assert_lines(source: str, param: str) -> list[str]:
    lines = _asserts_in(source)
    if not lines:
        raise ChatTaskError(f"{param}: no assert statements found (or a def check(candidate) program)", param)
    return lines


def _asserts_in(source: str) -> list[str]:
    """Module-level `assert` statements of a block, one line each."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        lines = [ln.strip() for ln in source.splitlines() if ln.strip().startswith("assert ")]
        return [ln for ln in lines if _parses(ln)]
    return [ast.unparse(node) for node in tree.body if isinstance(node, ast.Assert)]


def _code_without_tests(block: str) -> str:
    """The code block minus module-level asserts (they are tests, not part of the task)."""
    kept = [ln for ln in block.splitlines() if not (ln.startswith("assert ") and _parses(ln))]
    return "\n".join(kept).strip("\n")


def _plain_code(text: str) -> str | None:
    """Unfenced code: from the first `def`/`class` line through its indented body."""
    lines = text.splitlines()
    start = next((i for i, ln in enumerate(lines) if _DEF.match(ln)), None)
    if start is None:
        return None
    while start > 0 and lines[start - 1].startswith(("@", "import ", "from ")):
        start -= 1
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or lines[end][:1] in (" ", "\t")):
        end += 1
    return "\n".join(lines[start:end]).rstrip()


def _as_comment(text: str) -> str:
    return "\n".join(f"# {line}".rstrip() for line in text.splitlines())


def _parses(line: str) -> bool:
    try:
        ast.parse(line)
    except SyntaxError:
        return False
    return True
