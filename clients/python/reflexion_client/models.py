"""The records the API exchanges, as the client sees them.

They mirror the service's domain models (Task, Episode, Verdict, Event) without importing the
service: an app that uses this client never installs the `app` package. Responses are parsed
leniently (`extra="allow"`), so a newer server that adds fields does not break an older client;
requests the client builds itself are strict.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

EpisodeStatus = Literal["queued", "running", "succeeded", "failed", "cancelled", "timed_out"]
TERMINAL_STATUSES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled", "timed_out"})


class _Response(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Task(_Request):
    """A coding task. `tests`: a `check(candidate)` program (needs `entry_point`), assert lines
    (a text or a list) or a pytest module, detected unless `tests_format` says which."""

    id: str
    prompt: str
    entry_point: str | None = None
    tests: str | list[str]
    tests_format: Literal["check", "asserts", "pytest"] | None = None
    visible_tests: list[str] = Field(default_factory=list)
    visible_tests_format: Literal["check", "asserts", "pytest"] | None = None


class Usage(_Response):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class ErrorFacts(_Response):
    """Where an exception raised in the candidate came from: its line, source text, local values."""

    exception: str = ""
    line: int | None = None
    source: str = ""
    locals: dict[str, str] = Field(default_factory=dict)


class TestResult(_Response):
    __test__ = False  # not a pytest class

    name: str
    passed: bool
    message: str = ""
    facts: ErrorFacts | None = None
    answered_by_candidate: bool = False  # the submission's own code decided this assert
    skipped: bool = False  # a skipped pytest test: listed, never counted as passed


class Verdict(_Response):
    status: str
    tests: list[TestResult] = Field(default_factory=list)
    stdout: str = ""
    stderr: str = ""
    duration_ms: float = 0.0
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "passed"


class Resample(_Response):
    """A draw the server threw away unjudged because it repeated an earlier trial's program."""

    trial: int
    duplicate_of: int
    temperature: float | None = None
    seed: int | None = None
    code: str = ""
    usage: Usage = Field(default_factory=Usage)


class Attempt(_Response):
    trial: int
    code: str = ""
    temperature: float | None = None
    seed: int | None = None
    resampled_from: list[int] = Field(default_factory=list)
    duplicate_of: int | None = None
    parent: int | None = None  # tree_search: the trial this one was expanded from
    value: float | None = None  # the fraction of the feedback tests passed
    feedback: Verdict | None = None
    hidden: Verdict | None = None
    reflection: str | None = None
    usage: Usage = Field(default_factory=Usage)
    latency_ms: float = 0.0


class EpisodeTask(_Response):
    """The task as the server echoes it back (lenient, unlike the Task a caller submits)."""

    id: str
    prompt: str = ""
    entry_point: str | None = None
    tests: str | list[str] = ""
    tests_format: str | None = None
    visible_tests: list[str] = Field(default_factory=list)
    visible_tests_format: str | None = None


class Episode(_Response):
    id: str
    tenant: str = ""
    task: EpisodeTask
    config: dict[str, Any] = Field(default_factory=dict)
    actor_model: str = ""
    reflector_model: str = ""
    status: EpisodeStatus
    stop_reason: str | None = None
    error: str | None = None
    attempts: list[Attempt] = Field(default_factory=list)
    resamples: list[Resample] = Field(default_factory=list)
    final_trial: int | None = None
    usage: Usage = Field(default_factory=Usage)
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class EpisodePage(_Response):
    """One page of `GET /v1/episodes`; pass `next` as `after` for the following page."""

    data: list[Episode]
    has_more: bool = False
    next: str | None = None


class Event(_Response):
    """One step of an episode, as sent on the SSE stream (`id` increases; resume after it)."""

    id: str
    type: str
    episode_id: str
    at: datetime | None = None
    data: dict[str, Any] = Field(default_factory=dict)
