"""In-memory stand-ins for the loop's ports, for the unit tests of the pure loop ONLY.

Everything above the pure loop (adapters, CLI, service) is tested against the real fake LLM server,
the real Docker judge and a real Redis. These fakes record what they were asked so the unit tests can
check what the loop sent where; they decide nothing the test did not script.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from app.reflexion.models import (
    ChatMessage,
    Completion,
    Episode,
    ErrorFacts,
    EventType,
    JudgeLimits,
    Reflection,
    Submission,
    TestResult,
    Usage,
    Verdict,
)

Reply = Completion | str | Callable[[list[ChatMessage]], Completion | str]


def fenced(code: str) -> str:
    return f"Here it is:\n```python\n{code}\n```\n"


@dataclass
class ScriptedModel:
    """Answers from a list, in order (the last reply repeats); records every call it received."""

    model_name: str
    replies: list[Reply]
    calls: list[list[ChatMessage]] = field(default_factory=list)
    options: list[dict[str, object]] = field(default_factory=list)
    tokens: int = 10
    hang: bool = False
    called: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def name(self) -> str:
        return self.model_name

    async def complete(
        self,
        messages: list[ChatMessage],
        *,
        temperature: float = 0.0,
        top_p: float | None = None,
        max_tokens: int = 1024,
        seed: int | None = None,
    ) -> Completion:
        self.calls.append(list(messages))
        self.options.append({"temperature": temperature, "seed": seed, "max_tokens": max_tokens})
        self.called.set()
        if self.hang:
            await asyncio.Event().wait()
        reply = self.replies[min(len(self.calls) - 1, len(self.replies) - 1)]
        if callable(reply):
            reply = reply(messages)
        if isinstance(reply, str):
            reply = Completion(text=reply, model=self.model_name)
        if reply.usage.total_tokens == 0 and reply.outcome == "ok":
            usage = Usage(prompt_tokens=self.tokens, completion_tokens=self.tokens)
            reply = reply.model_copy(update={"usage": usage})
        return reply

    def prompts(self) -> list[str]:
        """All text this model was sent, one string per call."""
        return ["\n".join(m.content for m in call) for call in self.calls]


@dataclass
class MarkerJudge:
    """A judge that never runs code: a test passes iff the code contains `good`.

    `asserts` submissions report one result per assert (message shows an `actual` value the way the
    real runner does); `tests` submissions report one `check` result whose message quotes `hidden_hint`.
    `hidden_pass` overrides the hidden verdict (to make feedback and grading disagree); `facts` is
    attached to every failing assert, as the real runner does when a call raised in the candidate.
    """

    good: str
    hidden_hint: str = "check failed"
    hidden_pass: bool | None = None
    sandbox_error: bool = False
    facts: ErrorFacts | None = None
    submissions: list[Submission] = field(default_factory=list)

    async def judge(
        self, submission: Submission, limits: JudgeLimits | None = None, *, priority: datetime | None = None
    ) -> Verdict:
        self.submissions.append(submission)
        if self.sandbox_error:
            return Verdict(status="sandbox_error", detail="docker engine unreachable")
        ok = self.good in submission.code
        if submission.asserts:
            message = "" if ok else "AssertionError: actual value was -1"
            facts = None if ok else self.facts
            results = [
                TestResult(name=a, passed=ok, message=message, facts=facts) for a in submission.asserts
            ]
            return Verdict(status="passed" if ok else "failed", tests=results)
        if submission.tests:
            if self.hidden_pass is not None:
                ok = self.hidden_pass
            result = TestResult(name="check", passed=ok, message="" if ok else self.hidden_hint)
            return Verdict(status="passed" if ok else "failed", tests=[result])
        return Verdict(status="passed", tests=[TestResult(name="program", passed=True)])

    def hidden_runs(self) -> list[Submission]:
        return [s for s in self.submissions if s.tests]

    def feedback_runs(self) -> list[Submission]:
        return [s for s in self.submissions if not s.tests]


@dataclass
class InMemoryMemory:
    episodes: dict[tuple[str, str], list[Reflection]] = field(default_factory=dict)
    tasks: dict[tuple[str, str], list[Reflection]] = field(default_factory=dict)

    async def add(self, tenant: str, reflection: Reflection) -> None:
        self.episodes.setdefault((tenant, reflection.episode_id), []).append(reflection)
        self.tasks.setdefault((tenant, reflection.task_id), []).append(reflection)

    async def episode_lessons(self, tenant: str, episode_id: str, limit: int) -> list[Reflection]:
        return self.episodes.get((tenant, episode_id), [])[-limit:] if limit > 0 else []

    async def task_lessons(self, tenant: str, task_id: str, limit: int) -> list[Reflection]:
        return self.tasks.get((tenant, task_id), [])[-limit:] if limit > 0 else []

    async def clear_task(self, tenant: str, task_id: str) -> int:
        return len(self.tasks.pop((tenant, task_id), []))


@dataclass
class RecordingSink:
    """Keeps every event with a deep copy of the snapshot, as a persisting sink would."""

    events: list[tuple[EventType, dict[str, object], Episode]] = field(default_factory=list)

    async def emit(self, episode: Episode, type: EventType, data: dict[str, object]) -> None:
        self.events.append((type, dict(data), episode.model_copy(deep=True)))

    def types(self) -> list[EventType]:
        return [t for t, _, _ in self.events]

    def snapshot_after(self, type: EventType, nth: int = 0) -> Episode:
        return [snap for t, _, snap in self.events if t == type][nth]


@dataclass
class TaggedJudge:
    """A judge that never runs code: feedback assert i passes iff the code contains the tag `P{i}`.

    So one scripted reply decides what fraction of the feedback tests passes (a tree node's value).
    The hidden `check` passes iff every tag of the `tags` visible tests is in the code.
    """

    tags: int
    submissions: list[Submission] = field(default_factory=list)

    def passes(self, code: str, index: int) -> bool:
        return f"P{index}" in code

    async def judge(
        self, submission: Submission, limits: JudgeLimits | None = None, *, priority: datetime | None = None
    ) -> Verdict:
        self.submissions.append(submission)
        if submission.asserts:
            results = [
                TestResult(name=a, passed=self.passes(submission.code, i), message="" if ok else "wrong")
                for i, a in enumerate(submission.asserts)
                for ok in [self.passes(submission.code, i)]
            ]
            return Verdict(status="passed" if all(r.passed for r in results) else "failed", tests=results)
        ok = all(self.passes(submission.code, i) for i in range(self.tags))
        result = TestResult(name="check", passed=ok, message="" if ok else "check failed")
        return Verdict(status="passed" if ok else "failed", tests=[result])
