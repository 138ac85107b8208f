"""The messages each role sends, built from the prompt templates, and how a verdict is told to a model.

Every template the episode renders is recorded with its version, so the episode record names the exact
prompt texts that produced it. What a model may see is decided here and only here: the feedback verdict
(never the hidden grading verdict, unless the two are the same because feedback is `oracle`).
"""

from __future__ import annotations

from app.reflexion.models import ChatMessage, ErrorFacts, Task, Verdict
from app.reflexion.ports import PromptBook
from app.reflexion.vocabulary import FeedbackLevel

MAX_FAILING_SHOWN = 5
MAX_MESSAGE_CHARS = 400
MAX_OUTPUT_TAIL = 600
MAX_LOCALS_CHARS = 2000  # the sandbox already caps them (about 600 tokens); this is a backstop


def describe_verdict(verdict: Verdict | None, level: FeedbackLevel = "standard") -> str:
    """A short, model-readable account of a verdict: which tests failed and with what message.

    A failing call that raised inside the candidate also names the exception with the candidate's
    own line number and source text (a fact a small model can act on, unlike a lesson). At level
    `trace` the candidate's local values at that line are added, for the first failure that has them
    only: they were already capped to about 600 tokens in the sandbox.
    """
    if verdict is None:
        return "No tests were run."
    if verdict.passed:
        return "All tests passed."
    lines: list[str] = []
    total, failing = len(verdict.tests), verdict.failing()
    if total:
        lines.append(f"{total - len(failing)} of {total} tests passed.")
    traced = False
    for result in failing[:MAX_FAILING_SHOWN]:
        message = _clip(result.message.strip(), MAX_MESSAGE_CHARS)
        lines.append(f"- FAILED {result.name}" + (f" -- {message}" if message else ""))
        if result.facts is not None:
            lines.extend(_facts_lines(result.facts, with_locals=level == "trace" and not traced))
            traced = traced or (level == "trace" and bool(result.facts.locals))
    if len(failing) > MAX_FAILING_SHOWN:
        lines.append(f"- ... and {len(failing) - MAX_FAILING_SHOWN} more failing tests")
    if not failing or verdict.status != "failed":
        detail = f" ({verdict.detail.strip()})" if verdict.detail else ""
        lines.append(f"Outcome: {verdict.status}{detail}")
        tail = verdict.stderr.strip()[-MAX_OUTPUT_TAIL:]
        if tail:
            lines.append(f"stderr (end):\n{tail}")
    return "\n".join(lines)


def _facts_lines(facts: ErrorFacts, *, with_locals: bool) -> list[str]:
    where = f"line {facts.line} of your code" if facts.line is not None else "your code"
    source = f": `{_clip(facts.source, MAX_MESSAGE_CHARS)}`" if facts.source else ""
    lines = [f"  {_clip(facts.exception, MAX_MESSAGE_CHARS)} was raised at {where}{source}"]
    if with_locals and facts.locals:
        values = ", ".join(f"{name} = {value}" for name, value in facts.locals.items())
        lines.append(f"  local variables at that line: {_clip(values, MAX_LOCALS_CHARS)}")
    return lines


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Conversation:
    """Builds chat messages for one episode and records the version of every template it renders."""

    def __init__(self, prompts: PromptBook, versions: dict[str, str], instructions: str = "") -> None:
        self._prompts = prompts
        self._versions = versions
        self._instructions = instructions.strip()

    def _render(self, name: str, **variables: object) -> str:
        text = self._prompts.render(name, **variables)
        self._versions[name] = self._prompts.version(name)
        return text

    def _chat(self, system: str, user: str, **variables: object) -> list[ChatMessage]:
        system_text = self._render(system)
        if system == "actor/system" and self._instructions:  # the caller's own words, for the actor only
            system_text += "\n\n" + self._render("actor/instructions", instructions=self._instructions)
        return [
            ChatMessage(role="system", content=system_text),
            ChatMessage(role="user", content=self._render(user, **variables)),
        ]

    def actor_initial(self, task: Task, shown_tests: list[str], lessons: list[str]) -> list[ChatMessage]:
        return self._chat(
            "actor/system",
            "actor/initial",
            prompt=task.prompt,
            entry_point=task.subject(),
            tests=shown_tests,
            lessons=lessons,
        )

    def actor_retry(
        self, task: Task, shown_tests: list[str], code: str | None, feedback: str, lessons: list[str]
    ) -> list[ChatMessage]:
        """A retry prompt: the facts of the failure and the lessons, with the faulty code shown back
        (`actor/retry`), or, given None, starting again from the task without it (`actor/fresh`)."""
        return self._chat(
            "actor/system",
            "actor/fresh" if code is None else "actor/retry",
            prompt=task.prompt,
            entry_point=task.subject(),
            tests=shown_tests,
            code=code,
            feedback=feedback,
            lessons=lessons,
        )

    def reflect(self, task: Task, code: str, feedback: str) -> list[ChatMessage]:
        return self._chat(
            "reflector/system",
            "reflector/reflect",
            prompt=task.prompt,
            entry_point=task.subject(),
            code=code,
            feedback=feedback,
        )

    def write_tests(self, task: Task, count: int) -> list[ChatMessage]:
        return self._chat(
            "actor/system", "self_tests/write", prompt=task.prompt, entry_point=task.subject(), count=count
        )

    def write_tests_again(
        self, task: Task, count: int, asked: list[ChatMessage], reply: str
    ) -> list[ChatMessage]:
        """The same request once more, after a reply with no readable assert in it."""
        again = self._render("self_tests/again", entry_point=task.subject(), count=count)
        return [
            *asked,
            ChatMessage(role="assistant", content=reply),
            ChatMessage(role="user", content=again),
        ]

    def critique(self, task: Task, code: str) -> list[ChatMessage]:
        return self._chat(
            "self_refine/system",
            "self_refine/critique",
            prompt=task.prompt,
            entry_point=task.subject(),
            code=code,
        )

    def revise(self, task: Task, code: str, critique: str) -> list[ChatMessage]:
        return self._chat(
            "actor/system",
            "self_refine/revise",
            prompt=task.prompt,
            entry_point=task.subject(),
            code=code,
            critique=critique,
        )


def says_no_change(critique: str) -> bool:
    """True when a self-refine critique declares the code done (a line reading `NO CHANGE NEEDED`)."""
    for line in critique.splitlines():
        words = "".join(ch for ch in line.upper() if ch.isalpha() or ch.isspace()).split()
        if words == ["NO", "CHANGE", "NEEDED"]:
            return True
    return False
