"""Every hostile program gets exactly its documented verdict, the host is untouched, and the very next
judgement on the same judge (a probe that checks for leftovers) is still correct.

The verdict table these statuses come from is the docstring of app/judge/verdicts.py.
"""

from __future__ import annotations

import asyncio
import time

import docker
import pytest

from app.reflexion.models import Verdict
from tests.security.conftest import LIMITS, SHORT, VARIANT_LABEL, Durations, VariantJudge
from tests.security.host import HostGuard
from tests.security.probe import probe_submission
from tests.security.programs import FRESH, HOSTILE, Hostile

FRESH_CASES = [case for case in HOSTILE if case.id in FRESH]


def describe(verdict: Verdict) -> str:
    """Enough of a verdict to see why an assertion failed."""
    failing = "; ".join(f"{t.name}: {t.message[:300]}" for t in verdict.failing())
    return (
        f"status={verdict.status} detail={verdict.detail[:500]!r} failing=[{failing}] "
        f"stdout={verdict.stdout[:300]!r} stderr={verdict.stderr[-500:]!r}"
    )


def labelled_running(client: docker.DockerClient, judge: VariantJudge) -> list[str]:
    containers = client.containers.list(filters={"label": f"{VARIANT_LABEL}={judge.labels[VARIANT_LABEL]}"})
    return [str(c.name) for c in containers]


async def settled_containers(client: docker.DockerClient, judge: VariantJudge, allowed: int) -> list[str]:
    """The judge's running containers once at most `allowed` remain, or whatever is left after 30 s
    (a deadline that turns a leak into a failure, not a timing assertion)."""
    end = time.monotonic() + 30
    while True:
        running = labelled_running(client, judge)
        if len(running) <= allowed or time.monotonic() > end:
            return running
        await asyncio.sleep(0.1)


async def judge_probe(judge: VariantJudge) -> tuple[Verdict, float]:
    start = time.perf_counter()
    verdict = await judge.judge.judge(probe_submission(), LIMITS)
    return verdict, (time.perf_counter() - start) * 1000


async def test_probe_passes_on_a_clean_pooled_judge(pooled_judge: VariantJudge, durations: Durations) -> None:
    await check_probe_baseline(pooled_judge, durations)


async def test_probe_passes_on_a_clean_fresh_judge(fresh_judge: VariantJudge, durations: Durations) -> None:
    await check_probe_baseline(fresh_judge, durations)


async def check_probe_baseline(variant_judge: VariantJudge, durations: Durations) -> None:
    """The probe is a correct solution: it must pass before anything hostile ran (baseline)."""
    for _ in range(3):
        verdict, ms = await judge_probe(variant_judge)
        assert verdict.status == "passed", describe(verdict)
        assert verdict.tests and all(t.passed for t in verdict.tests)
        durations.baseline.setdefault(variant_judge.id, []).append(ms)


@pytest.mark.parametrize("case", HOSTILE, ids=[c.id for c in HOSTILE])
async def test_hostile_program_pooled(
    case: Hostile,
    pooled_judge: VariantJudge,
    host_guard: HostGuard,
    docker_client: docker.DockerClient,
    durations: Durations,
) -> None:
    await check_hostile(case, pooled_judge, host_guard, docker_client, durations)


@pytest.mark.parametrize("case", FRESH_CASES, ids=[c.id for c in FRESH_CASES])
async def test_hostile_program_fresh(
    case: Hostile,
    fresh_judge: VariantJudge,
    host_guard: HostGuard,
    docker_client: docker.DockerClient,
    durations: Durations,
) -> None:
    """A subset on the fresh judges: a fresh container per run costs 1-3 s here, and nothing can
    linger between fresh runs anyway; it still covers every kind of hostile behaviour in the issue."""
    await check_hostile(case, fresh_judge, host_guard, docker_client, durations)


async def check_hostile(
    case: Hostile,
    variant_judge: VariantJudge,
    host_guard: HostGuard,
    docker_client: docker.DockerClient,
    durations: Durations,
) -> None:
    expected = case.expected_for(variant_judge.runtime)
    assert expected != "passed"
    start = time.perf_counter()
    limits = SHORT if expected == "timeout" else LIMITS
    verdict = await variant_judge.judge.judge(case.submission(host_guard.substitutions()), limits)
    durations.hostile.setdefault(variant_judge.id, []).append((case.id, (time.perf_counter() - start) * 1000))

    # 1. exactly the documented status
    assert verdict.status == expected, describe(verdict)
    # 2. nothing the sandbox must not reach shows up in what the judge returns
    returned = verdict.model_dump_json()
    for secret in host_guard.secrets():
        assert secret not in returned, "a host secret reached the sandbox"
    assert "HX_ESCAPED" not in returned, describe(verdict)
    if variant_judge.runtime not in case.leak_ok_on:
        assert "HX_LEAK" not in returned, describe(verdict)
    for needle in case.stdout_has:
        assert needle in verdict.stdout, f"{needle!r} missing: {describe(verdict)}"

    # 3. the next judgement on the same judge is correct, and sees no leftovers
    follow, ms = await judge_probe(variant_judge)
    durations.after.setdefault(variant_judge.id, []).append(ms)
    assert follow.status == "passed", f"after {case.id}: {describe(follow)}"
    assert follow.tests and all(t.passed for t in follow.tests)

    # 4. the host is unaffected
    assert host_guard.problems() == []
    # Containers: fresh ones go away (removal may finish just after the verdict), a pool of one
    # settles back to one container (a retired one may still be being removed).
    allowed = 0 if variant_judge.mode == "fresh" else 1
    running = await settled_containers(docker_client, variant_judge, allowed)
    assert len(running) <= allowed, f"{variant_judge.id} keeps {len(running)} containers: {running}"
