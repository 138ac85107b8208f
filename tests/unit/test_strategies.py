"""Strategies other than reflexion, and the pure helpers they rely on."""

from __future__ import annotations

import pytest

from app.reflexion.conversation import describe_verdict, says_no_change
from app.reflexion.models import Attempt, ChatMessage, Episode, EpisodeConfig, TestResult, Verdict
from app.reflexion.vocabulary import REFLECTING_STRATEGIES, STRATEGIES, StrategyName
from tests.fakes.inmemory import fenced
from tests.unit.test_loop import HIDDEN, LESSON, RIGHT, TASK, WRONG, Parts


@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_only_the_reflecting_strategies_ask_the_reflector(strategy: StrategyName) -> None:
    parts = Parts([WRONG])
    ep = await parts.run(strategy=strategy, max_trials=3, samples=3)
    assert ep.status == "failed"
    assert bool(parts.reflector.calls) is (strategy in REFLECTING_STRATEGIES)


async def test_single_is_one_attempt() -> None:
    parts = Parts([WRONG, RIGHT])
    ep = await parts.run(strategy="single", max_trials=5)
    assert (ep.status, ep.stop_reason, len(ep.attempts)) == ("failed", "max_trials", 1)
    assert parts.reflector.calls == []


async def test_best_of_n_draws_all_samples_and_answers_with_first_passing() -> None:
    parts = Parts([WRONG, RIGHT, WRONG, RIGHT])
    ep = await parts.run(strategy="best_of_n", samples=4, seed=100)
    assert (ep.status, ep.stop_reason, ep.final_trial) == ("succeeded", "solved", 2)
    assert len(ep.attempts) == 4 and parts.reflector.calls == []
    assert [o["seed"] for o in parts.actor.options] == [100, 101, 102, 103]
    assert {o["temperature"] for o in parts.actor.options} == {0.8}
    assert all(a.reflection is None for a in ep.attempts)


async def test_best_of_n_without_a_pass_answers_with_the_last() -> None:
    parts = Parts([WRONG])
    ep = await parts.run(strategy="best_of_n", samples=3, temperature=0.3)
    assert (ep.status, ep.stop_reason, ep.final_trial) == ("failed", "max_trials", 3)
    assert {o["temperature"] for o in parts.actor.options} == {0.3}


async def test_self_refine_never_consults_a_judge_for_feedback() -> None:
    parts = Parts([WRONG, "The code subtracts; it should add.", RIGHT, "NO CHANGE NEEDED"])
    ep = await parts.run(strategy="self_refine", feedback="oracle", max_trials=5)
    assert (ep.status, ep.stop_reason, len(ep.attempts)) == ("succeeded", "solved", 2)
    assert parts.judge.feedback_runs() == [] and len(parts.judge.hidden_runs()) == 2
    assert all(a.feedback is None for a in ep.attempts)
    assert ep.attempts[0].critique == "The code subtracts; it should add."
    assert ep.attempts[1].critique == "NO CHANGE NEEDED"
    assert parts.reflector.calls == []
    assert "The code subtracts; it should add." in parts.actor.prompts()[2]
    assert not [p for p in parts.actor.prompts() if HIDDEN in p or "assert add(1, 1)" in p]


async def test_self_refine_declaring_wrong_code_done_is_a_measured_false_positive() -> None:
    parts = Parts([WRONG, "**NO CHANGE NEEDED.**"])
    ep = await parts.run(strategy="self_refine", max_trials=3)
    assert (ep.status, ep.stop_reason, len(ep.attempts)) == ("failed", "solved", 1)


async def test_self_refine_stops_at_max_trials() -> None:
    def reply(messages: list[ChatMessage]) -> str:
        return "Wrong operator." if "Review this implementation" in messages[-1].content else WRONG

    parts = Parts([reply])
    ep = await parts.run(strategy="self_refine", max_trials=3, retries="greedy")
    assert (ep.status, ep.stop_reason, len(ep.attempts)) == ("failed", "max_trials", 3)
    assert len(parts.actor.calls) == 5  # 3 attempts and 2 critiques: none after the last trial


async def test_self_tests_are_written_once_and_judge_the_attempts() -> None:
    own = fenced("assert add(2, 2) == 4\nassert add(0, 5) == 5")
    parts = Parts([own, WRONG, RIGHT])
    ep = await parts.run(feedback="self_tests", max_trials=3)
    assert (ep.status, ep.stop_reason, len(ep.attempts)) == ("succeeded", "solved", 2)
    expected = ["assert add(2, 2) == 4", "assert add(0, 5) == 5"]
    assert [s.asserts for s in parts.judge.feedback_runs()] == [expected, expected]
    assert ep.attempts[0].own_tests == expected == ep.attempts[1].own_tests
    assert ep.attempts[0].usage.total_tokens == 60  # tests + code + reflection
    assert "Write 5 unit tests" in parts.actor.prompts()[0]
    assert LESSON in parts.actor.prompts()[2]


async def test_self_tests_resume_reuses_the_recorded_tests() -> None:
    own = fenced("assert add(2, 2) == 4")
    first = Parts([own, WRONG, RIGHT])
    await first.run(feedback="self_tests")
    snapshot = first.sink.snapshot_after("reflection.created")
    again = Parts([RIGHT])
    again.memory = first.memory
    ep = await again.run(episode=snapshot)
    assert ep.status == "succeeded" and len(again.actor.calls) == 1
    assert ep.attempts[1].own_tests == ["assert add(2, 2) == 4"]


def test_says_no_change() -> None:
    assert says_no_change("NO CHANGE NEEDED")
    assert says_no_change("Looks right.\n**No change needed.**")
    assert not says_no_change("There is no change needed in the loop, but the base case is wrong.")
    assert not says_no_change("")


def test_describe_verdict_names_failing_tests_and_messages() -> None:
    verdict = Verdict(
        status="failed",
        tests=[
            TestResult(name="assert f(1) == 2", passed=True),
            TestResult(name="assert f(2) == 4", passed=False, message="AssertionError: f(2) returned 3"),
        ],
    )
    text = describe_verdict(verdict)
    assert "1 of 2 tests passed" in text and "assert f(2) == 4" in text and "returned 3" in text
    assert "assert f(1) == 2" not in text
    crash = describe_verdict(Verdict(status="timeout", detail="exceeded 10 s", stderr="x" * 5000))
    assert "timeout" in crash and "exceeded 10 s" in crash and len(crash) < 1000
    assert describe_verdict(None) == "No tests were run."


def test_final_attempt_choice() -> None:
    passed, failed = Verdict(status="passed"), Verdict(status="failed")
    attempts = [
        Attempt(trial=1, code="a", feedback=failed),
        Attempt(trial=2, code="b", feedback=passed),
        Attempt(trial=3, code="c", feedback=passed),
        Attempt(trial=4, code=""),
    ]
    bon = Episode(id="x", task=TASK, config=EpisodeConfig(strategy="best_of_n"), attempts=attempts)
    rfx = Episode(id="y", task=TASK, config=EpisodeConfig(strategy="reflexion"), attempts=attempts)
    best, last = bon.answer, rfx.answer
    assert best is not None and best.trial == 2
    assert last is not None and last.trial == 3
    assert Episode(id="z", task=TASK).answer is None
