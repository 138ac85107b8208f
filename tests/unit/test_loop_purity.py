"""The domain stays pure: nothing under app/reflexion/ imports an I/O library or an adapter package.

This is what lets the loop be unit-tested on in-memory fakes and reused by the CLI, the worker and the
benchmark alike; an import of redis or openai here would quietly tie the domain to one adapter.
"""

from __future__ import annotations

import ast
from pathlib import Path

import app.reflexion

FORBIDDEN = {
    "redis",
    "docker",
    "openai",
    "fastapi",
    "httpx",
    "starlette",
    "uvicorn",
    "jinja2",
    "requests",
    "aiohttp",
    "subprocess",
    "socket",
    "app.llm",
    "app.judge",
    "app.memory",
    "app.api",
    "app.queue",
}


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_reflexion_package_imports_no_io_library() -> None:
    package = Path(app.reflexion.__file__).parent
    offenders = {
        f"{path.name}: {name}"
        for path in sorted(package.glob("*.py"))
        for name in imported_modules(path)
        if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN)
    }
    assert offenders == set()


def test_the_check_sees_imports() -> None:
    sample = Path(__file__)
    assert {"ast", "pathlib", "app.reflexion"} <= imported_modules(sample)
