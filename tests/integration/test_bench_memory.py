"""Strategies compared in one run do not share lessons, even with `--memory task`: tree_search, run
after reflexion on the same problem, starts with none of reflexion's lessons in its prompt."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.benchmark.datasets import load_benchmark
from tests.fixtures.llm import REFLECTION_PROMPT, FakeLLMServer, actor_prompt, fence

RFX = str(Path(sys.executable).parent / "rfx")
LESSON = "Remember: the threshold comparison must be strict."


@pytest.mark.timeout(600)
def test_task_memory_does_not_leak_between_strategies(
    fake_llm: FakeLLMServer, tmp_path: Path, sandbox_image: str
) -> None:
    (task,) = load_benchmark(ids=["HumanEval/0"])
    assert task.entry_point
    head = actor_prompt(task.entry_point)
    fake_llm.script(
        {
            "pattern": head + r"(?!.*Test results)",
            "replies": [fence(task.prompt + "    return None\n")],
        },
        {
            "pattern": head + r".*Test results",
            "replies": [fence(f"{task.prompt}{task.canonical_solution}")],
        },
        {"pattern": REFLECTION_PROMPT, "replies": [LESSON]},
        default="(unscripted)",
    )
    argv = [
        RFX,
        "bench",
        "humaneval",
        "--ids",
        task.id,
        "--strategy",
        "reflexion,tree_search",
        "--max-trials",
        "2",
        "--memory",
        "task",
        "--concurrency",
        "1",
        "--out",
        str(tmp_path / "run"),
        "--model",
        "fake-model",
        "--base-url",
        fake_llm.base_url,
        "--api-key",
        "fake-key",
    ]
    env = {**os.environ, "RFX_JUDGE_IMAGE": sandbox_image}
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    prompts = [r.last_user for r in fake_llm.requests]
    assert len(prompts) == 6  # reflexion: attempt, reflection, retry; tree_search: the same three
    assert LESSON in prompts[2]  # reflexion's retry sees its own lesson
    assert LESSON not in prompts[3] and "Lessons" not in prompts[3]  # tree_search's root does not
