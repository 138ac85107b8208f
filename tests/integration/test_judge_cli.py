"""`rfx judge` and `rfx sandbox` as a user runs them: a real process, real files, real containers."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.benchmark.datasets import humaneval_path, read_jsonl

pytestmark = pytest.mark.slow

RFX = [sys.executable, "-m", "app.cli"]


def rfx(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RFX, *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )


@pytest.fixture(scope="module")
def problems(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three HumanEval problems, gzipped like the original."""
    records = list(read_jsonl(humaneval_path()))[:3]
    path = tmp_path_factory.mktemp("he") / "problems.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
    return path


def test_judges_samples_in_input_order_with_humaneval_fields(
    problems: Path, tmp_path: Path, sandbox_image: str
) -> None:
    records = list(read_jsonl(problems))
    samples = tmp_path / "samples.jsonl"
    lines = [
        {"task_id": records[1]["task_id"], "completion": records[1]["canonical_solution"]},
        {"task_id": records[0]["task_id"], "completion": "    return True\n"},
        {"task_id": records[2]["task_id"], "completion": "    while True:\n        pass\n"},
        {"task_id": records[0]["task_id"], "completion": records[0]["canonical_solution"]},
    ]
    samples.write_text("".join(json.dumps(line) + "\n" for line in lines))
    out = tmp_path / "results.jsonl"
    done = rfx(
        "judge",
        str(problems),
        "--samples",
        str(samples),
        "--out",
        str(out),
        "--workers",
        "2",
        "--timeout",
        "2",
    )
    assert done.returncode == 0, done.stderr
    results = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["task_id"] for r in results] == [line["task_id"] for line in lines]
    assert [r["completion"] for r in results] == [line["completion"] for line in lines]
    assert [r["status"] for r in results] == ["passed", "failed", "timeout", "passed"]
    assert [r["passed"] for r in results] == [True, False, False, True]
    assert results[0]["result"] == "passed" and results[2]["result"] == "timed out"
    assert results[1]["result"].startswith("failed: candidate(")
    assert all(isinstance(r["duration_ms"], float) and r["tests"] for r in results)
    assert "judged 4 samples" in done.stderr and "2 passed" in done.stderr


def test_without_samples_it_judges_canonical_solutions_to_stdout(problems: Path, sandbox_image: str) -> None:
    done = rfx("judge", str(problems), "--mode", "fresh")
    assert done.returncode == 0, done.stderr
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["passed"] for r in results] == [True, True, True]


def test_environment_variables_configure_the_judge(problems: Path, sandbox_image: str) -> None:
    import os

    env = {**os.environ, "RFX_JUDGE_MODE": "fresh", "RFX_JUDGE_WORKERS": "1"}
    done = rfx("judge", str(problems), env=env)
    assert done.returncode == 0, done.stderr
    assert "(fresh, runc, 1 workers)" in done.stderr
    done = rfx("judge", str(problems), env={**env, "RFX_JUDGE_WORKERS": "0"})
    assert done.returncode == 2
    assert done.stderr.startswith("rfx: error: invalid RFX_JUDGE_WORKERS") and done.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["judge", "/nonexistent/problems.jsonl"], "cannot read /nonexistent/problems.jsonl"),
        (["judge", "{problems}", "--mode", "warm"], "--mode must be one of pooled, fresh"),
        (["judge", "{problems}", "--runtime", "kata"], "--runtime must be one of runc, runsc"),
        (["judge", "{problems}", "--timeout", "-1"], "invalid limits.timeout_s"),
        (["judge", "{problems}", "--samples", "{bad_samples}"], "unknown task_id 'Nope/1'"),
    ],
)
def test_bad_usage_is_one_line_on_stderr_and_exit_2(
    problems: Path, tmp_path: Path, args: list[str], needle: str
) -> None:
    bad_samples = tmp_path / "bad.jsonl"
    bad_samples.write_text(json.dumps({"task_id": "Nope/1", "completion": "pass"}) + "\n")
    argv = [a.format(problems=problems, bad_samples=bad_samples) for a in args]
    done = rfx(*argv)
    assert done.returncode == 2, done
    assert done.stderr.startswith("rfx: error: ") and needle in done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_sandbox_tag_and_build_agree(sandbox_image: str) -> None:
    tag = rfx("sandbox", "tag")
    assert tag.returncode == 0 and tag.stdout.strip() == sandbox_image
    build = rfx("sandbox", "build")  # unchanged tree: found, not rebuilt
    assert build.returncode == 0 and build.stdout.strip() == sandbox_image
