"""Every accepted episode ends in exactly one terminal status and frees its tenant's quota, also when
the worker is interrupted between its claim and the episode's first step.

Two paths used to acknowledge the job and leave the episode `queued` for ever: a cancel arriving while
the claim's reply is still on its way back (the claim ran on Redis, the worker never learned it), and
a stored record this version cannot read. Real Redis, a real worker and judge, the real API; the reply
is held in flight by a TCP proxy between the worker and Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import pytest
import redis.asyncio as aredis
from redis.exceptions import ConnectionError as RedisConnectionError

from app.memory.episodes import EpisodeStore
from app.memory.keys import Keys
from app.queue.leases import _CLAIM
from app.reflexion.ids import new_episode_id
from app.reflexion.models import Episode, Task
from tests.fixtures.redis_proxy import command, redis_proxy, script_sha
from tests.fixtures.services import RedisServer
from tests.integration.apiserver import (
    script_fail_then_fix,
    service_settings,
    serving,
    task_body,
    wait_terminal,
)

TASK = Task(
    id="settle/add",
    prompt='def add(a, b):\n    """Return a + b."""\n',
    entry_point="add",
    tests="def check(candidate):\n    assert candidate(1, 2) == 3\n",
)


async def finished_events(client: aredis.Redis, keys: Keys, episode_id: str) -> int:
    rows = await client.xrange(keys.episode_events(episode_id))
    return sum(fields[b"type"] == b"episode.finished" for _id, fields in rows)


@pytest.mark.parametrize("settle_fails", [False, True], ids=["settled", "settle-fails-once"])
async def test_cancel_while_the_claims_reply_is_in_flight_ends_cancelled(
    settle_fails: bool,
    redis_server: RedisServer,
    redis_url: str,
    key_prefix: str,
    aredis_client: aredis.Redis,
    fake_llm: Any,
    judge_factory: Any,
    sandbox_image: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`settle-fails-once`: the worker's terminal write then fails past the client's retries (Redis
    gone for a moment); the failure is logged with its traceback, the job stays pending, and the
    worker's scan of its own pending entries settles it on the next round."""
    script_fail_then_fix(fake_llm)
    keys = Keys(key_prefix)
    api_settings = service_settings(
        redis_url, key_prefix, fake_llm.base_url, judge_image=sandbox_image, lease_s=4.0
    )
    finish = EpisodeStore.finish
    failed: list[str] = []

    async def finish_fails_once(self: EpisodeStore, episode: Episode, **kwargs: Any) -> str | None:
        if kwargs.get("mode") == "owner" and not failed:
            failed.append(episode.id)
            raise RedisConnectionError("Redis went away while settling")
        return await finish(self, episode, **kwargs)

    if settle_fails:
        monkeypatch.setattr(EpisodeStore, "finish", finish_fails_once)
    caplog.set_level(logging.ERROR)
    judge = await judge_factory()
    async with redis_proxy(redis_server.port) as proxy:
        hold = proxy.hold_reply(command("EVALSHA", script_sha(_CLAIM)))
        worker_settings = api_settings.model_copy(update={"redis_url": proxy.url})
        async with serving(api_settings, judge, worker_settings=worker_settings) as client:
            episode_id = (await client.post("/v1/episodes", json=task_body())).json()["id"]
            await asyncio.wait_for(hold.fired.wait(), 30)  # the claim ran on Redis; its reply is held
            assert (await aredis_client.hget(keys.episode(episode_id), "owner")) not in (None, b"")
            r = await client.post(f"/v1/episodes/{episode_id}/cancel")
            assert r.status_code == 200 and r.json()["status"] != "cancelled"  # owned: a flag + pub/sub
            # give the worker's cancel listener time to act on the message (an unfixed worker drops
            # the claim's connection at once; a fixed one waits for the reply)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(hold.client_gone.wait(), 2)
            hold.release.set()
            episode = await wait_terminal(client, episode_id, timeout_s=30)
    assert episode["status"] == "cancelled" and episode["stop_reason"] == "cancelled"
    assert await finished_events(aredis_client, keys, episode_id) == 1
    assert await aredis_client.scard(keys.tenant_active("default")) == 0  # the quota is free again
    assert await aredis_client.xlen(keys.job_stream()) == 0  # acknowledged only once it ended
    if settle_fails:
        assert failed == [episode_id]  # the first settle did fail
        logged = [r for r in caplog.records if "its job failed" in r.getMessage()]
        assert logged and logged[0].exc_info is not None, [r.getMessage() for r in caplog.records]


async def test_a_stored_record_that_fails_validation_ends_failed(
    redis_url: str,
    key_prefix: str,
    aredis_client: aredis.Redis,
    fake_llm: Any,
    judge_factory: Any,
    sandbox_image: str,
) -> None:
    script_fail_then_fix(fake_llm)
    keys = Keys(key_prefix)
    settings = service_settings(redis_url, key_prefix, fake_llm.base_url, judge_image=sandbox_image)
    store = EpisodeStore(aredis_client, keys, ttl_s=600)
    episode = Episode(id=new_episode_id(), tenant="default", task=TASK)
    await store.create(episode, quota=1, queue_max=10)
    # a record this version cannot read (e.g. written by another release): the task is not a Task
    broken = json.loads(episode.model_dump_json())
    broken["task"]["entry_point"] = "not valid!"
    broken["shiny_new_field"] = 1
    await aredis_client.hset(keys.episode(episode.id), "json", json.dumps(broken))
    judge = await judge_factory()
    async with serving(settings, judge) as client:
        ended = await wait_terminal(client, episode.id, timeout_s=30)
        # the quota (1) is free again: the next episode is accepted and runs to its end
        r = await client.post("/v1/episodes", json=task_body())
        assert r.status_code == 202, r.text
        after = await wait_terminal(client, r.json()["id"], timeout_s=60)
    assert ended["status"] == "failed"
    assert "could not be read" in str(ended["error"])
    assert ended["task"]["id"] == TASK.id  # what could be salvaged is kept
    assert await finished_events(aredis_client, keys, episode.id) == 1
    assert after["status"] == "succeeded"
