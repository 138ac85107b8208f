"""run_episode(): one Reflexion episode from start to its one `episode.finished` event.

Read it top to bottom: take (or resume) the episode record, announce it, let the strategy spend its
trials inside the wall-clock timeout, then settle the outcome. The outcome has two parts that are kept
apart on purpose: the stop reason says why the loop stopped (`solved` means the *feedback* tests
passed), the status says whether the final answer passes the task's hidden *grading* tests. A false
positive of the feedback tests therefore shows as `failed` + `solved`.

Resume and idempotency (the service's worker relies on these):
- An episode that is already terminal is returned unchanged, with no events.
- An episode that is `running` (a worker crashed mid-way) continues from its last judged attempt; a
  trailing attempt that was generated but not judged is redone. `episode.started` is emitted only
  when the episode was not running yet, so a resumed episode has exactly one `episode.started`
  and, like every episode, exactly one `episode.finished`.
- The record is the truth: its own task, config and tenant are used (a new one: `new_episode`).
- The timeout counts from the start of this call, not from the first start.
- Cancellation (the asyncio task is cancelled) finishes the record as `cancelled`, emits
  `episode.finished`, then re-raises CancelledError.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from app.reflexion.conversation import Conversation
from app.reflexion.ids import new_episode_id
from app.reflexion.models import Episode, EpisodeConfig, Task, utcnow
from app.reflexion.ports import ChatModel, EventSink, Judge, Memory, PromptBook
from app.reflexion.steps import EpisodeRun, StopEpisode
from app.reflexion.strategies import STRATEGIES
from app.reflexion.vocabulary import EpisodeStatus, StopReason


@dataclass(frozen=True)
class EpisodeDeps:
    """The ports one episode runs on (a process builds the shared ones once; `events` is per episode)."""

    actor: ChatModel
    reflector: ChatModel
    judge: Judge
    memory: Memory
    events: EventSink
    prompts: PromptBook


def new_episode(task: Task, config: EpisodeConfig, tenant: str = "default") -> Episode:
    """A fresh record for `run_episode` (the service's records are made by the API instead)."""
    return Episode(id=new_episode_id(), tenant=tenant, task=task, config=config)


async def run_episode(episode: Episode, deps: EpisodeDeps) -> Episode:
    if episode.terminal:
        return episode
    task, config = episode.task, episode.config
    actor, reflector = deps.actor, deps.reflector
    run = EpisodeRun(
        episode=episode,
        actor=actor,
        reflector=reflector,
        judge=deps.judge,
        memory=deps.memory,
        events=deps.events,
        conversation=Conversation(deps.prompts, episode.prompt_versions, config.instructions),
        feedback=config.resolved_feedback(task),
    )
    run.discard_unfinished()

    if episode.status != "running":
        episode.status = "running"
        episode.started_at = utcnow()
        episode.actor_model, episode.reflector_model = actor.name, reflector.name
        await run.emit(
            "episode.started",
            {
                "task_id": task.id,
                "strategy": config.strategy,
                "feedback": run.feedback,
                "actor_model": actor.name,
                "reflector_model": reflector.name,
            },
        )

    strategy = STRATEGIES[config.strategy]
    deadline = asyncio.timeout(config.timeout_s)
    try:
        async with deadline:
            reason = await strategy(run)
    except StopEpisode as stop:
        reason, episode.error = stop.reason, stop.detail or None
    except TimeoutError:
        if not deadline.expired():
            raise  # someone else's timeout (an adapter bug), not the episode's wall clock
        reason, episode.error = "timeout", f"episode exceeded {config.timeout_s:g} s"
    except asyncio.CancelledError:
        await asyncio.shield(finish(run, "cancelled"))
        raise
    await finish(run, reason)
    return episode


async def finish(run: EpisodeRun, reason: StopReason) -> None:
    """Settle the outcome from the final answer's hidden verdict and emit the one `episode.finished`."""
    episode = run.episode
    answer = episode.answer
    status: EpisodeStatus
    if reason == "cancelled":
        status = "cancelled"
    elif reason == "timeout":
        status = "timed_out"
    elif answer is not None and answer.hidden_passed:
        status = "succeeded"
    else:
        status = "failed"
    episode.status, episode.stop_reason = status, reason
    episode.final_trial = answer.trial if answer is not None else None
    episode.finished_at = utcnow()
    await run.emit("episode.finished", episode.finished_data())
