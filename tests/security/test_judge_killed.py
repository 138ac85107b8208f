"""A judge process SIGKILLed in the middle of a judgement leaves no container once a judge restarts.

A child Python process starts a pooled judge with this test's unique label and begins judging a
program that sleeps far longer than the test lasts. Once its container is running, the child is
killed with SIGKILL (no cleanup code runs). A new judge with the same labels then starts: its
start-up reaps the orphans, so the killed judge's containers are gone, and after it closes nothing
with the label remains. The docker CLI processes the child had started must not linger either.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import docker
import pytest

from app.reflexion.models import JudgeLimits, Submission

CHILD = r"""
import asyncio, json, sys
from app.judge import DockerJudge, JudgeConfig
from app.reflexion.models import JudgeLimits, Submission

async def main():
    args = json.loads(sys.argv[1])
    limits = JudgeLimits(timeout_s=120)
    judge = DockerJudge(JudgeConfig(mode="pooled", runtime=args["runtime"], workers=1,
                                    image=args["image"], labels=args["labels"], limits=limits))
    await judge.start()
    print("JUDGING", flush=True)
    await judge.judge(Submission(code="import time\ntime.sleep(1000)\n"), limits)
    print("FINISHED", flush=True)

asyncio.run(main())
"""

REPO_ROOT = Path(__file__).resolve().parents[2]
GOOD = Submission(
    code="def f(x):\n    return x\n", tests="def check(c):\n    assert c(1) == 1\n", entry_point="f"
)


async def wait_for(predicate: Callable[[], bool], what: str, deadline_s: float = 60.0) -> None:
    """Poll until `predicate()` holds; the deadline only turns a hang into a failure (no timing check)."""
    end = time.monotonic() + deadline_s
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.1)


def host_pids_mentioning(needle: str) -> list[int]:
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if needle.encode() in cmdline:
            pids.append(int(pid))
    return pids


@pytest.mark.parametrize(
    ("runtime", "freeze_cli"),
    [("runc", True), ("runsc", True), ("runc", False)],
    ids=["runc-cli-frozen", "runsc-cli-frozen", "runc-cli-alive"],
)
async def test_killed_judge_leaves_no_container_after_restart(
    runtime: str,
    freeze_cli: bool,
    test_labels: dict[str, str],
    docker_client: docker.DockerClient,
    sandbox_image: str,
) -> None:
    """With `freeze_cli` the killed judge's docker CLI is stopped first, so it cannot end the container
    by closing its stdin: the orphan then certainly outlives its judge and only the reaper removes it."""
    from app.judge import DockerJudge, JudgeConfig

    marker = f"killed-{uuid.uuid4().hex[:8]}"
    labels = {**test_labels, "rfx.security-killed": marker}
    selector: dict[str, str | list[str] | bool] = {"label": f"rfx.security-killed={marker}"}
    args = json.dumps({"runtime": runtime, "image": sandbox_image, "labels": labels})
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=REPO_ROOT,
    )
    try:
        assert child.stdout is not None and child.stderr is not None
        line = await asyncio.wait_for(child.stdout.readline(), 120)
        if line.strip() != b"JUDGING":
            raise AssertionError(f"child did not start: {line!r} {(await child.stderr.read())[-2000:]!r}")
        await wait_for(lambda: bool(docker_client.containers.list(filters=selector)), "the judge's container")
        before = {str(c.id) for c in docker_client.containers.list(all=True, filters=selector)}
        assert before
        frozen = [p for p in host_pids_mentioning(marker) if p != child.pid] if freeze_cli else []
        for pid in frozen:  # the child's own docker CLI processes
            os.kill(pid, signal.SIGSTOP)
    finally:
        child.send_signal(signal.SIGKILL)
        await child.wait()
    assert child.returncode == -signal.SIGKILL
    if freeze_cli:
        assert frozen, "found no docker CLI process of the killed judge"
        orphans = {str(c.id) for c in docker_client.containers.list(all=True, filters=selector)}
        assert orphans == before, "the orphaned container should still exist before any judge restarts"

    # Nothing cleaned up after the kill; a judge with the same labels starting up must reap.
    judge = DockerJudge(
        JudgeConfig(
            mode="pooled",
            runtime=runtime,
            workers=1,
            image=sandbox_image,
            labels=labels,
            limits=JudgeLimits(timeout_s=5),
        )
    )
    await judge.start()
    try:
        remaining = {str(c.id) for c in docker_client.containers.list(all=True, filters=selector)}
        survivors = before & remaining
        assert not survivors, f"containers of the killed judge survived a restart: {survivors}"
        if freeze_cli:
            assert {r[:12] for r in judge.reaped} >= {b[:12] for b in before}, judge.reaped
        verdict = await judge.judge(GOOD)
        assert verdict.status == "passed", verdict
    finally:
        await judge.aclose()
    assert docker_client.containers.list(all=True, filters=selector) == []

    # The killed judge's docker CLI processes end once their containers are gone.
    for pid in frozen:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
    try:
        await wait_for(lambda: not host_pids_mentioning(marker), "the killed judge's docker CLI to exit", 30)
    finally:
        for pid in host_pids_mentioning(marker):  # only processes our own child started
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
