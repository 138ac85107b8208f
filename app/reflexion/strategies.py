"""The five ways an episode can spend its trials, each a short async function over EpisodeRun steps.

Each strategy reads its progress from the episode record only (never from local variables carried
between steps), so calling it again on a resumed episode continues where the record stops. Each
returns the stop reason; a step may also end the episode early by raising StopEpisode.

- reflexion: attempt, judge on the feedback tests, on failure reflect and store the lesson; the next
  attempt sees the last lessons and the facts of the failure (failing calls, the exception with the
  candidate's own line, at level `trace` its local values), with the faulty code shown back
  (`retry_context: revise`) or not (`fresh`: small models copy what they are shown); stop when
  solved or at max_trials.
- reflexion and self_refine retries are sampled (steps.EpisodeRun.attempt): a temperature schedule,
  a new seed per draw, and a program equal to an earlier attempt is drawn again instead of judged
  (stop reason `stuck` when the model only repeats itself). `retries: greedy` keeps greedy retries.
- self_refine: intrinsic self-correction. The actor critiques and revises its own code without any
  judge signal, until it says `NO CHANGE NEEDED` (stop reason `solved`: the model's own verdict) or
  max_trials. The hidden tests still grade every attempt, which is how the gap is measured.
- best_of_n: `samples` independent attempts (different seeds, temperature 0.8 by default), no
  reflection and no resampling of repeats (the samples stay independent for pass@k). All samples
  are drawn so pass@k stays computable; the answer is the first one that passes the feedback tests.
- single: one attempt.
- tree_search (LATS-style): the first attempt is the root; the best failed leaf (highest value =
  fraction of feedback tests passed, ties to the earliest) is reflected on and expanded into
  `branching` sampled children, whose prompts carry the reflections along the path from the root;
  stop when a node passes the feedback tests or `max_trials` nodes are judged. The tree is the
  record itself (each attempt's `parent` and `value`, rules in tree.py); the answer is the passing
  node, else the highest-valued one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from app.reflexion import tree
from app.reflexion.conversation import describe_verdict, says_no_change
from app.reflexion.models import Attempt, ChatMessage
from app.reflexion.steps import EpisodeRun
from app.reflexion.vocabulary import StopReason, StrategyName

Strategy = Callable[[EpisodeRun], Awaitable[StopReason]]


async def first_prompt(run: EpisodeRun) -> list[ChatMessage]:
    """The first actor prompt: the task, the visible tests if they are the feedback, remembered lessons."""
    return run.conversation.actor_initial(run.task, run.shown_tests(), await run.lessons())


def retry_prompt(run: EpisodeRun, failed: Attempt, lessons: list[str]) -> list[ChatMessage]:
    """The actor's prompt after a failed attempt: its facts at the configured level and the lessons,
    with its code shown back unless `retry_context` is `fresh`."""
    facts = describe_verdict(failed.feedback, run.config.feedback_level)
    code = None if run.config.retry_context == "fresh" else failed.code
    return run.conversation.actor_retry(run.task, run.shown_tests(), code, facts, lessons)


async def reflexion(run: EpisodeRun) -> StopReason:
    while True:
        last = run.last()
        if last is None:
            await run.attempt(await first_prompt(run))
            continue
        if run.solved(last):
            return "solved"
        if last.trial >= run.config.max_trials:
            return "max_trials"
        if last.reflection is None:
            await run.reflect(last)
        await run.attempt(retry_prompt(run, last, await run.lessons()), retry=True)


async def self_refine(run: EpisodeRun) -> StopReason:
    while True:
        last = run.last()
        if last is None:
            await run.attempt(run.conversation.actor_initial(run.task, [], []))
            continue
        if last.trial >= run.config.max_trials:
            return "max_trials"
        if not last.code:  # nothing to critique: ask again from scratch
            await run.attempt(run.conversation.actor_initial(run.task, [], []), retry=True)
            continue
        critique = last.critique if last.critique is not None else await run.critique(last)
        if says_no_change(critique):
            return "solved"
        await run.attempt(run.conversation.revise(run.task, last.code, critique), retry=True)


async def best_of_n(run: EpisodeRun) -> StopReason:
    while len(run.episode.attempts) < run.config.samples:
        sample = len(run.episode.attempts)
        await run.attempt(run.conversation.actor_initial(run.task, run.shown_tests(), []), sample=sample)
    return "solved" if any(run.solved(a) for a in run.episode.attempts) else "max_trials"


async def single(run: EpisodeRun) -> StopReason:
    last = run.last()
    if last is None:
        last = await run.attempt(await first_prompt(run))
    return "solved" if run.solved(last) else "max_trials"


async def tree_search(run: EpisodeRun) -> StopReason:
    while True:
        attempts = run.episode.attempts
        if not attempts:
            await run.attempt(await first_prompt(run))
            continue
        if run.solved(attempts[-1]):
            return "solved"
        node = tree.next_to_expand(attempts, run.config.branching)
        if len(attempts) >= run.config.max_trials or node is None:
            return "max_trials"
        if node.reflection is None:
            await run.reflect(node)
        window = run.config.memory_window
        path = tree.path_to(attempts, node.trial)
        lessons = [a.reflection for a in path if a.reflection][-window:] if window else []
        await run.attempt(retry_prompt(run, node, lessons), retry=True, parent=node.trial)


STRATEGIES: dict[StrategyName, Strategy] = {
    "reflexion": reflexion,
    "self_refine": self_refine,
    "best_of_n": best_of_n,
    "single": single,
    "tree_search": tree_search,
}
