"""Data flows one way: settings -> config -> adapters -> wiring -> the API and the CLI, never back.

Every import in app/ (module level and inside functions alike) is read with `ast`, so a lazy import
that goes the wrong way is caught too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "app"


def module_name(path: Path) -> str:
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import (the rules below read absolute names)"
            base = node.module or ""
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


GRAPH = {module_name(p): imports_of(p) for p in APP.rglob("*.py")}


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def offenders(importer: str, imported: str) -> list[str]:
    return sorted(
        f"{mod} imports {target}"
        for mod, targets in GRAPH.items()
        if within(mod, importer)
        for target in targets
        if within(target, imported)
    )


RULES = [
    # the wiring serves the API and the CLI; it never reaches back into either
    ("app.wiring", "app.api"),
    ("app.wiring", "app.commands"),
    ("app.wiring", "app.cli"),
    ("app.wiring", "app.main"),
    # the API never imports the worker's process wiring (shared wiring lives in app.wiring)
    ("app.api", "app.queue.runner"),
    ("app.main", "app.queue.runner.open_judge"),
    # memory is below the queue: the queue owns its writes (app.queue.leases) and reads the store
    ("app.memory", "app.queue"),
    # settings are the root: they know the domain's records and nothing built from them
    ("app.settings", "app.judge"),
    ("app.settings", "app.llm"),
    ("app.settings", "app.memory"),
    ("app.settings", "app.queue"),
    # adapters get their configuration, they do not rebuild it from the environment
    ("app.judge.docker_judge", "app.settings"),
    ("app.judge.image", "app.settings"),
    ("app.judge.container", "app.settings"),
    # the Docker proxy is a stdlib-only process: no settings (pydantic) and no domain records
    ("app.deploy", "app.settings"),
    ("app.deploy", "app.reflexion"),
    # the domain depends on nothing outside itself
    ("app.reflexion", "app.api"),
    ("app.reflexion", "app.judge"),
    ("app.reflexion", "app.memory"),
    ("app.reflexion", "app.queue"),
    ("app.reflexion", "app.settings"),
    ("app.reflexion", "app.wiring"),
]


@pytest.mark.parametrize(("importer", "imported"), RULES, ids=[f"{a} !-> {b}" for a, b in RULES])
def test_no_import_goes_the_wrong_way(importer: str, imported: str) -> None:
    assert offenders(importer, imported) == []


def test_the_reader_sees_lazy_imports() -> None:
    """The rules above would pass vacuously if the reader missed imports inside functions."""
    assert "app.wiring.open_judge" in GRAPH["app.main"]  # imported inside build_services
    assert "app.queue.stats" not in GRAPH["app.api.metrics"]
    assert within("app.memory.stats", "app.memory") and "app.memory.stats" in GRAPH["app.api.metrics"]
