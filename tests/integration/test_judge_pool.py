"""Pool behaviour on real containers: HumanEval, concurrency, cancellation, recycling, recovery, orphans."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import docker
import pytest

from app.benchmark.datasets import load_problems
from app.judge import DockerJudge, JudgeConfig
from app.judge.reaper import INSTANCE_LABEL, OWNER_LABEL
from app.reflexion.models import JudgeLimits, Submission
from tests.fixtures.judge import JudgeFactory
from tests.fixtures.services import TEST_LABEL, TEST_RUN_ID

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
SPIN = Submission(code="while True:\n    pass\n")
LONG = JudgeLimits(timeout_s=60)


def canonical() -> list[Submission]:
    tasks = load_problems()
    return [
        Submission(code=t.prompt + (t.canonical_solution or ""), tests=t.tests, entry_point=t.entry_point)
        for t in tasks
    ]


def running_ids(client: docker.DockerClient, judge: DockerJudge) -> set[str]:
    """Ids of the judge's containers (one list call: no per-container inspect to race removals)."""
    found = client.api.containers(all=True, filters={"label": f"{INSTANCE_LABEL}={judge.id}"})
    return {str(c["Id"]) for c in found}


async def test_all_humaneval_canonical_solutions_pass_in_the_pool(judge_factory: JudgeFactory) -> None:
    judge = await judge_factory(mode="pooled", runtime="runc")
    verdicts = await asyncio.gather(*(judge.judge(s) for s in canonical()))
    failing = {i: (v.status, v.detail, v.failing()[:1]) for i, v in enumerate(verdicts) if not v.passed}
    assert not failing
    assert all(v.tests and all(t.passed for t in v.tests) for v in verdicts)


@pytest.mark.parametrize(("mode", "runtime"), [("fresh", "runc"), ("pooled", "runsc"), ("fresh", "runsc")])
async def test_humaneval_canonical_sample_passes_in_other_kinds(
    judge_factory: JudgeFactory, mode: str, runtime: str
) -> None:
    judge = await judge_factory(mode=mode, runtime=runtime)
    sample = canonical()[::41]  # 4 problems spread over the set
    verdicts = await asyncio.gather(*(judge.judge(s) for s in sample))
    assert [v.status for v in verdicts] == ["passed"] * len(sample), [v.detail for v in verdicts]


async def test_fifty_concurrent_submissions_each_get_their_own_verdict(judge_factory: JudgeFactory) -> None:
    judge = await judge_factory(mode="pooled", runtime="runc")
    subs = [
        Submission(
            code=f"def f(x):\n    return x * {i}\n", asserts=[f"assert f(3) == {3 * i if i % 3 else -1}"]
        )
        for i in range(50)
    ]
    verdicts = await asyncio.gather(*(judge.judge(s) for s in subs))
    for i, verdict in enumerate(verdicts):
        if i % 3:
            assert verdict.status == "passed", (i, verdict)
        else:
            assert verdict.status == "failed"
            assert verdict.tests[0].message == f"f(3) returned {3 * i}, expected -1"


@pytest.mark.parametrize("mode", ["pooled", "fresh"])
async def test_cancelling_a_judgement_stops_it_and_its_container(
    judge_factory: JudgeFactory, docker_client: docker.DockerClient, mode: str
) -> None:
    judge = await judge_factory(mode=mode, runtime="runc", workers=1)
    before = running_ids(docker_client, judge)
    task = asyncio.create_task(judge.judge(SPIN, LONG))
    for _ in range(200):  # until the spinning run has its container
        await asyncio.sleep(0.05)
        during = running_ids(docker_client, judge) - before if mode == "fresh" else before
        if during:
            break
    serving = during
    assert serving
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not (running_ids(docker_client, judge) & serving)
    # the judge still works afterwards
    assert (await judge.judge(Submission(code="print(1)"))).status == "passed"


async def test_pool_survives_a_killed_container(
    judge_factory: JudgeFactory, docker_client: docker.DockerClient
) -> None:
    judge = await judge_factory(mode="pooled", runtime="runc", workers=1, recycle_after=1000)
    assert (await judge.judge(Submission(code="print(1)"))).status == "passed"
    (victim,) = running_ids(docker_client, judge)
    docker_client.containers.get(victim).kill()
    verdict = await judge.judge(Submission(code="print(2)"))
    assert verdict.status == "passed" and verdict.stdout == "2\n"
    assert victim not in running_ids(docker_client, judge)


async def test_pool_survives_a_container_killed_mid_run(
    judge_factory: JudgeFactory, docker_client: docker.DockerClient
) -> None:
    judge = await judge_factory(mode="pooled", runtime="runc", workers=1, recycle_after=999)
    await judge.judge(Submission(code="pass"))
    (victim,) = running_ids(docker_client, judge)
    task = asyncio.create_task(judge.judge(Submission(code="import time\ntime.sleep(1.5)\nprint('done')")))
    await asyncio.sleep(0.5)
    docker_client.containers.get(victim).kill()
    verdict = await task  # retried once on a new container
    assert verdict.status == "passed" and verdict.stdout == "done\n"


def process_environ(pid: int) -> list[bytes]:
    return Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")


async def gone(client: docker.DockerClient, judge: DockerJudge, ids: set[str]) -> bool:
    """Whether none of `ids` is listed any more (retired containers are removed in the background)."""
    for _ in range(100):
        if not (running_ids(client, judge) & ids):
            return True
        await asyncio.sleep(0.1)
    return False


async def test_containers_are_recycled_after_n_runs_make_before_break(
    judge_factory: JudgeFactory, docker_client: docker.DockerClient
) -> None:
    judge = await judge_factory(mode="pooled", runtime="runc", workers=1, recycle_after=2)
    await judge.judge(Submission(code="pass"))
    (old,) = judge.pool_names()
    first = running_ids(docker_client, judge)
    await judge.judge(Submission(code="pass"))  # the second run: its successor starts now
    # the next run does not wait for the successor's start: the old container serves it
    verdict = await judge.judge(Submission(code="print(3)"))
    assert verdict.stdout == "3\n" and judge.pool_names() == {old}
    await judge.ready()
    assert (await judge.judge(Submission(code="print(4)"))).stdout == "4\n"
    (new,) = judge.pool_names()
    assert new != old and await gone(docker_client, judge, first)


async def test_a_container_in_trouble_is_replaced_at_once(
    judge_factory: JudgeFactory, docker_client: docker.DockerClient
) -> None:
    judge = await judge_factory(mode="pooled", runtime="runc", workers=1, recycle_after=1000)
    await judge.judge(Submission(code="pass"))
    (old,) = judge.pool_names()
    first = running_ids(docker_client, judge)
    # the candidate kills its harness: the runner reports a crash, so the container is not trusted
    verdict = await judge.judge(Submission(code="import os\nos.kill(os.getppid(), 9)\n"))
    assert verdict.status == "error" and "harness" in verdict.detail
    assert judge.pool_names() == set()  # not reused, not even while its successor starts
    assert (await judge.judge(Submission(code="print(5)"))).stdout == "5\n"
    assert judge.pool_names() != {old} and await gone(docker_client, judge, first)


async def test_the_stdio_relay_runs_go_on_one_thread_and_the_container_does_not_see_it(
    judge_factory: JudgeFactory, docker_client: docker.DockerClient
) -> None:
    """The docker CLI relaying a pooled container's stdio gets GOMAXPROCS=1 (Go's idle threads
    otherwise spin on every wakeup, ~0.4 ms of CPU per judgement); the container's environment
    is the image's own, with nothing of the worker's."""
    judge = await judge_factory(mode="pooled", runtime="runc", workers=1, recycle_after=1000)
    assert (
        await judge.judge(Submission(code="import os\nprint(os.environ.get('GOMAXPROCS'))"))
    ).stdout == "None\n"
    (slot,) = judge._slots
    assert slot.container is not None and slot.container.proc is not None
    assert b"GOMAXPROCS=1" in process_environ(slot.container.proc.pid)
    (container_id,) = running_ids(docker_client, judge)
    env = docker_client.api.inspect_container(container_id)["Config"]["Env"]
    assert not any(v.startswith("GOMAXPROCS") for v in env), env


async def test_calls_beyond_the_pool_queue_up(
    judge_factory: JudgeFactory, docker_client: docker.DockerClient
) -> None:
    judge = await judge_factory(mode="pooled", runtime="runc", workers=1, recycle_after=1000)
    code = "import time\ntime.sleep(0.3)\nprint(open('/proc/self/stat').read().split()[0])"
    verdicts = await asyncio.gather(*(judge.judge(Submission(code=code)) for _ in range(4)))
    assert [v.status for v in verdicts] == ["passed"] * 4
    assert len(running_ids(docker_client, judge)) == 1


ORPHAN_SCRIPT = textwrap.dedent("""
    import asyncio, sys
    from app.judge import DockerJudge, JudgeConfig
    from app.reflexion.models import JudgeLimits, Submission

    async def main():
        judge = DockerJudge(JudgeConfig(mode=sys.argv[1], workers=2, image=sys.argv[2],
                                        labels={sys.argv[3]: sys.argv[4]}))
        await judge.start()
        spin = Submission(code="while True: pass")
        task = asyncio.create_task(judge.judge(spin, JudgeLimits(timeout_s=120)))
        await asyncio.sleep(1.0)
        print(judge.id, flush=True)
        await task

    asyncio.run(main())
""")


@pytest.mark.parametrize("mode", ["pooled", "fresh"])
async def test_a_killed_judge_leaves_no_container_once_a_judge_restarts(
    sandbox_image: str, docker_client: docker.DockerClient, tmp_path: Path, mode: str
) -> None:
    script = tmp_path / "judge_then_die.py"
    await asyncio.to_thread(script.write_text, ORPHAN_SCRIPT)
    command = [sys.executable, str(script), mode, sandbox_image, TEST_LABEL, TEST_RUN_ID]
    # a real, separate judge process to kill
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, cwd=REPO_ROOT)  # noqa: ASYNC220
    assert proc.stdout is not None
    dead_id = (await asyncio.to_thread(proc.stdout.readline)).decode().strip()
    assert dead_id
    owned = {"label": f"{INSTANCE_LABEL}={dead_id}"}
    assert docker_client.containers.list(all=True, filters=owned)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    survivor = DockerJudge(
        JudgeConfig(mode="pooled", workers=1, image=sandbox_image, labels={TEST_LABEL: TEST_RUN_ID})
    )
    try:
        await survivor.start()
        assert not docker_client.containers.list(all=True, filters=owned)
        # a live judge's containers are not orphans
        assert docker_client.containers.list(filters={"label": f"{INSTANCE_LABEL}={survivor.id}"})
    finally:
        await survivor.aclose()
    assert not docker_client.containers.list(all=True, filters={"label": f"{INSTANCE_LABEL}={survivor.id}"})
    owner_tokens = {c.labels.get(OWNER_LABEL) for c in docker_client.containers.list(all=True, filters=owned)}
    assert not owner_tokens


async def test_judge_contract_helpers(judge_factory: JudgeFactory) -> None:
    judge = await judge_factory(mode="pooled", runtime="runc")
    bad = await judge.judge(Submission(code="x = 1", tests="def check(c):\n    pass\n"))
    assert bad.status == "error" and bad.detail.startswith("invalid submission:")
    missing = await judge.judge(
        Submission(code="x = 1", tests="def check(c):\n    assert c(1)\n", entry_point="nope")
    )
    assert missing.status == "error" and "does not define nope" in json.dumps(missing.model_dump())


CANCEL_DELAYS_S = (0.0, 0.01, 0.03, *(round(0.05 * i, 2) for i in range(1, 25)))  # 0 .. 1.2 s


def container_names(client: docker.DockerClient, judge: DockerJudge) -> dict[str, str]:
    """Name -> state of every container (any state) carrying the judge's instance label."""
    found = client.api.containers(all=True, filters={"label": f"{INSTANCE_LABEL}={judge.id}"})
    return {str(c["Names"][0]).lstrip("/"): str(c["State"]) for c in found}


async def stray_containers(
    client: docker.DockerClient, judge: DockerJudge, rounds: int = 60
) -> dict[str, str]:
    """The judge's containers that are not its warm pool, once there are none, or after ~15 s."""
    stray: dict[str, str] = {}
    for _ in range(rounds):
        pool = judge.pool_names()
        stray = {n: s for n, s in container_names(client, judge).items() if n not in pool}
        if not stray:
            break
        await asyncio.sleep(0.25)
    return stray


@pytest.mark.parametrize("mode", ["pooled", "fresh"])
async def test_cancelling_while_the_container_starts_leaves_no_container(
    sandbox_image: str, docker_client: docker.DockerClient, mode: str
) -> None:
    """A call cancelled while `docker run` is still starting its container must not leak it."""
    for delay in CANCEL_DELAYS_S:
        # a fresh judge each time: in pooled mode the pool is not warm, so the call starts it
        judge = DockerJudge(
            JudgeConfig(
                mode=mode, runtime="runc", workers=2, image=sandbox_image, labels={TEST_LABEL: TEST_RUN_ID}
            )
        )
        try:
            if mode == "fresh":
                await judge.start()  # reaps and checks the image; fresh containers start per call
            task = asyncio.create_task(judge.judge(Submission(code="print(1)")))
            await asyncio.sleep(delay)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            assert not await stray_containers(docker_client, judge), delay
        finally:
            await judge.aclose()


async def test_a_result_for_another_request_is_never_taken(sandbox_image: str) -> None:
    """The runner echoes each request's random run id; an answer to any other request is refused.

    Here the other request is a stale one written straight to the runner's stdin ahead of the real
    one (what a frame "written ahead" by anyone but the host would look like): its answer arrives
    first, carries the wrong id, and must not become this run's result.
    """
    import shutil

    from app.judge.container import ContainerGone, SandboxContainer, request_bytes

    limits = JudgeLimits(timeout_s=5)
    container = SandboxContainer(
        docker=shutil.which("docker") or "docker",
        image=sandbox_image,
        name=f"rfx-test-nonce-{os.getpid()}",
        labels={TEST_LABEL: TEST_RUN_ID},
        limits=limits,
        runtime="runc",
        fresh=False,
    )
    await container.start(60)
    try:
        passing = Submission(code="def f():\n    return 1\n", asserts=["assert f() == 1"])
        assert (await container.run(passing, limits)).outcome == "ok"  # the honest path works
        assert container.proc is not None and container.proc.stdin is not None
        container.proc.stdin.write(request_bytes(passing, limits, "not-the-host-s-nonce"))
        await container.proc.stdin.drain()
        await asyncio.sleep(3)  # let the runner answer it: its result now waits, unread, on stdout
        failing = Submission(code="def f():\n    return 2\n", asserts=["assert f() == 1"])
        with pytest.raises(ContainerGone, match="another request"):
            await container.run(failing, limits)
    finally:
        await container.kill()


async def test_each_run_s_own_limits_reach_the_pre_forked_candidate(
    judge_factory: JudgeFactory, docker_client: docker.DockerClient
) -> None:
    """Pooled mode forks the next harness and candidate before the run's limits are known; the
    candidate must still apply each run's own limits (CPU seconds follow timeout_s, output cap)."""
    judge = await judge_factory(mode="pooled", runtime="runc", workers=1)
    show = Submission(code="import resource\nprint(resource.getrlimit(resource.RLIMIT_CPU))\n")
    first = await judge.judge(show, JudgeLimits(timeout_s=3))
    assert first.status == "passed" and first.stdout.strip() == "(4, 5)", first
    (container_id,) = running_ids(docker_client, judge)
    for _ in range(50):  # the pair forked ahead: runner + harness + candidate, waiting for a run
        if len(docker_client.api.top(container_id)["Processes"]) == 3:
            break
        await asyncio.sleep(0.1)
    assert len(docker_client.api.top(container_id)["Processes"]) == 3
    second = await judge.judge(show, JudgeLimits(timeout_s=7))
    assert second.status == "passed" and second.stdout.strip() == "(8, 9)", second
    loud = await judge.judge(Submission(code="print('x' * 5000)\n"), JudgeLimits(output_bytes=1024))
    assert loud.status == "output_limit", loud
    assert running_ids(docker_client, judge) == {container_id}  # the same warm container throughout


async def test_a_busy_pool_serves_the_oldest_episode_first(judge_factory: JudgeFactory) -> None:
    """One container, busy; three judgements wait. They run by their episode's age, not arrival."""
    judge = await judge_factory(
        mode="pooled", runtime="runc", workers=1, labels={"rfx.test.pool": "oldest-first"}
    )
    finished: list[float] = []

    async def judged(priority: float) -> None:
        accepted = datetime.fromtimestamp(priority, UTC)  # the episode's created_at, passed explicitly
        verdict = await judge.judge(
            Submission(code="def f():\n    return 1\n", asserts=["assert f() == 1"]), priority=accepted
        )
        assert verdict.passed, verdict
        finished.append(priority)

    blocker = asyncio.create_task(judge.judge(Submission(code="import time\ntime.sleep(1.0)\n")))
    await asyncio.sleep(0.3)  # the blocker holds the only container
    waiting = []
    for priority in (300.0, 100.0, 200.0):  # arrival order differs from age order
        waiting.append(asyncio.create_task(judged(priority)))
        await asyncio.sleep(0.05)
    await asyncio.gather(blocker, *waiting)
    assert finished == [100.0, 200.0, 300.0]
