"""State left for the next run in the pool: run A plants it, run B (same container) must see none of it.

A pooled judge with one worker runs every submission in the same container, so this is the case
where a leak would show. Run A writes files in /tmp, /dev/shm, $HOME and the working directory,
daemonizes a process that holds a listening socket, sets environment variables, registers a module
and patches builtins, then proves (by printing) that all of it exists. Run B is the probe: it passes
only if neither its candidate process nor the harness can find any of it, and the test
checks with Docker that A and B really ran in the same container (pooled) or not (fresh).
"""

from __future__ import annotations

import docker

from app.reflexion.models import Submission
from tests.security.conftest import LIMITS, VariantJudge
from tests.security.host import HostGuard
from tests.security.probe import PROBE_CODE, PROBE_TESTS, probe_submission
from tests.security.programs import HOSTILE
from tests.security.test_hostile import describe, labelled_running, settled_containers

STATE = next(c for c in HOSTILE if c.id == "state_for_next_run")


async def test_state_is_gone_in_the_next_pooled_run(
    pooled_judge: VariantJudge, host_guard: HostGuard, docker_client: docker.DockerClient
) -> None:
    await check_state(pooled_judge, host_guard, docker_client)


async def test_state_is_gone_in_the_next_fresh_run(
    fresh_judge: VariantJudge, host_guard: HostGuard, docker_client: docker.DockerClient
) -> None:
    await check_state(fresh_judge, host_guard, docker_client)


async def check_state(
    variant_judge: VariantJudge, host_guard: HostGuard, docker_client: docker.DockerClient
) -> None:
    for round_ in range(2):  # twice: the cleanup after a cleanup must work too
        before = labelled_running(docker_client, variant_judge)
        planted = await variant_judge.judge.judge(STATE.submission(host_guard.substitutions()), LIMITS)
        assert planted.status == "failed", describe(planted)
        assert "HX_STATE_PLANTED" in planted.stdout, f"round {round_}: A planted nothing: {describe(planted)}"

        follow = await variant_judge.judge.judge(probe_submission(), LIMITS)
        assert follow.status == "passed", f"round {round_}: {describe(follow)}"
        if variant_judge.mode == "pooled":
            after = labelled_running(docker_client, variant_judge)
            assert before == after and len(after) == 1, f"A, B ran in different containers: {before} {after}"
        else:
            after = await settled_containers(docker_client, variant_judge, 0)
            assert after == [], f"fresh mode kept containers: {after}"
    assert host_guard.problems() == []


async def test_the_probe_sees_leftovers(pooled_judge: VariantJudge) -> None:
    """The probe can fail: planted in its own run (file, env, module, patched builtin, process), each
    leftover is named in its failure message, from the candidate's side and the harness's side."""
    plant = """
import builtins, os, sys, time, types
open("/tmp/hx_planted", "w").close()
os.environ["HX_PLANTED"] = "1"
sys.modules["hx_planted"] = types.ModuleType("hx_planted")
_real_len = builtins.len
builtins.len = lambda o: _real_len(o)  # same answers, but no longer the builtin
if os.fork() == 0:
    os.execv("/bin/sleep", ["hx_planted_sleeper", "1000"])
time.sleep(0.3)
"""
    planted = Submission(code=PROBE_CODE + plant, tests=PROBE_TESTS, entry_point="probe")
    verdict = await pooled_judge.judge.judge(planted, LIMITS)
    assert verdict.status == "failed", describe(verdict)
    messages = " ".join(t.message for t in verdict.failing())
    for finding in (
        "file /tmp/hx_planted",
        "env HX_PLANTED",
        "module hx_planted",
        "builtin len",
        "hx_planted_sleeper",
    ):
        assert finding in messages, f"{finding!r} not reported: {messages[:1500]}"
    assert "the harness found" in messages  # the file and the process are visible from the harness too
    follow = await pooled_judge.judge.judge(probe_submission(), LIMITS)
    assert follow.status == "passed", describe(follow)
