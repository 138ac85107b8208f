"""The steps an episode is made of: ask a model, write an attempt, judge it, reflect on it.

Strategies (strategies.py) compose these steps; the loop (loop.py) starts and finishes the episode.
All state lives in the Episode record, which every step updates in place and then hands to the event
sink: that is what lets the service resume an episode from its last completed attempt.

Decisions recorded here (docs/design.md repeats them):
- An LLM fault (a Completion with outcome `error`, `malformed` or `empty`, i.e. after the adapter's
  own retries) ends the episode with stop_reason `llm_error`; a faulted actor reply is still
  recorded as an attempt without code. A reply that is fine but has no code in it is an ordinary
  failed attempt that counts as a trial (its verdicts say why; no sandbox run is spent on it).
- A `sandbox_error` verdict ends the episode with `judge_error`.
- Feedback with no tests to run (`self_tests` where the model wrote no readable assert even when
  asked twice, `visible` on a task without visible tests) is the verdict `no_signal`, never `passed`:
  a program that merely runs to the end has shown nothing, so it never ends an episode as solved.
- The token budget is checked before every model call; the call that crosses it still completes,
  and its attempt is still judged.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass, field

from app.reflexion import codegen, tree
from app.reflexion.conversation import Conversation, describe_verdict
from app.reflexion.models import (
    Attempt,
    ChatMessage,
    Completion,
    Episode,
    EpisodeConfig,
    EventType,
    Reflection,
    Resample,
    Submission,
    Task,
    Usage,
    Verdict,
)
from app.reflexion.ports import ChatModel, EventSink, Judge, Memory
from app.reflexion.vocabulary import FeedbackSource, StopReason

LLM_FAULTS = frozenset({"error", "malformed", "empty"})
SELF_TESTS_ASKED = 5
SELF_TESTS_KEPT = 10
MAX_LESSON_CHARS = 2000
NO_SIGNAL = {
    "self_tests": "no feedback tests: the model wrote no readable assert, even when asked twice",
    "visible": "no feedback tests: the task has no visible tests",
}


@dataclass(frozen=True)
class Draw:
    """The sampling settings of one actor call."""

    temperature: float
    seed: int | None


def _seed_of(episode_id: str) -> int:
    """A stable per-episode seed base when none is configured (so a resumed episode draws the same)."""
    return int.from_bytes(hashlib.sha256(episode_id.encode()).digest()[:4], "big")


class StopEpisode(Exception):
    """Raised by a step to end the episode with a stop reason (caught by the loop, never escapes it)."""

    def __init__(self, reason: StopReason, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason: StopReason = reason
        self.detail = detail


@dataclass
class EpisodeRun:
    """One running episode: its record, the ports it talks to, and the steps strategies use."""

    episode: Episode
    actor: ChatModel
    reflector: ChatModel
    judge: Judge
    memory: Memory
    events: EventSink
    conversation: Conversation
    feedback: FeedbackSource
    _own_tests: list[str] | None = field(default=None, repr=False)

    @property
    def task(self) -> Task:
        return self.episode.task

    @property
    def config(self) -> EpisodeConfig:
        return self.episode.config

    # ---- state -------------------------------------------------------------------------------------
    def last(self) -> Attempt | None:
        return self.episode.attempts[-1] if self.episode.attempts else None

    @staticmethod
    def solved(attempt: Attempt) -> bool:
        """The loop stops on the feedback verdict; with no feedback source nothing is ever `solved` here."""
        return attempt.feedback_passed

    def discard_unfinished(self) -> None:
        """On resume, drop a trailing attempt that was generated but never judged (it is redone)."""
        while self.episode.attempts and self.episode.attempts[-1].hidden is None:
            self.episode.attempts.pop()

    async def emit(self, type: EventType, data: dict[str, object]) -> None:
        await self.events.emit(self.episode, type, data)

    # ---- models ------------------------------------------------------------------------------------
    async def ask(
        self, model: ChatModel, messages: list[ChatMessage], *, sample: int = 0, draw: Draw | None = None
    ) -> Completion:
        """One model call within the token budget; its usage is added to the episode at once."""
        budget = self.config.budget_tokens
        if budget is not None and self.episode.usage.total_tokens >= budget:
            raise StopEpisode("budget", f"{self.episode.usage.total_tokens} of {budget} tokens used")
        if draw is None:
            draw = self.greedy_draw(sample)
        completion = await model.complete(
            messages,
            temperature=draw.temperature,
            top_p=self.config.top_p,
            max_tokens=self.config.max_tokens,
            seed=draw.seed,
        )
        self.episode.usage = self.episode.usage + completion.usage
        return completion

    @staticmethod
    def fault(completion: Completion, role: str) -> StopEpisode | None:
        if completion.outcome in LLM_FAULTS or not completion.text.strip():
            why = completion.error or f"{completion.outcome} reply"
            return StopEpisode("llm_error", f"{role} model: {why}")
        return None

    # ---- attempts ----------------------------------------------------------------------------------
    def greedy_draw(self, sample: int = 0) -> Draw:
        """The configured temperature and seed (best_of_n offsets the seed by the sample number)."""
        seed = self.config.seed + sample if self.config.seed is not None else None
        return Draw(self.config.resolved_temperature(), seed)

    def retry_draw(self) -> Draw:
        """A sampled retry: the n-th retry draw of the episode (resamples included) takes the n-th
        temperature of the schedule (the last one repeats) and its own seed, so no two draws share one.
        """
        n = len(self.episode.attempts) - 1 + len(self.episode.resamples)
        schedule = self.config.retry_temperatures
        base = self.config.seed if self.config.seed is not None else _seed_of(self.episode.id)
        return Draw(schedule[min(max(n, 0), len(schedule) - 1)], base + 1 + max(n, 0))

    def repeats(self, code: str) -> int | None:
        """The earlier trial whose program this code is (see codegen.program_key), if any."""
        if not code:
            return None
        key = codegen.program_key(code)
        for earlier in self.episode.attempts:
            if earlier.code and codegen.program_key(earlier.code) == key:
                return earlier.trial
        return None

    def code_of(self, completion: Completion) -> str:
        if completion.outcome in LLM_FAULTS or not completion.text:
            return ""
        subject = self.task.subject()
        extracted = codegen.extract_code(completion.text, subject, self.task.prompt)
        if extracted is None:
            return ""
        return codegen.complete_solution(self.task.prompt, extracted, subject)

    async def attempt(
        self, messages: list[ChatMessage], *, sample: int = 0, retry: bool = False, parent: int | None = None
    ) -> Attempt:
        """Generate, record and judge the next attempt. The judge's verdicts are set on the attempt.

        `parent` (tree_search) is the trial this attempt was expanded from, recorded with it at once so
        a resumed episode rebuilds the same tree.

        A sampled retry (`retry` with config.retries `sampled`) whose program equals an earlier
        attempt's is recorded as a resample and drawn again, never judged; once the trial has thrown
        away more than `max_resamples` draws the episode stops as `stuck`. Greedy retries are judged
        whatever they repeat (today's behaviour, kept for comparison), with `duplicate_of` recorded.
        """
        usage = Usage()
        own_tests: list[str] = []
        if self.feedback == "self_tests":
            own_tests, usage = await self.self_tests()
        trial = len(self.episode.attempts) + 1
        sampled = retry and self.config.retries == "sampled"
        while True:
            draw = self.retry_draw() if sampled else self.greedy_draw(sample)
            started = time.monotonic()
            completion = await self.ask(self.actor, messages, draw=draw)
            latency_ms = completion.latency_ms or (time.monotonic() - started) * 1000
            code = self.code_of(completion)
            duplicate = self.repeats(code)
            if not sampled or duplicate is None:
                break
            await self.resampled(trial, duplicate, draw, code, completion, latency_ms)
        attempt = Attempt(
            trial=trial,
            code=code,
            temperature=draw.temperature,
            seed=draw.seed,
            resampled_from=[r.duplicate_of for r in self.episode.resamples if r.trial == trial],
            duplicate_of=duplicate,
            parent=parent,
            reply=completion.text,
            llm_outcome=completion.outcome,
            own_tests=own_tests,
            usage=usage + completion.usage,
            latency_ms=latency_ms,
            replay_of=completion.replay_of,
        )
        self.episode.attempts.append(attempt)
        await self.emit(
            "attempt.generated",
            {
                "trial": attempt.trial,
                "llm_outcome": attempt.llm_outcome,
                "has_code": bool(code),
                "tokens": attempt.usage.total_tokens,
                "latency_ms": round(latency_ms, 1),
                "temperature": draw.temperature,
                "seed": draw.seed,
                "resamples": len(attempt.resampled_from),
                "duplicate_of": duplicate,
                "parent": parent,
                "replay_of": completion.replay_of,
            },
        )
        if completion.outcome in LLM_FAULTS:
            why = completion.error or f"{completion.outcome} reply"
            raise StopEpisode("llm_error", f"actor model: {why}")
        await self.grade(attempt)
        return attempt

    async def resampled(
        self, trial: int, duplicate: int, draw: Draw, code: str, completion: Completion, latency_ms: float
    ) -> None:
        """Record a draw thrown away as a repeat; stop the episode as `stuck` past the trial's limit."""
        resample = Resample(
            trial=trial,
            duplicate_of=duplicate,
            temperature=draw.temperature,
            seed=draw.seed,
            code=code,
            usage=completion.usage,
            latency_ms=latency_ms,
        )
        self.episode.resamples.append(resample)
        count = sum(1 for r in self.episode.resamples if r.trial == trial)
        await self.emit(
            "attempt.resampled",
            {"trial": trial, "duplicate_of": duplicate, "count": count, "temperature": draw.temperature},
        )
        if count > self.config.max_resamples:
            why = f"trial {trial}: {count} draws in a row repeated earlier attempts (last: {duplicate})"
            raise StopEpisode("stuck", why)

    async def self_tests(self) -> tuple[list[str], Usage]:
        """The model's own tests, written once per episode before the first attempt (Reflexion's setup)."""
        if self._own_tests is None and self.episode.attempts:
            self._own_tests = self.episode.attempts[0].own_tests
        if self._own_tests is not None:
            return self._own_tests, Usage()
        asked = self.conversation.write_tests(self.task, SELF_TESTS_ASKED)
        completion = await self.ask(self.actor, asked)
        stop = self.fault(completion, "actor (writing tests)")
        if stop is not None:
            raise stop
        usage = completion.usage
        tests = codegen.extract_test_asserts(completion.text)
        if not tests:  # once more, saying what was missing; then no tests is what the feedback says
            again = self.conversation.write_tests_again(self.task, SELF_TESTS_ASKED, asked, completion.text)
            completion = await self.ask(self.actor, again)
            stop = self.fault(completion, "actor (writing tests, asked again)")
            if stop is not None:
                raise stop
            usage = usage + completion.usage
            tests = codegen.extract_test_asserts(completion.text)
        self._own_tests = tests[:SELF_TESTS_KEPT]
        return self._own_tests, usage

    async def grade(self, attempt: Attempt) -> None:
        """Set the feedback verdict (what the model may learn from) and the hidden grading verdict."""
        if not attempt.code:
            why = "the reply has no Python code block defining " + repr(self.task.subject())
            attempt.hidden = Verdict(status="error", detail=why)
            attempt.feedback = None if self.feedback == "none" else Verdict(status="error", detail=why)
        else:
            # a busy judge serves the oldest episode first: its acceptance time goes with every call
            priority = self.episode.created_at
            hidden_run = self.judge.judge(self.task.hidden_submission(attempt.code), priority=priority)
            feedback_tests = {
                "visible": self.task.visible_tests,
                "self_tests": attempt.own_tests,
            }.get(self.feedback)
            if feedback_tests is None:
                attempt.hidden = await hidden_run
                attempt.feedback = attempt.hidden if self.feedback == "oracle" else None
            elif not feedback_tests:  # nothing to check: a program that merely runs is no pass
                attempt.hidden = await hidden_run
                attempt.feedback = Verdict(status="no_signal", detail=NO_SIGNAL[self.feedback])
            else:
                feedback = (
                    self.task.visible_submission(attempt.code)
                    if self.feedback == "visible"
                    else Submission(code=attempt.code, asserts=feedback_tests)
                )
                feedback_run = self.judge.judge(feedback, priority=priority)
                attempt.feedback, attempt.hidden = await asyncio.gather(feedback_run, hidden_run)
        attempt.value = tree.value_of(attempt.feedback)
        await self.emit(
            "attempt.judged",
            {
                "trial": attempt.trial,
                "feedback": attempt.feedback.status if attempt.feedback else None,
                "hidden": attempt.hidden.status if attempt.hidden else None,
                "value": attempt.value,
                "failing": [t.name for t in attempt.feedback.failing()] if attempt.feedback else [],
            },
        )
        for verdict in (attempt.feedback, attempt.hidden):
            if verdict is not None and verdict.status == "sandbox_error":
                raise StopEpisode("judge_error", verdict.detail or "the sandbox failed")

    def shown_tests(self) -> list[str]:
        """Tests the actor prompt may list: the visible ones, and only when they are the feedback."""
        return list(self.task.visible_tests) if self.feedback == "visible" else []

    # ---- reflection and memory ---------------------------------------------------------------------
    async def reflect(self, attempt: Attempt) -> str:
        """Ask the reflector for a verbal lesson on a failed attempt and store it in memory."""
        facts = describe_verdict(attempt.feedback, self.config.feedback_level)
        messages = self.conversation.reflect(self.task, attempt.code, facts)
        completion = await self.ask(self.reflector, messages)
        attempt.usage = attempt.usage + completion.usage
        stop = self.fault(completion, "reflector")
        if stop is not None:
            raise stop
        text = completion.text.strip()[:MAX_LESSON_CHARS]
        attempt.reflection = text
        if self.config.memory != "none":
            lesson = Reflection(
                trial=attempt.trial, text=text, episode_id=self.episode.id, task_id=self.task.id
            )
            await self.memory.add(self.episode.tenant, lesson)
        await self.emit("reflection.created", {"trial": attempt.trial, "kind": "reflection", "text": text})
        return text

    async def lessons(self) -> list[str]:
        """The last `memory_window` lessons for the next actor prompt.

        Scope `episode`: this episode's lessons from memory. Scope `task`: the task's lessons from
        memory, which also holds earlier episodes of the same task id (so a rerun starts with them).
        Scope `none`: nothing is written to memory; this episode's lessons come from its own record.
        """
        window = self.config.memory_window
        if window == 0:
            return []
        if self.config.memory == "none":
            return [a.reflection for a in self.episode.attempts if a.reflection][-window:]
        tenant = self.episode.tenant
        if self.config.memory == "task":
            found = await self.memory.task_lessons(tenant, self.task.id, window)
        else:
            found = await self.memory.episode_lessons(tenant, self.episode.id, window)
        return [r.text for r in found][-window:]

    async def critique(self, attempt: Attempt) -> str:
        """Self-refine: the actor reviews its own code with no judge signal at all."""
        completion = await self.ask(self.actor, self.conversation.critique(self.task, attempt.code))
        attempt.usage = attempt.usage + completion.usage
        stop = self.fault(completion, "actor (critique)")
        if stop is not None:
            raise stop
        attempt.critique = completion.text.strip()[:MAX_LESSON_CHARS]
        await self.emit(
            "reflection.created", {"trial": attempt.trial, "kind": "critique", "text": attempt.critique}
        )
        return attempt.critique
