"""The search tree of `tree_search`, read from the episode record alone (LATS-style, Zhou et al. 2023).

Every judged attempt is a node; `Attempt.parent` names the trial it was expanded from (None for the
root) and `Attempt.value` is the fraction of the feedback tests it passed. Nothing about the tree is
kept anywhere else, so a resumed episode rebuilds the same tree and makes the same next choice.

Rules (docs/episodes.md repeats them):
- Value: 1.0 when the feedback verdict passed, else passed tests over tests run (0.0 when none ran:
  a syntax error, a timeout, a reply without code); None when there is no feedback verdict. It is the
  judge's signal, not a model's opinion: on code, the tests are the value function LATS reports best.
- Expansion: a node is expanded by drawing `branching` children one after the other; a node being
  expanded is finished before another is chosen (the last attempt's parent, while it has fewer
  children than `branching`).
- Best-first selection: among the failed leaves (nodes with no children yet), the highest value;
  ties go to the earliest trial, so equal evidence widens the tree before it deepens it.
- Answer: the first attempt whose feedback passed; else the attempt with code of highest value,
  ties to the latest; else the last attempt.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.reflexion.models import Attempt, Verdict


def value_of(feedback: Verdict | None) -> float | None:
    """The node's value: the fraction of feedback tests passed (see the module rules)."""
    if feedback is None:
        return None
    if feedback.passed:
        return 1.0
    if not feedback.tests:
        return 0.0
    return sum(t.passed for t in feedback.tests) / len(feedback.tests)


def _value(attempt: Attempt) -> float:
    return attempt.value if attempt.value is not None else 0.0


def children(attempts: Sequence[Attempt], trial: int) -> list[Attempt]:
    return [a for a in attempts if a.parent == trial]


def path_to(attempts: Sequence[Attempt], trial: int) -> list[Attempt]:
    """The nodes from the root down to `trial`, in that order."""
    by_trial = {a.trial: a for a in attempts}
    path: list[Attempt] = []
    node = by_trial.get(trial)
    while node is not None and node not in path:
        path.append(node)
        node = by_trial.get(node.parent) if node.parent is not None else None
    return path[::-1]


def passed(attempt: Attempt) -> bool:
    return attempt.feedback is not None and attempt.feedback.passed


def next_to_expand(attempts: Sequence[Attempt], branching: int) -> Attempt | None:
    """The node whose next child is drawn now: the one being expanded, else the best failed leaf."""
    if not attempts:
        return None
    last = attempts[-1]
    if last.parent is not None and len(children(attempts, last.parent)) < branching:
        for node in attempts:
            if node.trial == last.parent:
                return node
    parents = {a.parent for a in attempts}
    leaves = [a for a in attempts if a.trial not in parents and not passed(a)]
    if not leaves:
        return None
    return max(leaves, key=lambda a: (_value(a), -a.trial))
