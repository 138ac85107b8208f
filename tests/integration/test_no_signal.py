"""No signal is not a pass: feedback with no tests to run is `no_signal`, never `passed`, never solved.

`self_tests` where the model writes no readable assert is asked once more, then says so; `visible` on
a task without visible tests is refused as bad input (422 over HTTP, exit 2 from `rfx run`) and, should
a library caller pass it anyway, is `no_signal` in the loop. Real judge, fake model over HTTP.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from app.llm.fake_script import Rule
from tests.integration.apiserver import running_app, service_settings, task_body
from tests.integration.test_episode_engine import RIGHT, TASK, Rig
from tests.integration.test_episode_engine import reflector_llm as reflector_llm
from tests.integration.test_episode_engine import rig as rig
from tests.integration.test_run_cli import env as env
from tests.integration.test_run_cli import one_line_error, rfx

WRITE = r"^Write \d+ unit tests for the Python function `add`"
AGAIN = r"no `assert` line that could be read"
NO_TESTS = TASK.model_copy(update={"visible_tests": []})


def script(rig: Rig, *, first_tests: str, second_tests: str) -> None:
    rig.actor_server.script(
        Rule(model="actor-m", pattern=AGAIN, replies=[second_tests]),
        Rule(model="actor-m", pattern=WRITE, replies=[first_tests]),
        Rule(model="actor-m", replies=[RIGHT]),  # right code: only the feedback decides "solved"
    )


def asked(rig: Rig, pattern: str) -> int:
    return sum(bool(re.search(pattern, r.last_user)) for r in rig.actor_requests())


async def test_self_tests_without_any_assert_are_no_signal_and_never_solved(rig: Rig) -> None:
    script(rig, first_tests="It obviously works.", second_tests="I am confident it is correct.")
    # greedy retries judge the same right code again, so every trial's feedback is looked at
    ep = await rig.run(feedback="self_tests", max_trials=2, retries="greedy")

    assert asked(rig, WRITE) == 1 and asked(rig, AGAIN) == 1  # asked once more
    first = ep.attempts[0]
    assert first.own_tests == []
    assert first.feedback is not None and first.feedback.status == "no_signal"
    assert "no readable assert" in first.feedback.detail
    assert ep.stop_reason != "solved" and ep.stop_reason == "max_trials"
    assert all(a.feedback is not None and not a.feedback.passed for a in ep.attempts)
    assert first.hidden is not None and first.hidden.passed  # the code was right; nothing said so


async def test_self_tests_asked_again_use_the_second_reply(rig: Rig) -> None:
    script(rig, first_tests="It works.", second_tests="```python\nassert add(2, 2) == 4\n```")
    ep = await rig.run(feedback="self_tests", max_trials=2)

    assert asked(rig, AGAIN) == 1
    assert ep.attempts[0].own_tests == ["assert add(2, 2) == 4"]
    assert (ep.status, ep.stop_reason, len(ep.attempts)) == ("succeeded", "solved", 1)


async def test_visible_feedback_without_visible_tests_is_no_signal_in_the_loop(rig: Rig) -> None:
    rig.actor_server.script(Rule(model="actor-m", replies=[RIGHT]))
    ep = await rig.run(task=NO_TESTS, feedback="visible", max_trials=1)
    feedback = ep.attempts[0].feedback
    assert feedback is not None and feedback.status == "no_signal"
    assert ep.stop_reason == "max_trials"


async def test_api_refuses_visible_feedback_without_visible_tests(redis_url: str, key_prefix: str) -> None:
    body = task_body(feedback="visible")
    body["task"]["visible_tests"] = []  # type: ignore[index]
    async with (
        running_app(service_settings(redis_url, key_prefix)) as base,
        httpx.AsyncClient(base_url=base) as client,
    ):
        r = await client.post("/v1/episodes", json=body)
        listed = (await client.get("/v1/episodes")).json()
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "feedback 'visible' needs visible tests" in r.json()["detail"]
    assert listed["data"] == []  # nothing was accepted


def test_cli_run_refuses_visible_feedback_without_visible_tests(
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    task_file = tmp_path / "task.json"
    task_file.write_text(NO_TESTS.model_dump_json())
    result = rfx(["run", "--task", str(task_file), "--feedback", "visible"], env)
    one_line_error(result, 2, "feedback 'visible' needs visible tests")
