"""The domain's ports: what the loop needs from the outside world, as Protocols.

Adapters implement them (app/llm, app/judge, app/memory, app/queue); in-memory fakes serve only the
unit tests of the pure loop.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

from app.reflexion.models import (
    ChatMessage,
    Completion,
    Episode,
    EventType,
    JudgeLimits,
    Reflection,
    Submission,
    Verdict,
)


@runtime_checkable
class ChatModel(Protocol):
    """An LLM behind a chat-completions API. Failures come back as a Completion with an outcome."""

    @property
    def name(self) -> str: ...

    async def complete(
        self,
        messages: list[ChatMessage],
        *,
        temperature: float = 0.0,
        top_p: float | None = None,
        max_tokens: int = 1024,
        seed: int | None = None,
    ) -> Completion: ...


@runtime_checkable
class Judge(Protocol):
    """The oracle: runs a submission in a sandbox and returns a verdict.

    Infrastructure failures are a Verdict with status `sandbox_error`, not an exception.
    """

    async def judge(
        self, submission: Submission, limits: JudgeLimits | None = None, *, priority: datetime | None = None
    ) -> Verdict:
        """`priority`: when the episode this judgement belongs to was accepted (its `created_at`); a
        busy judge serves the oldest first. None (a judgement of no episode) counts as now."""
        ...


@runtime_checkable
class Memory(Protocol):
    """Reflection memory: lessons per episode and per task, newest last."""

    async def add(self, tenant: str, reflection: Reflection) -> None: ...

    async def episode_lessons(self, tenant: str, episode_id: str, limit: int) -> list[Reflection]: ...

    async def task_lessons(self, tenant: str, task_id: str, limit: int) -> list[Reflection]: ...

    async def clear_task(self, tenant: str, task_id: str) -> int: ...


@runtime_checkable
class EventSink(Protocol):
    """Receives every step of an episode together with the episode as it stands after that step.

    The worker's sink persists the snapshot (so a crashed episode resumes from its last completed
    attempt) and appends the event to the episode's stream.
    """

    async def emit(self, episode: Episode, type: EventType, data: dict[str, object]) -> None: ...


@runtime_checkable
class PromptBook(Protocol):
    """Prompt templates by name (`actor/initial`, `reflector/reflect`, ...), kept as files in prompts/.

    `version` identifies the template's exact text so an episode record says which prompts made it.
    """

    def render(self, name: str, **variables: object) -> str: ...

    def version(self, name: str) -> str: ...
