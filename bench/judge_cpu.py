"""Where a pooled judgement's CPU goes on the whole host: N back-to-back judgements on one container.

Reads /proc before and after: this (judging) process, the docker CLI relaying the container's stdio,
dockerd, containerd and the shim, the sandbox runner (PID 1 of the container) and its reaped
children (each run's harness and candidate), and the host's busy time. Fewer runs than the pool's
recycle count, so no container start lands in the window. Reported per judgement, in ms.

    python bench/judge_cpu.py [--runs 150]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time

from procstat import host_cpu_s, proc_stat

from app.judge import DockerJudge, JudgeConfig, ensure_sandbox_image
from app.reflexion.models import Submission
from app.settings import Settings

SUBMISSION = Submission(
    code="def add(a, b):\n    return a - b\n",
    tests="def check(candidate):\n    assert candidate(1, 2) == 3\n",
    entry_point="add",
)


def reading(pid: int) -> list[float]:
    """[own CPU s, reaped children's CPU s, own minor faults, reaped children's minor faults]"""
    stat = proc_stat(pid)
    return [stat.cpu_s, stat.children_cpu_s, stat.minor_faults, stat.children_minor_faults]


def watched(runner: int) -> dict[int, str]:
    """The long-lived processes of this judge's path: the daemons, this process's docker CLI, the
    container's shim and its runner (other containers on the host are left out)."""
    out = {runner: "runner"}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = proc_stat(int(entry))
        except OSError:
            continue
        if stat.comm in ("dockerd", "containerd") or (stat.comm == "docker" and stat.ppid == os.getpid()):
            out[int(entry)] = stat.comm
    out[proc_stat(runner).ppid] = "containerd-shim"
    return out


async def runner_pid(container_id: str) -> int:
    proc = await asyncio.create_subprocess_exec(
        "docker", "inspect", "-f", "{{.State.Pid}}", container_id, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    return int(out)


async def measure(runs: int, image: str) -> dict[str, float]:
    config = JudgeConfig.model_validate({"mode": "pooled", "runtime": "runc", "workers": 1, "image": image})
    async with DockerJudge(config) as judge:
        for _ in range(20):  # warm-up: the container, the connections, the code paths
            await judge.judge(SUBMISSION)
        await asyncio.sleep(1)
        (container,) = await judge.container_ids()
        procs = watched(await runner_pid(container))
        before = {pid: reading(pid) for pid in procs}
        me, busy, wall = proc_stat(os.getpid()).cpu_s, host_cpu_s()[0], time.perf_counter()
        for _ in range(runs):
            await judge.judge(SUBMISSION)
        wall, busy = time.perf_counter() - wall, host_cpu_s()[0] - busy
        me = proc_stat(os.getpid()).cpu_s - me
        delta = {pid: [a - b for a, b in zip(reading(pid), before[pid], strict=True)] for pid in procs}
    per = 1000 / runs
    (runner,) = [v for pid, v in delta.items() if procs[pid] == "runner"]
    return {
        "runs": runs,
        "wall_ms": round(wall * per, 2),
        "host_busy_ms": round(busy * per, 2),
        "judging_process_ms": round(me * per, 2),
        "docker_relay_ms": round(sum(v[0] for pid, v in delta.items() if procs[pid] != "runner") * per, 2),
        "runner_ms": round(runner[0] * per, 2),
        "harness_and_candidate_ms": round(runner[1] * per, 2),
        "runner_page_faults": round(runner[2] / runs),
        "harness_and_candidate_page_faults": round(runner[3] / runs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=150, choices=range(10, 181), metavar="10..180")
    args = parser.parse_args()
    settings = Settings()
    image = ensure_sandbox_image(settings.judge_image, settings.judge_base_image)
    print(json.dumps(asyncio.run(measure(args.runs, image)), indent=2))


if __name__ == "__main__":
    main()
