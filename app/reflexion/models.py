"""Domain records shared by every part of the service.

These are the contracts of docs/architecture.md: a Task is HumanEval-shaped, a Verdict carries
positive evidence per test, an Episode is the one record that `rfx run --json`, the HTTP API and the
benchmark all read and write.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.reflexion import test_formats
from app.reflexion.test_formats import TestsFormat
from app.reflexion.vocabulary import (
    TERMINAL_STATUSES,
    EpisodeStatus,
    FeedbackLevel,
    FeedbackSource,
    MemoryScope,
    RetryContext,
    RetryMode,
    StopReason,
    StrategyName,
    VerdictStatus,
)

Temperature = Annotated[float, Field(ge=0, le=2)]  # bounds in the schema, so clients see them


def utcnow() -> datetime:
    return datetime.now(UTC)


class Strict(BaseModel):
    """Base for records that reject unknown fields (bad input must be an error, not silently dropped)."""

    model_config = ConfigDict(extra="forbid")


class Task(Strict):
    """A coding task and the hidden tests that grade it, in one of three formats (test_formats.py).

    `check` tests define `check(candidate)` and need `entry_point`; `asserts` tests (a text of
    assert lines, or MBPP's list of them) name what they test, so `entry_point` is optional there.
    An undeclared format is detected; tests that fit more than one, or none, must declare it.
    `visible_tests` are tests the model may see: assert lines, or one check program or pytest module.
    """

    id: str = Field(min_length=1, max_length=200)
    prompt: str = Field(max_length=100_000)
    entry_point: str | None = Field(
        default=None, min_length=1, max_length=200, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$"
    )
    tests: str | list[str] = Field(max_length=200_000)
    tests_format: TestsFormat | None = Field(
        default=None, description="check | asserts | pytest; detected from the tests when absent"
    )
    visible_tests: list[str] = Field(default_factory=list, max_length=200)
    visible_tests_format: TestsFormat | None = Field(
        default=None,
        description="check | asserts | pytest; a single visible test that is a check program or a "
        "pytest module is detected as one, assert lines otherwise",
    )
    canonical_solution: str | None = Field(default=None, max_length=100_000)

    @model_validator(mode="after")
    def _known_format(self) -> Task:
        if isinstance(self.tests, list) and (len(self.tests) > 500 or sum(map(len, self.tests)) > 200_000):
            raise ValueError("tests: at most 500 assert lines and 200000 characters")
        try:
            found = test_formats.resolve(self.tests, self.tests_format)
        except test_formats.FormatError as exc:
            raise ValueError(str(exc)) from None
        if found == "check" and not self.entry_point:
            raise ValueError("entry_point is required for check tests (check(candidate) is called with it)")
        self.tests_format = found
        self.visible_tests_format = self._visible_format()
        return self

    def _visible_format(self) -> TestsFormat | None:
        """The visible tests' format: declared, or one check program / pytest module detected, or
        assert lines (each item one test, as the judge reports them)."""
        declared, items = self.visible_tests_format, self.visible_tests
        if not items:
            return None
        whole = declared in ("check", "pytest") or (
            declared is None and len(items) == 1 and test_formats.detect(items[0]) in (["check"], ["pytest"])
        )
        if not whole:
            return "asserts"
        if len(items) != 1:
            raise ValueError(f"visible_tests in the {declared} format are one program: give a single item")
        try:
            found = test_formats.resolve(items[0], declared)
        except test_formats.FormatError as exc:
            raise ValueError(f"visible_tests: {exc}") from None
        if found == "check" and not self.entry_point:
            raise ValueError("entry_point is required for check visible tests")
        return found

    def subject(self) -> str:
        """The name the model's code must define: `entry_point`; else a pytest module's first name
        imported from `solution`, or the first name the assert tests call that the prompt defines,
        else the first they call ("" when nothing says)."""
        if self.entry_point:
            return self.entry_point
        if self.tests_format == "pytest" and isinstance(self.tests, str):
            imported = [n for n in test_formats.imported_names(self.tests) if n != "*"]
            return imported[0] if imported else ""
        called = test_formats.called_names(self.assert_tests())
        for name in called:
            defines = rf"^[ \t]*(?:async\s+def|def|class)\s+{re.escape(name)}\b"
            if re.search(defines, self.prompt, re.MULTILINE):
                return name
        return called[0] if called else ""

    def assert_tests(self) -> list[str]:
        """The hidden tests as assert lines (asserts format only; empty otherwise)."""
        if self.tests_format != "asserts":
            return []
        return test_formats.assert_lines(self.tests)

    def visible_submission(self, code: str) -> Submission:
        """What the judge runs to give feedback from the visible tests."""
        if self.visible_tests_format == "pytest":
            return Submission(code=code, pytest=self.visible_tests[0])
        if self.visible_tests_format == "check":
            return Submission(code=code, tests=self.visible_tests[0], entry_point=self.entry_point)
        return Submission(code=code, asserts=list(self.visible_tests))

    def hidden_submission(self, code: str) -> Submission:
        """What the judge runs to grade `code` against this task's hidden tests."""
        if self.tests_format == "asserts":
            return Submission(code=code, asserts=self.assert_tests())
        tests = self.tests if isinstance(self.tests, str) else ""
        if self.tests_format == "pytest":
            return Submission(code=code, pytest=tests)
        return Submission(code=code, tests=tests, entry_point=self.entry_point)


class ErrorFacts(Strict):
    """Where an exception raised inside the candidate's own code came from, for the model to act on.

    Collected by the candidate's process (so `locals` are short reprs made there, untrusted text);
    the judge never compares them, they only ever reach a prompt.
    """

    exception: str = Field(default="", max_length=600)
    line: int | None = None
    source: str = Field(default="", max_length=400)
    locals: dict[str, str] = Field(default_factory=dict, max_length=40)


class TestResult(Strict):
    """One assert or check, as the runner saw it run."""

    __test__ = False  # not a pytest class

    name: str
    passed: bool
    message: str = ""
    facts: ErrorFacts | None = None
    # The assert's outcome was decided by the submission's own code (`==` between two of its
    # objects, `bool`, `in`, `len`, a method call), as it would be in-process.
    answered_by_candidate: bool = False
    # A pytest test that was skipped: listed for the reader, never counted as passed or failed.
    skipped: bool = False


class Verdict(Strict):
    status: VerdictStatus
    tests: list[TestResult] = Field(default_factory=list)
    stdout: str = ""
    stderr: str = ""
    duration_ms: float = 0.0
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def failing(self) -> list[TestResult]:
        return [t for t in self.tests if not t.passed and not t.skipped]


class Finite(Strict):
    """Base for inputs with float bounds: NaN or infinity is "not a finite number", not a bound missed."""

    model_config = ConfigDict(allow_inf_nan=False)  # merged with Strict's extra="forbid"


class JudgeLimits(Finite):
    """Per-run resource limits of the sandbox."""

    timeout_s: float = Field(default=10.0, gt=0, le=300)
    memory_mb: int = Field(default=256, ge=32, le=8192)
    pids: int = Field(default=64, ge=8, le=4096)
    output_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    tmpfs_mb: int = Field(default=64, ge=1, le=4096)
    cpus: float = Field(default=1.0, gt=0, le=64)


class Submission(Strict):
    """What the judge runs.

    Four shapes: HumanEval (`code` + `tests` defining `check` + `entry_point`), assert lines
    (`code` + `asserts`, each reported separately), a pytest module (`code` + `pytest`, each test by
    its node id), or a bare `program` whose only "test" is that it runs to the end without raising.
    """

    code: str = Field(default="", max_length=200_000)
    tests: str = Field(default="", max_length=200_000)
    entry_point: str | None = Field(default=None, max_length=200)
    asserts: list[str] = Field(default_factory=list, max_length=500)
    pytest: str = Field(
        default="", max_length=200_000, description="a pytest module (its tests import from `solution`)"
    )


class Usage(Strict):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cost_usd=self.cost_usd + other.cost_usd,
        )


class ChatMessage(Strict):
    role: Literal["system", "user", "assistant"]
    content: str


CompletionOutcome = Literal["ok", "empty", "truncated", "malformed", "error"]


class Completion(Strict):
    """One LLM reply, or the recorded reason there is none (never an exception for the loop to catch)."""

    text: str = ""
    outcome: CompletionOutcome = "ok"
    finish_reason: str | None = None
    error: str | None = None
    model: str = ""
    usage: Usage = Field(default_factory=Usage)
    latency_ms: float = 0.0
    replay_of: str | None = Field(
        default=None,
        description="the episode whose identical request got this reply, replayed instead of asked again",
    )


class Reflection(Strict):
    trial: int
    text: str
    episode_id: str = ""
    task_id: str = ""
    at: datetime = Field(default_factory=utcnow)


class Resample(Strict):
    """A draw thrown away unjudged because its program equals an earlier attempt's (not a trial)."""

    trial: int
    duplicate_of: int
    temperature: float | None = None
    seed: int | None = None
    code: str = ""
    usage: Usage = Field(default_factory=Usage)
    latency_ms: float = 0.0


class Attempt(Strict):
    trial: int
    code: str = ""
    temperature: float | None = None
    seed: int | None = None
    resampled_from: list[int] = Field(
        default_factory=list, description="trials the draws thrown away before this one repeated"
    )
    duplicate_of: int | None = Field(default=None, description="an earlier trial with the same program")
    parent: int | None = Field(default=None, description="tree_search: the trial this one was expanded from")
    value: float | None = Field(
        default=None, ge=0, le=1, description="fraction of the feedback tests passed (None: no feedback)"
    )
    reply: str = ""
    llm_outcome: CompletionOutcome = "ok"
    own_tests: list[str] = Field(default_factory=list)
    feedback: Verdict | None = None
    hidden: Verdict | None = None
    reflection: str | None = None
    critique: str | None = None
    usage: Usage = Field(default_factory=Usage)
    latency_ms: float = 0.0
    replay_of: str | None = Field(
        default=None, description="the episode whose recorded reply this attempt reuses (benchmark replay)"
    )

    @property
    def feedback_passed(self) -> bool:
        """What the loop stops on: the feedback tests passed (never without a feedback verdict)."""
        return self.feedback is not None and self.feedback.passed

    @property
    def hidden_passed(self) -> bool:
        """Graded right: the hidden tests passed."""
        return self.hidden is not None and self.hidden.passed


def answer_among(attempts: Sequence[Attempt], strategy: StrategyName) -> Attempt | None:
    """The answer among `attempts` (in trial order).

    best_of_n and tree_search: the first attempt that passed the feedback tests. Otherwise the last
    attempt that has code (tree_search: the one of highest value, ties to the latest, since its
    nodes are siblings and cousins, not revisions), or the last attempt when none has code.
    """
    if strategy in ("best_of_n", "tree_search"):
        for attempt in attempts:
            if attempt.feedback_passed:
                return attempt
    with_code = [a for a in attempts if a.code]
    if with_code and strategy == "tree_search":
        return max(with_code, key=lambda a: (a.value if a.value is not None else 0.0, a.trial))
    if with_code:
        return with_code[-1]
    return attempts[-1] if attempts else None


class ModelRef(Strict):
    """A model chosen by name among the configured providers; never an endpoint URL from a request."""

    model: str | None = Field(default=None, max_length=200)


class EpisodeConfig(Finite):
    strategy: StrategyName = Field(
        default="reflexion",
        description="unset: a bundled actor's measured default strategy and settings, else reflexion",
    )
    feedback: FeedbackSource | None = None
    max_trials: int = Field(default=3, ge=1, le=20)
    samples: int = Field(default=5, ge=1, le=50)
    branching: int = Field(
        default=2, ge=1, le=10, description="tree_search: children drawn per expanded node"
    )
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    max_tokens: int = Field(default=1024, ge=16, le=32_768)
    seed: int | None = None
    budget_tokens: int | None = Field(default=None, ge=1)
    timeout_s: float = Field(default=600, gt=0, le=24 * 3600)
    memory: MemoryScope = "episode"
    memory_window: int = Field(default=3, ge=0, le=20)
    instructions: str = Field(
        default="", max_length=20_000, description="extra instructions for the actor (not the reflector)"
    )
    retries: RetryMode = "sampled"
    retry_temperatures: list[Temperature] = Field(
        default_factory=lambda: [0.4, 0.6, 0.8, 1.0], min_length=1, max_length=20
    )
    max_resamples: int = Field(default=3, ge=0, le=10)
    feedback_level: FeedbackLevel = "standard"
    retry_context: RetryContext = "revise"

    def with_defaults(self, defaults: Mapping[str, Any]) -> EpisodeConfig:
        """`defaults` for the fields the caller left unset, what the caller set kept as it is (a
        bundled model's measured settings under the caller's own). The applied defaults count as set
        in the result, so applying defaults again changes nothing."""
        own = self.model_dump(exclude_unset=True)
        return EpisodeConfig.model_validate({**defaults, **own})

    def resolved_feedback(self, task: Task) -> FeedbackSource:
        """Strategy and task decide the default: self_refine never sees a judge; else visible if any."""
        if self.strategy == "self_refine":
            return "none"
        if self.feedback is not None:
            return self.feedback
        return "visible" if task.visible_tests else "oracle"

    def feedback_problem(self, task: Task) -> str | None:
        """Why this config cannot give `task` honest feedback, or None. `visible` on a task without
        visible tests would check nothing and let any program that runs to the end pass."""
        if self.resolved_feedback(task) == "visible" and not task.visible_tests:
            return (
                "feedback 'visible' needs visible tests, and this task has none: "
                "add task.visible_tests or choose feedback self_tests, oracle or none"
            )
        return None

    def resolved_temperature(self) -> float:
        if self.temperature is not None:
            return self.temperature
        return 0.8 if self.strategy == "best_of_n" else 0.0


class Episode(Strict):
    id: str
    tenant: str = "default"
    task: Task
    config: EpisodeConfig = Field(default_factory=EpisodeConfig)
    actor_model: str = ""
    reflector_model: str = ""
    status: EpisodeStatus = "queued"
    stop_reason: StopReason | None = None
    error: str | None = None
    attempts: list[Attempt] = Field(default_factory=list)
    resamples: list[Resample] = Field(default_factory=list)
    final_trial: int | None = None
    prompt_versions: dict[str, str] = Field(default_factory=dict)
    usage: Usage = Field(default_factory=Usage)
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def answer(self) -> Attempt | None:
        """The attempt that is the episode's answer (the rule of `answer_among`)."""
        return answer_among(self.attempts, self.config.strategy)

    def finished_data(self) -> dict[str, object]:
        """The `episode.finished` event's data, whoever ends the episode (the loop, a cancel, the
        worker giving up): one shape, so a reader never has to ask which path wrote it."""
        return {
            "status": self.status,
            "stop_reason": self.stop_reason,
            "final_trial": self.final_trial,
            "trials": len(self.attempts),
            "tokens": self.usage.total_tokens,
            "error": self.error,
        }


EventType = Literal[
    "episode.started",
    "attempt.generated",
    "attempt.resampled",
    "attempt.judged",
    "reflection.created",
    "episode.finished",
]


class Event(Strict):
    id: str
    type: EventType
    episode_id: str
    at: datetime = Field(default_factory=utcnow)
    data: dict[str, object] = Field(default_factory=dict)
