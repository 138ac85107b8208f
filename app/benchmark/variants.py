"""One report over several run directories: variants of a strategy side by side (`rfx bench report`).

Why: a variant differs from another by its settings (greedy or sampled retries, feedback level, a
stronger reflector), and a run directory holds one setting per strategy, so each variant runs in its
own directory, all replaying the same `single` run (`--replay-from`). This module reads them back as
labelled groups, measured on the problems every group finished, with the first group of `single`
episodes as the baseline and any further `single` groups (other seeds) as its noise band.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from app.benchmark.store import latest_per_pair, read_episodes_dir
from app.errors import InvalidInput
from app.reflexion.models import Episode


@dataclass
class Variants:
    groups: dict[str, list[Episode]]
    baseline: str | None
    noise: list[list[Episode]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)


SETTINGS = (
    "strategy",
    "max_trials",
    "samples",
    "branching",
    "retries",
    "feedback_level",
    "retry_context",
    "temperature",
    "seed",
)


def settings_of(episodes: list[Episode]) -> dict[str, object]:
    """What sets a group apart, read off its first episode: models and the settings that vary."""
    first = episodes[0]
    described: dict[str, object] = {k: getattr(first.config, k) for k in SETTINGS}
    described.update(actor_model=first.actor_model, reflector_model=first.reflector_model)
    return described


def parse_run(spec: str) -> tuple[str, list[Path]]:
    """LABEL=DIR, or LABEL=DIR,DIR,... for one run split over directories (e.g. halves of the
    problems run side by side on two servers)."""
    label, sep, directories = spec.partition("=")
    parts = [d.strip() for d in directories.split(",")]
    if not sep or not label.strip() or not all(parts):
        raise InvalidInput(f"run {spec!r}: expected LABEL=DIR or LABEL=DIR,DIR,...")
    return label.strip(), [Path(d) for d in parts]


def task_order(task_id: str) -> tuple[str, int]:
    """HumanEval/2 before HumanEval/10."""
    prefix, _, number = task_id.rpartition("/")
    return (prefix, int(number)) if number.isdigit() else (task_id, -1)


def load_variants(runs: list[tuple[str, list[Path]]]) -> Variants:
    """Each run's episodes as a group named by its label (LABEL.strategy when its directories hold
    several strategies), cut to the problems that every group finished."""
    groups: dict[str, list[Episode]] = {}
    for label, directories in runs:
        by_strategy: dict[str, list[Episode]] = {}
        episodes = [e for directory in directories for e in read_episodes_dir(directory)]
        for episode in latest_per_pair(episodes):
            by_strategy.setdefault(episode.config.strategy, []).append(episode)
        for strategy, episodes in by_strategy.items():
            name = label if len(by_strategy) == 1 else f"{label}.{strategy}"
            if name in groups:
                raise InvalidInput(f"run label {name!r} is given twice")
            groups[name] = episodes
    if not groups:
        raise InvalidInput("no episodes in the given runs")
    common = set.intersection(*({e.task.id for e in eps} for eps in groups.values()))
    if not common:
        raise InvalidInput("the runs have no problem in common")
    dropped = {name: sum(e.task.id not in common for e in eps) for name, eps in groups.items()}
    kept = {
        name: sorted((e for e in eps if e.task.id in common), key=lambda e: task_order(e.task.id))
        for name, eps in groups.items()
    }
    singles = [name for name, eps in kept.items() if all(e.config.strategy == "single" for e in eps)]
    return Variants(
        groups=kept,
        baseline=singles[0] if singles else None,
        noise=[kept[name] for name in singles[1:]],
        problems=sorted(common, key=task_order),
        dropped={name: count for name, count in dropped.items() if count},
    )
