"""bench/load.py as a user runs it, scaled down: a real stack (redis-server, fake LLM, `rfx serve`,
two `rfx worker` processes, Docker sandboxes) and a JSON report whose figures add up."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def test_load_bench_reports_every_episode_and_where_its_time_went(sandbox_image: str, tmp_path: Path) -> None:
    out, records = tmp_path / "load.json", tmp_path / "records.jsonl"
    args = [
        "--episodes",
        "6",
        "--rate",
        "20",
        "--latency",
        "0.2",
        "--judge-workers",
        "2",
        "--worker-processes",
        "2",
        "--sweep",
        "3",
    ]
    done = subprocess.run(
        [
            sys.executable,
            "bench/load.py",
            *args,
            "--out",
            str(out),
            "--records",
            str(records),
            "--logs",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["statuses"] == {"failed": 6}  # 3 failing trials each, as scripted
    assert report["worker_processes"] == 2 and report["judge_runs"] == 18
    # one episode alone is 5 model calls of 0.2 s plus 3 judgements: at least 1 s
    assert report["baseline_alone_s"] >= 1.0
    # no episode of the batch can beat its 5 scripted model replies (a floor by construction; how
    # close the batch comes to the baseline is the bench's figure, never a test's)
    scripted_floor = 1.0 / report["baseline_alone_s"]
    assert report["overhead_ratio_max"] >= report["overhead_ratio_p50"] >= scripted_floor - 0.001
    assert set(report["phases_slowest_s"]) == {"claim", "llm_excess", "judge", "finish"}
    assert report["post_p99_ms"] >= report["post_p50_ms"] > 0
    # the batch runs from the first POST to the last finished_at (service stamps, not the next poll):
    # it holds every episode, and the POSTs took 5/20 s of it
    assert report["batch_ideal_s"] == pytest.approx(report["baseline_alone_s"] + 5 / 20, abs=0.002)
    assert report["per_episode_max_s"] <= report["batch_wall_s"] <= report["per_episode_max_s"] + 5 / 20 + 1
    ratio = report["batch_wall_s"] / report["batch_ideal_s"]
    assert report["batch_vs_schedule_ratio"] == pytest.approx(ratio, abs=0.002)
    # the host's cores, sampled every 0.1 s over the batch: one share per half second, a saturated
    # time that fits inside the batch
    shares = report["busy_share_per_half_s"]
    assert abs(len(shares) - report["batch_wall_s"] / 0.5) <= 1 and all(0 <= x <= 1.05 for x in shares)
    assert 0 <= report["cores_saturated_s"] <= report["batch_wall_s"] + 0.005  # 2 decimals against 3
    # the first judge round: its first code comes one model reply after the first POST at the
    # earliest; its host CPU is read for at most one model latency; what one episode alone takes
    # after its first verdict is 4 more replies at least; and the floor its CPU sets is a floor
    first = report["first_round"]
    assert 0.2 <= first["first_code_s"] <= first["last_first_verdict_s"] < report["batch_wall_s"]
    assert 0 <= first["read_s"] <= min(0.2, first["last_first_verdict_s"] - first["first_code_s"]) + 0.001
    assert first["host_busy_cpu_s"] >= 0 and first["host_steal_s"] >= 0
    assert 0.8 <= first["alone_after_first_verdict_s"] < report["baseline_alone_s"]
    floor = (
        first["first_code_s"]
        + first["host_busy_cpu_s"] / report["cpus"]
        + first["alone_after_first_verdict_s"]
    )
    assert first["batch_floor_s"] == pytest.approx(floor, abs=0.01)
    assert first["batch_floor_s"] <= report["batch_wall_s"]
    assert first["batch_floor_ratio"] == pytest.approx(
        first["batch_floor_s"] / report["baseline_alone_s"], abs=0.002
    )
    # a smaller batch first, on the same stack and baseline, reported on its own
    (smaller,) = report["sweep"]
    assert smaller["episodes"] == 3 and smaller["failed"] == 3
    assert smaller["overhead_ratio_max"] >= smaller["overhead_ratio_p50"] >= scripted_floor - 0.001
    assert smaller["batch_ideal_s"] == pytest.approx(report["baseline_alone_s"] + 2 / 20, abs=0.002)
    assert smaller["batch_wall_s"] >= smaller["overhead_ratio_max"] * report["baseline_alone_s"] - 0.01
    assert 0 <= smaller["cores_saturated_s"] <= smaller["batch_wall_s"] + 0.005  # 2 decimals against 3
    kept = [json.loads(line) for line in records.read_text().splitlines()]
    assert len(kept) == 6
    for episode in kept:
        kinds = [e["type"] for e in episode["events"]]
        assert kinds[0] == "episode.started" and kinds[-1] == "episode.finished"
        assert kinds.count("attempt.judged") == 3 and kinds.count("reflection.created") == 2
