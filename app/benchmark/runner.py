"""The benchmark runner: every strategy on the same problems, bounded concurrency, resumable, budgeted.

Why it is built this way:
- Work is a list of (problem, strategy) pairs in problem-major order, so that at any moment (and when
  a budget stops the run) the strategies have been compared on the same problems as far as possible.
- `concurrency` workers pull pairs from that list; each pair is one `run_episode`, whose finished
  Episode is appended (and fsynced) to DIR/episodes.jsonl before the pair counts as done. A restarted
  run skips the pairs already in the file; an episode cut short by the interruption runs again, and so
  does one that ended on a sandbox failure (`judge_error`: the infrastructure's fault, not the model's;
  the later line of a pair wins).
- The budget (tokens and/or USD for the whole run) is checked before each new pair, against the usage
  recorded in the finished episodes (those of earlier runs of DIR included). Episodes in flight finish,
  so a run can overshoot by at most `concurrency` episodes; the report says the budget stopped it.
- Each strategy has its own in-process memory, so lessons never leak into another strategy's prompts
  (with `--memory task`, single and best_of_n would otherwise read reflexion's lessons on the task).
- Each model request is its own sample (best_of_n asks K times, never `n=K`), which is the engine's
  behaviour and what local servers support.
- `single` runs first on each problem and the feedback strategies reuse the replies it got
  (replay.py), from this run or from `replay_from`, another run's directory: their first attempt is
  `single`'s, so a flip against `single` is the feedback's doing. A feedback episode waits for
  `single`'s episode on its problem when that is still running.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from app.benchmark.memory import InProcessMemory
from app.benchmark.replay import NEVER_REPLAYED, ReplayingModel, ReplyLog
from app.benchmark.store import EpisodeLog, latest_per_pair
from app.errors import InvalidInput
from app.reflexion.loop import EpisodeDeps, new_episode, run_episode
from app.reflexion.models import Episode, EpisodeConfig, EventType, Task, Usage
from app.reflexion.ports import ChatModel, Judge, PromptBook

BENCH_TENANT = "bench"
RETRIED = frozenset({"judge_error"})


@dataclass
class Budget:
    tokens: int | None = None
    cost_usd: float | None = None

    def exceeded_by(self, spent: Usage) -> bool:
        if self.tokens is not None and spent.total_tokens >= self.tokens:
            return True
        return self.cost_usd is not None and spent.cost_usd >= self.cost_usd


@dataclass
class BenchOutcome:
    """What the run did; the figures themselves are computed from the episodes afterwards."""

    episodes: list[Episode]
    ran: int = 0
    resumed: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    budget_exceeded: bool = False
    spent: Usage = field(default_factory=Usage)


class _QuietSink:
    """Episodes of a benchmark are recorded when they finish; individual steps need no sink."""

    async def emit(self, episode: Episode, type: EventType, data: dict[str, object]) -> None:
        return None


Progress = Callable[[Episode], None]


def problem_config(config: EpisodeConfig, task: Task) -> EpisodeConfig:
    """The config one problem runs with. A problem without visible tests (26 of HumanEval's 164
    yield none from their docstrings) gets the model's own tests as feedback where the run asked for
    visible ones or for the default: visible tests that do not exist would check nothing, and the
    default's fallback, the hidden tests, would leak the answer key. Only `--feedback oracle` shows
    the hidden tests."""
    if config.strategy == "self_refine":  # it never sees a judge
        return config
    if config.feedback_problem(task) is not None or (config.feedback is None and not task.visible_tests):
        return config.model_copy(update={"feedback": "self_tests"})
    return config


def check_resumable(existing: Sequence[Episode], configs: dict[str, EpisodeConfig]) -> None:
    """Refuse to mix runs: an episode already in DIR must have been run with the same settings."""
    for episode in existing:
        wanted = configs.get(episode.config.strategy)
        if wanted is not None and episode.config != problem_config(wanted, episode.task):
            raise InvalidInput(
                f"the output directory holds {episode.config.strategy} episodes run with other settings "
                f"(e.g. max_trials={episode.config.max_trials}, samples={episode.config.samples}): "
                "use a new --out directory"
            )


FIRST_REQUEST = ("temperature", "top_p", "max_tokens", "seed", "feedback", "instructions")


def check_replay_source(configs: dict[str, EpisodeConfig], replay_from: Path | None) -> None:
    """Another run's single is replayed only where this run has none of its own, must exist, and
    must have sent the first request this run's feedback strategies will send (else nothing would be
    replayed and the flips would not measure the feedback alone)."""
    if replay_from is None:
        return
    if "single" in configs:
        raise InvalidInput("--replay-from replays another run's single: do not run single here too")
    single = next((e for e in EpisodeLog(replay_from).read() if e.config.strategy == "single"), None)
    if single is None:
        raise InvalidInput(f"--replay-from: {replay_from} holds no single episodes")
    for name, config in configs.items():
        if name in NEVER_REPLAYED:
            continue
        mine = config.model_copy(update={"strategy": "single"})
        for setting in FIRST_REQUEST:
            theirs, wanted = getattr(single.config, setting), getattr(mine, setting)
            if setting == "temperature":
                theirs, wanted = single.config.resolved_temperature(), mine.resolved_temperature()
            if theirs != wanted:
                raise InvalidInput(
                    f"--replay-from: its single ran with {setting}={theirs!r}, {name} here asks "
                    f"{setting}={wanted!r}: the first requests differ, so set them equal"
                )


async def run_bench(
    tasks: Sequence[Task],
    configs: dict[str, EpisodeConfig],
    log: EpisodeLog,
    *,
    actor: ChatModel,
    reflector: ChatModel,
    judge: Judge,
    prompts: PromptBook,
    concurrency: int = 2,
    budget: Budget | None = None,
    on_finished: Progress | None = None,
    replay_from: Path | None = None,
) -> BenchOutcome:
    """Run every (problem, strategy) pair not yet in `log`; returns every episode of the plan."""
    if concurrency < 1:
        raise InvalidInput(f"--concurrency must be at least 1, got {concurrency}")
    check_replay_source(configs, replay_from)
    budget = budget or Budget()
    planned = {(s, t.id) for t in tasks for s in configs}
    existing = [
        e
        for e in latest_per_pair(log.read())
        if (e.config.strategy, e.task.id) in planned and e.stop_reason not in RETRIED
    ]
    check_resumable(existing, configs)
    done = {(e.config.strategy, e.task.id) for e in existing}
    outcome = BenchOutcome(episodes=list(existing), resumed=len(existing))
    for episode in existing:
        outcome.spent = outcome.spent + episode.usage
    order = sorted(configs, key=lambda s: s != "single")  # single first on every problem
    queue = [(s, t) for t in tasks for s in order if (s, t.id) not in done]
    memories = {s: InProcessMemory() for s in configs}  # `--memory task` must not leak across strategies
    sink = _QuietSink()
    lock = asyncio.Lock()
    replies = ReplyLog(replay_from if replay_from is not None else log.path.parent)
    singles = EpisodeLog(replay_from).read() if replay_from is not None else existing
    single_of = {e.task.id: e.id for e in latest_per_pair(singles) if e.config.strategy == "single"}
    single_running = {t.id: asyncio.Event() for s, t in queue if s == "single"}

    async def actor_for(strategy: str, task: Task) -> ChatModel:
        if strategy == "single":
            return ReplayingModel(actor)  # nothing to replay: it records what it asks
        if strategy in NEVER_REPLAYED:
            return actor
        if task.id in single_running:
            await single_running[task.id].wait()
        recorded = await asyncio.to_thread(replies.of_episodes, {task.id: single_of.get(task.id, "")})
        return ReplayingModel(actor, recorded.get(task.id, {}))

    async def worker() -> None:
        while True:
            async with lock:
                if not queue:
                    return
                if budget.exceeded_by(outcome.spent):
                    outcome.budget_exceeded = True
                    outcome.skipped += [(s, t.id) for s, t in queue]
                    queue.clear()
                    return
                strategy, task = queue.pop(0)
            try:
                episode_actor = await actor_for(strategy, task)
                deps = EpisodeDeps(
                    actor=episode_actor,
                    reflector=reflector,
                    judge=judge,
                    memory=memories[strategy],
                    events=sink,
                    prompts=prompts,
                )
                config = problem_config(configs[strategy], task)
                episode = await run_episode(new_episode(task, config, BENCH_TENANT), deps)
                async with lock:  # one writer at a time: append also repairs a torn last line
                    if strategy == "single" and isinstance(episode_actor, ReplayingModel):
                        # the replies first: the episode's line is what marks the pair done
                        await asyncio.to_thread(replies.append, task.id, episode.id, episode_actor.asked)
                        single_of[task.id] = episode.id
                    await asyncio.to_thread(log.append, episode)
            finally:
                if strategy == "single" and task.id in single_running:
                    single_running[task.id].set()
            async with lock:
                outcome.episodes.append(episode)
                outcome.spent = outcome.spent + episode.usage
                outcome.ran += 1
            if on_finished is not None:
                on_finished(episode)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return outcome
