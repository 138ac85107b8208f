"""Budget-matched comparison figures: what feedback bought over `single`, and at what cost.

Pure functions of stored Episode records, like metrics.py, for the questions a strategy must answer
before it is called better: is the gain more than noise (flips against `single` on the same problems,
with an exact McNemar test), what did it cost (accuracy against tokens and wall time), did the retries
explore (duplicate and resample rates), and which kinds of error got fixed.

Definitions (the report repeats them):
- Paired flips: for each problem run by both, `single`'s answer versus the strategy's final answer,
  by the hidden tests. `gained` = single wrong, strategy right; `lost` = the reverse. They measure
  the feedback alone when the first attempts are `single`'s (`first_attempts`: replayed, equal).
- Exact McNemar: the two-sided binomial test of `gained` against `lost` with p = 1/2, computed
  exactly with integers: p = min(1, 2 * P(X <= min(gained, lost))), X ~ Binomial(gained + lost, 1/2).
- Tokens through trial t: the tokens of the attempts (with the reflections and critiques recorded on
  them) and of the resampled draws up to trial t, so the token curve and the accuracy curve share x.
- Duplicate rate: judged attempts after the first whose program equals an earlier attempt's, over
  all judged attempts after the first. Resample rate: draws thrown away as repeats, over all draws.
- Error kind of a wrong answer, from its hidden verdict: `syntax/name error` (SyntaxError,
  IndentationError, NameError or UnboundLocalError, and replies with no code), `timeout`, `other
  exception` (any other error, memory or output limit), `wrong value` (a failed assertion).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from fractions import Fraction
from itertools import pairwise
from math import comb
from statistics import mean, pstdev

from pydantic import BaseModel

from app.reflexion.metrics import answer_after, final_answer, first_answer, is_right, trial_budget
from app.reflexion.models import Attempt, Episode

ERROR_KINDS = ("syntax/name error", "other exception", "wrong value", "timeout")
_SYNTAX_OR_NAME = re.compile(r"\b(SyntaxError|IndentationError|TabError|NameError|UnboundLocalError)\b")


def mcnemar_exact(gained: int, lost: int) -> float:
    """Two-sided exact McNemar p-value of the discordant pairs (a sign test with p = 1/2)."""
    if gained < 0 or lost < 0:
        raise ValueError("counts must be non-negative")
    n = gained + lost
    if n == 0:
        return 1.0
    tail = sum(comb(n, i) for i in range(min(gained, lost) + 1))
    return float(min(Fraction(1), Fraction(2 * tail, 2**n)))


class PairedFlips(BaseModel):
    problems: int = 0
    gained: int = 0
    lost: int = 0
    both_right: int = 0
    both_wrong: int = 0
    p_value: float = 1.0


FLIPS = ("gained", "lost", "both_right", "both_wrong")


def flips_against(episodes: Sequence[Episode], single: Sequence[Episode]) -> list[tuple[str, Episode]]:
    """Each episode of a problem `single` also ran, with its flip: `single`'s final answer against
    the episode's (hidden tests)."""
    baseline = {e.task.id: is_right(final_answer(e)) for e in single}
    names = {(False, True): "gained", (True, False): "lost", (True, True): "both_right"}
    return [
        (names.get((baseline[e.task.id], is_right(final_answer(e))), "both_wrong"), e)
        for e in episodes
        if e.task.id in baseline
    ]


def paired_flips(episodes: Sequence[Episode], single: Sequence[Episode]) -> PairedFlips:
    """The strategy's final answers against `single`'s on the problems both ran (by task id)."""
    counts: Counter[str] = Counter(flip for flip, _ in flips_against(episodes, single))
    return PairedFlips(
        problems=sum(counts.values()),
        **counts,
        p_value=mcnemar_exact(counts["gained"], counts["lost"]),
    )


class FirstAttempts(BaseModel):
    """Whether a strategy started where `single` did: flips measure the feedback only if it did."""

    problems: int = 0
    replayed: int = 0
    equal: int = 0


def first_attempts(episodes: Sequence[Episode], single: Sequence[Episode]) -> FirstAttempts:
    """On the problems both ran: how many first attempts were `single`'s replayed reply, and how many
    have exactly `single`'s first program (the check that holds whether replayed or asked again)."""
    baseline = {e.task.id: first_answer(e) for e in single}
    result = FirstAttempts()
    for episode in episodes:
        if episode.task.id not in baseline:
            continue
        mine, theirs = first_answer(episode), baseline[episode.task.id]
        result.problems += 1
        result.replayed += int(mine is not None and mine.replay_of is not None)
        result.equal += int(mine is not None and theirs is not None and mine.code == theirs.code)
    return result


def by_feedback(episodes: Sequence[Episode]) -> dict[str, dict[str, float]]:
    """Problems and accuracy per feedback source, so problems without visible tests (whose feedback
    is the model's own tests, none, or the grading tests) are reported apart from the others."""
    groups: dict[str, list[Episode]] = {}
    for episode in episodes:
        groups.setdefault(episode.config.resolved_feedback(episode.task), []).append(episode)
    return {
        source: {"problems": len(eps), "accuracy": sum(is_right(final_answer(e)) for e in eps) / len(eps)}
        for source, eps in sorted(groups.items())
    }


def error_kind(attempt: Attempt | None) -> str | None:
    """The kind of error of a wrong answer (None for a right one)."""
    if attempt is None or not attempt.code:
        return "syntax/name error"
    verdict = attempt.hidden
    if verdict is None:
        return "other exception"
    if verdict.passed:
        return None
    if verdict.status == "timeout":
        return "timeout"
    text = " ".join([verdict.detail, *(t.message for t in verdict.failing())])
    if _SYNTAX_OR_NAME.search(text):
        return "syntax/name error"
    return "wrong value" if verdict.status == "failed" else "other exception"


def errors_fixed(episodes: Sequence[Episode]) -> dict[str, dict[str, int]]:
    """Per kind of the first answer's error: how many problems started with it, how many ended right."""
    table = {kind: {"first_wrong": 0, "fixed": 0} for kind in ERROR_KINDS}
    for episode in episodes:
        kind = error_kind(first_answer(episode))
        if kind is None:
            continue
        table[kind]["first_wrong"] += 1
        table[kind]["fixed"] += int(is_right(final_answer(episode)))
    return table


class DrawRates(BaseModel):
    retries: int = 0
    duplicates: int = 0
    draws: int = 0
    resamples: int = 0
    stuck: int = 0
    duplicate_rate: float | None = None
    resample_rate: float | None = None


def draw_rates(episodes: Sequence[Episode]) -> DrawRates:
    retries = sum(max(0, len(e.attempts) - 1) for e in episodes)
    duplicates = sum(1 for e in episodes for a in e.attempts if a.duplicate_of is not None)
    resamples = sum(len(e.resamples) for e in episodes)
    draws = sum(len(e.attempts) for e in episodes) + resamples
    return DrawRates(
        retries=retries,
        duplicates=duplicates,
        draws=draws,
        resamples=resamples,
        stuck=sum(1 for e in episodes if e.stop_reason == "stuck"),
        duplicate_rate=duplicates / retries if retries else None,
        resample_rate=resamples / draws if draws else None,
    )


def tokens_through(episode: Episode, trial: int) -> int:
    spent = sum(a.usage.total_tokens for a in episode.attempts if a.trial <= trial)
    return spent + sum(r.usage.total_tokens for r in episode.resamples if r.trial <= trial)


def token_curve(episodes: Sequence[Episode]) -> list[tuple[float, float]]:
    """(mean tokens per problem, accuracy) after each trial: accuracy against what it cost."""
    if not episodes:
        return []
    horizon = max(max(trial_budget(e) for e in episodes), *(len(e.attempts) for e in episodes))
    curve = []
    for trial in range(1, horizon + 1):
        tokens = mean(tokens_through(e, trial) for e in episodes)
        right = sum(is_right(answer_after(e, trial)) for e in episodes) / len(episodes)
        curve.append((tokens, right))
    return curve


class Spread(BaseModel):
    """Accuracy of repeated runs of one strategy (e.g. `single` over seeds): the noise band."""

    runs: int
    accuracies: list[float]
    mean: float
    stdev: float
    low: float
    high: float


def spread(runs: Sequence[Sequence[Episode]]) -> Spread | None:
    """The spread of accuracy over runs of the same problems; None with fewer than two runs."""
    return _spread_of([sum(is_right(final_answer(e)) for e in run) / len(run) for run in runs if run])


def _spread_of(accuracies: list[float]) -> Spread | None:
    if len(accuracies) < 2:
        return None
    return Spread(
        runs=len(accuracies),
        accuracies=accuracies,
        mean=mean(accuracies),
        stdev=pstdev(accuracies),
        low=min(accuracies),
        high=max(accuracies),
    )


def sample_spread(best_of_n: Sequence[Episode]) -> Spread | None:
    """The noise band of a sampled single: best_of_n's samples are independent single attempts at its
    temperature, so sample i over all problems is one sampled single run (hidden tests)."""
    if not best_of_n:
        return None
    width = min(len(e.attempts) for e in best_of_n)
    ordered = [sorted(e.attempts, key=lambda a: a.trial) for e in best_of_n]
    return _spread_of(
        [sum(is_right(attempts[i]) for attempts in ordered) / len(ordered) for i in range(width)]
    )


def accuracy_at_tokens(curve: Sequence[Sequence[float]], tokens: float) -> tuple[float, bool] | None:
    """A budget curve's accuracy at `tokens` per problem, linear between its points and from (0, 0)
    to the first (no tokens, no answer); the flag says whether `tokens` lies within the curve: beyond
    its last point the last accuracy stands, since the curve's strategy was never given more."""
    if not curve:
        return None
    points = [(0.0, 0.0), *sorted((float(t), float(a)) for t, a in curve)]
    for (t0, a0), (t1, a1) in pairwise(points):
        if t0 <= tokens <= t1:
            return (a0 + (a1 - a0) * (tokens - t0) / (t1 - t0) if t1 > t0 else a1), True
    return points[-1][1], tokens <= points[-1][0]


def budget_by_flip(episodes: Sequence[Episode], single: Sequence[Episode]) -> dict[str, dict[str, float]]:
    """Where the tokens went: problems and mean tokens per problem by their flip against `single`
    (gained, lost, both right, both wrong), so a budget burned on problems that stayed wrong shows."""
    groups: dict[str, list[int]] = {flip: [] for flip in FLIPS}
    for flip, episode in flips_against(episodes, single):
        groups[flip].append(episode.usage.total_tokens)
    return {k: {"problems": len(v), "tokens_per_problem": mean(v) if v else 0.0} for k, v in groups.items()}
