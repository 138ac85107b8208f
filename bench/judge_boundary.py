"""The judge before and after a change of the sandbox, in one run; and the cost of a reference call.

.venv/bin/python bench/judge_boundary.py [--before REV] [--rounds 3] [--workers 2] [--limit N]
                                         [--runtime runc] [--json OUT]

1. Throughput: the canonical HumanEval solutions through a pooled judge on the sandbox image built
   from `REV`'s sandbox/ tree (default: the merge base with main) and on the current tree's image,
   rounds alternating which goes first, each judge started and warmed before its clock starts.
   ratio = median(after) / median(before): both sides see the same moment's load.
2. Latency of one judgement (problem 0) on each image, interleaved, p50.
3. A method call on a candidate object, timed inside the tests (`perf_counter` around each of 500
   calls of `c.inc()`), beside a plain call of a submission function in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import docker

from app.benchmark.datasets import humaneval_path, read_jsonl
from app.benchmark.judge_bench import submissions
from app.judge import DockerJudge, JudgeConfig, ensure_sandbox_image
from app.judge.image import IMAGE_REPO, sandbox_tree_digest
from app.reflexion.models import Submission
from app.settings import Settings

ROOT = Path(__file__).resolve().parents[1]

CALLS = (
    "class Counter:\n    def __init__(self):\n        self.value = 0\n"
    "    def inc(self):\n        self.value += 1\n        return self.value\n"
    "def plain(x):\n    return x + 1\n"
)
TIMING_TESTS = (
    "import time\n"
    "def check(candidate):\n"
    "    c = Counter()\n"
    "    method, function = [], []\n"
    "    for i in range(500):\n"
    "        t = time.perf_counter()\n"
    "        c.inc()\n"
    "        method.append(time.perf_counter() - t)\n"
    "        t = time.perf_counter()\n"
    "        plain(i)\n"
    "        function.append(time.perf_counter() - t)\n"
    "    method.sort()\n"
    "    function.sort()\n"
    "    print(method[250] * 1000, method[495] * 1000, function[250] * 1000, function[495] * 1000)\n"
    "    assert c.value == 500\n"
)


def before_image(rev: str) -> str:
    """Build (once: the tag is content-addressed) the sandbox image of `rev`'s sandbox/ tree."""
    base = Settings().judge_base_image
    client = docker.from_env(timeout=300)
    with tempfile.TemporaryDirectory(prefix="rfx-before-") as tmp:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", "--format=tar", rev, "sandbox"],
            capture_output=True,
            check=True,
        ).stdout
        tar_path = Path(tmp) / "tree.tar"
        tar_path.write_bytes(archive)
        with tarfile.open(tar_path) as tar:
            tar.extractall(tmp, filter="data")
        tree = Path(tmp) / "sandbox"
        base_id = client.images.get(base).id
        digest = hashlib.sha256(f"{sandbox_tree_digest(tree)}\n{base_id}".encode()).hexdigest()
        tag = f"{IMAGE_REPO}:{digest[:16]}"
        try:
            client.images.get(tag)
        except docker.errors.ImageNotFound:
            client.images.build(path=str(tree), tag=tag, buildargs={"BASE_IMAGE": base}, rm=True, pull=False)
    client.close()
    return tag


async def started(image: str, runtime: str, workers: int) -> DockerJudge:
    config = JudgeConfig.model_validate(
        {"mode": "pooled", "runtime": runtime, "workers": workers, "image": image}
    )
    judge = DockerJudge(config)
    await judge.start()
    return judge


async def throughput(image: str, runtime: str, workers: int, subs: list[Submission]) -> tuple[float, int]:
    judge = await started(image, runtime, workers)
    try:
        await asyncio.gather(*(judge.judge(s) for s in subs[: 2 * workers]))  # warm every container
        began = time.perf_counter()
        verdicts = await asyncio.gather(*(judge.judge(s) for s in subs))
        return time.perf_counter() - began, sum(v.passed for v in verdicts)
    finally:
        await judge.aclose()


async def latencies(images: list[str], runtime: str, sub: Submission, samples: int) -> dict[str, list[float]]:
    judges = {image: await started(image, runtime, 1) for image in images}
    times: dict[str, list[float]] = {image: [] for image in images}
    try:
        for judge in judges.values():
            await judge.judge(sub)
        for _ in range(samples):
            for image, judge in judges.items():
                began = time.perf_counter()
                await judge.judge(sub)
                times[image].append((time.perf_counter() - began) * 1000)
    finally:
        for judge in judges.values():
            await judge.aclose()
    return times


async def reference_calls(image: str, runtime: str, runs: int) -> list[list[float]]:
    judge = await started(image, runtime, 1)
    rows = []
    try:
        for _ in range(runs):
            verdict = await judge.judge(Submission(code=CALLS, tests=TIMING_TESTS, entry_point="plain"))
            if verdict.status != "passed":
                raise SystemExit(f"the timing run did not pass: {verdict.status} {verdict.detail}")
            rows.append([float(x) for x in verdict.stdout.split()])
    finally:
        await judge.aclose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--runtime", default="runc")
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    rev = (
        args.before
        or subprocess.run(
            ["git", "-C", str(ROOT), "merge-base", "HEAD", "main"], capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    before, after = before_image(rev), ensure_sandbox_image()
    problems = list(read_jsonl(humaneval_path()))[: args.limit]
    subs = submissions(problems)
    print(f"before {before} ({rev[:10]}), after {after}; {len(subs)} problems, {args.workers} workers")
    seconds: dict[str, list[float]] = {before: [], after: []}
    for round_ in range(args.rounds):
        for image in (before, after) if round_ % 2 == 0 else (after, before):
            elapsed, passed = asyncio.run(throughput(image, args.runtime, args.workers, subs))
            seconds[image].append(elapsed)
            side = "after " if image == after else "before"
            print(f"round {round_ + 1} {side}: {elapsed:.2f} s, {passed}/{len(subs)}")
    ratio = statistics.median(seconds[after]) / statistics.median(seconds[before])
    print(f"throughput after / before (medians): {ratio:.3f}")
    lat = asyncio.run(latencies([before, after], args.runtime, subs[0], args.samples))
    lat_p50 = {image: statistics.median(values) for image, values in lat.items()}
    print(f"single judgement p50: before {lat_p50[before]:.1f} ms, after {lat_p50[after]:.1f} ms")
    rows = asyncio.run(reference_calls(after, args.runtime, 5))
    method_p50 = statistics.median(r[0] for r in rows)
    function_p50 = statistics.median(r[2] for r in rows)
    print(
        f"method call on a candidate object: p50 {method_p50:.3f} ms (p99 of runs "
        f"{max(r[1] for r in rows):.3f}); plain function call p50 {function_p50:.3f} ms"
    )
    report: dict[str, Any] = {
        "before": {"rev": rev, "image": before, "seconds": seconds[before], "latency_ms": lat[before]},
        "after": {"image": after, "seconds": seconds[after], "latency_ms": lat[after]},
        "ratio": ratio,
        "method_call_ms": rows,
        "runtime": args.runtime,
        "workers": args.workers,
        "problems": len(subs),
    }
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
