"""`rfx bench report`'s reading of variant runs: labels, the common problems, baseline and noise band."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.benchmark.store import EpisodeLog
from app.benchmark.variants import load_variants, parse_run, settings_of, task_order
from app.errors import InvalidInput
from app.reflexion.models import Episode
from tests.unit.test_comparison import with_task
from tests.unit.test_metrics import episode


def write_run(directory: Path, episodes: list[Episode]) -> Path:
    log = EpisodeLog(directory)
    for ep in episodes:
        log.append(ep)
    return directory


def run_of(strategy: str, ids: list[int], directory: Path) -> Path:
    eps = []
    for i in ids:
        ep = with_task(episode(strategy, [True]), f"HumanEval/{i}")
        ep.id = f"{directory.name}-{strategy}-{i}"
        eps.append(ep)
    return write_run(directory, eps)


def test_groups_are_labelled_cut_to_common_problems_with_single_as_baseline(tmp_path: Path) -> None:
    base = run_of("single", [2, 10, 3], tmp_path / "base")
    seed1 = run_of("single", [2, 10, 3, 7], tmp_path / "seed1")
    mixed = run_of("reflexion", [10, 2, 3], tmp_path / "mixed")
    run_of("tree_search", [2, 3, 10], tmp_path / "mixed")
    variants = load_variants([("s0", [base]), ("s1", [seed1]), ("v", [mixed])])
    assert list(variants.groups) == ["s0", "s1", "v.reflexion", "v.tree_search"]
    assert variants.problems == ["HumanEval/2", "HumanEval/3", "HumanEval/10"]
    assert [e.task.id for e in variants.groups["v.reflexion"]] == variants.problems
    assert variants.dropped == {"s1": 1}
    assert variants.baseline == "s0"
    assert [[e.id for e in run] for run in variants.noise] == [
        ["seed1-single-2", "seed1-single-3", "seed1-single-10"]
    ]
    assert settings_of(variants.groups["v.reflexion"])["strategy"] == "reflexion"


def test_a_run_split_over_directories_is_one_group(tmp_path: Path) -> None:
    base = run_of("single", [0, 1, 2, 3], tmp_path / "base")
    low, high = run_of("best_of_n", [0, 1], tmp_path / "low"), run_of("best_of_n", [2, 3], tmp_path / "high")
    variants = load_variants([("s0", [base]), ("bon", [low, high])])
    assert [e.id for e in variants.groups["bon"]] == [
        "low-best_of_n-0",
        "low-best_of_n-1",
        "high-best_of_n-2",
        "high-best_of_n-3",
    ]
    assert len(variants.problems) == 4 and not variants.dropped


def test_bad_runs_are_clear_errors(tmp_path: Path) -> None:
    a = run_of("single", [0], tmp_path / "a")
    b = run_of("reflexion", [1], tmp_path / "b")
    for spec in ("nolabel", "=dir", "label=", "label=a,,b"):
        with pytest.raises(InvalidInput, match="LABEL=DIR"):
            parse_run(spec)
    assert parse_run("half= a , b") == ("half", [Path("a"), Path("b")])
    with pytest.raises(InvalidInput, match="no problem in common"):
        load_variants([("a", [a]), ("b", [b])])
    with pytest.raises(InvalidInput, match="given twice"):
        load_variants([("a", [a]), ("a", [a])])
    with pytest.raises(InvalidInput, match="not a benchmark run"):
        load_variants([("x", [tmp_path / "missing"])])
    assert sorted(["HumanEval/10", "HumanEval/9", "X"], key=task_order) == [
        "HumanEval/9",
        "HumanEval/10",
        "X",
    ]
