"""`rfx bench humaneval` runs tree_search next to single and reports it (issue 22 item 4).

Real `rfx` process, real Docker sandbox, the fake OpenAI-compatible server scripted per prompt kind:
HumanEval/0's first answer returns None (0 of its 2 visible tests), the first two children return a
constant (1 of 2 each: value 0.5), and the child of the first of them is the canonical solution. So
single is wrong, and tree_search expands the root, then trial 2 (the tie goes to the earliest), and
is right at trial 4.
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
LESSON = "The last attempt ignored the threshold; compare every pair of numbers."


@pytest.mark.timeout(600)
def test_bench_runs_tree_search_and_reports_it(
    tmp_path: Path, fake_llm: FakeLLMServer, sandbox_image: str
) -> None:
    (task,) = load_benchmark(ids=["HumanEval/0"])
    assert task.canonical_solution and len(task.visible_tests) == 2
    fake_llm.script(
        {
            "pattern": first_prompt("has_close_elements"),
            "replies": [fence(task.prompt + "    return None\n")],  # single, then the root
        },
        {
            "pattern": retry_prompt("has_close_elements"),
            "replies": [
                fence(task.prompt + "    return False\n"),
                fence(task.prompt + "    return True\n"),
                fence(task.prompt + task.canonical_solution),
            ],
        },
        {"pattern": REFLECTION_PROMPT, "replies": [LESSON]},
        default="(unscripted request)",
    )
    out = tmp_path / "run"
    argv = [
        RFX,
        "bench",
        "humaneval",
        "--ids",
        "HumanEval/0",
        "--strategy",
        "single,tree_search",
        "--max-trials",
        "5",
        "--branching",
        "2",
        "--concurrency",
        "1",
        "--out",
        str(out),
        "--model",
        "gpt-4o-mini",
        "--base-url",
        fake_llm.base_url,
        "--api-key",
        "fake-key",
    ]
    env = {**os.environ, "RFX_JUDGE_IMAGE": sandbox_image, "RFX_JUDGE_WORKERS": "2"}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert [r.last_user[:80] for r in fake_llm.requests if r.rule is None] == []

    episodes = [
        Episode.model_validate_json(line) for line in (out / "episodes.jsonl").read_text().splitlines()
    ]
    (tree,) = [e for e in episodes if e.config.strategy == "tree_search"]
    assert (tree.status, tree.stop_reason, tree.final_trial) == ("succeeded", "solved", 4)
    assert [(a.parent, a.value) for a in tree.attempts] == [(None, 0.0), (1, 0.5), (1, 0.5), (2, 1.0)]
    assert tree.attempts[0].reflection == LESSON and tree.attempts[1].reflection == LESSON
    assert tree.config.branching == 2

    report = json.loads((out / "report.json").read_text())
    s = report["strategies"]
    assert list(s) == ["single", "tree_search"]
    assert (s["single"]["accuracy"], s["tree_search"]["accuracy"]) == (0.0, 1.0)
    assert s["tree_search"]["accuracy_by_trial"] == [0.0, 0.0, 0.0, 1.0, 1.0]
    assert s["tree_search"]["flips"]["wrong_to_right"] == 1
    vs_single = report["comparison"]["strategies"]["tree_search"]["vs_single"]
    assert (vs_single["gained"], vs_single["lost"]) == (1, 0)
    assert "tree_search" in (out / "report.md").read_text()

    bad_argv = [*argv[:3], "--ids", "HumanEval/0", "--strategy", "tree_search", "--branching", "0"]
    bad = subprocess.run([*bad_argv, "--out", str(tmp_path / "bad")], capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "--branching" in bad.stderr
