"""The pure episode loop on in-memory fakes: stop reasons, statuses, events, memory, resume."""

from __future__ import annotations

import asyncio

import pytest

from app.prompts import default_prompt_book
from app.reflexion.loop import EpisodeDeps, new_episode, run_episode
from app.reflexion.models import Completion, Episode, EpisodeConfig, Task, Usage
from tests.fakes.inmemory import InMemoryMemory, MarkerJudge, RecordingSink, ScriptedModel, fenced

HIDDEN = "HIDDEN_SENTINEL_7f3a"
TASK = Task(
    id="demo/add",
    prompt='def add(a: int, b: int) -> int:\n    """Return the sum of a and b."""\n',
    entry_point="add",
    tests=f"def check(candidate):\n    assert candidate(2, 3) == 5  # {HIDDEN}\n",
    visible_tests=["assert add(1, 1) == 2"],
)
WRONG = fenced("def add(a: int, b: int) -> int:\n    return a - b")
RIGHT = fenced("def add(a: int, b: int) -> int:\n    return a + b")
WRONGS = [fenced(f"def add(a: int, b: int) -> int:\n    return a - b - {i}") for i in range(8)]
LESSON = "I subtracted instead of adding; next time use the + operator."


class Parts:
    """One set of fakes for a test, and a shortcut to run an episode on them."""

    def __init__(self, actor: list[object], reflector: list[object] | None = None, **judge: object) -> None:
        self.actor = ScriptedModel("actor-m", list(actor))  # type: ignore[arg-type]
        self.reflector = ScriptedModel("reflector-m", list(reflector or [LESSON]))  # type: ignore[arg-type]
        self.judge = MarkerJudge(good="a + b", hidden_hint=f"AssertionError: {HIDDEN}", **judge)  # type: ignore[arg-type]
        self.memory = InMemoryMemory()
        self.sink = RecordingSink()

    async def run(self, task: Task = TASK, episode: Episode | None = None, **config: object) -> Episode:
        deps = EpisodeDeps(
            actor=self.actor,
            reflector=self.reflector,
            judge=self.judge,
            memory=self.memory,
            events=self.sink,
            prompts=default_prompt_book(),
        )
        return await run_episode(episode or new_episode(task, EpisodeConfig(**config), "t1"), deps)


async def test_fail_reflect_then_pass() -> None:
    parts = Parts([WRONG, RIGHT])
    ep = await parts.run()
    assert (ep.status, ep.stop_reason, ep.final_trial) == ("succeeded", "solved", 2)
    first, second = ep.attempts
    assert first.feedback is not None and first.feedback.status == "failed"
    assert first.hidden is not None and first.hidden.status == "failed"
    assert first.reflection == LESSON and second.reflection is None
    assert second.feedback is not None and second.feedback.passed and second.hidden is not None
    retry_prompt = parts.actor.prompts()[1]
    assert LESSON in retry_prompt
    assert "assert add(1, 1) == 2" in retry_prompt and "actual value was -1" in retry_prompt
    assert "return a - b" in retry_prompt  # the previous code is shown
    reflect_prompt = parts.reflector.prompts()[0]
    assert "return a - b" in reflect_prompt and "actual value was -1" in reflect_prompt
    assert parts.sink.types() == [
        "episode.started",
        "attempt.generated",
        "attempt.judged",
        "reflection.created",
        "attempt.generated",
        "attempt.judged",
        "episode.finished",
    ]
    assert [r.text for r in parts.memory.episodes[("t1", ep.id)]] == [LESSON]
    assert ep.actor_model == "actor-m" and ep.reflector_model == "reflector-m"
    assert set(ep.prompt_versions) == {
        "actor/system",
        "actor/initial",
        "actor/retry",
        "reflector/system",
        "reflector/reflect",
    }
    assert ep.usage.total_tokens == 3 * 20
    assert first.usage.total_tokens == 40  # its generation plus the reflection on it


async def test_false_positive_is_failed_but_solved() -> None:
    parts = Parts([RIGHT], hidden_pass=False)
    ep = await parts.run()
    assert (ep.status, ep.stop_reason, len(ep.attempts)) == ("failed", "solved", 1)


async def test_max_trials_reflects_between_trials_only() -> None:
    parts = Parts(WRONGS)
    ep = await parts.run(max_trials=3)
    assert (ep.status, ep.stop_reason, ep.final_trial) == ("failed", "max_trials", 3)
    assert [a.reflection is not None for a in ep.attempts] == [True, True, False]
    assert len(parts.reflector.calls) == 2


async def test_feedback_defaults_to_visible_else_oracle() -> None:
    parts = Parts([RIGHT])
    await parts.run()
    assert [s.asserts for s in parts.judge.feedback_runs()] == [TASK.visible_tests]
    assert len(parts.judge.hidden_runs()) == 1
    no_visible = TASK.model_copy(update={"visible_tests": []})
    parts = Parts([RIGHT])
    ep = await parts.run(task=no_visible)
    assert parts.judge.feedback_runs() == [] and len(parts.judge.hidden_runs()) == 1  # oracle: judged once
    assert ep.attempts[0].feedback == ep.attempts[0].hidden


@pytest.mark.parametrize("feedback", ["visible", "self_tests", "none"])
async def test_hidden_tests_never_reach_a_prompt(feedback: str) -> None:
    own_tests = fenced("assert add(2, 2) == 4")
    parts = Parts([own_tests, *WRONGS] if feedback == "self_tests" else WRONGS)
    await parts.run(feedback=feedback, max_trials=3)
    sent = parts.actor.prompts() + parts.reflector.prompts()
    assert len(parts.actor.calls) >= 3 and len(parts.reflector.calls) == 2
    assert not [p for p in sent if HIDDEN in p or "candidate(2, 3)" in p]


async def test_oracle_feedback_shows_the_hidden_failure() -> None:
    parts = Parts([WRONG, RIGHT])
    ep = await parts.run(feedback="oracle")
    assert ep.status == "succeeded"
    assert HIDDEN in parts.actor.prompts()[1] and HIDDEN in parts.reflector.prompts()[0]


async def test_actor_llm_fault_ends_with_llm_error() -> None:
    fault = Completion(outcome="error", error="HTTP 500 after 3 retries", model="actor-m")
    parts = Parts([WRONG, fault])
    ep = await parts.run(max_trials=3)
    assert (ep.status, ep.stop_reason) == ("failed", "llm_error")
    assert ep.error is not None and "HTTP 500 after 3 retries" in ep.error
    assert [a.llm_outcome for a in ep.attempts] == ["ok", "error"]
    assert ep.attempts[1].code == "" and ep.attempts[1].hidden is None
    assert ep.final_trial == 1
    assert parts.sink.types().count("episode.finished") == 1


@pytest.mark.parametrize("outcome", ["empty", "malformed"])
async def test_empty_or_malformed_reply_is_llm_error(outcome: str) -> None:
    parts = Parts([Completion(outcome=outcome)])
    ep = await parts.run()
    assert (ep.status, ep.stop_reason, ep.final_trial) == ("failed", "llm_error", 1)
    assert parts.judge.submissions == []


async def test_reflector_fault_ends_with_llm_error() -> None:
    parts = Parts([WRONG], reflector=[Completion(outcome="error", error="timed out")])
    ep = await parts.run()
    assert ep.stop_reason == "llm_error" and ep.error is not None and "reflector" in ep.error
    assert len(ep.attempts) == 1 and ep.status == "failed"


async def test_reply_without_code_is_a_failed_trial_not_judged() -> None:
    parts = Parts(["I am not sure how to do this.", RIGHT])
    ep = await parts.run()
    assert (ep.status, ep.stop_reason, ep.final_trial) == ("succeeded", "solved", 2)
    first = ep.attempts[0]
    assert first.code == "" and first.hidden is not None and first.hidden.status == "error"
    assert first.feedback is not None and not first.feedback.passed
    assert len(parts.judge.submissions) == 2  # only the second attempt went to the judge
    assert "no Python code block" in parts.actor.prompts()[1]


async def test_sandbox_error_ends_with_judge_error() -> None:
    parts = Parts([RIGHT], sandbox_error=True)
    ep = await parts.run()
    assert (ep.status, ep.stop_reason) == ("failed", "judge_error")
    assert ep.error == "docker engine unreachable"


async def test_token_budget_stops_before_the_next_call() -> None:
    parts = Parts([WRONG])
    ep = await parts.run(budget_tokens=30, max_trials=5)
    # attempt 1 costs 20 tokens, its reflection 20 more (40 >= 30): no second attempt
    assert (ep.status, ep.stop_reason, len(ep.attempts)) == ("failed", "budget", 1)
    assert ep.usage.total_tokens == 40


async def test_wall_clock_timeout_is_timed_out() -> None:
    parts = Parts([RIGHT])
    parts.actor.hang = True
    ep = await parts.run(timeout_s=0.05)
    assert (ep.status, ep.stop_reason) == ("timed_out", "timeout")
    assert parts.sink.types()[-1] == "episode.finished"


async def test_cancel_records_cancelled_then_reraises() -> None:
    parts = Parts([RIGHT])
    parts.actor.hang = True
    task = asyncio.create_task(parts.run())
    await parts.actor.called.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    kind, data, snapshot = parts.sink.events[-1]
    assert kind == "episode.finished" and data["status"] == "cancelled"
    # the shape every `episode.finished` has, whoever wrote it (tests/integration/test_api_episodes.py)
    assert set(data) == {"status", "stop_reason", "final_trial", "trials", "tokens", "error"}
    assert (snapshot.status, snapshot.stop_reason) == ("cancelled", "cancelled")


async def test_resume_continues_from_last_judged_attempt() -> None:
    first = Parts([WRONG, RIGHT])
    await first.run()
    after_reflection = first.sink.snapshot_after("reflection.created")
    # the crash happened after attempt 2 was generated but before it was judged
    crashed = first.sink.snapshot_after("attempt.generated", 1)
    assert crashed.status == "running" and crashed.attempts[-1].hidden is None

    second = Parts([RIGHT])
    second.memory = first.memory
    ep = await second.run(episode=crashed)
    assert (ep.id, ep.status, ep.stop_reason, len(ep.attempts)) == (crashed.id, "succeeded", "solved", 2)
    assert second.sink.types() == ["attempt.generated", "attempt.judged", "episode.finished"]
    assert second.reflector.calls == []  # attempt 1's lesson was already recorded
    assert LESSON in second.actor.prompts()[0]

    third = Parts([RIGHT])
    third.memory = first.memory
    ep = await third.run(episode=after_reflection)
    assert ep.status == "succeeded" and len(ep.attempts) == 2


async def test_terminal_episode_is_returned_unchanged() -> None:
    parts = Parts([RIGHT])
    done = await parts.run()
    again = Parts([WRONG])
    ep = await again.run(episode=done.model_copy(deep=True))
    assert ep == done and again.sink.events == [] and again.actor.calls == []


async def test_resume_of_queued_record_emits_started_once() -> None:
    parts = Parts([RIGHT])
    queued = Episode(id="ep-queued", tenant="t9", task=TASK, config=EpisodeConfig(max_trials=2))
    ep = await parts.run(episode=queued)
    assert ep.id == "ep-queued" and ep.tenant == "t9" and ep.status == "succeeded"
    assert parts.sink.types().count("episode.started") == 1


async def test_memory_scope_task_starts_from_earlier_lessons() -> None:
    parts = Parts([WRONG, RIGHT])
    await parts.run(memory="task")
    rerun = Parts([RIGHT])
    rerun.memory = parts.memory
    await rerun.run(memory="task")
    assert LESSON in rerun.actor.prompts()[0]
    fresh = Parts([RIGHT])
    fresh.memory = parts.memory
    await fresh.run(memory="episode")
    assert LESSON not in fresh.actor.prompts()[0]


async def test_memory_scope_none_keeps_lessons_in_the_episode_only() -> None:
    parts = Parts([WRONG, RIGHT])
    ep = await parts.run(memory="none")
    assert ep.status == "succeeded"
    assert parts.memory.episodes == {} and parts.memory.tasks == {}
    assert LESSON in parts.actor.prompts()[1]


async def test_memory_window_keeps_the_last_k_lessons() -> None:
    lessons = [f"lesson number {i}" for i in range(1, 5)]
    parts = Parts(WRONGS, reflector=list(lessons))
    await parts.run(max_trials=5, memory_window=2)
    last_prompt = parts.actor.prompts()[-1]
    assert "lesson number 3" in last_prompt and "lesson number 4" in last_prompt
    assert "lesson number 2" not in last_prompt
    parts = Parts([WRONG, RIGHT])
    await parts.run(memory_window=0)
    assert LESSON not in parts.actor.prompts()[1] and "actual value was -1" in parts.actor.prompts()[1]


async def test_usage_from_the_model_is_summed() -> None:
    costly = Completion(text=RIGHT, usage=Usage(prompt_tokens=100, completion_tokens=7, cost_usd=0.5))
    parts = Parts([costly])
    ep = await parts.run()
    assert ep.usage == Usage(prompt_tokens=100, completion_tokens=7, cost_usd=0.5)
    assert ep.attempts[0].usage == ep.usage
