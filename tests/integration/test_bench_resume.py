"""`rfx bench` survives being killed (finished problems are not rerun), stops at its budget, refuses
bad input.

Real `rfx` processes, the real sandbox judge and the fake model server over HTTP. Every scripted
reply here is fixed per problem, so the outcome does not depend on the order concurrent episodes
happen to take.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.benchmark.datasets import load_benchmark
from app.reflexion.models import Episode
from tests.fixtures.llm import FakeLLMServer, actor_prompt, fence
from tests.fixtures.signals import interruptible

RFX = str(Path(sys.executable).parent / "rfx")
IDS = ["HumanEval/0", "HumanEval/1", "HumanEval/3", "HumanEval/5"]


def script_canonical(fake: FakeLLMServer, ids: list[str], latency_s: float = 0.0) -> None:
    rules = []
    for task in load_benchmark(ids=ids):
        assert task.canonical_solution and task.entry_point
        rules.append(
            {
                "pattern": actor_prompt(task.entry_point),
                "replies": [fence(task.prompt + task.canonical_solution)],
            }
        )
    fake.script(*rules, latency_s=latency_s, default="(unscripted)")


def bench_argv(fake: FakeLLMServer, out: Path, *extra: str) -> list[str]:
    return [
        RFX,
        "bench",
        "humaneval",
        "--out",
        str(out),
        "--model",
        "fake-model",
        "--base-url",
        fake.base_url,
        "--api-key",
        "fake-key",
        *extra,
    ]


def env(sandbox_image: str) -> dict[str, str]:
    return {**os.environ, "RFX_JUDGE_IMAGE": sandbox_image, "RFX_JUDGE_WORKERS": "2"}


def lines(out: Path) -> list[str]:
    path = out / "episodes.jsonl"
    return path.read_text().splitlines() if path.exists() else []


@pytest.mark.timeout(600)
def test_a_killed_run_resumes_without_rerunning_finished_problems(
    fake_llm: FakeLLMServer, tmp_path: Path, sandbox_image: str
) -> None:
    out = tmp_path / "run"
    script_canonical(fake_llm, IDS, latency_s=0.4)
    argv = bench_argv(
        fake_llm, out, "--ids", ",".join(IDS), "--strategy", "reflexion,single", "--concurrency", "2"
    )
    first = subprocess.Popen(argv, env=env(sandbox_image), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        guard = time.monotonic() + 300  # a guard against hanging, not a measurement
        while len(lines(out)) < 2 and first.poll() is None and time.monotonic() < guard:
            time.sleep(0.05)
        assert first.poll() is None, "the first run ended before it could be interrupted"
        first.send_signal(signal.SIGKILL)
    finally:
        first.wait(timeout=30)
    before = [Episode.model_validate_json(line) for line in lines(out) if line.endswith("}")]
    assert 2 <= len(before) < 8

    fake_llm.reset()
    script_canonical(fake_llm, IDS)
    second = subprocess.run(argv, env=env(sandbox_image), capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr[-2000:]

    after = [Episode.model_validate_json(line) for line in lines(out)]
    pairs = [(e.config.strategy, e.task.id) for e in after]
    assert len(pairs) == len(set(pairs)) == 8
    assert [e.id for e in after[: len(before)]] == [e.id for e in before]  # kept, not rerun
    # only single asks: reflexion's first (and here only) attempt is single's reply, replayed from
    # replies.jsonl whether single finished before the kill or after it
    rerun = after[len(before) :]
    asked = [r.last_user.split("`")[1] for r in fake_llm.requests]
    assert sorted(asked) == sorted(e.task.entry_point for e in rerun if e.config.strategy == "single")
    singles = {e.task.id: e.id for e in after if e.config.strategy == "single"}
    assert all(
        e.attempts[0].replay_of == singles[e.task.id] for e in after if e.config.strategy == "reflexion"
    )

    report = json.loads((out / "report.json").read_text())
    assert report["run"]["episodes_resumed"] == len(before)
    assert report["run"]["episodes_run"] == 8 - len(before)
    assert report["strategies"]["reflexion"]["accuracy_by_trial"] == [1.0, 1.0, 1.0]
    assert report["strategies"]["single"]["problems"] == 4


@pytest.mark.timeout(600)
def test_the_budget_stops_new_problems_and_a_rerun_finishes_them(
    fake_llm: FakeLLMServer, tmp_path: Path, sandbox_image: str
) -> None:
    out = tmp_path / "run"
    ids = IDS[:3]
    script_canonical(fake_llm, ids)
    argv = bench_argv(fake_llm, out, "--ids", ",".join(ids), "--strategy", "single", "--concurrency", "1")
    stopped = subprocess.run(
        [*argv, "--budget-tokens", "1"], env=env(sandbox_image), capture_output=True, text=True, timeout=300
    )
    assert stopped.returncode == 0, stopped.stderr[-2000:]
    assert "budget exceeded: 2" in stopped.stdout
    report = json.loads((out / "report.json").read_text())
    assert report["run"]["budget"]["exceeded"] is True
    assert report["run"]["budget"]["skipped_pairs"] == ["single:HumanEval/1", "single:HumanEval/3"]
    assert report["run"]["complete"] is False
    assert report["strategies"]["single"]["problems"] == 1
    assert "**budget exceeded**" in (out / "report.md").read_text()
    assert len(fake_llm.requests) == 1

    finished = subprocess.run(argv, env=env(sandbox_image), capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-2000:]
    report = json.loads((out / "report.json").read_text())
    assert report["run"]["complete"] is True and report["strategies"]["single"]["problems"] == 3
    assert report["run"]["episodes_resumed"] == 1 and len(fake_llm.requests) == 3

    clash = subprocess.run(
        [*argv, "--strategy", "single", "--max-trials", "2", "--feedback", "oracle"],
        env=env(sandbox_image),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert clash.returncode == 2
    assert clash.stderr.count("\n") == 1 and "other settings" in clash.stderr


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--strategy", "reflexion,magic"], "unknown magic"),
        (["--ids", "HumanEval/0,HumanEval/999"], "unknown problem id(s): HumanEval/999"),
        (["--limit", "0"], "--limit must be at least 1"),
        (["--budget-cost", "-1"], "--budget-cost must be positive"),
        (["--concurrency", "0"], "--concurrency must be between 1 and 64"),
        (["--dataset", "/nonexistent/problems.jsonl"], "cannot read /nonexistent/problems.jsonl"),
        (["--max-trials", "0"], "max-trials"),
        (["--single-runs", "/nonexistent/run"], "/nonexistent/run has no episodes.jsonl"),
        (["--retry-temperatures", "0.5,x"], "--retry-temperatures"),
    ],
)
def test_bad_input_is_one_line_on_stderr(tmp_path: Path, extra: list[str], message: str) -> None:
    argv = [
        RFX,
        "bench",
        "humaneval",
        "--out",
        str(tmp_path / "x"),
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--model",
        "m",
        *extra,
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "x").exists()


@pytest.mark.timeout(600)
def test_single_over_seeds_gives_the_noise_band(
    fake_llm: FakeLLMServer, tmp_path: Path, sandbox_image: str
) -> None:
    ids = IDS[:2]
    script_canonical(fake_llm, ids)
    first, second = tmp_path / "seed1", tmp_path / "seed2"
    common = ["--ids", ",".join(ids), "--strategy", "single", "--concurrency", "1"]
    done = subprocess.run(
        bench_argv(fake_llm, first, *common, "--sampling-seed", "1"),
        env=env(sandbox_image),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    fake_llm.reset()
    fake_llm.script(default="no code today")  # the second seed solves nothing
    done = subprocess.run(
        bench_argv(fake_llm, second, *common, "--sampling-seed", "2", "--single-runs", str(first)),
        env=env(sandbox_image),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert {r.params.get("seed") for r in fake_llm.requests if r.path.endswith("/chat/completions")} == {2}
    report = json.loads((second / "report.json").read_text())
    assert report["comparison"]["single_spread"] | {"stdev": 0} == {
        "runs": 2,
        "accuracies": [0.0, 1.0],
        "mean": 0.5,
        "stdev": 0,
        "low": 0.0,
        "high": 1.0,
    }
    assert report["run"]["single_runs"] == [str(first)]
    assert "Noise band: single over 2 runs scored 0.0%, 100.0%" in (second / "report.md").read_text()


@pytest.mark.timeout(600)
def test_ctrl_c_leaves_a_partial_report_and_a_resumable_directory(
    fake_llm: FakeLLMServer, tmp_path: Path, sandbox_image: str
) -> None:
    out = tmp_path / "run"
    script_canonical(fake_llm, IDS, latency_s=0.4)
    argv = bench_argv(fake_llm, out, "--ids", ",".join(IDS), "--strategy", "single", "--concurrency", "1")
    first = subprocess.Popen(
        argv,
        env=env(sandbox_image),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=interruptible,
    )
    guard = time.monotonic() + 300  # a guard against hanging, not a measurement
    while len(lines(out)) < 1 and first.poll() is None and time.monotonic() < guard:
        time.sleep(0.05)
    assert first.poll() is None, "the first run ended before it could be interrupted"
    first.send_signal(signal.SIGINT)
    _, err = first.communicate(timeout=120)
    assert first.returncode == 130 and "Traceback" not in err
    partial = json.loads((out / "report.json").read_text())
    finished = len(lines(out))
    assert partial["run"]["interrupted"] is True and partial["run"]["complete"] is False
    assert partial["strategies"]["single"]["problems"] == finished < 4

    fake_llm.reset()
    script_canonical(fake_llm, IDS)
    second = subprocess.run(argv, env=env(sandbox_image), capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr[-2000:]
    report = json.loads((out / "report.json").read_text())
    assert report["run"]["complete"] is True and report["strategies"]["single"]["accuracy"] == 1.0
    assert len(fake_llm.requests) == 4 - finished


@pytest.mark.timeout(600)
def test_an_episode_lost_to_a_sandbox_failure_runs_again_on_resume(
    fake_llm: FakeLLMServer, tmp_path: Path, sandbox_image: str
) -> None:
    out = tmp_path / "run"
    ids = IDS[:2]
    script_canonical(fake_llm, ids)
    argv = bench_argv(fake_llm, out, "--ids", ",".join(ids), "--strategy", "single", "--concurrency", "1")
    assert subprocess.run(argv, env=env(sandbox_image), capture_output=True, timeout=300).returncode == 0
    first, second = (Episode.model_validate_json(line) for line in lines(out))
    broken = first.model_copy(update={"stop_reason": "judge_error", "status": "failed"})
    (out / "episodes.jsonl").write_text(broken.model_dump_json() + "\n" + second.model_dump_json() + "\n")

    fake_llm.reset()
    script_canonical(fake_llm, ids)
    done = subprocess.run(argv, env=env(sandbox_image), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert [r.last_user.split("`")[1] for r in fake_llm.requests] == [first.task.entry_point]
    rerun = Episode.model_validate_json(lines(out)[-1])
    assert len(lines(out)) == 3 and rerun.task.id == first.task.id and rerun.id != first.id
    report = json.loads((out / "report.json").read_text())
    assert {row["episode_id"] for row in report["rows"]} == {rerun.id, second.id}
    assert report["strategies"]["single"]["stop_reasons"] == {"solved": 2}
