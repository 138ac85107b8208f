"""bench/procstat.CpuTimeline's arithmetic on known samples: which steps count as saturated, and
the busy share per bucket, with steps cut at the window's edges."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from procstat import CpuTimeline


def timeline(*steps: tuple[float, float]) -> CpuTimeline:
    """Steps of (busy s, steal s) on a 0.1 s grid starting at t=100."""
    line = CpuTimeline()
    t, busy, steal = 100.0, 0.0, 0.0
    line.samples.append((t, busy, steal))
    for step_busy, step_steal in steps:
        t, busy, steal = t + 0.1, busy + step_busy, steal + step_steal
        line.samples.append((t, busy, steal))
    return line


def test_a_step_is_saturated_when_busy_plus_steal_fills_the_cores() -> None:
    # 2 cores, 0.1 s steps: capacity 0.2 CPU-s per step; 0.9 of it is 0.18
    line = timeline((0.2, 0.0), (0.1, 0.0), (0.15, 0.05), (0.17, 0.0), (0.19, 0.0))
    assert line.saturated_s(100.0, 100.5, cpus=2) == pytest.approx(0.3)  # steps 1, 3 and 5
    assert line.saturated_s(100.0, 100.5, cpus=4) == 0.0
    # a window that starts half-way into the first step counts only its part
    assert line.saturated_s(100.05, 100.5, cpus=2) == pytest.approx(0.25)
    assert line.saturated_s(101.0, 102.0, cpus=2) == 0.0  # nothing sampled there


def test_busy_share_per_bucket() -> None:
    line = timeline((0.2, 0.0), (0.2, 0.0), (0.0, 0.0), (0.1, 0.1))
    assert line.busy_shares(100.0, 100.4, cpus=2, bucket_s=0.2) == [1.0, 0.5]
    assert line.busy_shares(100.0, 100.4, cpus=2, bucket_s=0.4) == [0.75]


def test_used_seconds_split_busy_from_steal_and_cut_steps_in_proportion() -> None:
    line = timeline((0.2, 0.0), (0.1, 0.1), (0.0, 0.0))
    busy, steal = line.used_s(100.0, 100.3)
    assert busy == pytest.approx(0.3) and steal == pytest.approx(0.1)
    # from the middle of the first step to the middle of the second: half of each
    busy, steal = line.used_s(100.05, 100.15)
    assert busy == pytest.approx(0.1 + 0.05) and steal == pytest.approx(0.05)
    assert line.used_s(101.0, 102.0) == (0, 0)  # nothing sampled there
