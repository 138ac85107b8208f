"""The domain's vocabulary: every name a strategy, feedback source, status or stop reason can take.

Each set of names is one `Literal`, stated here once: models.py types its records with them, the CLI
takes them as its choices, and every other list (query filters, metrics labels, the judge's table)
is derived from them with `typing.get_args`, so adding a name is one edit. Only `typing` is
imported, so the CLI offers the choices without loading pydantic for `rfx --help`.
"""

from __future__ import annotations

from typing import Literal, get_args

# What a verdict can say. `no_signal`: nothing was checked, so it must never count as a pass. It is
# the feedback verdict when there were no feedback tests to run (the model wrote no readable assert),
# and the judge's for a pytest module that collected nothing or whose every test was skipped.
JudgeStatus = Literal[
    "passed", "failed", "error", "timeout", "memory", "output_limit", "sandbox_error", "no_signal"
]
VerdictStatus = JudgeStatus
TerminalStatus = Literal["succeeded", "failed", "cancelled", "timed_out"]
EpisodeStatus = Literal["queued", "running", TerminalStatus]
StopReason = Literal[
    "solved", "max_trials", "budget", "cancelled", "llm_error", "judge_error", "timeout", "stuck"
]
StrategyName = Literal["reflexion", "self_refine", "best_of_n", "single", "tree_search"]
FeedbackSource = Literal["visible", "oracle", "self_tests", "none"]
MemoryScope = Literal["none", "episode", "task"]
RetryMode = Literal["sampled", "greedy"]
FeedbackLevel = Literal["standard", "trace"]
RetryContext = Literal["revise", "fresh"]

JUDGE_STATUSES: tuple[JudgeStatus, ...] = get_args(JudgeStatus)
EPISODE_STATUSES: tuple[EpisodeStatus, ...] = get_args(EpisodeStatus)
TERMINAL_STATUSES: tuple[TerminalStatus, ...] = get_args(TerminalStatus)
STRATEGIES: tuple[StrategyName, ...] = get_args(StrategyName)
# The strategies that ask the reflector for lessons (tests/unit/test_strategies.py runs every one to
# check): naming a reflector asks for one of these, since the others never call it.
REFLECTING_STRATEGIES: frozenset[StrategyName] = frozenset({"reflexion", "tree_search"})
