"""Visible tests derived from a task's docstring examples, for tasks that come without any.

Why: Reflexion's feedback must not come from the hidden grading tests (that would leak the answer
key), yet HumanEval ships only the hidden `test`. The examples in each prompt's docstring are already
visible to the model, so turning them into assert lines gives honest feedback tests.

How (nothing is executed here, everything is parsed with `ast`):
1. doctest examples: a `>>> expr` line (with `... ` continuations) followed by the expected output
   lines, up to a blank line, the next `>>>` or the end of the docstring;
2. one-line examples `call SEP expected` where SEP is one of `==`, `==>`, `=>`, `->`, `➞`,
   `should return`, `# returns`, `returns` (HumanEval spells them all), optionally after a `*`, `-`
   or `for` bullet, also as a `>>>` line without output (`>>> f(1) == 2`);
3. `For NAME = VALUE the output should be EXPECTED` when NAME is the function's only parameter;
4. all only when `expr` is a call of the task's entry point whose arguments are all Python literals,
   and the expected value is a Python literal (`true`/`false` read as `True`/`False`). Anything else
   (prose such as `Input: ... Output: ...`, arithmetic on the right-hand side, bare names) is skipped
   rather than guessed.
Each example becomes `assert CALL == EXPECTED` (floats: `assert abs(CALL - EXPECTED) < 1e-6`).
A few HumanEval docstring examples are themselves wrong; such a test fails on the reference solution
too, which is why the feedback verdict and the hidden verdict are kept and reported separately.
"""

from __future__ import annotations

import ast
import re

from app.reflexion.models import Task

_SEPARATORS = ("==>", "=>", "->", "➞", "==", "should return", "# returns", "returns")
_DOCSTRING_END = re.compile(r"^\s*(\"\"\"|''')")


def derive_visible_tests(prompt: str, entry_point: str) -> list[str]:
    """Assert lines for the docstring examples of `entry_point` in `prompt`, in order, deduplicated."""
    found: list[str] = []
    candidates = [
        *_doctest_examples(prompt, entry_point),
        *_inline_examples(prompt.splitlines(), entry_point),
        *_for_name_examples(prompt, entry_point),
    ]
    for call, expected in candidates:
        line = _assertion(call, expected, entry_point)
        if line is not None and line not in found:
            found.append(line)
    return found


def with_visible_tests(task: Task) -> Task:
    """The task itself if it has visible tests, else a copy with tests derived from its docstring."""
    if task.visible_tests:
        return task
    return task.model_copy(update={"visible_tests": derive_visible_tests(task.prompt, task.subject())})


def _doctest_examples(prompt: str, entry_point: str) -> list[tuple[str, str]]:
    lines = prompt.splitlines()
    examples: list[tuple[str, str]] = []
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if not stripped.startswith(">>>"):
            i += 1
            continue
        source = [stripped[3:].strip()]
        i += 1
        while i < len(lines) and lines[i].strip().startswith("..."):
            source.append(lines[i].strip()[3:].strip())
            i += 1
        output: list[str] = []
        while i < len(lines):
            text = lines[i].strip()
            if not text or text.startswith(">>>") or _DOCSTRING_END.match(lines[i]):
                break
            output.append(text)
            i += 1
        if output:
            examples.append((" ".join(source), " ".join(output)))
        else:
            examples.extend(_inline_examples([" ".join(source)], entry_point))
    return examples


_BULLET = re.compile(r"^(?:[*-]|for)\s+", re.IGNORECASE)
_FOR_NAME = re.compile(
    r"^for\s+(?P<name>\w+)\s*=\s*(?P<arg>.+?),?\s+the output should be\s+(?P<exp>.+)$", re.IGNORECASE
)


def _inline_examples(lines: list[str], entry_point: str) -> list[tuple[str, str]]:
    examples: list[tuple[str, str]] = []
    for raw in lines:
        text = _BULLET.sub("", raw.strip())
        if not text.startswith(f"{entry_point}("):
            continue
        for sep in _SEPARATORS:
            start = 0
            while (pos := text.find(sep, start)) != -1:
                call, expected = text[:pos].strip(), text[pos + len(sep) :].strip()
                if _literal_call(call, entry_point) is not None:
                    examples.append((call, expected))
                    break
                start = pos + 1
            else:
                continue
            break
    return examples


def _for_name_examples(prompt: str, entry_point: str) -> list[tuple[str, str]]:
    """`For lst = [1, 2] the output should be 3` for a one-parameter function `f(lst)`."""
    params = _parameters(prompt, entry_point)
    if params is None or len(params) != 1:
        return []
    examples = []
    for raw in prompt.splitlines():
        match = _FOR_NAME.match(raw.strip().lstrip("\"'"))
        if match and match["name"] == params[0]:
            examples.append((f"{entry_point}({match['arg']})", match["exp"]))
    return examples


def _parameters(prompt: str, entry_point: str) -> list[str] | None:
    """Parameter names of `entry_point` as declared in the prompt (prompts end inside the def)."""
    try:
        module = ast.parse(prompt + "\n    pass\n")
    except SyntaxError:
        return None
    for node in ast.walk(module):
        if isinstance(node, ast.FunctionDef) and node.name == entry_point:
            return [a.arg for a in node.args.args]
    return None


def _literal_call(source: str, entry_point: str) -> ast.Call | None:
    """The parsed call if `source` is exactly `entry_point(<literals>)`, else None."""
    try:
        node = ast.parse(source, mode="eval").body
    except SyntaxError:
        return None
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == entry_point):
        return None
    try:
        for arg in [*node.args, *(kw.value for kw in node.keywords)]:
            ast.literal_eval(arg)
    except ValueError:
        return None
    if any(kw.arg is None for kw in node.keywords):
        return None
    return node


def _expected_value(text: str) -> object:
    """The literal on the right-hand side, or raise ValueError."""
    cleaned = text.strip().rstrip(".").strip()
    if " #" in cleaned:
        cleaned = cleaned.split(" #", 1)[0].strip()
    cleaned = {"true": "True", "false": "False", "none": "None"}.get(cleaned, cleaned)
    try:
        return ast.literal_eval(cleaned)
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
        raise ValueError(text) from None


def _assertion(call: str, expected: str, entry_point: str) -> str | None:
    node = _literal_call(call, entry_point)
    if node is None:
        return None
    try:
        value = _expected_value(expected)
    except ValueError:
        return None
    rendered = ast.unparse(node)
    if isinstance(value, float):
        return f"assert abs({rendered} - {value!r}) < 1e-6"
    return f"assert {rendered} == {value!r}"
