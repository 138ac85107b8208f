"""Every write of an episode's life survives a reply lost after the command ran: nothing duplicated,
nothing lost, every episode ends once.

The service's Redis client retries a command on a connection error. When the connection drops after
Redis ran the command but before its reply came back, the retry runs it again. A TCP proxy between
the service (API and worker) and a real Redis drops exactly that reply, once per episode, at each
write an episode makes: its acceptance, its delivery, its claim, each of its six steps, its lesson,
a heartbeat, its terminal transition and its acknowledgement. Each episode fails once, reflects and
passes, so its stream must read exactly the seven events of that story.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import redis.asyncio as aredis

from app.memory.episodes import _CREATE, _FINISH
from app.memory.keys import Keys
from app.memory.redis_memory import _ADD
from app.queue.leases import _CLAIM, _SAVE
from app.queue.stream import _HEARTBEAT
from tests.fixtures.redis_proxy import Command, Matcher, command, redis_proxy, script_sha
from tests.fixtures.services import RedisServer
from tests.integration.apiserver import (
    running_app,
    script_fail_then_fix,
    service_settings,
    serving,
    task_body,
    wait_terminal,
)

STORY = [
    "episode.started",
    "attempt.generated",
    "attempt.judged",
    "reflection.created",
    "attempt.generated",
    "attempt.judged",
    "episode.finished",
]


def script(text: str) -> Matcher:
    return command("EVALSHA", script_sha(text))


def new_delivery(cmd: Command) -> bool:
    return bool(cmd) and cmd[0].upper() == b"XREADGROUP" and cmd[-1] == b">"


CASES: list[tuple[str, Matcher, int, bytes]] = [
    ("accept", script(_CREATE), 1, b""),
    ("deliver", new_delivery, 1, b"ep_"),
    ("claim", script(_CLAIM), 1, b""),
    *[(f"step {n}", script(_SAVE), n, b"") for n in range(1, 7)],
    ("lesson", script(_ADD), 1, b""),
    ("heartbeat", script(_HEARTBEAT), 1, b""),
    ("finish", script(_FINISH), 1, b""),
    ("ack", command("EXEC"), 1, b""),
]


async def test_a_lost_reply_at_each_write_duplicates_and_loses_nothing(
    redis_server: RedisServer,
    redis_url: str,
    key_prefix: str,
    aredis_client: aredis.Redis,
    fake_llm: Any,
    judge_factory: Any,
    sandbox_image: str,
) -> None:
    # 0.3 s per model reply and a 1.5 s lease (a heartbeat every 0.5 s): each episode lives long
    # enough for a heartbeat
    script_fail_then_fix(fake_llm, latency_s=0.3)
    keys = Keys(key_prefix)
    judge = await judge_factory()
    seen: dict[str, dict[str, object]] = {}
    async with redis_proxy(redis_server.port) as proxy:
        settings = service_settings(
            proxy.url, key_prefix, fake_llm.base_url, judge_image=sandbox_image, lease_s=1.5
        )
        async with serving(settings, judge) as client:
            for name, match, nth, reply_has in CASES:
                rule = proxy.drop_reply(match, nth, reply_has)
                r = await client.post("/v1/episodes", json=task_body(f"lost-reply/{name}"))
                assert r.status_code == 202, (name, r.text)
                assert "idempotent-replayed" not in r.headers, name  # a first request, answered once
                episode = await wait_terminal(client, r.json()["id"], timeout_s=60)
                assert rule.fired.is_set(), f"{name}: the proxy never dropped that reply"
                seen[name] = episode
            # let the last acknowledgement land before counting what is left
            for _ in range(100):
                if await aredis_client.xlen(keys.job_stream()) == 0:
                    break
                await asyncio.sleep(0.05)

    for name, episode in seen.items():
        episode_id = str(episode["id"])
        events = await aredis_client.xrange(keys.episode_events(episode_id))
        types = [fields[b"type"].decode() for _id, fields in events]
        assert types == STORY, f"{name}: {types}"
        assert (episode["status"], episode["stop_reason"]) == ("succeeded", "solved"), name
        assert await aredis_client.hget(keys.episode(episode_id), "claims") == b"1", name
        lessons = await aredis_client.llen(keys.episode_lessons("default", episode_id))
        assert lessons == 1, f"{name}: {lessons} lessons"
    assert await aredis_client.xlen(keys.job_stream()) == 0  # every job acknowledged, none added twice
    pending = await aredis_client.xpending(keys.job_stream(), keys.job_group())
    assert pending["pending"] == 0
    assert await aredis_client.scard(keys.tenant_active("default")) == 0
    stats = await aredis_client.hget(keys.stats(), "episodes:succeeded")
    assert float(stats or 0) == len(CASES)  # each episode counted once


async def test_a_lost_reply_of_a_cancel_ends_the_queued_episode_once(
    redis_server: RedisServer, redis_url: str, key_prefix: str, aredis_client: aredis.Redis
) -> None:
    """Cancelling a queued episode is its terminal transition, made by the API: its reply lost, the
    retry answers the first transition instead of taking the episode for someone else's."""
    keys = Keys(key_prefix)
    async with redis_proxy(redis_server.port) as proxy:
        settings = service_settings(proxy.url, key_prefix)  # no worker: the episode stays queued
        async with running_app(settings) as base, httpx.AsyncClient(base_url=base, timeout=60) as client:
            episode_id = (await client.post("/v1/episodes", json=task_body())).json()["id"]
            rule = proxy.drop_reply(script(_FINISH))
            r = await client.post(f"/v1/episodes/{episode_id}/cancel")
            assert rule.fired.is_set()
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    events = await aredis_client.xrange(keys.episode_events(episode_id))
    assert [fields[b"type"] for _id, fields in events] == [b"episode.finished"]
    # taken for a running episode's, the retry used to leave a cancel flag and a pub/sub message
    assert not await aredis_client.exists(keys.episode_cancel(episode_id))
    assert await aredis_client.scard(keys.tenant_active("default")) == 0
