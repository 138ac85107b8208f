"""Whole episodes on real parts: the fake OpenAI-compatible server over HTTP, the Docker sandbox judge,
a private Redis for memory. Each Must-show of the engine issue has a test here."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
import redis.asyncio as aredis

from app.llm import OpenAIChatModel
from app.llm.fake_script import ReceivedRequest, Reply, Rule
from app.llm.fake_server import FakeLLMServer
from app.memory.keys import Keys
from app.memory.redis_memory import RedisMemory
from app.prompts import default_prompt_book
from app.reflexion.loop import EpisodeDeps, new_episode, run_episode
from app.reflexion.models import Episode, EpisodeConfig, Event, EventType, Task
from app.reflexion.ports import Judge
from tests.fixtures.judge import JudgeFactory

HIDDEN = "HIDDEN_SENTINEL_91c2"
TASK = Task(
    id="demo/add",
    prompt='def add(a: int, b: int) -> int:\n    """Return the sum of a and b.\n'
    '    >>> add(1, 1)\n    2\n    """\n',
    entry_point="add",
    tests=f'def check(candidate):\n    assert candidate(2, 3) == 5, "{HIDDEN}"\n'
    "    assert candidate(-4, 4) == 0\n",
    visible_tests=["assert add(1, 1) == 2"],
)
WRONG = "```python\ndef add(a: int, b: int) -> int:\n    return a - b\n```"
RIGHT = "```python\ndef add(a: int, b: int) -> int:\n    return a + b\n```"
LESSON = "The function subtracted b from a; it must return a + b, so use the + operator next time."
RETRY = "Your previous implementation"  # only the retry prompt says this


class Sink:
    """An EventSink that keeps events as the service would stream them (ids increase)."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    async def emit(self, episode: Episode, type: EventType, data: dict[str, object]) -> None:
        self.events.append(Event(id=str(len(self.events) + 1), type=type, episode_id=episode.id, data=data))

    def types(self) -> list[str]:
        return [e.type for e in self.events]


@dataclass
class Rig:
    actor_server: FakeLLMServer
    reflector_server: FakeLLMServer
    judge: Judge
    memory: RedisMemory
    sink: Sink
    actor_timeout_s: float = 10.0
    actor_retries: int = 2

    async def run(self, task: Task = TASK, **config: object) -> Episode:
        actor = OpenAIChatModel(
            self.actor_server.provider(
                "actor-m", timeout_s=self.actor_timeout_s, max_retries=self.actor_retries
            )
        )
        reflector = OpenAIChatModel(self.reflector_server.provider("reflector-m"))
        try:
            deps = EpisodeDeps(
                actor=actor,
                reflector=reflector,
                judge=self.judge,
                memory=self.memory,
                events=self.sink,
                prompts=default_prompt_book(),
            )
            return await run_episode(new_episode(task, EpisodeConfig(**config), "acme"), deps)
        finally:
            await actor.aclose()
            await reflector.aclose()

    def actor_requests(self) -> list[ReceivedRequest]:
        return [r for r in self.actor_server.requests if r.path.endswith("/chat/completions")]

    def reflector_requests(self) -> list[ReceivedRequest]:
        return [r for r in self.reflector_server.requests if r.path.endswith("/chat/completions")]

    def all_prompts(self) -> list[str]:
        return [r.text for r in self.actor_requests() + self.reflector_requests()]


@pytest.fixture(scope="session")
def reflector_llm(fake_llm_factory: Callable[[], FakeLLMServer]) -> FakeLLMServer:
    return fake_llm_factory()


@pytest.fixture
async def rig(
    fake_llm: FakeLLMServer,
    reflector_llm: FakeLLMServer,
    judge_factory: JudgeFactory,
    aredis_client: aredis.Redis,
    key_prefix: str,
) -> AsyncIterator[Rig]:
    sandbox_judge = await judge_factory(mode="pooled", runtime="runc")
    reflector_llm.reset()
    reflector_llm.script(Rule(model="reflector-m", replies=[LESSON]))
    memory = RedisMemory(aredis_client, Keys(key_prefix), episode_ttl_s=600)
    yield Rig(fake_llm, reflector_llm, sandbox_judge, memory, Sink())
    reflector_llm.reset()


def actor_script(server: FakeLLMServer, first: Reply | str, retry: Reply | str = RIGHT) -> None:
    server.script(
        Rule(model="actor-m", pattern=RETRY, replies=[retry]),
        Rule(model="actor-m", replies=[first]),
    )


async def test_fail_reflect_pass(rig: Rig) -> None:
    actor_script(rig.actor_server, WRONG)
    ep = await rig.run(max_trials=3)

    assert (ep.status, ep.stop_reason, ep.final_trial, len(ep.attempts)) == ("succeeded", "solved", 2, 2)
    first, second = ep.attempts
    assert first.feedback is not None and first.feedback.status == "failed"
    assert first.hidden is not None and first.hidden.status == "failed"
    assert second.feedback is not None and second.feedback.passed
    assert second.hidden is not None and second.hidden.passed
    assert first.reflection == LESSON and second.reflection is None
    assert first.usage.total_tokens > 0 and first.latency_ms > 0

    failing = first.feedback.failing()
    assert [t.name for t in failing] == ["assert add(1, 1) == 2"]
    assert "returned 0" in failing[0].message  # the judge reports the actual value
    retry_request = rig.actor_requests()[1].last_user
    assert LESSON in retry_request
    assert "assert add(1, 1) == 2" in retry_request and failing[0].message in retry_request
    assert "return a - b" in retry_request

    lessons = await rig.memory.episode_lessons("acme", ep.id, 5)
    assert [(r.trial, r.text, r.task_id) for r in lessons] == [(1, LESSON, TASK.id)]
    assert rig.sink.types() == [
        "episode.started",
        "attempt.generated",
        "attempt.judged",
        "reflection.created",
        "attempt.generated",
        "attempt.judged",
        "episode.finished",
    ]
    assert set(ep.prompt_versions) >= {"actor/initial", "actor/retry", "reflector/reflect"}


async def test_actor_and_reflector_use_their_own_model_and_endpoint(rig: Rig) -> None:
    actor_script(rig.actor_server, WRONG)
    ep = await rig.run(max_trials=2)
    assert ep.status == "succeeded"
    actor_reqs, reflector_reqs = rig.actor_requests(), rig.reflector_requests()
    assert [r.model for r in actor_reqs] == ["actor-m", "actor-m"]
    assert [r.model for r in reflector_reqs] == ["reflector-m"]
    assert "failed its tests" in reflector_reqs[0].last_user and "return a - b" in reflector_reqs[0].last_user
    assert ep.actor_model == "actor-m" and ep.reflector_model == "reflector-m"
    assert rig.actor_server.port != rig.reflector_server.port


@pytest.mark.parametrize("feedback", ["visible", "self_tests", "none"])
async def test_hidden_tests_never_reach_a_prompt(rig: Rig, feedback: str) -> None:
    rig.actor_server.script(
        Rule(model="actor-m", pattern="unit tests for", replies=["```python\nassert add(2, 2) == 4\n```"]),
        Rule(model="actor-m", replies=[WRONG, WRONG.replace("a - b", "a * b")]),
    )
    ep = await rig.run(feedback=feedback, max_trials=2)
    assert ep.status == "failed" and len(ep.attempts) == 2
    assert len(rig.reflector_requests()) == 1
    leaks = [p for p in rig.all_prompts() if HIDDEN in p or "candidate(2, 3)" in p or "(-4, 4)" in p]
    assert leaks == []


async def test_oracle_feedback_shows_the_hidden_tests_failure(rig: Rig) -> None:
    actor_script(rig.actor_server, WRONG)
    ep = await rig.run(feedback="oracle", max_trials=2)
    assert ep.status == "succeeded"
    assert ep.attempts[0].feedback == ep.attempts[0].hidden
    assert HIDDEN in rig.actor_requests()[1].last_user and HIDDEN in rig.reflector_requests()[0].last_user


async def test_rate_limited_then_success(rig: Rig) -> None:
    rig.actor_server.script(Rule(model="actor-m", replies=[Reply.rate_limit(retry_after=0), RIGHT]))
    ep = await rig.run()
    assert (ep.status, ep.stop_reason, len(ep.attempts)) == ("succeeded", "solved", 1)
    assert len(rig.actor_requests()) == 2  # the SDK retried the 429 once


async def test_server_errors_past_the_retry_budget(rig: Rig) -> None:
    rig.actor_server.script(Rule(model="actor-m", replies=[Reply.server_error(500)]))
    rig.actor_retries = 1
    ep = await rig.run()
    assert (ep.status, ep.stop_reason, ep.final_trial) == ("failed", "llm_error", 1)
    assert ep.error is not None and "HTTP 500" in ep.error
    assert ep.attempts[0].llm_outcome == "error" and ep.attempts[0].code == ""
    assert len(rig.actor_requests()) == 2  # one try and one retry
    assert rig.sink.types()[-1] == "episode.finished" and rig.sink.types().count("episode.finished") == 1


async def test_timeout_of_the_model(rig: Rig) -> None:
    rig.actor_server.script(Rule(model="actor-m", replies=[Reply.hang(5)]))
    rig.actor_timeout_s, rig.actor_retries = 0.5, 0
    ep = await rig.run()
    assert (ep.status, ep.stop_reason) == ("failed", "llm_error")
    assert ep.error is not None and "timeout" in ep.error


@pytest.mark.parametrize(("reply", "outcome"), [(Reply.empty(), "empty"), (Reply.malformed(), "malformed")])
async def test_empty_or_malformed_body(rig: Rig, reply: Reply, outcome: str) -> None:
    rig.actor_server.script(Rule(model="actor-m", replies=[reply]))
    ep = await rig.run()
    assert (ep.status, ep.stop_reason, ep.attempts[0].llm_outcome) == ("failed", "llm_error", outcome)


async def test_reflector_fault_is_llm_error(rig: Rig) -> None:
    actor_script(rig.actor_server, WRONG)
    rig.reflector_server.script(Rule(model="reflector-m", replies=[Reply.server_error(503)]))
    ep = await rig.run()
    assert (ep.status, ep.stop_reason, len(ep.attempts)) == ("failed", "llm_error", 1)
    assert ep.error is not None and ep.error.startswith("reflector model")


async def test_reply_without_code_is_a_failed_trial(rig: Rig) -> None:
    actor_script(rig.actor_server, "Sorry, I cannot help with that.")
    ep = await rig.run(max_trials=2)
    assert (ep.status, ep.stop_reason, ep.final_trial) == ("succeeded", "solved", 2)
    first = ep.attempts[0]
    assert first.code == "" and first.llm_outcome == "ok"
    assert first.hidden is not None and first.hidden.status == "error"
    assert "no Python code block" in rig.actor_requests()[1].last_user


async def test_task_memory_carries_lessons_into_a_rerun(rig: Rig) -> None:
    actor_script(rig.actor_server, WRONG)
    await rig.run(memory="task", max_trials=2)
    rig.actor_server.reset()
    rig.actor_server.script(Rule(model="actor-m", replies=[RIGHT]))
    ep = await rig.run(memory="task")
    assert ep.status == "succeeded" and len(ep.attempts) == 1
    assert LESSON in rig.actor_requests()[0].last_user
    assert await rig.memory.clear_task("acme", TASK.id) == 1


async def test_best_of_n_and_self_refine_on_real_parts(rig: Rig) -> None:
    rig.actor_server.script(Rule(model="actor-m", replies=[WRONG, RIGHT, WRONG]))
    ep = await rig.run(strategy="best_of_n", samples=3, seed=7)
    assert (ep.status, ep.stop_reason, ep.final_trial, len(ep.attempts)) == ("succeeded", "solved", 2, 3)
    assert [r.params.get("seed") for r in rig.actor_requests()] == [7, 8, 9]
    assert {r.params.get("temperature") for r in rig.actor_requests()} == {0.8}

    rig.actor_server.reset()
    rig.actor_server.script(
        Rule(model="actor-m", pattern="Review this implementation", replies=["NO CHANGE NEEDED"]),
        Rule(model="actor-m", replies=[WRONG]),
    )
    ep = await rig.run(strategy="self_refine", max_trials=3)
    assert (ep.status, ep.stop_reason, len(ep.attempts)) == ("failed", "solved", 1)  # a false "done"
    assert rig.reflector_requests() == []
    assert ep.attempts[0].feedback is None and ep.attempts[0].hidden is not None


def add_code(body: str) -> str:
    return f"```python\ndef add(a: int, b: int) -> int:\n    {body}\n```"


async def test_tree_search_finds_the_right_code_on_a_branch(rig: Rig) -> None:
    """Real judge, real HTTP: the root's second child is the better branch (2 of 3 visible tests), so
    best-first expands it rather than the first child, and its child is right. That child's prompt
    shows its parent's code and carries the reflections on its path (root's and its parent's)."""
    task = TASK.model_copy(
        update={"visible_tests": ["assert add(1, 1) == 2", "assert add(2, 0) == 2", "assert add(0, 3) == 3"]}
    )
    branch = "return a + b if b and a != 2 else a - 1"  # passes add(1, 1), add(0, 3): value 2/3
    rig.actor_server.script(
        Rule(model="actor-m", pattern=r"else a - 1", replies=[RIGHT]),  # children of the branch node
        Rule(model="actor-m", pattern=RETRY, replies=[add_code("return a * b"), add_code(branch)]),
        Rule(model="actor-m", replies=[WRONG]),  # the root: passes add(2, 0) only, value 1/3
    )
    rig.reflector_server.reset()
    rig.reflector_server.script(
        Rule(model="reflector-m", pattern=r"else a - 1", replies=["LESSON-ON-THE-BRANCH"]),
        Rule(model="reflector-m", replies=["LESSON-ON-THE-ROOT"]),
    )
    ep = await rig.run(task=task, strategy="tree_search", max_trials=6, seed=11)

    assert (ep.status, ep.stop_reason, ep.final_trial, len(ep.attempts)) == ("succeeded", "solved", 4, 4)
    assert [a.parent for a in ep.attempts] == [None, 1, 1, 3]
    assert [a.value for a in ep.attempts] == pytest.approx([1 / 3, 0.0, 2 / 3, 1.0])
    assert [a.hidden.status for a in ep.attempts if a.hidden] == ["failed", "failed", "failed", "passed"]
    assert [a.reflection for a in ep.attempts] == ["LESSON-ON-THE-ROOT", None, "LESSON-ON-THE-BRANCH", None]
    last_prompt = rig.actor_requests()[-1].last_user
    assert branch in last_prompt and "return a * b" not in last_prompt
    assert "LESSON-ON-THE-ROOT" in last_prompt and "LESSON-ON-THE-BRANCH" in last_prompt
    assert "2 of 3 tests passed" in last_prompt
    # children are sampled retries: a temperature from the schedule and a new seed each
    params = [(r.params.get("temperature"), r.params.get("seed")) for r in rig.actor_requests()]
    assert params == [(0.0, 11), (0.4, 12), (0.6, 13), (0.8, 14)]
    assert [e.data.get("parent") for e in rig.sink.events if e.type == "attempt.generated"] == [None, 1, 1, 3]
