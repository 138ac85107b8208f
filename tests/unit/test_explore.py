"""Retries that explore and facts the model can act on, on the in-memory fakes (issue 22 items 1, 2).

Sampled retries follow a temperature schedule with a new seed per draw; a program equal to an earlier
attempt is drawn again (a resample, not a trial) and never judged; a model that only repeats itself
ends `stuck`. Feedback names the exception with the candidate's own line; `trace` adds its locals.
"""

from __future__ import annotations

import sys

import pytest
from pydantic import ValidationError

from app.judge.verdicts import verdict_from_report
from app.paths import sandbox_dir
from app.reflexion.codegen import program_key
from app.reflexion.conversation import describe_verdict
from app.reflexion.models import EpisodeConfig, ErrorFacts, TestResult, Verdict
from tests.fakes.inmemory import fenced
from tests.unit.test_loop import LESSON, RIGHT, WRONG, Parts

WRONG_AGAIN = fenced(
    'def add(a: int, b: int) -> int:\n    """Add them."""\n    # subtract, reformatted\n    return (a -  b)'
)
OTHER_WRONG = fenced("def add(a: int, b: int) -> int:\n    return a * b")
FACTS = ErrorFacts(
    exception="ZeroDivisionError: division by zero",
    line=3,
    source="return a / b",
    locals={"a": "1", "b": "0"},
)


# ---- what counts as the same program ---------------------------------------------------------------


def test_program_key_ignores_formatting_comments_and_docstrings() -> None:
    plain = "def add(a, b):\n    return a - b\n"
    dressed = 'def add(a, b):\n    """Subtract."""\n    # why not\n    return (a  -  b)\n'
    assert program_key(plain) == program_key(dressed)
    assert program_key(plain) != program_key("def add(a, b):\n    return a + b\n")
    assert program_key('"""Module doc."""\n' + plain) == program_key(plain)
    only_doc = 'def f():\n    """Only a docstring."""\n'
    assert program_key(only_doc) == program_key("def f():\n    pass\n")
    assert program_key("def f(:\n  x") == program_key("def f(:\n  x\n\n")  # unparsable: by text
    assert program_key("def f(:\n  x") != program_key("def f(:\n  y")


# ---- sampled retries -------------------------------------------------------------------------------


async def test_a_repeated_program_is_resampled_not_judged() -> None:
    parts = Parts([WRONG, WRONG_AGAIN, OTHER_WRONG, RIGHT])
    ep = await parts.run(max_trials=3, seed=100)
    assert (ep.status, ep.stop_reason, ep.final_trial) == ("succeeded", "solved", 3)
    assert [a.trial for a in ep.attempts] == [1, 2, 3]
    assert [(r.trial, r.duplicate_of) for r in ep.resamples] == [(2, 1)]
    assert [a.resampled_from for a in ep.attempts] == [[], [1], []]
    assert "a * b" in ep.attempts[1].code and "(a -  b)" in ep.resamples[0].code
    # only the three judged attempts reached the judge (a feedback and a hidden run each)
    assert len(parts.judge.feedback_runs()) == 3 and len(parts.judge.hidden_runs()) == 3
    # temperature schedule over retry draws (resamples included), a new seed for every draw
    temperatures = [o["temperature"] for o in parts.actor.options]
    seeds = [o["seed"] for o in parts.actor.options]
    assert temperatures == [0.0, 0.4, 0.6, 0.8]
    assert seeds == [100, 101, 102, 103]
    assert [(a.temperature, a.seed) for a in ep.attempts] == [(0.0, 100), (0.6, 102), (0.8, 103)]
    assert (ep.resamples[0].temperature, ep.resamples[0].seed) == (0.4, 101)
    assert ep.usage.total_tokens == sum(a.usage.total_tokens for a in ep.attempts) + sum(
        r.usage.total_tokens for r in ep.resamples
    )
    assert "attempt.resampled" in parts.sink.types()


async def test_only_repeating_ends_stuck_after_three_resamples() -> None:
    parts = Parts([WRONG])
    ep = await parts.run(max_trials=5)
    assert (ep.status, ep.stop_reason, ep.final_trial) == ("failed", "stuck", 1)
    assert len(ep.attempts) == 1
    assert [(r.trial, r.duplicate_of) for r in ep.resamples] == [(2, 1)] * 4  # the draw + 3 resamples
    assert len(parts.actor.calls) == 5 and len(parts.judge.hidden_runs()) == 1
    assert ep.error is not None and "repeated" in ep.error
    seeds = [o["seed"] for o in parts.actor.options[1:]]
    assert len(set(seeds)) == 4 and None not in seeds  # no configured seed: one derived per episode


async def test_stuck_status_follows_the_last_judged_answer() -> None:
    parts = Parts([WRONG], hidden_pass=True)
    ep = await parts.run(max_trials=3, max_resamples=1)
    assert (ep.status, ep.stop_reason) == ("succeeded", "stuck")
    assert len(ep.resamples) == 2


async def test_greedy_retries_judge_repeats_as_before() -> None:
    parts = Parts([WRONG])
    ep = await parts.run(max_trials=3, seed=7, retries="greedy")
    assert (ep.status, ep.stop_reason, len(ep.attempts)) == ("failed", "max_trials", 3)
    assert ep.resamples == [] and len(parts.judge.hidden_runs()) == 3
    assert [a.duplicate_of for a in ep.attempts] == [None, 1, 1]
    assert [(o["temperature"], o["seed"]) for o in parts.actor.options] == [(0.0, 7)] * 3


async def test_best_of_n_samples_stay_independent() -> None:
    parts = Parts([WRONG])
    ep = await parts.run(strategy="best_of_n", samples=3, seed=5)
    assert len(ep.attempts) == 3 and ep.resamples == [] and ep.stop_reason == "max_trials"
    assert [o["seed"] for o in parts.actor.options] == [5, 6, 7]
    assert [a.duplicate_of for a in ep.attempts] == [None, 1, 1]  # recorded (a duplicate rate), judged


async def test_self_refine_revisions_are_resampled() -> None:
    def reply(messages: list[object]) -> str:
        text = str(messages[-1].content)  # type: ignore[attr-defined]
        return "Wrong operator." if "Review this implementation" in text else WRONG

    parts = Parts([reply])
    ep = await parts.run(strategy="self_refine", max_trials=3, max_resamples=0)
    assert (ep.stop_reason, len(ep.attempts), len(ep.resamples)) == ("stuck", 1, 1)


async def test_a_resumed_episode_keeps_its_resample_count() -> None:
    parts = Parts([WRONG])
    await parts.run(max_trials=3)
    snapshot = parts.sink.snapshot_after("attempt.resampled", 1)  # two draws thrown away
    assert len(snapshot.resamples) == 2 and snapshot.status == "running"
    again = Parts([WRONG])
    ep = await again.run(episode=snapshot)
    assert ep.stop_reason == "stuck" and len(ep.resamples) == 4
    assert len(again.actor.calls) == 2  # two more draws, not four
    first_seeds = [o["seed"] for o in parts.actor.options]
    assert [o["seed"] for o in again.actor.options] == first_seeds[3:5]  # the same draws, resumed


async def test_resamples_spend_the_token_budget() -> None:
    parts = Parts([WRONG])
    ep = await parts.run(max_trials=3, budget_tokens=70)  # 20 tokens a call, the reflection included
    assert ep.stop_reason == "budget" and len(ep.resamples) == 2


def test_retry_settings_are_validated() -> None:
    assert EpisodeConfig().retries == "sampled" and EpisodeConfig().max_resamples == 3
    for bad in ({"retry_temperatures": []}, {"retry_temperatures": [0.5, 2.5]}, {"max_resamples": -1}):
        with pytest.raises(ValidationError):
            EpisodeConfig(**bad)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        EpisodeConfig(retries="hot")  # type: ignore[arg-type]


# ---- facts -------------------------------------------------------------------------------------------


def _raised() -> Verdict:
    failing = [
        TestResult(name="assert f(1, 0) == 0", passed=False, message="ZeroDivisionError", facts=FACTS),
        TestResult(name="assert f(2, 0) == 0", passed=False, message="ZeroDivisionError", facts=FACTS),
    ]
    return Verdict(status="error", tests=[TestResult(name="ok", passed=True), *failing])


def test_feedback_names_the_exception_line_and_source() -> None:
    text = describe_verdict(_raised())
    assert "ZeroDivisionError: division by zero was raised at line 3 of your code: `return a / b`" in text
    assert "local variables" not in text and "b = 0" not in text


def test_trace_level_adds_locals_once() -> None:
    text = describe_verdict(_raised(), "trace")
    assert text.count("local variables at that line: a = 1, b = 0") == 1
    assert text.count("was raised at line 3") == 2


async def test_retry_and_reflector_see_the_same_trace_facts() -> None:
    parts = Parts([WRONG, RIGHT])
    parts.judge.facts = FACTS
    await parts.run(feedback_level="trace")
    retry, reflect = parts.actor.prompts()[1], parts.reflector.prompts()[0]
    for prompt in (retry, reflect):
        assert "raised at line 3 of your code: `return a / b`" in prompt
        assert "local variables at that line: a = 1, b = 0" in prompt


async def test_fresh_retry_context_does_not_show_the_faulty_code() -> None:
    parts = Parts([WRONG, RIGHT])
    ep = await parts.run(retry_context="fresh")
    fresh = parts.actor.prompts()[1]
    assert "return a - b" not in fresh
    assert "actual value was -1" in fresh and LESSON in fresh and "assert add(1, 1) == 2" in fresh
    assert "actor/fresh" in ep.prompt_versions and "actor/retry" not in ep.prompt_versions
    parts = Parts([WRONG, RIGHT])
    await parts.run(retry_context="revise")
    assert "return a - b" in parts.actor.prompts()[1]


def test_facts_in_a_report_are_shaped_and_clipped() -> None:
    facts = {"exception": "E: x", "line": 3, "source": "s" * 1000, "locals": {"a": "1" * 500}}
    report = {
        "status": "error",
        "tests": [
            {"name": "t", "passed": False, "message": "m", "facts": facts},
            {"name": "u", "passed": False, "facts": "junk"},
            {"name": "v", "passed": False, "facts": {"line": "3", "locals": [1, 2]}},
        ],
    }
    first, junk, odd = verdict_from_report(report, {"outcome": "ok"}, 1.0).tests
    assert first.facts is not None and first.facts.line == 3
    assert len(first.facts.source) == 400 and first.facts.locals == {"a": "1" * 160}
    assert junk.facts is None
    assert odd.facts is not None and (odd.facts.line, odd.facts.locals) == (None, {})


def test_the_harness_believes_only_well_shaped_facts() -> None:
    sys.path.insert(0, str(sandbox_dir()))
    from rfx_sandbox.harness import error_facts

    # a call's exception reply: ["exc", name, message, is-base, where, info, states, facts]
    head = ["exc", "ValueError", "bad", False, "", {"cls": "ValueError"}, [None, None]]
    reply = [*head, ["facts", 4, "x = int(s)", [["s", "'a'"], "junk"]]]
    assert error_facts(reply, "ValueError: bad") == {
        "exception": "ValueError: bad",
        "line": 4,
        "source": "x = int(s)",
        "locals": {"s": "'a'"},
    }
    for forged in (["facts", "4", "", []], ["facts", 4, ""], ["other", 4, "", []]):
        assert error_facts([*head, forged], "E") is None
    assert error_facts(head, "E") is None
    assert error_facts([*head[:6], reply[7]], "E") is None  # only in its own place, not anywhere


async def test_a_repeat_of_any_earlier_trial_is_resampled() -> None:
    parts = Parts([WRONG, OTHER_WRONG, WRONG_AGAIN, RIGHT])
    ep = await parts.run(max_trials=3)
    assert [(r.trial, r.duplicate_of) for r in ep.resamples] == [(3, 1)]
    assert (ep.stop_reason, [a.resampled_from for a in ep.attempts]) == ("solved", [[], [], [1]])
