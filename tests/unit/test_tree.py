"""tree_search on the in-memory fakes (issue 22 item 4): search order, budgets, the tree record, resume.

The TaggedJudge passes visible assert i iff the code carries the tag `P{i}`, so each scripted reply
sets its node's value (the fraction of feedback tests passed) and the expected search order can be
worked out by hand: best-first on value, ties to the earliest trial, `branching` children per node.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.prompts import default_prompt_book
from app.reflexion import metrics, tree
from app.reflexion.loop import EpisodeDeps, new_episode, run_episode
from app.reflexion.models import Attempt, Episode, EpisodeConfig, Task, Verdict
from tests.fakes.inmemory import InMemoryMemory, RecordingSink, ScriptedModel, TaggedJudge, fenced

TASK = Task(
    id="demo/add",
    prompt='def add(a: int, b: int) -> int:\n    """Return the sum of a and b."""\n',
    entry_point="add",
    tests="def check(candidate):\n    assert candidate(2, 3) == 5\n",
    visible_tests=[f"assert add({i}, 1) == {i + 1}" for i in range(4)],
)


def node(tags: str) -> str:
    return fenced(f'def add(a: int, b: int) -> int:\n    tag = "{tags}"\n    return a - b')


# Trial: reply (value). Worked out by hand with branching 2:
# 1 root .25 -> children 2 (.5), 3 (.25); best leaf 2 (value beats the earlier 3)
# 2 -> children 4 (.25), 5 (.25); leaves 3, 4, 5 tie at .25 -> 3 (the earliest)
# 3 -> children 6 (.75), 7 (0); best leaf 6 -> child 8 passes every feedback test
SCRIPT = [
    node("P0"),
    node("P0 P1"),
    node("P2"),
    node("P1"),
    node("P3"),
    node("P1 P2 P3"),
    node(""),
    node("P0 P1 P2 P3"),
]
PARENTS = [None, 1, 1, 2, 2, 3, 3, 6]
VALUES = [0.25, 0.5, 0.25, 0.25, 0.25, 0.75, 0.0, 1.0]
LESSONS = [f"lesson on trial {t}" for t in (1, 2, 3, 6)]  # the expanded nodes, in expansion order


class Rig:
    def __init__(self, actor: list[str], lessons: list[str] = LESSONS) -> None:
        self.actor = ScriptedModel("actor-m", list(actor))  # type: ignore[arg-type]
        self.reflector = ScriptedModel("reflector-m", list(lessons))  # type: ignore[arg-type]
        self.judge = TaggedJudge(tags=4)
        self.memory = InMemoryMemory()
        self.sink = RecordingSink()

    async def run(self, episode: Episode | None = None, **config: object) -> Episode:
        deps = EpisodeDeps(
            actor=self.actor,
            reflector=self.reflector,
            judge=self.judge,
            memory=self.memory,
            events=self.sink,
            prompts=default_prompt_book(),
        )
        fresh = new_episode(TASK, EpisodeConfig(strategy="tree_search", **config), "t1")  # type: ignore[arg-type]
        return await run_episode(episode or fresh, deps)


async def test_best_first_order_reflections_on_the_path_and_the_tree_in_the_record() -> None:
    rig = Rig(SCRIPT)
    ep = await rig.run(max_trials=10, seed=100)
    assert (ep.status, ep.stop_reason, ep.final_trial) == ("succeeded", "solved", 8)
    assert [a.parent for a in ep.attempts] == PARENTS
    assert [a.value for a in ep.attempts] == VALUES
    # only expanded nodes are reflected on, once each
    assert [a.reflection for a in ep.attempts] == [
        LESSONS[0],
        LESSONS[1],
        LESSONS[2],
        None,
        None,
        LESSONS[3],
        None,
        None,
    ]
    prompts = rig.actor.prompts()
    assert len(prompts) == 8 and len(rig.reflector.calls) == 4
    # a child's prompt carries the reflections on its path, not its cousins'
    child_of_2, child_of_3, child_of_6 = prompts[3], prompts[5], prompts[7]
    assert LESSONS[0] in child_of_2 and LESSONS[1] in child_of_2 and LESSONS[2] not in child_of_2
    assert LESSONS[0] in child_of_3 and LESSONS[2] in child_of_3 and LESSONS[1] not in child_of_3
    assert all(lesson in child_of_6 for lesson in (LESSONS[0], LESSONS[2], LESSONS[3]))
    assert LESSONS[1] not in child_of_6 and 'tag = "P1 P2 P3"' in child_of_6  # revise: its parent's code
    assert "3 of 4 tests passed" in child_of_6  # the parent's facts
    # children are sampled retries: the temperature schedule and a new seed for every draw
    assert [a.temperature for a in ep.attempts] == [0.0, 0.4, 0.6, 0.8, 1.0, 1.0, 1.0, 1.0]
    assert [a.seed for a in ep.attempts] == list(range(100, 108))
    # the events carry the tree as it grows
    generated = [d for t, d, _ in rig.sink.events if t == "attempt.generated"]
    judged = [d for t, d, _ in rig.sink.events if t == "attempt.judged"]
    assert [d["parent"] for d in generated] == PARENTS
    assert [d["value"] for d in judged] == VALUES


async def test_max_trials_counts_judged_nodes_and_the_answer_is_the_best_node() -> None:
    rig = Rig(SCRIPT)
    ep = await rig.run(max_trials=6)
    assert (ep.status, ep.stop_reason, len(ep.attempts)) == ("failed", "max_trials", 6)
    assert [a.parent for a in ep.attempts] == PARENTS[:6]
    assert ep.final_trial == 6  # .75, the highest value
    assert len(rig.judge.submissions) == 2 * 6  # a feedback and a hidden run per node, nothing more
    ep = await Rig(SCRIPT).run(max_trials=5)
    assert ep.final_trial == 2  # .5 beats the later .25s


async def test_token_budget_stops_the_search_and_the_crossing_call_is_judged() -> None:
    rig = Rig(SCRIPT)  # 20 tokens per call: root 20, lesson 40, child 60, child 80 crosses 70
    ep = await rig.run(max_trials=10, budget_tokens=70)
    assert (ep.stop_reason, len(ep.attempts), ep.usage.total_tokens) == ("budget", 3, 80)
    assert ep.attempts[-1].hidden is not None and ep.attempts[-1].parent == 1
    assert len(rig.reflector.calls) == 1


async def test_branching_sets_the_children_per_node() -> None:
    rig = Rig(SCRIPT)
    ep = await rig.run(max_trials=6, branching=3)
    # root -> 2, 3, 4; best leaf 2 (.5) -> 5, 6, 7 would follow; stopped at 6 nodes
    assert [a.parent for a in ep.attempts] == [None, 1, 1, 1, 2, 2]
    rig = Rig(SCRIPT)
    ep = await rig.run(max_trials=4, branching=1)  # a chain, like reflexion
    assert [a.parent for a in ep.attempts] == [None, 1, 2, 3]
    with pytest.raises(ValidationError):
        EpisodeConfig(strategy="tree_search", branching=0)


async def test_a_child_repeating_any_node_is_drawn_again() -> None:
    rig = Rig([node("P0"), node("P0"), node("P1"), node("P2")])
    ep = await rig.run(max_trials=3)
    assert [a.parent for a in ep.attempts] == [None, 1, 1]
    assert [(r.trial, r.duplicate_of) for r in ep.resamples] == [(2, 1)]
    assert ep.attempts[1].resampled_from == [1]


@pytest.mark.parametrize(
    "crash", [("attempt.generated", 4), ("attempt.judged", 4), ("reflection.created", 2)]
)
async def test_resume_rebuilds_the_tree_from_the_record(crash: tuple[str, int]) -> None:
    first = Rig(SCRIPT)
    whole = await first.run(max_trials=10)
    kind, nth = crash
    stored = first.sink.snapshot_after(kind, nth).model_dump_json()  # type: ignore[arg-type]
    snapshot = Episode.model_validate_json(stored)  # as the service's store keeps it
    assert snapshot.status == "running"
    kept = [a for a in snapshot.attempts if a.hidden is not None]
    reflected = sum(a.reflection is not None for a in kept)
    again = Rig(SCRIPT[len(kept) :], LESSONS[reflected:])
    ep = await again.run(episode=snapshot)
    assert (ep.id, ep.status, ep.stop_reason, ep.final_trial) == (whole.id, "succeeded", "solved", 8)
    assert [a.parent for a in ep.attempts] == PARENTS and [a.value for a in ep.attempts] == VALUES
    assert [a.reflection for a in ep.attempts] == [a.reflection for a in whole.attempts]
    assert again.sink.types().count("episode.started") == 0
    assert len(again.actor.calls) == 8 - len(kept)


def test_value_rule() -> None:
    assert tree.value_of(None) is None
    assert tree.value_of(Verdict(status="passed")) == 1.0
    assert tree.value_of(Verdict(status="error", detail="SyntaxError")) == 0.0
    assert tree.value_of(Verdict(status="no_signal")) == 0.0


def attempt(trial: int, value: float, parent: int | None, *, hidden: bool = False) -> Attempt:
    status = "passed" if hidden else "failed"
    return Attempt(
        trial=trial, code=f"x = {trial}", value=value, parent=parent, hidden=Verdict(status=status)
    )


def test_the_answer_rule_is_shared_by_the_engine_and_the_report() -> None:
    attempts = [
        attempt(1, 0.5, None),
        attempt(2, 0.75, 1, hidden=True),
        attempt(3, 0.75, 1),
        attempt(4, 0.0, 2),
    ]
    ep = Episode(id="x", task=TASK, config=EpisodeConfig(strategy="tree_search"), attempts=attempts)
    answer = ep.answer
    assert answer is not None and answer.trial == 3  # ties on value go to the latest
    assert metrics.answer_after(ep, 2) == attempts[1]
    assert metrics.accuracy_by_trial([ep]) == [0.0, 1.0, 0.0, 0.0]
    reflexion = ep.model_copy(update={"config": EpisodeConfig(strategy="reflexion")})
    assert metrics.answer_after(reflexion, 4) == attempts[3]  # other strategies: the last attempt


async def test_fresh_retry_context_keeps_the_parents_code_out_of_the_childs_prompt() -> None:
    rig = Rig(SCRIPT)
    await rig.run(max_trials=3, retry_context="fresh")
    child = rig.actor.prompts()[1]
    assert 'tag = "P0"' not in child and LESSONS[0] in child and "1 of 4 tests passed" in child
