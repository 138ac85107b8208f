"""Request and response bodies of the HTTP API (the domain records are reused wherever they fit).

Every request model forbids unknown fields and bounds every size, so bad input is a 422 that names
the field instead of something silently ignored or a worker choking later.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.reflexion.models import (
    Episode,
    EpisodeConfig,
    JudgeLimits,
    ModelRef,
    Reflection,
    Strict,
    Submission,
    Task,
)
from app.reflexion.vocabulary import EpisodeStatus

EpisodeStatusFilter = EpisodeStatus


class EpisodeCreate(EpisodeConfig):
    """`POST /v1/episodes`: the task plus the same options as `rfx run`; models are chosen by name."""

    task: Task
    actor: ModelRef = Field(default_factory=ModelRef)
    reflector: ModelRef = Field(default_factory=ModelRef)
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)
    budget_tokens: int | None = Field(default=None, ge=1, le=100_000_000)

    def config(self) -> EpisodeConfig:
        """The episode settings the request gave; the unset ones stay unset, for the actor's defaults
        (ModelCatalog.choose) to fill."""
        given = self.model_dump(exclude={"task", "actor", "reflector"}, exclude_unset=True)
        return EpisodeConfig.model_validate(given)


class EpisodePage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: list[Episode]
    has_more: bool
    next: str | None = Field(description="pass as ?after= to get the next page; null on the last page")


class JudgeRequest(Submission):
    """`POST /v1/judge`: a submission (HumanEval `code`+`tests`+`entry_point`, or `code`+`asserts`)."""

    limits: JudgeLimits | None = None


class MemoryView(Strict):
    task_id: str
    lessons: list[Reflection]


class MemoryCleared(Strict):
    task_id: str
    deleted: int


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None


PROBLEM: dict[str, Any] = {
    "model": Problem,
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}
