"""The Memory port's contract, run against the Redis implementation (private test Redis) and the
unit-test fake (so the fake cannot drift from the real thing); plus Redis-only properties."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aredis

from app.errors import Unavailable
from app.memory.keys import Keys
from app.memory.redis_memory import RedisMemory
from app.reflexion.models import Reflection
from app.reflexion.ports import Memory
from tests.fakes.inmemory import InMemoryMemory
from tests.fixtures.services import free_port

TTL = 3600


def lesson(n: int, episode: str = "ep1", task: str = "HumanEval/0") -> Reflection:
    return Reflection(trial=n, text=f"lesson {n}", episode_id=episode, task_id=task)


@pytest.fixture(params=["redis", "inmemory"])
async def memory(request: pytest.FixtureRequest, aredis_client: aredis.Redis, key_prefix: str) -> Memory:
    if request.param == "redis":
        return RedisMemory(aredis_client, Keys(key_prefix), episode_ttl_s=TTL)
    return InMemoryMemory()


class TestMemoryContract:
    async def test_lessons_come_back_oldest_first_limited_to_the_newest(self, memory: Memory) -> None:
        for n in (1, 2, 3):
            await memory.add("t1", lesson(n))
        assert [r.text for r in await memory.episode_lessons("t1", "ep1", 2)] == ["lesson 2", "lesson 3"]
        assert [r.trial for r in await memory.episode_lessons("t1", "ep1", 10)] == [1, 2, 3]
        assert await memory.episode_lessons("t1", "ep1", 0) == []
        got = (await memory.task_lessons("t1", "HumanEval/0", 1))[0]
        assert (got.text, got.episode_id, got.task_id, got.trial) == ("lesson 3", "ep1", "HumanEval/0", 3)

    async def test_task_lessons_span_episodes_and_episode_lessons_do_not(self, memory: Memory) -> None:
        await memory.add("t1", lesson(1, episode="ep1"))
        await memory.add("t1", lesson(1, episode="ep2"))
        await memory.add("t1", lesson(1, episode="ep3", task="HumanEval/1"))
        assert [r.episode_id for r in await memory.task_lessons("t1", "HumanEval/0", 10)] == ["ep1", "ep2"]
        assert [r.episode_id for r in await memory.episode_lessons("t1", "ep2", 10)] == ["ep2"]

    async def test_tenants_are_isolated(self, memory: Memory) -> None:
        await memory.add("t1", lesson(1))
        assert await memory.task_lessons("t2", "HumanEval/0", 10) == []
        assert await memory.episode_lessons("t2", "ep1", 10) == []
        assert await memory.clear_task("t2", "HumanEval/0") == 0
        assert len(await memory.task_lessons("t1", "HumanEval/0", 10)) == 1

    async def test_clear_task_forgets_and_counts(self, memory: Memory) -> None:
        await memory.add("t1", lesson(1))
        await memory.add("t1", lesson(2))
        assert await memory.clear_task("t1", "HumanEval/0") == 2
        assert await memory.task_lessons("t1", "HumanEval/0", 10) == []
        assert await memory.clear_task("t1", "HumanEval/0") == 0


async def test_episode_lessons_expire_and_task_lessons_are_capped(
    aredis_client: aredis.Redis, key_prefix: str
) -> None:
    keys = Keys(key_prefix)
    memory = RedisMemory(aredis_client, keys, episode_ttl_s=TTL, task_cap=3)
    for n in range(1, 6):
        await memory.add("t1", lesson(n))
    assert 0 < await aredis_client.ttl(keys.episode_lessons("t1", "ep1")) <= TTL
    assert await aredis_client.ttl(keys.task_lessons("t1", "HumanEval/0")) == -1  # kept
    assert [r.trial for r in await memory.task_lessons("t1", "HumanEval/0", 10)] == [3, 4, 5]
    assert await aredis_client.llen(keys.task_lessons("t1", "HumanEval/0")) == 3
    assert len(await memory.episode_lessons("t1", "ep1", 10)) == 5
    found = await aredis_client.keys(f"{key_prefix}:*")
    stored = sorted(k.decode() if isinstance(k, bytes) else k for k in found)
    assert stored == sorted([keys.episode_lessons("t1", "ep1"), keys.task_lessons("t1", "HumanEval/0")])


@pytest.fixture
async def dead_redis() -> AsyncIterator[RedisMemory]:
    client = aredis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=1)
    yield RedisMemory(client, Keys("rfxtest-dead"), episode_ttl_s=TTL)
    await client.aclose()


async def test_unreachable_redis_is_unavailable_not_a_traceback(dead_redis: RedisMemory) -> None:
    with pytest.raises(Unavailable, match="Redis is not reachable"):
        await dead_redis.add("t1", lesson(1))
    with pytest.raises(Unavailable):
        await dead_redis.task_lessons("t1", "HumanEval/0", 3)
    with pytest.raises(Unavailable):
        await dead_redis.clear_task("t1", "HumanEval/0")
