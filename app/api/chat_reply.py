"""An episode told in OpenAI's chat-completion shapes: the reply, the stream's chunks, the `rfx` field.

The content is the final code only, as one fenced python block, because that is what a chat client
shows and copies; everything else a caller may want (episode id, status, stop reason, per-trial
verdicts, where the tests came from) travels in the extra `rfx` field, which OpenAI's SDKs keep.
"""

from __future__ import annotations

import json
import time
from typing import Any

from app.api.chat_task import ChatTask
from app.reflexion.models import Attempt, Episode

_TESTS_NOTE = {
    "rfx": "tests from the request's rfx.tests: both the feedback and the grading tests (no hidden ones)",
    "message": "asserts from the message: both the feedback and the grading tests (no hidden ones)",
    "docstring": "the docstring's examples: both the feedback and the grading tests (no hidden ones)",
    "none": "no tests were given: the model's own tests were the feedback, so the result is unverified",
}


def final_code(episode: Episode) -> str:
    attempt = episode.answer
    return attempt.code if attempt is not None else ""


def content_of(episode: Episode) -> str:
    code = final_code(episode).strip("\n")
    return f"```python\n{code}\n```" if code else ""


def trial_summary(attempt: Attempt) -> dict[str, Any]:
    verdict = attempt.feedback or attempt.hidden
    tests = verdict.tests if verdict is not None else []
    return {
        "trial": attempt.trial,
        "verdict": verdict.status if verdict is not None else None,
        "passed": sum(t.passed for t in tests),
        "total": len(tests),
        "failing": [t.name for t in tests if not t.passed][:5],
        "graded": attempt.hidden.status if attempt.hidden is not None else None,
    }


def outcome(episode: Episode) -> dict[str, Any]:
    """How an episode ended, as the chat reply's `rfx` field and the MCP `run_episode` tool say it."""
    return {
        "episode_id": episode.id,
        "status": episode.status,
        "stop_reason": episode.stop_reason,
        "error": episode.error,
        "final_trial": episode.final_trial,
    }


def rfx_field(episode: Episode, chat: ChatTask) -> dict[str, Any]:
    return {
        **outcome(episode),
        "task_id": episode.task.id,
        "entry_point": episode.task.entry_point,
        "tests_source": chat.tests_source,
        "verified": chat.verified,
        "note": _TESTS_NOTE[chat.tests_source],
        "trials": [trial_summary(a) for a in episode.attempts],
    }


def usage_of(episode: Episode) -> dict[str, int]:
    u = episode.usage
    return {
        "prompt_tokens": u.prompt_tokens,
        "completion_tokens": u.completion_tokens,
        "total_tokens": u.total_tokens,
    }


def completion(episode: Episode, chat: ChatTask, model: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{episode.id}",
        "object": "chat.completion",
        "created": int(episode.created_at.timestamp()),
        "model": model,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content_of(episode), "refusal": None},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": usage_of(episode),
        "rfx": rfx_field(episode, chat),
    }


class ChunkWriter:
    """`data:` lines of one streamed completion, each a `chat.completion.chunk` object."""

    def __init__(self, episode_id: str, model: str) -> None:
        self.id, self.model, self.created = f"chatcmpl-{episode_id}", model, int(time.time())

    def chunk(
        self,
        delta: dict[str, Any],
        *,
        finish: str | None = None,
        rfx: dict[str, Any] | None = None,
        usage: dict[str, int] | None = None,
        choices: bool = True,
    ) -> str:
        body: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": None,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]
            if choices
            else [],
        }
        if rfx is not None:
            body["rfx"] = rfx
        if usage is not None:
            body["usage"] = usage
        return f"data: {json.dumps(body)}\n\n"


def progress_line(summary: dict[str, Any]) -> str:
    """One short line per judged trial, for chat UIs that show nothing but the content."""
    counts = f" {summary['passed']}/{summary['total']} tests" if summary["total"] else ""
    return f"trial {summary['trial']}: {summary['verdict']}{counts}\n"
