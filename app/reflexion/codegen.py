"""Pull runnable code out of a model's reply, and make it a complete module for the judge.

Models answer in many shapes: one fenced block, several (a first try and a fix, the function and a
usage example), prose around unfenced code, a bare function body in HumanEval completion style, or
nothing usable at all. A wrong guess here is scored as a wrong answer, so the rules are explicit:

* reasoning in `<think>...</think>` is dropped; fenced blocks tagged python/py/untagged are the
  candidates; without fences, runs of lines that look like code are;
* the *last* candidate that defines `entry_point` (a `def` or a `class`) wins (a fix follows the
  code it fixes); helper functions it calls from other blocks are brought along; example calls,
  prints, top-level asserts and `if __name__ == "__main__"` are dropped so they cannot fail or hang
  the judged run;
* an indented body with no `def` is attached under the prompt's own signature;
* imports the prompt has, and well-known ones the code plainly uses (`List`, `math`, `Counter`...),
  are added when missing;
* `None` means the reply holds no code.

Pure: no I/O, standard library only.
"""

from __future__ import annotations

import ast
import builtins
import re
import textwrap
from collections.abc import Iterable

_FENCE = re.compile(r"^([ \t]*)(`{3,}|~{3,})[ \t]*([^\s`]*)")
_PY_LANGS = frozenset({"", "python", "py", "python3", "py3"})
_THINK = re.compile(r"<think>.*?(</think>|\Z)", re.DOTALL | re.IGNORECASE)
_CODE_START = re.compile(
    r"^\s*(?:(?:async\s+)?def\s+\w+\s*\(|class\s+\w+|import\s+\w|from\s+[\w.]+\s+import\s|@\w)"
)
_KEYWORD_START = re.compile(
    r"^(?:return|if|elif|else|for|while|try|except|finally|with|raise|yield|assert|pass|break|continue|"
    r"del|global|nonlocal|lambda|import|from|def|class|async)(?:\b|$)"
)
_ASSIGN_OR_CALL = re.compile(
    r"^[A-Za-z_][\w.\[\]'\", ]*\s*(?:[-+*/%&|^@]|//|\*\*|>>|<<)?=(?!=)|^[A-Za-z_][\w.]*\("
)
_BUILTINS = frozenset(dir(builtins))

_TYPING_NAMES = frozenset(
    {
        "Any",
        "Callable",
        "Dict",
        "FrozenSet",
        "Generator",
        "Iterable",
        "Iterator",
        "List",
        "Literal",
        "Mapping",
        "Optional",
        "Sequence",
        "Set",
        "Tuple",
        "Type",
        "TypeVar",
        "Union",
    }
)
_FROM_IMPORTS: dict[str, str] = {
    **{n: "collections" for n in ("Counter", "OrderedDict", "defaultdict", "deque", "namedtuple")},
    **{n: "functools" for n in ("cache", "cmp_to_key", "lru_cache", "reduce")},
    **{n: "itertools" for n in ("accumulate", "chain", "combinations", "groupby", "permutations", "product")},
    **{n: "math" for n in ("ceil", "factorial", "floor", "gcd", "isqrt", "sqrt")},
    **{n: "heapq" for n in ("heapify", "heappop", "heappush")},
    **{n: "bisect" for n in ("bisect_left", "bisect_right")},
}
_MODULES = frozenset(
    {
        "bisect",
        "collections",
        "copy",
        "datetime",
        "decimal",
        "fractions",
        "functools",
        "hashlib",
        "heapq",
        "itertools",
        "json",
        "math",
        "operator",
        "random",
        "re",
        "statistics",
        "string",
        "sys",
        "typing",
    }
)


# -- public API ------------------------------------------------------------------------------------


def extract_code(reply: str, entry_point: str, prompt: str = "") -> str | None:
    """The code to judge for `entry_point`, or None when the reply holds no code."""
    blocks = _candidate_blocks(reply)
    if not blocks:
        return None
    defining = [b for b in blocks if _defines(b, entry_point)]
    if defining:
        chosen = defining[-1]
        others = [b for b in blocks if b is not chosen]
        code = _with_helpers(_sanitize(_dedent(chosen).strip("\n")), others)
    else:
        body = next((b for b in blocks if _is_body(b)), None)
        if body is not None and _defines(prompt, entry_point):
            code = _attach_body(prompt, entry_point, body)
        elif body is not None:  # a body with no signature to attach it to: let the judge say so
            code = _dedent(body).strip("\n")
        else:  # code for something else (a misnamed function?): the first block that compiles
            runnable = (_sanitize(_dedent(b).strip("\n")) for b in blocks if _parse(_dedent(b)) is not None)
            code = next((c for c in runnable if c.strip()), "")
    if not code.strip():
        return None
    return _add_missing_imports(code, prompt)


def complete_solution(prompt: str, code: str, entry_point: str) -> str:
    """A full module: the prompt's imports and helpers (unless the code has its own), then the code."""
    prompt_tree = _parse(prompt)
    code_tree = _parse(code)
    defined = _top_level_names(code_tree) if code_tree is not None else set()
    parts = _missing_prompt_imports(prompt, prompt_tree, code, code_tree)
    if prompt_tree is not None:
        for node in prompt_tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)) or _is_docstring(node):
                continue
            names = _bound_by(node)
            if entry_point in names or (names and names <= defined) or not names:
                continue
            parts.append(_segment(prompt, node))
    parts.append(code.strip("\n"))
    return "\n\n".join(p for p in parts if p.strip()) + "\n"


def extract_test_asserts(reply: str, limit: int = 50) -> list[str]:
    """`assert` statements the model wrote (its own tests), one line each, in order, no duplicates."""
    found: list[str] = []
    for block in _candidate_blocks(reply, keep_asserts_only=True):
        source = _dedent(block)
        tree = _parse(source)
        if tree is not None:
            found.extend(ast.unparse(n) for n in _module_level_asserts(tree.body))
            continue
        for line in source.splitlines():
            stripped = line.strip()
            if stripped.startswith("assert ") and _parse(stripped) is not None:
                found.append(ast.unparse(ast.parse(stripped).body[0]))
    unique = list(dict.fromkeys(found))
    return unique[:limit]


def program_key(code: str) -> str:
    """What makes two programs the same: the `ast.dump` of the module with docstrings removed.

    Formatting, comments and docstrings do not count, so a retry that only rewords them is the same
    program (and is not judged again). Code that does not parse is compared by its stripped text.
    """
    tree = _parse(code)
    if tree is None:
        return code.strip()
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        if node.body and _is_docstring(node.body[0]):
            node.body = node.body[1:] or [ast.Pass()]
    return ast.dump(tree)


# -- finding candidate blocks ------------------------------------------------------------------------


def _candidate_blocks(reply: str, *, keep_asserts_only: bool = False) -> list[str]:
    """Fenced python blocks; if there are none, code-looking runs of the text outside fences."""
    text = _THINK.sub("", reply.replace("\r\n", "\n"))
    fenced, outside = _split_fences(text)
    blocks = [b for lang, b in fenced if lang in _PY_LANGS and b.strip()]
    if keep_asserts_only:
        return [*blocks, outside]
    code_blocks = [b for b in blocks if _looks_like_code(b)]
    if code_blocks:
        return code_blocks
    return [b for b in _unfenced_segments(outside) if b.strip()]


def _looks_like_code(block: str) -> bool:
    """Not prose or program output that happens to sit in a fence."""
    if any(_CODE_START.match(line) for line in block.split("\n")) or _is_body(block):
        return True
    tree = _parse(_dedent(block))
    return tree is not None and any(
        not (isinstance(n, ast.Expr) and isinstance(n.value, (ast.Name, ast.Constant))) for n in tree.body
    )


def _split_fences(text: str) -> tuple[list[tuple[str, str]], str]:
    """(language, content) of every fenced block, and the text outside all fences.

    A block left open at the end (a reply cut by max_tokens, or a stray closing fence taken for an
    opening one) keeps what arrived. Content is shifted left by the fence's own indentation, as
    Markdown does inside lists.
    """
    blocks: list[tuple[str, str]] = []
    outside: list[str] = []
    opened: tuple[str, str, int] | None = None
    lines: list[str] = []
    for line in text.split("\n"):
        if opened is None:
            match = _FENCE.match(line)
            if match:
                opened = (match.group(2), match.group(3).lower(), len(match.group(1).expandtabs()))
                lines = []
            else:
                outside.append(line)
            continue
        fence, lang, indent = opened
        stripped = line.strip()
        if stripped and set(stripped) == {fence[0]} and len(stripped) >= len(fence):
            blocks.append((lang, "\n".join(lines)))
            opened = None
            continue
        lines.append(_unindent(line, indent))
    if opened is not None:
        blocks.append((opened[1], "\n".join(lines)))
    return blocks, "\n".join(outside)


def _unindent(line: str, width: int) -> str:
    prefix = len(line) - len(line.lstrip(" "))
    return line[min(prefix, width) :]


def _unfenced_segments(text: str) -> list[str]:
    """Runs of code-looking lines in a reply without fences; prose lines end a run."""
    segments: list[list[str]] = []
    current: list[str] = []
    for line in text.split("\n"):
        if current and _continues_code(line):
            current.append(line)
            continue
        if current:
            segments.append(current)
            current = []
        if _starts_code(line):
            current = [line]
    if current:
        segments.append(current)
    return [_trim_to_parse("\n".join(seg).rstrip()) for seg in segments]


def _starts_code(line: str) -> bool:
    if _CODE_START.match(line):
        return True
    stripped = line.strip()
    if not stripped:
        return False
    if line[0].isspace():  # an indented body, HumanEval completion style
        return bool(_KEYWORD_START.match(stripped) or _ASSIGN_OR_CALL.match(stripped))
    return stripped.startswith("return ") or stripped == "return"


def _continues_code(line: str) -> bool:
    stripped = line.strip()
    if not stripped or line[0].isspace() or stripped[0] in ")]}#":
        return True
    return _starts_code(line) or bool(_KEYWORD_START.match(stripped) or _ASSIGN_OR_CALL.match(stripped))


def _trim_to_parse(segment: str) -> str:
    """Drop trailing lines (prose that looked like code) until the segment parses, if it ever does."""
    source = _dedent(segment)
    if _parse(source) is not None or _is_body(segment):
        return segment
    lines = segment.split("\n")
    for end in range(len(lines) - 1, 0, -1):
        candidate = "\n".join(lines[:end])
        if _parse(_dedent(candidate)) is not None:
            return candidate
    return segment


# -- shaping the chosen block ---------------------------------------------------------------------


def _defines(code: str, name: str) -> bool:
    """Whether `code` defines `name` as a function or as a class: an entry point may be either
    (a task that asks for `class Counter` is judged by tests that instantiate it)."""
    pattern = rf"^[ \t]*(?:(?:async\s+)?def\s+{re.escape(name)}\s*\(|class\s+{re.escape(name)}\s*[(:])"
    return re.search(pattern, code, re.MULTILINE) is not None


def _is_body(block: str) -> bool:
    """A function body without its `def` line: indented, or only valid inside a function."""
    first = next((line for line in block.split("\n") if line.strip()), "")
    if _CODE_START.match(first) and not first[:1].isspace():
        return False
    source = _dedent(block).strip("\n")
    wrapped = "def _rfx_body():\n" + textwrap.indent(source, "    ")
    if first[:1].isspace():
        return _compiles(wrapped)
    return not _compiles(source) and _compiles(wrapped)


def _attach_body(prompt: str, entry_point: str, body: str) -> str:
    """Prompt (signature and docstring) + the body, indented as the prompt's function body is."""
    indent = "    "
    lines = prompt.split("\n")
    for i, line in enumerate(lines):
        if re.match(rf"^[ \t]*(?:async\s+)?def\s+{re.escape(entry_point)}\s*\(", line):
            following = next((x for x in lines[i + 1 :] if x.strip()), "")
            width = len(following) - len(following.lstrip())
            base = len(line) - len(line.lstrip())
            if width > base:
                indent = following[:width]
            break
    return prompt.rstrip() + "\n" + textwrap.indent(_dedent(body).strip("\n"), indent) + "\n"


def _sanitize(code: str) -> str:
    """Keep imports, definitions and constants; drop example calls, prints, asserts, main blocks."""
    tree = _parse(code)
    if tree is None:
        return code
    own = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    kept = [n for n in tree.body if _keep(n, own)]
    if len(kept) == len(tree.body):
        return code
    return "\n\n".join(_segment(code, n) for n in kept)


def _keep(node: ast.stmt, own: set[str]) -> bool:
    if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return True
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        calls = {
            c.func.id for c in ast.walk(node) if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)
        }
        reads_stdin = "stdin" in ast.unparse(node)
        return not (calls & (own | {"input"}) or reads_stdin)  # a constant, not a demo run
    if isinstance(node, ast.Try):  # try: import x / except ImportError: ...
        return all(isinstance(s, (ast.Import, ast.ImportFrom, ast.Pass, ast.Assign)) for s in node.body)
    return False


def _with_helpers(code: str, others: Iterable[str]) -> str:
    """Bring definitions the code calls but does not define from the reply's other blocks."""
    tree = _parse(code)
    if tree is None:
        return code
    missing = _free_names(tree) - _top_level_names(tree)
    borrowed: list[str] = []
    for block in others:
        source = _dedent(block).strip("\n")
        other = _parse(source)
        if other is None:
            continue
        for node in other.body:
            names = _bound_by(node)
            if names & missing and isinstance(
                node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)
            ):
                borrowed.append(_segment(source, node))
                missing -= names
    return "\n\n".join([*borrowed, code]) if borrowed else code


# -- imports -----------------------------------------------------------------------------------------


def _add_missing_imports(code: str, prompt: str) -> str:
    tree = _parse(code)
    lines = _missing_prompt_imports(prompt, _parse(prompt), code, tree)
    if tree is not None:
        bound = _all_bound_names(tree) | {n for line in lines for n in _bound_by(ast.parse(line).body[0])}
        free = sorted(_free_names(tree) - bound)
        typing_names = [n for n in free if n in _TYPING_NAMES]
        if typing_names:
            lines.append(f"from typing import {', '.join(typing_names)}")
        by_module: dict[str, list[str]] = {}
        for name in free:
            if name in _FROM_IMPORTS:
                by_module.setdefault(_FROM_IMPORTS[name], []).append(name)
        for module, names in sorted(by_module.items()):
            lines.append(f"from {module} import {', '.join(names)}")
        lines.extend(f"import {name}" for name in free if name in _MODULES)
    if not lines:
        return code
    head, rest = _split_future(code)
    return head + "\n".join(lines) + "\n\n" + rest


def _missing_prompt_imports(
    prompt: str, prompt_tree: ast.Module | None, code: str, code_tree: ast.Module | None
) -> list[str]:
    if prompt_tree is not None:
        nodes = [n for n in prompt_tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        imports = [_segment(prompt, n) for n in nodes]
    else:
        imports = [line.strip() for line in prompt.split("\n") if re.match(r"^(import|from)\s+\w", line)]
        imports = [line for line in imports if _parse(line) is not None]
    imports = [line for line in imports if "__future__" not in line]
    if code_tree is None:
        present = {line.strip() for line in code.split("\n")}
        return [line for line in imports if line not in present]
    bound = _all_bound_names(code_tree)
    return [line for line in imports if not _bound_by(ast.parse(line).body[0]) <= bound]


def _split_future(code: str) -> tuple[str, str]:
    lines = code.split("\n")
    cut = 0
    for i, line in enumerate(lines):
        if line.startswith("from __future__ import"):
            cut = i + 1
    if not cut:
        return "", code
    return "\n".join(lines[:cut]) + "\n", "\n".join(lines[cut:])


# -- small AST helpers ---------------------------------------------------------------------------------


def _dedent(text: str) -> str:
    """Like textwrap.dedent, but whitespace-only lines keep what lies past the margin (docstrings)."""
    lines = text.split("\n")
    margins = [len(x) - len(x.lstrip(" \t")) for x in lines if x.strip()]
    width = min(margins, default=0)
    if width == 0:
        return text
    prefix = next(x[:width] for x in lines if x.strip())
    return "\n".join(x[width:] if x.startswith(prefix) else x.lstrip(" \t") for x in lines)


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        return None


def _compiles(source: str) -> bool:
    """Stricter than parsing: also rejects `return` outside a function (a body without its def)."""
    try:
        compile(source, "<reply>", "exec", dont_inherit=True)  # compiles only; nothing runs
    except (SyntaxError, ValueError):
        return False
    return True


def _segment(source: str, node: ast.stmt) -> str:
    start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    end = node.end_lineno or node.lineno
    return "\n".join(source.split("\n")[start - 1 : end])


def _is_docstring(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _bound_by(node: ast.stmt) -> set[str]:
    """Names a top-level statement binds."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, ast.Import):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    if isinstance(node, ast.ImportFrom):
        return {a.asname or a.name for a in node.names}
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return set()


def _top_level_names(tree: ast.Module) -> set[str]:
    return {name for node in tree.body for name in _bound_by(node)}


def _all_bound_names(tree: ast.Module) -> set[str]:
    """Every name bound anywhere (a superset of any scope's, which only ever suppresses an import)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= _bound_by(node)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            names.update(node.names)
    return names


def _free_names(tree: ast.Module) -> set[str]:
    """Names read somewhere and bound nowhere, builtins excluded."""
    loaded = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return loaded - _all_bound_names(tree) - _BUILTINS


def _module_level_asserts(body: list[ast.stmt]) -> list[ast.Assert]:
    found: list[ast.Assert] = []
    for node in body:
        if isinstance(node, ast.Assert):
            found.append(node)
        elif isinstance(node, ast.If) and "__main__" in ast.unparse(node.test):
            found.extend(_module_level_asserts(node.body))
    return found
