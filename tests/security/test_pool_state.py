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

from tests.security.conftest import LIMITS, VariantJudge
from tests.security.host import HostGuard
from tests.security.probe import probe_submission
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
