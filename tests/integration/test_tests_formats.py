"""Assert-format tasks (a text of assert lines, or MBPP's list, no entry_point) through the real
Docker judge, `rfx judge`, `rfx run` and the HTTP API; undeclarable tests are one clear error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.reflexion.models import Episode, Submission, Task
from tests.fixtures.judge import JudgeFactory
from tests.fixtures.llm import fence
from tests.integration.apiserver import (
    LESSON,
    running_app,
    script_fail_then_fix,
    service_settings,
    serving,
    wait_terminal,
)
from tests.integration.fidelity_formats import STATS
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
    async with serving(settings, judge) as client:
        bad = await client.post("/v1/episodes", json={"task": task | {"tests": AMBIGUOUS}})
        assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
        assert bad.json()["detail"] == (
            "task: tests could be asserts or pytest: declare tests_format as one of asserts, pytest"
        )
        r = await client.post("/v1/episodes", json={"task": task, "max_trials": 3})
        assert r.status_code == 202, r.text
        episode = await wait_terminal(client, r.json()["id"])
    assert episode["task"]["tests_format"] == "asserts" and episode["task"]["entry_point"] is None
    assert episode["status"] == "succeeded"
    attempts = episode["attempts"]
    assert [t["name"] for t in attempts[0]["hidden"]["tests"]] == MBPP
    assert attempts[0]["hidden"]["status"] == "failed" and attempts[1]["hidden"]["status"] == "passed"
    assert attempts[0]["reflection"] == LESSON


# ---- pytest modules ------------------------------------------------------------------------------

PYTEST_MODULE = """import pytest
from solution import mean, Stack, EmptyError


@pytest.mark.parametrize("xs,expected", [([1, 2], 1.5), ([1, 2, 3], 2)])
def test_mean(xs, expected):
    assert mean(xs) == pytest.approx(expected)


@pytest.fixture
def stack():
    s = Stack()
    s.push(1)
    return s


def test_pop(stack):
    assert stack.pop() == 1
    with pytest.raises(EmptyError):
        stack.pop()
"""
STATS_PROMPT = "Write mean(xs) and a Stack (push, pop) whose pop raises EmptyError when empty."
STATS_WRONG = STATS.replace("/ len(xs)", "/ 2")
NODE_IDS = ["test_mean[xs0-1.5]", "test_mean[xs1-2]", "test_pop"]


def pytest_task(**fields: Any) -> Task:
    return Task.model_validate({"id": "stats", "prompt": STATS_PROMPT, "tests": PYTEST_MODULE} | fields)


def script_stats_fail_then_fix(fake_llm: Any) -> None:
    """The first answer to the stats prompt is wrong (mean divides by 2), the retry right."""
    fake_llm.script(
        {"pattern": "Your previous implementation", "replies": [fence(STATS)]},
        {"pattern": "Write mean", "replies": [fence(STATS_WRONG)]},
        default=LESSON,
    )


async def test_pytest_module_on_every_judge(sandbox_judge: Any) -> None:
    task = pytest_task()
    assert task.tests_format == "pytest"
    right = await sandbox_judge.judge(task.hidden_submission(STATS))
    assert right.status == "passed", right
    assert [(t.name, t.passed) for t in right.tests] == [(n, True) for n in NODE_IDS]
    wrong = await sandbox_judge.judge(task.hidden_submission(STATS_WRONG))
    assert wrong.status == "failed", wrong
    assert [(t.name, t.passed) for t in wrong.tests] == [
        (NODE_IDS[0], True),
        (NODE_IDS[1], False),
        (NODE_IDS[2], True),
    ]
    # pytest's assertion rewriting: the actual value and the expected one
    assert "assert 3.0 == 2 ± 2.0e-06" in wrong.tests[1].message


OUTCOMES = """import pytest
from solution import mean


def test_ok():
    assert mean([2]) == 2


@pytest.mark.skip(reason="later")
def test_skipped():
    assert False


@pytest.mark.xfail(reason="known bug")
def test_xfailed():
    assert mean([1]) == 5


@pytest.mark.xfail(reason="fixed since")
def test_xpassed():
    assert mean([1]) == 1
"""


@pytest.mark.parametrize(
    ("module", "status", "outcomes"),
    [
        (
            OUTCOMES,
            "passed",
            {"test_ok": True, "test_skipped": False, "test_xfailed": True, "test_xpassed": True},
        ),
        (OUTCOMES.replace('reason="fixed since"', 'reason="fixed since", strict=True'), "failed", None),
        (OUTCOMES + "\n\ndef test_fixture(missing):\n    pass\n", "error", None),
        (
            OUTCOMES
            + "\n\n@pytest.fixture\ndef bad():\n    raise KeyError('k')\n\n\ndef test_bad(bad):\n    pass\n",
            "error",
            None,
        ),
        (OUTCOMES + "\n\ndef test_raises():\n    {}['k']\n", "error", None),
        (
            OUTCOMES + "\n\ndef test_not_raised():\n    with pytest.raises(ValueError):\n        mean([1])\n",
            "failed",
            None,
        ),
        ("from solution import nothing_here\n\ndef test_x():\n    pass\n", "error", None),
        ("import pytest\n\ndef test_x(:\n", "error", None),
        ("import pytest\n\n@pytest.mark.skip\ndef test_x():\n    pass\n", "no_signal", None),
        ("import pytest\n\ndef helper():\n    pass\n", "no_signal", None),
    ],
)
async def test_pytest_outcomes_map_to_verdicts(
    judge_factory: JudgeFactory, module: str, status: str, outcomes: dict[str, bool] | None
) -> None:
    judge = await judge_factory(mode="pooled", runtime="runc")
    code = "def mean(xs):\n    return sum(xs) / len(xs)\n"
    verdict = await judge.judge(Submission(code=code, pytest=module))  # a Task refuses a syntax error
    assert verdict.status == status, verdict
    if outcomes is not None:
        assert {t.name: t.passed for t in verdict.tests} == outcomes
        skipped = [t for t in verdict.tests if t.skipped]
        assert [(t.name, t.message) for t in skipped] == [("test_skipped", "Skipped: later")]
        assert verdict.failing() == []


async def test_v1_judge_takes_a_pytest_module(redis_url: str, key_prefix: str, sandbox_image: str) -> None:
    settings = service_settings(redis_url, key_prefix, judge_image=sandbox_image)
    async with running_app(settings) as base, httpx.AsyncClient(base_url=base, timeout=60) as client:
        right = await client.post("/v1/judge", json={"code": STATS, "pytest": PYTEST_MODULE})
        wrong = await client.post("/v1/judge", json={"code": STATS_WRONG, "pytest": PYTEST_MODULE})
        both = await client.post(
            "/v1/judge", json={"code": "x = 1", "pytest": PYTEST_MODULE, "asserts": ["assert x"]}
        )
    assert right.status_code == 200 and right.json()["status"] == "passed"
    assert [t["name"] for t in right.json()["tests"]] == NODE_IDS
    assert wrong.json()["status"] == "failed"
    assert both.status_code == 422 and "judged alone" in both.json()["detail"]


def test_rfx_judge_and_rfx_run_take_pytest_tasks(
    fake_llm: Any,
    tmp_path: Path,
    env: dict[str, str],  # noqa: F811 (fixture)
) -> None:
    problems = tmp_path / "problems.jsonl"
    records = [
        {"task_id": "stats/1", "prompt": "", "test": PYTEST_MODULE, "canonical_solution": STATS},
        {
            "task_id": "stats/2",
            "prompt": "",
            "test": PYTEST_MODULE,
            "test_format": "pytest",
            "canonical_solution": STATS_WRONG,
        },
    ]
    problems.write_text("".join(json.dumps(r) + "\n" for r in records))
    done = rfx(["judge", str(problems)], env)
    assert done.returncode == 0, done.stderr
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(r["task_id"], r["status"]) for r in results] == [("stats/1", "passed"), ("stats/2", "failed")]
    assert [t["name"] for t in results[1]["tests"]] == NODE_IDS

    script_stats_fail_then_fix(fake_llm)
    task_file = tmp_path / "task.json"
    task_file.write_text(pytest_task().model_dump_json())
    args = ["run", "--task", str(task_file), "--base-url", fake_llm.base_url, "--model", "m", "--json"]
    result = rfx([*args, "--max-trials", "3", "--feedback", "oracle"], env)
    assert result.returncode == 0, result.stderr
    episode = Episode.model_validate_json(result.stdout)
    assert (episode.status, episode.final_trial) == ("succeeded", 2)
    first = episode.attempts[0].hidden
    assert first is not None and [(t.name, t.passed) for t in first.tests][1] == (NODE_IDS[1], False)


def test_rfx_bench_runs_asserts_and_pytest_problems(
    fake_llm: Any,
    tmp_path: Path,
    env: dict[str, str],  # noqa: F811 (fixture)
) -> None:
    """A dataset of an MBPP-shaped problem (test_list, no entry_point) and a pytest one: the right
    answer succeeds, the wrong one fails with the failing node id in its hidden verdict."""
    dataset = tmp_path / "problems.jsonl"
    records = [
        {"task_id": "mbpp/add", "prompt": PROMPT, "test_list": MBPP},
        {"task_id": "stats/mean", "prompt": STATS_PROMPT, "test": PYTEST_MODULE},
    ]
    dataset.write_text("".join(json.dumps(r) + "\n" for r in records))
    fake_llm.script(
        {"pattern": "Write mean", "replies": [fence(STATS_WRONG)]},
        {"pattern": "def add", "replies": [fence(RIGHT)]},
        default=LESSON,
    )
    out = tmp_path / "run"
    args = ["bench", "humaneval", "--dataset", str(dataset), "--strategy", "single", "--samples", "1"]
    args += ["--concurrency", "1", "--out", str(out), "--model", "m", "--base-url", fake_llm.base_url]
    done = rfx(args, env)
    assert done.returncode == 0, done.stderr[-2000:]
    episodes = [
        Episode.model_validate_json(line) for line in (out / "episodes.jsonl").read_text().splitlines()
    ]
    by_task = {e.task.id: e for e in episodes}
    assert by_task["mbpp/add"].status == "succeeded" and by_task["mbpp/add"].task.tests_format == "asserts"
    stats = by_task["stats/mean"]
    assert stats.status == "failed" and stats.task.tests_format == "pytest"
    hidden = stats.attempts[-1].hidden
    assert hidden is not None and [t.name for t in hidden.failing()] == [NODE_IDS[1]]


def test_visible_pytest_module_is_the_feedback(
    fake_llm: Any,
    tmp_path: Path,
    env: dict[str, str],  # noqa: F811 (fixture)
) -> None:
    """Visible tests as a pytest module: the feedback verdict names the failing node id."""
    script_stats_fail_then_fix(fake_llm)
    visible = "from solution import mean\n\n\ndef test_three():\n    assert mean([1, 2, 3]) == 2\n"
    task = {"id": "stats/v", "prompt": STATS_PROMPT, "tests": PYTEST_MODULE, "visible_tests": [visible]}
    task_file = tmp_path / "task.json"
    task_file.write_text(json.dumps(task))
    args = ["run", "--task", str(task_file), "--base-url", fake_llm.base_url, "--model", "m", "--json"]
    result = rfx([*args, "--max-trials", "3"], env)
    assert result.returncode == 0, result.stderr
    episode = Episode.model_validate_json(result.stdout)
    assert episode.config.feedback in (None, "visible") and episode.task.visible_tests_format == "pytest"
    assert (episode.status, episode.final_trial) == ("succeeded", 2)
    first = episode.attempts[0].feedback
    assert first is not None and first.status == "failed"
    assert [(t.name, t.passed) for t in first.tests] == [("test_three", False)]
    assert "assert 3.0 == 2" in first.tests[0].message
