"""Facts the model can act on, from the real sandbox (issue 22 item 2), and retries that explore over
real HTTP (item 1): the fake OpenAI-compatible server, the Docker judge, a private Redis.

The candidate's process reports where its exception was raised (its own line, the source text) and
short reprs of that frame's locals; the feedback and the reflector show them; a model that repeats
itself is drawn again and ends `stuck`.
"""

from __future__ import annotations

import pytest

from app.judge import DockerJudge
from app.llm.fake_script import Rule
from app.reflexion.models import Submission, Task
from tests.fixtures.judge import JudgeFactory
from tests.integration.test_episode_engine import (  # noqa: F401 (fixtures)
    LESSON,
    RETRY,
    Rig,
    reflector_llm,
    rig,
)

pytestmark = pytest.mark.slow

DIVIDE = "def ratio(a, b):\n    total = a + b\n    return total // b\n"
HELPER = (
    "def pick(xs, i):\n"
    "    chosen = xs[i]\n"
    "    return chosen\n"
    "\n"
    "def last_two(xs):\n"
    "    n = len(xs)\n"
    "    return [pick(xs, n - 2), pick(xs, n - 1)]\n"
)


@pytest.fixture(params=["runc", "runsc"])
async def judge(request: pytest.FixtureRequest, judge_factory: JudgeFactory) -> DockerJudge:
    return await judge_factory(mode="pooled", runtime=request.param)


async def test_an_exception_names_the_candidates_line_source_and_locals(judge: DockerJudge) -> None:
    verdict = await judge.judge(
        Submission(code=DIVIDE, asserts=["assert ratio(4, 2) == 3", "assert ratio(1, 0) == 0"])
    )
    assert verdict.status == "error"
    passed, raised = verdict.tests
    assert passed.passed and passed.facts is None
    assert raised.facts is not None
    assert raised.facts.exception.startswith("ZeroDivisionError")
    assert (raised.facts.line, raised.facts.source) == (3, "return total // b")
    assert raised.facts.locals == {"a": "1", "b": "0", "total": "1"}


async def test_the_deepest_frame_of_the_candidate_is_the_failing_line(judge: DockerJudge) -> None:
    tests = (
        "def check(candidate):\n    assert candidate([1, 2, 3]) == [2, 3]\n    assert candidate([]) == []\n"
    )
    verdict = await judge.judge(Submission(code=HELPER, tests=tests, entry_point="last_two"))
    raised = verdict.failing()[0]
    assert raised.facts is not None and raised.facts.exception.startswith("IndexError")
    assert (raised.facts.line, raised.facts.source) == (2, "chosen = xs[i]")
    assert raised.facts.locals == {"xs": "[]", "i": "-2"}


async def test_a_wrong_value_has_no_exception_facts(judge: DockerJudge) -> None:
    verdict = await judge.judge(Submission(code=DIVIDE, asserts=["assert ratio(4, 2) == 9"]))
    assert verdict.status == "failed" and verdict.tests[0].facts is None


async def test_hostile_or_huge_locals_stay_short(judge: DockerJudge) -> None:
    code = (
        "class Loud:\n"
        "    def __repr__(self):\n"
        "        raise RuntimeError('no repr for you')\n"
        "\n"
        "def boom(n):\n"
        "    big = list(range(n))\n"
        "    text = 'x' * n\n"
        "    loud = Loud()\n" + "".join(f"    v{i} = [{i}] * 50\n" for i in range(40)) + "    return 1 / 0\n"
    )
    verdict = await judge.judge(Submission(code=code, asserts=["assert boom(10**6) == 1"]))
    facts = verdict.tests[0].facts
    assert facts is not None and facts.line == 49
    assert facts.locals["loud"].startswith("<Loud instance")  # its __repr__ raised
    assert len(facts.locals["big"]) < 100 and len(facts.locals["text"]) < 100
    assert facts.locals.get("...") == "more locals not shown"
    assert sum(len(k) + len(v) + 2 for k, v in facts.locals.items()) <= 1800 + 40


# ---- whole episodes ------------------------------------------------------------------------------

TASK = Task(
    id="demo/ratio",
    prompt='def ratio(a: int, b: int) -> int:\n    """Return (a + b) // b, or 0 when b is 0."""\n',
    entry_point="ratio",
    tests="def check(candidate):\n    assert candidate(4, 2) == 3\n    assert candidate(1, 0) == 0\n",
    visible_tests=["assert ratio(4, 2) == 3", "assert ratio(1, 0) == 0"],
)
FIRST = f"```python\n{DIVIDE}```"
FIXED = (
    "```python\ndef ratio(a: int, b: int) -> int:\n    if b == 0:\n        return 0\n"
    "    return (a + b) // b\n```"
)


async def test_trace_facts_reach_the_retry_and_the_reflector(rig: Rig) -> None:  # noqa: F811
    rig.actor_server.script(
        Rule(model="actor-m", pattern=RETRY, replies=[FIXED]),
        Rule(model="actor-m", replies=[FIRST]),
    )
    episode = await rig.run(task=TASK, feedback_level="trace", max_trials=3)
    assert (episode.status, episode.stop_reason, episode.final_trial) == ("succeeded", "solved", 2)
    retry = rig.actor_requests()[1].last_user
    reflect = rig.reflector_requests()[0].last_user
    for prompt in (retry, reflect):
        assert "ZeroDivisionError: integer division or modulo by zero was raised at line 3" in prompt
        assert "`return total // b`" in prompt
        assert "local variables at that line: a = 1, b = 0, total = 1" in prompt
    assert rig.actor_requests()[1].params.get("temperature") == 0.4


async def test_a_model_that_repeats_itself_is_stuck_over_http(rig: Rig) -> None:  # noqa: F811
    rig.actor_server.script(Rule(model="actor-m", replies=[FIRST]))
    episode = await rig.run(task=TASK, max_trials=3, seed=11)
    assert (episode.status, episode.stop_reason, len(episode.attempts)) == ("failed", "stuck", 1)
    assert [(r.trial, r.duplicate_of) for r in episode.resamples] == [(2, 1)] * 4
    sent = [(r.params.get("temperature"), r.params.get("seed")) for r in rig.actor_requests()]
    assert sent == [(0.0, 11), (0.4, 12), (0.6, 13), (0.8, 14), (1.0, 15)]
    assert "attempt.resampled" in rig.sink.types() and rig.sink.types()[-1] == "episode.finished"
    assert LESSON in (episode.attempts[0].reflection or "")


async def test_an_exception_without_a_message_is_named_alone(judge: DockerJudge) -> None:
    code = "def first(xs):\n    for x in xs:\n        return x\n    raise ValueError\n"
    verdict = await judge.judge(Submission(code=code, asserts=["assert first([]) is None"]))
    facts = verdict.tests[0].facts
    assert facts is not None and (facts.exception, facts.line, facts.source) == (
        "ValueError",
        4,
        "raise ValueError",
    )
    assert facts.locals == {"xs": "[]"}
