"""Every hostile program gets exactly its documented verdict, the host is untouched, and the very next
judgement on the same judge (a probe that checks for leftovers) is still correct.

The verdict table these statuses come from is the docstring of app/judge/verdicts.py.
"""

from __future__ import annotations

import time

import docker
import pytest

from app.reflexion.models import Verdict
from tests.security.conftest import LIMITS, VARIANT_LABEL, Durations, VariantJudge
from tests.security.host import HostGuard
from tests.security.probe import probe_submission
from tests.security.programs import HOSTILE, Hostile


def describe(verdict: Verdict) -> str:
    """Enough of a verdict to see why an assertion failed."""
    failing = "; ".join(f"{t.name}: {t.message[:300]}" for t in verdict.failing())
    return (f"status={verdict.status} detail={verdict.detail[:500]!r} failing=[{failing}] "
            f"stdout={verdict.stdout[:300]!r} stderr={verdict.stderr[-500:]!r}")


def labelled_running(client: docker.DockerClient, judge: VariantJudge) -> list[str]:
    containers = client.containers.list(filters={"label": f"{VARIANT_LABEL}={judge.labels[VARIANT_LABEL]}"})
    return [str(c.name) for c in containers]


async def judge_probe(judge: VariantJudge) -> tuple[Verdict, float]:
    start = time.perf_counter()
    verdict = await judge.judge.judge(probe_submission(), LIMITS)
    return verdict, (time.perf_counter() - start) * 1000


async def test_probe_passes_on_a_clean_judge(variant_judge: VariantJudge, durations: Durations) -> None:
    """The probe is a correct solution: it must pass before anything hostile ran (baseline)."""
    for _ in range(3):
        verdict, ms = await judge_probe(variant_judge)
        assert verdict.status == "passed", describe(verdict)
        assert verdict.tests and all(t.passed for t in verdict.tests)
        durations.baseline.setdefault(variant_judge.id, []).append(ms)


@pytest.mark.parametrize("case", HOSTILE, ids=[c.id for c in HOSTILE])
async def test_hostile_program(
    case: Hostile,
    variant_judge: VariantJudge,
    host_guard: HostGuard,
    docker_client: docker.DockerClient,
    durations: Durations,
) -> None:
    assert case.expected != "passed"
    start = time.perf_counter()
    verdict = await variant_judge.judge.judge(case.submission(host_guard.substitutions()), LIMITS)
    durations.hostile.setdefault(variant_judge.id, []).append((case.id, (time.perf_counter() - start) * 1000))

    # 1. exactly the documented status
    assert verdict.status == case.expected, describe(verdict)
    # 2. nothing the sandbox must not reach shows up in what the judge returns
    returned = verdict.model_dump_json()
    for secret in host_guard.secrets():
        assert secret not in returned, "a host secret reached the sandbox"
    assert "HX_ESCAPED" not in returned, describe(verdict)
    for needle in case.stdout_has:
        assert needle in verdict.stdout, f"{needle!r} missing: {describe(verdict)}"

    # 3. the next judgement on the same judge is correct, and sees no leftovers
    follow, ms = await judge_probe(variant_judge)
    durations.after.setdefault(variant_judge.id, []).append(ms)
    assert follow.status == "passed", f"after {case.id}: {describe(follow)}"
    assert follow.tests and all(t.passed for t in follow.tests)

    # 4. the host is unaffected
    assert host_guard.problems() == []
    running = labelled_running(docker_client, variant_judge)
    if variant_judge.mode == "fresh":
        assert running == [], f"fresh mode left containers running: {running}"
    else:
        assert len(running) <= 1, f"pool of 1 has {len(running)} containers: {running}"
