"""Assert-format tasks (a text of assert lines, or MBPP's list, no entry_point) through the real
Docker judge, `rfx judge`, `rfx run` and the HTTP API; undeclarable tests are one clear error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.reflexion.models import Episode, Task
from tests.fixtures.judge import JudgeFactory
from tests.integration.apiserver import (
    LESSON,
    running_app,
    running_worker,
    script_fail_then_fix,
    service_settings,
    wait_terminal,
)
from tests.integration.test_run_cli import env, one_line_error, rfx  # noqa: F401 (fixture)

PROMPT = 'def add(a, b):\n    """Return a + b."""\n'
MBPP = ["assert add(1, 2) == 3", "assert add(-1, 1) == 0", "assert add(2, 2) == 4"]
RIGHT = "def add(a, b):\n    return a + b\n"
WRONG = "def add(a, b):\n    return a * b\n"
AMBIGUOUS = "from solution import add\nassert add(1, 2) == 3\n"


def asserts_task(tests: str | list[str] = MBPP, **fields: Any) -> Task:
    return Task.model_validate({"id": "mbpp/add", "prompt": PROMPT, "tests": tests} | fields)


@pytest.mark.parametrize(
    "tests", [MBPP, "\n".join(MBPP) + "\n", "from solution import add\n" + "\n".join(MBPP)]
)
async def test_real_judge_grades_each_assert(judge_factory: JudgeFactory, tests: str | list[str]) -> None:
    judge = await judge_factory(mode="pooled", runtime="runc")
    task = asserts_task(tests, tests_format="asserts")
    right = await judge.judge(task.hidden_submission(RIGHT))
    assert right.status == "passed", right
    assert [t.name for t in right.tests] == MBPP and all(t.passed for t in right.tests)
    wrong = await judge.judge(task.hidden_submission(WRONG))
    assert wrong.status == "failed"
    assert [(t.name, t.passed) for t in wrong.tests] == [(MBPP[0], False), (MBPP[1], False), (MBPP[2], True)]
    assert "2" in wrong.tests[0].message and "3" in wrong.tests[0].message  # actual and expected


def test_rfx_judge_takes_mbpp_problems_and_test_format(
    tmp_path: Path,
    sandbox_image: str,
    env: dict[str, str],  # noqa: F811 (fixture)
) -> None:
    problems = tmp_path / "problems.jsonl"
    records = [
        {"task_id": "mbpp/1", "prompt": PROMPT, "test_list": MBPP, "canonical_solution": RIGHT},
        {
            "task_id": "mbpp/2",
            "prompt": PROMPT,
            "test": AMBIGUOUS,
            "test_format": "asserts",
            "canonical_solution": WRONG,
        },
    ]
    problems.write_text("".join(json.dumps(r) + "\n" for r in records))
    done = rfx(["judge", str(problems)], env)
    assert done.returncode == 0, done.stderr
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(r["task_id"], r["status"]) for r in results] == [("mbpp/1", "passed"), ("mbpp/2", "failed")]
    assert [t["name"] for t in results[0]["tests"]] == MBPP

    records[1].pop("test_format")
    problems.write_text("".join(json.dumps(r) + "\n" for r in records))
    one_line_error(rfx(["judge", str(problems)], None), 2, "declare tests_format")  # type: ignore[arg-type]


def test_rfx_run_solves_an_asserts_task_without_entry_point(
    fake_llm: Any,
    tmp_path: Path,
    env: dict[str, str],  # noqa: F811 (fixture)
) -> None:
    script_fail_then_fix(fake_llm)
    task_file = tmp_path / "task.json"
    task_file.write_text(json.dumps({"id": "mbpp/add", "prompt": PROMPT, "tests": MBPP}))
    args = ["run", "--task", str(task_file), "--base-url", fake_llm.base_url, "--model", "m", "--json"]
    result = rfx([*args, "--max-trials", "3"], env)
    assert result.returncode == 0, result.stderr
    episode = Episode.model_validate_json(result.stdout)
    assert (episode.status, episode.final_trial, episode.task.tests_format) == ("succeeded", 2, "asserts")
    first = episode.attempts[0].hidden
    assert first is not None and first.status == "failed" and [t.name for t in first.tests] == MBPP

    task_file.write_text(json.dumps({"id": "x", "prompt": PROMPT, "tests": AMBIGUOUS}))
    one_line_error(rfx(args, env), 2, "could be asserts or pytest: declare tests_format")


async def test_http_episode_with_assert_lines_and_422_when_undeclarable(
    redis_url: str, key_prefix: str, fake_llm: Any, judge_factory: JudgeFactory, sandbox_image: str
) -> None:
    script_fail_then_fix(fake_llm)
    settings = service_settings(redis_url, key_prefix, fake_llm.base_url, judge_image=sandbox_image)
    judge = await judge_factory(mode="pooled")
    task = {"id": "mbpp/add", "prompt": PROMPT, "tests": "\n".join(MBPP)}
    async with (
        running_app(settings) as base,
        running_worker(settings, judge),
        httpx.AsyncClient(base_url=base, timeout=60) as client,
    ):
        bad = await client.post("/v1/episodes", json={"task": task | {"tests": AMBIGUOUS}})
        assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
        assert "declare tests_format" in bad.json()["detail"]
        r = await client.post("/v1/episodes", json={"task": task, "max_trials": 3})
        assert r.status_code == 202, r.text
        episode = await wait_terminal(client, r.json()["id"])
    assert episode["task"]["tests_format"] == "asserts" and episode["task"]["entry_point"] is None
    assert episode["status"] == "succeeded"
    attempts = episode["attempts"]
    assert [t["name"] for t in attempts[0]["hidden"]["tests"]] == MBPP
    assert attempts[0]["hidden"]["status"] == "failed" and attempts[1]["hidden"]["status"] == "passed"
    assert attempts[0]["reflection"] == LESSON
