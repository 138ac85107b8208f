"""Fixtures of the adversarial suite: one small judge per variant, the host tripwires, durations.

Each variant (pooled/fresh x runc/runsc) gets ONE judge for the session, with `workers=1`, so
in pooled mode every run lands in the same container as the run before it: exactly the case where
state could leak from a hostile run into the next judgement. Limits are small (2 s, 128 MiB) to
keep the suite fast on a shared 2-core machine (see LIMITS).
"""

from __future__ import annotations

import contextlib
import statistics
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import docker
import pytest

from app.reflexion.models import JudgeLimits
from tests.security.host import HostGuard, open_guard

POOLED = [("pooled", "runc"), ("pooled", "runsc")]
FRESH_VARIANTS = [("fresh", "runc"), ("fresh", "runsc")]
VARIANTS = POOLED + FRESH_VARIANTS
VARIANT_IDS = [f"{mode}-{runtime}" for mode, runtime in VARIANTS]
VARIANT_LABEL = "rfx.security-variant"

# Runs that must finish get a generous clock (the shared machine can be very busy); programs whose
# documented status is `timeout` get a short one, so waiting for them stays cheap. Only the clock
# differs, so both fit the same warm pool.
LIMITS = JudgeLimits(timeout_s=8.0, memory_mb=128, pids=64, output_bytes=64 * 1024, tmpfs_mb=16, cpus=1.0)
SHORT = LIMITS.model_copy(update={"timeout_s": 2.0})


@dataclass
class Durations:
    """Wall time of probes, per variant: baseline (clean judge) and after each hostile run."""

    baseline: dict[str, list[float]] = field(default_factory=dict)
    after: dict[str, list[float]] = field(default_factory=dict)
    hostile: dict[str, list[tuple[str, float]]] = field(default_factory=dict)

    def summary(self) -> list[str]:
        lines = []
        for variant in VARIANT_IDS:
            base, after = self.baseline.get(variant), self.after.get(variant)
            if not base or not after:
                continue
            b, a = statistics.median(base), statistics.median(after)
            lines.append(
                f"{variant}: probe median {b:.0f} ms on a clean judge, {a:.0f} ms right after a hostile "
                f"run (ratio {a / b:.2f}, worst {max(after):.0f} ms, n={len(after)})"
            )
        return lines


_DURATIONS = Durations()


@pytest.fixture(scope="session")
def durations() -> Durations:
    return _DURATIONS


def pytest_terminal_summary(terminalreporter: Any) -> None:
    lines = _DURATIONS.summary()
    if lines:
        terminalreporter.section("sandbox judge: next judgement after a hostile run")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def host_guard() -> Iterator[HostGuard]:
    yield from open_guard()


@dataclass
class VariantJudge:
    """A started judge plus what the tests need to know about it."""

    judge: Any  # app.judge.DockerJudge
    mode: str
    runtime: str
    labels: dict[str, str]

    @property
    def id(self) -> str:
        return f"{self.mode}-{self.runtime}"


@contextlib.asynccontextmanager
async def _variant_judge(
    request: pytest.FixtureRequest, test_labels: dict[str, str], sandbox_image: str
) -> AsyncIterator[VariantJudge]:
    from app.judge import DockerJudge, JudgeConfig

    mode, runtime = request.param
    labels = {**test_labels, VARIANT_LABEL: f"{mode}-{runtime}-{uuid.uuid4().hex[:6]}"}
    config = JudgeConfig(
        mode=mode, runtime=runtime, workers=1, image=sandbox_image, limits=LIMITS, labels=labels
    )
    judge = DockerJudge(config)
    await judge.start()
    try:
        yield VariantJudge(judge=judge, mode=mode, runtime=runtime, labels=labels)
    finally:
        await judge.aclose()


# Two fixtures rather than one with four params: tests that run everything on the pooled judges and
# a subset on the fresh ones stay parametrized at fixture level, so each judge is started once.
@pytest.fixture(scope="session", params=POOLED, ids=[f"{m}-{r}" for m, r in POOLED])
async def pooled_judge(
    request: pytest.FixtureRequest,
    host_guard: HostGuard,  # the guard exists (and its env canary is set) before the judge starts
    test_labels: dict[str, str],
    docker_client: docker.DockerClient,  # its leftover-container check runs after this closes
    sandbox_image: str,
) -> AsyncIterator[VariantJudge]:
    async with _variant_judge(request, test_labels, sandbox_image) as judge:
        yield judge


@pytest.fixture(scope="session", params=FRESH_VARIANTS, ids=[f"{m}-{r}" for m, r in FRESH_VARIANTS])
async def fresh_judge(
    request: pytest.FixtureRequest,
    host_guard: HostGuard,
    test_labels: dict[str, str],
    docker_client: docker.DockerClient,
    sandbox_image: str,
) -> AsyncIterator[VariantJudge]:
    async with _variant_judge(request, test_labels, sandbox_image) as judge:
        yield judge
