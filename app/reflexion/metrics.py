"""Benchmark figures computed from stored Episode/Attempt records and nothing else.

Why a pure module: "did reflection help, and at what cost?" must be answerable from the records a
run leaves behind (episodes.jsonl, the API's store), so every number here is a function of
`Episode` objects. No counters are kept on the side, and the same records always give the same
figures.

Definitions (the report repeats them):
- The *answer after trial t* follows the engine's rule for the final answer, applied to the attempts
  with `trial <= t`: for best_of_n (independent samples) the first whose feedback verdict passed;
  for tree_search the passing node, else the highest-valued one (models.answer_among); otherwise, and for
  reflexion, self_refine and single, the latest attempt that has code (the latest attempt when none
  has). An episode that stopped early thus carries its last answer forward.
- An answer is *right* when its hidden (grading) verdict passed; no hidden verdict counts as wrong.
- pass@k is the unbiased estimator of Chen et al. (2021), `1 - C(n-c, k) / C(n, k)`, per problem over
  its n independent samples of which c pass, averaged over problems. Sequential strategies have one
  independent sample per problem (their first attempt), so only pass@1 is defined for them.
- Flips compare the first answer with the final answer of each episode ("LLMs Cannot Self-Correct
  Reasoning Yet", Huang et al. 2023).
- A false positive is an attempt whose feedback verdict passed while its hidden verdict did not.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from math import comb

from pydantic import BaseModel

from app.reflexion.models import Attempt, Episode, answer_among
from app.reflexion.vocabulary import StrategyName

SAMPLING_STRATEGIES: frozenset[StrategyName] = frozenset({"best_of_n"})


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem: n samples, c of them correct (Chen et al. 2021, eq. 1)."""
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got n={n}, k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def is_right(attempt: Attempt | None) -> bool:
    return attempt is not None and attempt.hidden_passed


def _ordered(episode: Episode) -> list[Attempt]:
    return sorted(episode.attempts, key=lambda a: a.trial)


def answer_after(episode: Episode, trial: int) -> Attempt | None:
    """The episode's answer once `trial` trials (or samples) are done; None before any attempt."""
    seen = [a for a in _ordered(episode) if a.trial <= trial]
    if not seen:
        return None
    return answer_among(seen, episode.config.strategy)


def final_answer(episode: Episode) -> Attempt | None:
    """The answer the episode settled on: `final_trial` when the engine recorded it, else the rule above."""
    if episode.final_trial is not None:
        for attempt in episode.attempts:
            if attempt.trial == episode.final_trial:
                return attempt
    if not episode.attempts:
        return None
    return answer_after(episode, max(a.trial for a in episode.attempts))


def first_answer(episode: Episode) -> Attempt | None:
    ordered = _ordered(episode)
    return ordered[0] if ordered else None


def trial_budget(episode: Episode) -> int:
    """How many trials (samples for best_of_n) the episode was allowed; `single` has one."""
    if episode.config.strategy in SAMPLING_STRATEGIES:
        return episode.config.samples
    if episode.config.strategy == "single":
        return 1
    return episode.config.max_trials


def accuracy_by_trial(episodes: Sequence[Episode]) -> list[float]:
    """Fraction of episodes whose answer after trial i+1 is right, for i up to the largest budget."""
    if not episodes:
        return []
    horizon = max(max(trial_budget(e) for e in episodes), *(len(e.attempts) for e in episodes))
    curve = []
    for trial in range(1, horizon + 1):
        right = sum(is_right(answer_after(e, trial)) for e in episodes)
        curve.append(right / len(episodes))
    return curve


class Flips(BaseModel):
    wrong_to_right: int = 0
    right_to_wrong: int = 0
    right_to_right: int = 0
    wrong_to_wrong: int = 0


def flips(episodes: Iterable[Episode]) -> Flips:
    """First answer versus final answer, by hidden verdict, one count per episode."""
    counts: Counter[str] = Counter()
    for episode in episodes:
        first = "right" if is_right(first_answer(episode)) else "wrong"
        last = "right" if is_right(final_answer(episode)) else "wrong"
        counts[f"{first}_to_{last}"] += 1
    return Flips(**counts)


def pass_at_ks(episodes: Sequence[Episode], max_k: int) -> tuple[dict[str, float], dict[str, int]]:
    """`{"pass@1": ..., ..., "pass@K"}` averaged over problems, and how many problems each k covers.

    A problem with fewer than k generated samples cannot estimate pass@k without bias, so it is left
    out of that k (the second dict says how many problems remained). Sequential strategies count only
    their first attempt: n=1.
    """
    values: dict[str, float] = {}
    coverage: dict[str, int] = {}
    samples = [_independent_samples(e) for e in episodes]
    for k in range(1, max_k + 1):
        estimates = [pass_at_k(len(s), sum(map(is_right, s)), k) for s in samples if len(s) >= k]
        if not estimates:
            break
        values[f"pass@{k}"] = sum(estimates) / len(estimates)
        coverage[f"pass@{k}"] = len(estimates)
    return values, coverage


def _independent_samples(episode: Episode) -> list[Attempt]:
    ordered = _ordered(episode)
    if episode.config.strategy in SAMPLING_STRATEGIES:
        return ordered
    return ordered[:1]


class FalsePositives(BaseModel):
    """Feedback said pass, hidden tests said fail."""

    attempts_feedback_passed: int = 0
    attempts: int = 0
    episodes_solved: int = 0
    episodes: int = 0
    by_feedback: dict[str, dict[str, int]] = {}


def false_positives(episodes: Iterable[Episode]) -> FalsePositives:
    """Counts per attempt and per episode (stopped as `solved` but final answer wrong), by feedback source."""
    result = FalsePositives()
    by: dict[str, Counter[str]] = {}
    for episode in episodes:
        source = episode.config.resolved_feedback(episode.task)
        bucket = by.setdefault(source, Counter())
        for attempt in episode.attempts:
            if attempt.feedback_passed:
                result.attempts_feedback_passed += 1
                bucket["attempts_feedback_passed"] += 1
                if not is_right(attempt):
                    result.attempts += 1
                    bucket["attempts"] += 1
        if episode.stop_reason == "solved":
            result.episodes_solved += 1
            bucket["episodes_solved"] += 1
            if not is_right(final_answer(episode)):
                result.episodes += 1
                bucket["episodes"] += 1
    keys = ("attempts_feedback_passed", "attempts", "episodes_solved", "episodes")
    result.by_feedback = {src: {k: counts[k] for k in keys} for src, counts in sorted(by.items())}
    return result


def wall_seconds(episode: Episode) -> float:
    """The episode's wall time, plus the recorded generation time of replayed attempts (a replay
    costs no time, but the strategy would have spent it)."""
    if episode.started_at is None or episode.finished_at is None:
        return 0.0
    replayed = sum(a.latency_ms for a in episode.attempts if a.replay_of) / 1000
    return max(0.0, (episode.finished_at - episode.started_at).total_seconds()) + replayed


class StrategySummary(BaseModel):
    """Every figure the report gives for one strategy."""

    strategy: str
    problems: int
    solved: int
    accuracy: float
    accuracy_by_trial: list[float]
    pass_at_k: dict[str, float]
    pass_at_k_problems: dict[str, int]
    pass_at_k_basis: str
    flips: Flips
    false_positives: FalsePositives
    feedback: dict[str, int]
    stop_reasons: dict[str, int]
    attempts: int
    llm_failures: int
    tokens: int
    cost_usd: float
    wall_s: float
    tokens_per_solved: float | None
    cost_usd_per_solved: float | None
    wall_s_per_solved: float | None

    def as_report(self) -> dict[str, object]:
        """The report.json shape: pass@k figures as top-level `pass@1`, `pass@2`, ... keys."""
        data = self.model_dump(exclude={"pass_at_k"})
        data.update(self.pass_at_k)
        return data


def summarize(strategy: str, episodes: Sequence[Episode]) -> StrategySummary:
    """All figures for one strategy's episodes (one episode per problem); `strategy` is the name the
    report shows: the strategy, or the label of a variant run."""
    solved = sum(is_right(final_answer(e)) for e in episodes)
    tokens = sum(e.usage.total_tokens for e in episodes)
    cost = sum(e.usage.cost_usd for e in episodes)
    wall = sum(wall_seconds(e) for e in episodes)
    sampling = any(e.config.strategy in SAMPLING_STRATEGIES for e in episodes)
    max_k = max((e.config.samples for e in episodes), default=1) if sampling else 1
    values, coverage = pass_at_ks(episodes, max_k)
    attempts = [a for e in episodes for a in e.attempts]
    return StrategySummary(
        strategy=strategy,
        problems=len(episodes),
        solved=solved,
        accuracy=solved / len(episodes) if episodes else 0.0,
        accuracy_by_trial=accuracy_by_trial(episodes),
        pass_at_k=values,
        pass_at_k_problems=coverage,
        pass_at_k_basis=(
            "unbiased estimator over the independent samples of each problem (Chen et al. 2021)"
            if sampling
            else "first attempt of each problem (one independent sample, so only pass@1)"
        ),
        flips=flips(episodes),
        false_positives=false_positives(episodes),
        feedback=dict(Counter(e.config.resolved_feedback(e.task) for e in episodes)),
        stop_reasons=dict(Counter(e.stop_reason or "none" for e in episodes)),
        attempts=len(attempts),
        llm_failures=sum(a.llm_outcome != "ok" for a in attempts),
        tokens=tokens,
        cost_usd=cost,
        wall_s=wall,
        tokens_per_solved=tokens / solved if solved else None,
        cost_usd_per_solved=cost / solved if solved else None,
        wall_s_per_solved=wall / solved if solved else None,
    )
