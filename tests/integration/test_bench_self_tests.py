"""False positives of self-written tests: answers that pass the model's own tests but not the hidden ones.

`rfx bench humaneval --feedback self_tests` with the fake model writing its own tests: for two problems
it writes the docstring examples, for the third a single weak test that a wrong answer (`return None`)
passes. Real `rfx`, real sandbox, fake model over HTTP.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.benchmark.datasets import load_benchmark
from tests.fixtures.llm import REFLECTION_PROMPT, FakeLLMServer, actor_prompt, fence

RFX = str(Path(sys.executable).parent / "rfx")
IDS = ["HumanEval/0", "HumanEval/7", "HumanEval/12"]


@pytest.mark.timeout(600)
def test_self_test_false_positives_are_counted(
    fake_llm: FakeLLMServer, tmp_path: Path, sandbox_image: str
) -> None:
    close, substring, longest = load_benchmark(ids=IDS)
    assert longest.entry_point == "longest"

    right = {t.entry_point: t.prompt + (t.canonical_solution or "") for t in (close, substring, longest)}
    wrong = {t.entry_point: t.prompt + "    return None\n" for t in (close, substring, longest)}
    own_tests = {
        close.entry_point: close.visible_tests,
        substring.entry_point: substring.visible_tests,
        longest.entry_point: ["assert longest([]) == None"],  # true, but a wrong answer passes it too
    }
    rules = [
        {
            "pattern": rf"^Write \d+ unit tests for the Python function `{name}`",
            "replies": [fence("\n".join(tests))],
        }
        for name, tests in own_tests.items()
    ]
    rules += [
        {
            "pattern": actor_prompt("has_close_elements") + r"(?!.*Test results)",
            "replies": [fence(right["has_close_elements"])],
        },
        {
            "pattern": actor_prompt("filter_by_substring") + r"(?!.*Test results)",
            "replies": [fence(wrong["filter_by_substring"])],
        },
        {
            "pattern": actor_prompt("filter_by_substring") + r".*Test results",
            "replies": [fence(right["filter_by_substring"])],
        },
        {"pattern": actor_prompt(longest.entry_point), "replies": [fence(wrong["longest"])]},
        {"pattern": REFLECTION_PROMPT, "replies": ["Read the docstring again."]},
    ]
    fake_llm.script(*rules, default="(unscripted)")
    out = tmp_path / "run"
    argv = [
        RFX,
        "bench",
        "humaneval",
        "--ids",
        ",".join(IDS),
        "--strategy",
        "reflexion",
        "--feedback",
        "self_tests",
        "--concurrency",
        "2",
        "--out",
        str(out),
        "--model",
        "fake-model",
        "--base-url",
        fake_llm.base_url,
        "--api-key",
        "fake-key",
    ]
    env = {**os.environ, "RFX_JUDGE_IMAGE": sandbox_image, "RFX_JUDGE_WORKERS": "2"}
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert [r.rule for r in fake_llm.requests if r.rule is None] == []

    report = json.loads((out / "report.json").read_text())
    r = report["strategies"]["reflexion"]
    assert r["accuracy_by_trial"] == [pytest.approx(1 / 3), pytest.approx(2 / 3), pytest.approx(2 / 3)]
    assert r["flips"] == {"wrong_to_right": 1, "right_to_wrong": 0, "right_to_right": 1, "wrong_to_wrong": 1}
    assert r["false_positives"]["by_feedback"] == {
        "self_tests": {"attempts_feedback_passed": 3, "attempts": 1, "episodes_solved": 3, "episodes": 1}
    }
    assert r["stop_reasons"] == {"solved": 3}
    own = {row["task_id"]: row["own_tests"] for row in report["rows"]}
    assert own == {
        "HumanEval/0": len(close.visible_tests),
        "HumanEval/7": len(substring.visible_tests),
        "HumanEval/12": 1,
    }
    assert len(fake_llm.requests) == 3 + 4 + 1  # own tests once per episode, 4 attempts, 1 reflection
    assert "| reflexion | self_tests | 1 / 3 | 1 / 3 |" in (out / "report.md").read_text()
