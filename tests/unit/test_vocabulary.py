"""The domain's names are stated once (app/reflexion/vocabulary.py) and every list elsewhere is that
one; the pass, answer and terminal checks are the domain models' own."""

from __future__ import annotations

from typing import get_args

import pytest

from app.api.schemas import EpisodeStatusFilter
from app.commands.bench import STRATEGIES as BENCH_STRATEGIES
from app.judge.verdicts import STATUSES as JUDGE_TABLE
from app.memory.episodes import EPISODE_STATUSES as STORED_STATUSES
from app.reflexion.models import Attempt, Episode, EpisodeConfig, Task, Verdict
from app.reflexion.vocabulary import (
    EPISODE_STATUSES,
    STRATEGIES,
    TERMINAL_STATUSES,
    EpisodeStatus,
    VerdictStatus,
)

TASK = Task(id="t", prompt="def f():\n", entry_point="f", tests="def check(c): pass")


def test_every_list_is_the_domains_own() -> None:
    assert (
        BENCH_STRATEGIES == STRATEGIES == ("reflexion", "self_refine", "best_of_n", "single", "tree_search")
    )
    assert STORED_STATUSES == EPISODE_STATUSES == get_args(EpisodeStatus)
    assert get_args(EpisodeStatusFilter) == EPISODE_STATUSES
    assert set(TERMINAL_STATUSES) == set(EPISODE_STATUSES) - {"queued", "running"}
    # a judge answers every verdict status (no_signal: a pytest module with nothing run)
    assert set(JUDGE_TABLE) == set(get_args(VerdictStatus))


@pytest.mark.parametrize("status", EPISODE_STATUSES)
def test_terminal_is_the_status_set(status: EpisodeStatus) -> None:
    episode = Episode(id="e", task=TASK, status=status)
    assert episode.terminal is (status not in ("queued", "running"))


@pytest.mark.parametrize("status", get_args(VerdictStatus))
def test_only_passed_passes(status: VerdictStatus) -> None:
    verdict = Verdict(status=status)
    attempt = Attempt(trial=1, feedback=verdict, hidden=verdict)
    assert verdict.passed is attempt.feedback_passed is attempt.hidden_passed is (status == "passed")
    assert not Attempt(trial=1).feedback_passed and not Attempt(trial=1).hidden_passed


def test_answer_is_the_first_feedback_pass_only_for_best_of_n_and_tree_search() -> None:
    fail, ok = Verdict(status="failed"), Verdict(status="passed")
    attempts = [
        Attempt(trial=1, code="a", feedback=fail),
        Attempt(trial=2, code="b", feedback=ok),
        Attempt(trial=3, code="c", feedback=fail),
    ]
    best = Episode(id="b", task=TASK, config=EpisodeConfig(strategy="best_of_n"), attempts=attempts)
    seq = Episode(id="r", task=TASK, config=EpisodeConfig(strategy="reflexion"), attempts=attempts)
    tree = Episode(id="t", task=TASK, config=EpisodeConfig(strategy="tree_search"), attempts=attempts)
    assert best.answer is attempts[1] and seq.answer is attempts[2] and tree.answer is attempts[1]
