"""The MCP tools' argument models (JSON schemas from the API's own pydantic models) and their work.

Each tool takes the body the matching HTTP route takes, so an agent sees the same fields, bounds and
error texts as a program calling the API: `judge` is `POST /v1/judge`, `run_episode` is
`POST /v1/episodes` (or a HumanEval id) followed to the end, and the rest read or cancel episodes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
from pydantic import BaseModel, Field, model_validator

from app.api.chat_reply import final_code, outcome, progress_line, trial_summary
from app.api.schemas import EpisodeCreate, EpisodeStatusFilter, JudgeRequest
from app.mcp.backend import Backend
from app.reflexion.models import Episode, EpisodeConfig, ModelRef, Strict, Task

Progress = Callable[[float, float | None, str | None], Awaitable[None]]


class RunEpisode(EpisodeConfig):
    """`run_episode`: the body of `POST /v1/episodes`, or a HumanEval id in place of the task."""

    task: Task | None = None
    humaneval: str | None = Field(
        default=None, pattern=r"^HumanEval/[0-9]{1,3}$", description="e.g. HumanEval/10, instead of task"
    )
    actor: ModelRef = Field(default_factory=ModelRef)
    reflector: ModelRef = Field(default_factory=ModelRef)

    @model_validator(mode="after")
    def _one_task(self) -> RunEpisode:
        if (self.task is None) == (self.humaneval is None):
            raise ValueError("give either task or humaneval")
        return self

    def body(self) -> EpisodeCreate:
        if self.task is not None:
            task = self.task
        else:
            from app.wiring import load_task  # HumanEval data loads only when asked for

            task = load_task(f"humaneval:{self.humaneval}")
        fields = self.model_dump(exclude={"task", "humaneval"}, exclude_unset=True)
        return EpisodeCreate.model_validate({**fields, "task": task.model_dump()})


class EpisodeRef(Strict):
    episode_id: str = Field(
        min_length=1, max_length=100, description="an id from run_episode or list_episodes"
    )


class ListEpisodes(Strict):
    limit: int = Field(default=20, ge=1, le=200)
    after: str | None = Field(default=None, description="`next` of the previous page")
    status: EpisodeStatusFilter | None = None


def episode_summary(episode: Episode) -> dict[str, Any]:
    return {
        **outcome(episode),
        "final_code": final_code(episode),
        "attempts": [trial_summary(a) for a in episode.attempts],
        "usage": episode.usage.model_dump(),
    }


async def judge(backend: Backend, args: JudgeRequest, progress: Progress) -> dict[str, Any]:
    return (await backend.judge(args)).model_dump(mode="json")


async def run_episode(backend: Backend, args: RunEpisode, progress: Progress) -> dict[str, Any]:
    """Submit, report each judged trial, return the summary; a cancelled call cancels the episode."""
    episode = await backend.submit(args.body())
    total = float(
        episode.config.max_trials if episode.config.strategy != "best_of_n" else episode.config.samples
    )
    finished = False
    try:
        async for event in backend.events(episode.id):
            if event.type == "attempt.judged":
                current = await backend.get(episode.id)
                trial = int(str(event.data.get("trial", len(current.attempts))))
                attempt = next((a for a in current.attempts if a.trial == trial), None)
                line = progress_line(trial_summary(attempt)).strip() if attempt else f"trial {trial} judged"
                await progress(float(trial), total, f"{episode.id} {line}")
        finished = True
    finally:
        if not finished:  # the client cancelled the call (or the connection went): stop the work too
            with anyio.CancelScope(shield=True):
                await backend.cancel(episode.id)
    return episode_summary(await backend.get(episode.id))


async def get_episode(backend: Backend, args: EpisodeRef, progress: Progress) -> dict[str, Any]:
    return (await backend.get(args.episode_id)).model_dump(mode="json")


async def list_episodes(backend: Backend, args: ListEpisodes, progress: Progress) -> dict[str, Any]:
    page = await backend.page(args.limit, args.after, args.status)
    return {
        "episodes": [
            {
                "episode_id": e.id,
                "task_id": e.task.id,
                "status": e.status,
                "created_at": e.created_at.isoformat(),
            }
            for e in page.data
        ],
        "has_more": page.has_more,
        "next": page.next,
    }


async def cancel_episode(backend: Backend, args: EpisodeRef, progress: Progress) -> dict[str, Any]:
    return episode_summary(await backend.cancel(args.episode_id))


@dataclass(frozen=True)
class ToolSpec:
    args: type[BaseModel]
    description: str
    run: Callable[[Backend, Any, Progress], Awaitable[dict[str, Any]]]


TOOLS: dict[str, ToolSpec] = {
    "judge": ToolSpec(
        JudgeRequest,
        "Judge Python code in the hardened sandbox: code plus tests (a check(candidate) program with "
        "entry_point, or assert lines) and optional limits -> the verdict with per-test results.",
        judge,
    ),
    "run_episode": ToolSpec(
        RunEpisode,
        "Run a Reflexion episode: the model writes code, the sandbox judges it, a lesson is written "
        "and the model retries. Give a task (id, prompt, entry_point, tests, visible_tests) or a "
        "HumanEval id, plus episode settings -> final code, status, stop reason, attempts, episode id. "
        "Sends a progress notification per judged trial; cancelling the call cancels the episode.",
        run_episode,
    ),
    "get_episode": ToolSpec(EpisodeRef, "The full record of one of your episodes.", get_episode),
    "list_episodes": ToolSpec(
        ListEpisodes, "Your episodes, newest first, one page at a time.", list_episodes
    ),
    "cancel_episode": ToolSpec(
        EpisodeRef, "Cancel one of your episodes (idempotent); returns its summary.", cancel_episode
    ),
}
