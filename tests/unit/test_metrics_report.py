"""report.json / report.md / plots from constructed episodes, and the resumable episodes.jsonl log."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.image
import pytest

from app.benchmark.report import by_strategy, write_report
from app.benchmark.runner import Budget
from app.benchmark.store import EpisodeLog, read_episodes_dir
from app.errors import InvalidInput
from app.reflexion.models import Usage
from tests.unit.test_metrics import episode


def sample_run() -> list:  # type: ignore[type-arg]
    return [
        episode("reflexion", [False, True], max_trials=3, tokens=10, seconds=1.0),
        episode("reflexion", [True], max_trials=3, tokens=10, seconds=1.0),
        episode("self_refine", [True, False, False], max_trials=3, tokens=20, seconds=2.0),
        episode("self_refine", [False, False, False], max_trials=3, tokens=20, seconds=2.0),
        episode("best_of_n", [True, False], samples=2, feedback=[True, False], tokens=5),
        episode("best_of_n", [False, False], samples=2, feedback=[False, False], tokens=5),
    ]


def test_report_files_hold_the_expected_figures(tmp_path: Path) -> None:
    eps = sample_run()
    for i, ep in enumerate(eps):
        ep.task = ep.task.model_copy(update={"id": f"T/{i % 2}"})
    doc = write_report(
        tmp_path,
        by_strategy(eps, ["reflexion", "self_refine", "best_of_n"]),
        run={"dataset": "unit", "problems": 2, "max_trials": 3, "samples": 2},
    )
    on_disk = json.loads((tmp_path / "report.json").read_text())
    assert on_disk["strategies"] == json.loads(json.dumps(doc["strategies"]))
    s = on_disk["strategies"]
    assert list(s) == ["reflexion", "self_refine", "best_of_n"]
    assert s["reflexion"]["accuracy_by_trial"] == [0.5, 1.0, 1.0]
    assert s["reflexion"]["pass@1"] == 0.5
    assert s["reflexion"]["flips"] == {
        "wrong_to_right": 1,
        "right_to_wrong": 0,
        "right_to_right": 1,
        "wrong_to_wrong": 0,
    }
    assert s["self_refine"]["accuracy_by_trial"] == [0.5, 0.0, 0.0]
    assert s["self_refine"]["flips"]["right_to_wrong"] == 1
    assert s["self_refine"]["solved"] == 0 and s["self_refine"]["tokens_per_solved"] is None
    assert s["best_of_n"]["pass@1"] == 0.25 and s["best_of_n"]["pass@2"] == 0.5
    assert s["best_of_n"]["accuracy_by_trial"] == [0.5, 0.5]
    assert s["reflexion"]["tokens_per_solved"] == 15.0  # (2*10 + 1*10) tokens / 2 solved
    assert len(on_disk["rows"]) == 2 + 1 + 3 + 3 + 2 + 2
    assert sum(r["is_final"] for r in on_disk["rows"]) == 6
    assert {r["strategy"] for r in on_disk["rows"] if r["hidden_passed"]} == {
        "reflexion",
        "self_refine",
        "best_of_n",
    }

    md = (tmp_path / "report.md").read_text()
    assert "reflexion on 2 problems, best_of_n on 2 problems" in md  # oracle feedback is called out
    assert "![accuracy by trial](accuracy_by_trial.png)" in md and "![flips](flips.png)" in md
    assert "| reflexion | 2 | 2 | 100.0% | 50.0% |" in md
    assert "| self_refine | 50.0% | 0.0% | 0.0% |" in md
    assert "| best_of_n | 2 | 1 | 50.0% | 25.0% | 50.0% |" in md
    for png in ("accuracy_by_trial.png", "flips.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        height, width, _ = matplotlib.image.imread(tmp_path / png).shape
        assert (width, height) == (640, 400)


def test_episode_log_appends_resumes_and_survives_a_torn_line(tmp_path: Path) -> None:
    log = EpisodeLog(tmp_path)
    assert log.read() == [] and log.done() == set()
    a, b = sample_run()[:2]
    b.task = b.task.model_copy(update={"id": "T/9"})
    log.append(a)
    with open(log.path, "a") as handle:  # a crash in the middle of writing the next line
        handle.write('{"id": "half')
    assert [e.id for e in log.read()] == [a.id]
    log.append(b)
    assert [e.id for e in read_episodes_dir(tmp_path)] == [a.id, b.id]
    assert log.done() == {("reflexion", "T/0"), ("reflexion", "T/9")}
    assert log.path.read_text().count("\n") == 2


def test_a_corrupt_line_in_the_middle_is_a_clear_error(tmp_path: Path) -> None:
    log = EpisodeLog(tmp_path)
    log.append(sample_run()[0])
    with open(log.path, "a") as handle:
        handle.write('{"not": "an episode"}\n')
    log.append(sample_run()[1])
    with pytest.raises(InvalidInput, match=r"episodes\.jsonl:2"):
        log.read()
    with pytest.raises(InvalidInput, match="not a benchmark run directory"):
        read_episodes_dir(tmp_path / "nowhere")


def test_run_budget_in_tokens_or_cost() -> None:
    spent = Usage(prompt_tokens=60, completion_tokens=40, cost_usd=0.02)
    assert not Budget().exceeded_by(spent)
    assert Budget(tokens=100).exceeded_by(spent) and not Budget(tokens=101).exceeded_by(spent)
    assert Budget(cost_usd=0.02).exceeded_by(spent) and not Budget(cost_usd=0.03).exceeded_by(spent)
    assert Budget(tokens=1000, cost_usd=0.01).exceeded_by(spent)
