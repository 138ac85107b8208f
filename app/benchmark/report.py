"""report.json: every figure of a benchmark run plus the raw per-attempt rows it came from.

Why rows next to figures: a reader who doubts a number can recompute it from the rows in the same
file. The figures themselves come from app/reflexion/metrics.py over the stored episodes, never from
counters kept while running.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from app.reflexion import comparison, metrics
from app.reflexion.models import Episode

SCHEMA = "rfx-bench-report/1"

DEFINITIONS = {
    "accuracy_by_trial": "fraction of problems whose answer after trial i+1 passes the hidden tests; an "
    "episode that stopped early carries its last answer forward; for best_of_n the answer after i "
    "samples is the first sample that passed its feedback tests; for tree_search the node that passed "
    "its feedback tests, else the highest-valued node (fraction of feedback tests passed, ties to the "
    "latest); otherwise (and for the other strategies) the latest attempt with code",
    "pass@k": "unbiased estimator 1 - C(n-c,k)/C(n,k) (Chen et al. 2021) averaged over problems; n "
    "independent samples per problem (best_of_n), c of them pass the hidden tests; for reflexion, "
    "self_refine, single and tree_search only pass@1 is defined: the accuracy of the first attempt",
    "flips": "first answer versus final answer of each problem, judged by the hidden tests",
    "false_positives": "attempts whose feedback verdict passed while the hidden tests failed; episodes: "
    "stopped as solved by their feedback but final answer fails the hidden tests",
    "per_solved": "tokens, cost and wall time summed over all problems of the strategy, divided by the "
    "number of problems it solved",
    "visible_tests": "derived from the docstring examples when a problem has none "
    "(app/benchmark/visible_tests.py)",
    "token_curve": "(mean tokens per problem, accuracy) after each trial; tokens are prompt + completion "
    "of the actor and the reflector, resampled draws included, up to that trial",
    "vs_single": "per problem run by both, single's answer versus the strategy's final answer (hidden "
    "tests): gained = single wrong and strategy right, lost = the reverse; p_value: exact two-sided "
    "McNemar (binomial) test of gained against lost",
    "first_attempts": "per problem run by both: whether the strategy's first attempt is single's reply "
    "replayed (replayed) and whether its program equals single's first program (equal); flips measure "
    "the feedback alone when equal = problems",
    "draws": "duplicate_rate: judged retries equal to an earlier attempt's program, over all retries; "
    "resample_rate: draws thrown away as repeats, over all draws; stuck: episodes stopped because the "
    "model only repeated itself",
    "errors_fixed": "problems by the kind of error of their first answer (hidden tests), and how many "
    "of them ended right: syntax/name error (also no code), other exception, wrong value, timeout",
    "by_feedback": "problems and accuracy per feedback source: problems without visible tests are "
    "reported apart from those whose feedback came from visible tests",
    "single_spread": "accuracy of single over repeated runs of the same problems (other seeds or "
    "servers): the noise band any difference must exceed",
    "sampled_spread": "accuracy of each of best_of_n's independent samples over all problems: the noise "
    "band of a sampled single at best_of_n's temperature",
    "budget_by_flip": "problems and mean tokens per problem by flip against single (gained, lost, both "
    "right, both wrong): where the budget went",
    "vs_best_of_n": "the strategy's accuracy against best_of_n's token curve read at the strategy's "
    "tokens per problem (linear between the curve's points, from 0 tokens at 0 accuracy); "
    "within_curve false: the strategy spent more than best_of_n's last point, whose accuracy stands",
}


def attempt_rows(groups: dict[str, list[Episode]]) -> list[dict[str, Any]]:
    """One flat row per attempt, with the episode fields needed to recompute every figure; `run` is
    the group the report shows it under (the strategy, or a variant run's label)."""
    rows: list[dict[str, Any]] = []
    for label, episode in ((label, e) for label, eps in groups.items() for e in eps):
        final = metrics.final_answer(episode)
        source = episode.config.resolved_feedback(episode.task)
        for attempt in sorted(episode.attempts, key=lambda a: a.trial):
            rows.append(
                {
                    "run": label,
                    "strategy": episode.config.strategy,
                    "task_id": episode.task.id,
                    "episode_id": episode.id,
                    "trial": attempt.trial,
                    "is_final": final is not None and attempt.trial == final.trial,
                    "feedback_source": source,
                    "feedback_status": attempt.feedback.status if attempt.feedback else None,
                    "hidden_status": attempt.hidden.status if attempt.hidden else None,
                    "hidden_passed": metrics.is_right(attempt),
                    "llm_outcome": attempt.llm_outcome,
                    "own_tests": len(attempt.own_tests),
                    "prompt_tokens": attempt.usage.prompt_tokens,
                    "completion_tokens": attempt.usage.completion_tokens,
                    "cost_usd": attempt.usage.cost_usd,
                    "latency_ms": attempt.latency_ms,
                    "episode_status": episode.status,
                    "stop_reason": episode.stop_reason,
                    "episode_wall_s": metrics.wall_seconds(episode),
                    "temperature": attempt.temperature,
                    "seed": attempt.seed,
                    "duplicate_of": attempt.duplicate_of,
                    "resampled_from": attempt.resampled_from,
                    "replay_of": attempt.replay_of,
                    "code": attempt.code,
                }
            )
    return rows


def by_strategy(episodes: Sequence[Episode], order: Sequence[str]) -> dict[str, list[Episode]]:
    """Episodes grouped per strategy in the requested order, each sorted by task id for stable output."""
    groups: dict[str, list[Episode]] = {name: [] for name in order}
    for episode in episodes:
        groups.setdefault(episode.config.strategy, []).append(episode)
    return {name: sorted(eps, key=lambda e: e.task.id) for name, eps in groups.items()}


def compare(
    groups: dict[str, list[Episode]],
    single_runs: Sequence[Sequence[Episode]] = (),
    baseline: str = "single",
) -> dict[str, Any]:
    """Budget-matched figures per group (see app/reflexion/comparison.py) against the `baseline`
    group (a run of `single`), and single's spread over `single_runs`."""
    single = groups.get(baseline, [])
    sampled = next((n for n, eps in groups.items() if eps and eps[0].config.strategy == "best_of_n"), None)
    per: dict[str, Any] = {}
    for name, eps in groups.items():
        count = len(eps) or 1
        per[name] = {
            "accuracy": sum(metrics.is_right(metrics.final_answer(e)) for e in eps) / count,
            "tokens_per_problem": sum(e.usage.total_tokens for e in eps) / count,
            "wall_s_per_problem": sum(metrics.wall_seconds(e) for e in eps) / count,
            "token_curve": [list(point) for point in comparison.token_curve(eps)],
            "vs_single": (
                comparison.paired_flips(eps, single).model_dump() if single and name != baseline else None
            ),
            "first_attempts": (
                comparison.first_attempts(eps, single).model_dump() if single and name != baseline else None
            ),
            "draws": comparison.draw_rates(eps).model_dump(),
            "errors_fixed": comparison.errors_fixed(eps),
            "by_feedback": comparison.by_feedback(eps),
            "budget_by_flip": (
                comparison.budget_by_flip(eps, single) if single and name != baseline else None
            ),
        }
    if sampled is not None:
        for name, figures in per.items():
            if name != sampled:
                figures["vs_best_of_n"] = at_equal_tokens(figures, per[sampled], sampled)
    problems = {e.task.id for e in single}
    runs = [single, *([e for e in run if e.task.id in problems] for run in single_runs)] if single else []
    spread = comparison.spread(runs)
    samples = comparison.sample_spread(groups[sampled]) if sampled is not None else None
    return {
        "strategies": per,
        "single_spread": spread.model_dump() if spread else None,
        "sampled_spread": {"run": sampled, **samples.model_dump()} if samples else None,
    }


def at_equal_tokens(figures: dict[str, Any], best_of_n: dict[str, Any], label: str) -> dict[str, Any] | None:
    """A strategy's accuracy next to best_of_n's budget curve read at the strategy's tokens per problem."""
    read = comparison.accuracy_at_tokens(best_of_n["token_curve"], figures["tokens_per_problem"])
    if read is None:
        return None
    accuracy, within = read
    return {
        "run": label,
        "tokens_per_problem": figures["tokens_per_problem"],
        "accuracy": figures["accuracy"],
        "best_of_n_accuracy": accuracy,
        "within_curve": within,
        "difference": figures["accuracy"] - accuracy,
    }


def build_report(
    groups: dict[str, list[Episode]],
    *,
    run: dict[str, Any],
    single_runs: Sequence[Sequence[Episode]] = (),
    baseline: str = "single",
) -> dict[str, Any]:
    """The whole report.json document over `groups` (by_strategy, or variant runs by label)."""
    return {
        "schema": SCHEMA,
        "run": run,
        "definitions": DEFINITIONS,
        "strategies": {name: metrics.summarize(name, eps).as_report() for name, eps in groups.items()},
        "comparison": compare(groups, single_runs, baseline),
        "rows": attempt_rows(groups),
    }


def write_json(path: Path, document: dict[str, Any]) -> None:
    """Write atomically, so an interrupted run never leaves a half report behind."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def write_report(
    directory: Path,
    groups: dict[str, list[Episode]],
    *,
    run: dict[str, Any],
    single_runs: Sequence[Sequence[Episode]] = (),
    baseline: str = "single",
) -> dict[str, Any]:
    """report.json, the PNG plots and report.md in `directory`; returns the report document."""
    from app.benchmark.markdown import render
    from app.benchmark.plots import write_budget_plot, write_plots

    document = build_report(groups, run=run, single_runs=single_runs, baseline=baseline)
    directory.mkdir(parents=True, exist_ok=True)
    write_plots(document["strategies"], directory)
    write_budget_plot(document["comparison"]["strategies"], directory)
    write_json(directory / "report.json", document)
    tmp = directory / "report.md.tmp"
    tmp.write_text(render(document), encoding="utf-8")
    os.replace(tmp, directory / "report.md")
    return document
