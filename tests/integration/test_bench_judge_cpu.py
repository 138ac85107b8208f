"""bench/judge_cpu.py as a user runs it: real judgements, a CPU split that adds up."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_judge_cpu_splits_each_judgement_between_the_sandbox_and_the_relay(sandbox_image: str) -> None:
    # another sandbox runner on the host (another judge's pool) must not be counted as this one's
    other = subprocess.run(
        [
            "docker",
            "run",
            "-d",
            "-i",
            "--rm",
            "--network",
            "none",
            "--label",
            "rfx.test=judge-cpu",
            sandbox_image,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    try:
        done = subprocess.run(
            [sys.executable, "bench/judge_cpu.py", "--runs", "20"],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=Path(__file__).resolve().parents[2],
        )
    finally:
        subprocess.run(["docker", "rm", "-f", other], capture_output=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout)
    assert figures["runs"] == 20
    # every run forks a harness and a candidate: their faults and CPU land in the runner's children
    assert figures["harness_and_candidate_page_faults"] > 100
    assert figures["harness_and_candidate_ms"] > 0 and figures["wall_ms"] > 0
    parts = ("judging_process_ms", "docker_relay_ms", "runner_ms", "harness_and_candidate_ms")
    assert sum(figures[k] for k in parts) <= figures["host_busy_ms"] * 1.5  # a split of the host's work
