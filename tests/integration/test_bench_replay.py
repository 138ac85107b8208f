"""Feedback strategies start from `single`'s first attempt, replayed from its record (issue 22 item 5).

Real `rfx` processes, real Docker sandbox, the fake OpenAI-compatible server scripted per prompt kind:
HumanEval/0's first answer returns None (wrong), a retry is the canonical solution. Whether a first
attempt was replayed shows in what the fake server was asked: the first prompt reaches it only when
nothing could be replayed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.benchmark.datasets import load_benchmark
from app.reflexion.models import Episode
from tests.fixtures.llm import REFLECTION_PROMPT, FakeLLMServer, fence, first_prompt, retry_prompt

RFX = str(Path(sys.executable).parent / "rfx")
LESSON = "The last attempt returned None; compare every pair of numbers against the threshold."


def episodes_in(directory: Path) -> dict[str, Episode]:
    lines = (directory / "episodes.jsonl").read_text().splitlines()
    return {e.config.strategy: e for e in map(Episode.model_validate_json, lines)}


@pytest.mark.timeout(900)
def test_feedback_strategies_replay_single_first_attempt(
    tmp_path: Path, fake_llm: FakeLLMServer, sandbox_image: str
) -> None:
    (task,) = load_benchmark(ids=["HumanEval/0"])
    fake_llm.script(
        {
            "pattern": first_prompt("has_close_elements"),
            "replies": [fence(task.prompt + "    return None\n")],
        },
        {
            "pattern": retry_prompt("has_close_elements"),
            "replies": [fence(task.prompt + task.canonical_solution)],
        },
        {"pattern": REFLECTION_PROMPT, "replies": [LESSON]},
        default="(unscripted request)",
    )
    env = {**os.environ, "RFX_JUDGE_IMAGE": sandbox_image, "RFX_JUDGE_WORKERS": "2"}
    model = ["--model", "gpt-4o-mini", "--base-url", fake_llm.base_url, "--api-key", "fake-key"]

    def bench(out: Path, *args: str) -> subprocess.CompletedProcess[str]:
        argv = [RFX, "bench", "humaneval", "--ids", "HumanEval/0", "--out", str(out), *model, *args]
        return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)

    def first_prompts() -> int:
        return sum(
            1
            for r in fake_llm.requests
            if r.rule is not None and "It must pass" in r.last_user and "Test results" not in r.last_user
        )

    base = tmp_path / "base"
    done = bench(base, "--strategy", "reflexion,single", "--concurrency", "2")
    assert done.returncode == 0, done.stderr[-3000:]
    assert [r.last_user[:80] for r in fake_llm.requests if r.rule is None] == []
    assert first_prompts() == 1  # single asked; reflexion waited for it and got its reply
    ran = episodes_in(base)
    single, reflexion = ran["single"], ran["reflexion"]
    assert single.attempts[0].replay_of is None
    assert reflexion.attempts[0].replay_of == single.id
    assert reflexion.attempts[0].code == single.attempts[0].code
    assert reflexion.attempts[0].latency_ms == single.attempts[0].latency_ms
    assert (single.status, reflexion.status, reflexion.final_trial) == ("failed", "succeeded", 2)
    assert len((base / "replies.jsonl").read_text().splitlines()) == 1
    report = json.loads((base / "report.json").read_text())
    first = report["comparison"]["strategies"]["reflexion"]["first_attempts"]
    assert first == {"problems": 1, "replayed": 1, "equal": 1}
    assert "1 / 1 (1)" in (base / "report.md").read_text()

    greedy = tmp_path / "greedy"
    done = bench(greedy, "--strategy", "reflexion", "--retries", "greedy", "--replay-from", str(base))
    assert done.returncode == 0, done.stderr[-3000:]
    assert first_prompts() == 1  # replayed from the other run's single
    assert episodes_in(greedy)["reflexion"].attempts[0].replay_of == single.id

    warmer = bench(
        tmp_path / "warmer", "--strategy", "reflexion", "--temperature", "0.3", "--replay-from", str(base)
    )
    assert (
        warmer.returncode == 2 and "temperature=0.0" in warmer.stderr and "temperature=0.3" in warmer.stderr
    )
    assert first_prompts() == 1 and not (tmp_path / "warmer" / "episodes.jsonl").exists()

    combined = tmp_path / "combined"
    argv = [RFX, "bench", "report", f"base={base}", f"greedy={greedy}"]
    done = subprocess.run([*argv, "--out", str(combined)], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((combined / "report.json").read_text())
    assert list(report["strategies"]) == ["base.single", "base.reflexion", "greedy"]
    assert report["run"]["baseline"] == "base.single"
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert [e["commit"] for e in report["run"]["code"]["greedy"]] == [head]  # the code each run ran
    behaviour = report["run"]["code"]["greedy"][0]["behaviour"]
    md = (combined / "report.md").read_text()
    assert f"- code of greedy: behaviour `{behaviour[:12]}` at `{head[:12]}`" in md
    assert "- 1 problems that every run finished; baseline: `base.single`; episodes left out: none" in md
    assert report["run"]["variants"]["greedy"]["retries"] == "greedy"
    per = report["comparison"]["strategies"]
    assert per["greedy"]["vs_single"]["gained"] == 1
    assert per["greedy"]["first_attempts"] == {"problems": 1, "replayed": 1, "equal": 1}
    assert {row["run"] for row in report["rows"]} == {"base.reflexion", "base.single", "greedy"}
    assert "| greedy | reflexion |" in (combined / "report.md").read_text()

    for bad in (
        bench(tmp_path / "bad1", "--strategy", "single,reflexion", "--replay-from", str(base)),
        bench(tmp_path / "bad2", "--strategy", "reflexion", "--replay-from", str(greedy)),
        subprocess.run(
            [RFX, "bench", "report", "nolabel", "--out", str(tmp_path / "bad3")],
            capture_output=True,
            text=True,
            env=env,
        ),
    ):
        assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0, bad.stderr
