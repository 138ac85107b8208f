"""The store's guarantees on real Redis: fenced writes after a takeover, one terminal transition,
an atomic accept, and concurrent cancel/claim races ending in exactly one episode.finished."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from app.memory.episodes import EpisodeStore, LeaseLost
from app.memory.keys import Keys
from app.queue.leases import EpisodeLeases
from app.queue.stream import JobStream
from app.reflexion.ids import new_episode_id
from app.reflexion.models import Episode, Task

TASK = Task(id="t/1", prompt="def f():\n", entry_point="f", tests="def check(c):\n    pass\n")


def new_episode(tenant: str = "acme") -> Episode:
    return Episode(id=new_episode_id(), tenant=tenant, task=TASK)


async def test_stale_worker_is_fenced_and_finish_happens_once(aredis_client: Any, key_prefix: str) -> None:
    keys = Keys(key_prefix)
    store = EpisodeStore(aredis_client, keys, ttl_s=600)
    episode = new_episode()
    await store.create(episode, quota=10, queue_max=10)

    first = await EpisodeLeases(store).claim(episode.id, "worker-a:1")
    second = await EpisodeLeases(store).claim(episode.id, "worker-b:1")  # A's lease lapsed; B took over
    assert first.outcome == second.outcome == "claimed" and second.claims == 2
    running = episode.model_copy(update={"status": "running"})
    with pytest.raises(LeaseLost):
        await EpisodeLeases(store).save(running, "worker-a:1", "episode.started", {})
    assert await EpisodeLeases(store).save(running, "worker-b:1", "episode.started", {})

    done = running.model_copy(update={"status": "succeeded", "stop_reason": "solved"})
    with pytest.raises(LeaseLost):
        await store.finish(done, token="worker-a:1", mode="owner")
    assert await store.finish(done, token="worker-b:1", mode="owner") is not None
    assert await store.finish(done, token="worker-b:1", mode="owner") is None  # already terminal
    assert (await EpisodeLeases(store).claim(episode.id, "worker-c:1")).outcome == "terminal"

    events = await store.events(episode.id, "0")
    assert [e.type for e in events] == ["episode.started", "episode.finished"]
    assert await aredis_client.ttl(keys.episode(episode.id)) > 0  # terminal records expire
    assert await aredis_client.ttl(keys.episode_events(episode.id)) > 0
    assert await store.active_count() == 0


async def test_cancel_racing_claims_ends_once(aredis_client: Any, key_prefix: str) -> None:
    keys = Keys(key_prefix)
    store = EpisodeStore(aredis_client, keys, ttl_s=600)
    episodes = [new_episode() for _ in range(30)]
    for e in episodes:
        await store.create(e, quota=100, queue_max=100)

    async def cancel(e: Episode) -> None:
        await store.request_cancel(e.tenant, e.id)

    async def worker_sees_cancel(e: Episode) -> None:
        """What the worker does at claim time and again at each heartbeat: honour the cancel flag."""
        token = f"w:{e.id}"
        if (await EpisodeLeases(store).claim(e.id, token)).outcome != "claimed":
            return
        while not await store.cancel_requested(e.id):
            if (await store.get(e.tenant, e.id)).terminal:
                return
            await asyncio.sleep(0.01)
        final = e.model_copy(update={"status": "cancelled", "stop_reason": "cancelled"})
        await store.finish(final, token=token, mode="owner")

    await asyncio.wait_for(
        asyncio.gather(*(f(e) for e in episodes for f in (cancel, worker_sees_cancel))), 30
    )
    for e in episodes:
        types = [ev.type for ev in await store.events(e.id, "0")]
        assert types.count("episode.finished") == 1, types
        assert (await store.get(e.tenant, e.id)).status == "cancelled"


async def test_accept_is_atomic_with_the_job_entry(aredis_client: Any, key_prefix: str) -> None:
    keys = Keys(key_prefix)
    store = EpisodeStore(aredis_client, keys, ttl_s=600)
    jobs = JobStream(aredis_client, keys, "reader")
    await jobs.ensure_group()
    ids = [(await store.create(new_episode(), quota=5, queue_max=100))[0] for _ in range(5)]
    with pytest.raises(Exception, match="quota"):
        await store.create(new_episode(), quota=5, queue_max=100)
    with pytest.raises(Exception, match="queue is full"):
        await store.create(new_episode("other"), quota=5, queue_max=5)
    delivered = await jobs.read(100, 10)
    assert [j.episode_id for j in delivered] == ids  # one job per accepted episode, none for refused
    assert await aredis_client.zcard(keys.tenant_episodes("acme")) == 5
    assert await aredis_client.zcard(keys.tenant_episodes("other")) == 0


async def test_terminal_transition_carries_its_metrics_and_cancel_expiry(
    aredis_client: Any, key_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker that loses Redis the moment the terminal script returns must not lose the episode's
    metrics (they were a second round trip, so /metrics undercounted) or leave the cancel flag
    without its expiry: everything the transition implies happens in the one script."""
    keys = Keys(key_prefix)
    store = EpisodeStore(aredis_client, keys, ttl_s=600)
    episode = new_episode()
    await store.create(episode, quota=10, queue_max=10)
    token = "worker-a:1"
    assert (await EpisodeLeases(store).claim(episode.id, token)).outcome == "claimed"
    # the flag is set with the canceller's expiry; the terminal transition gives it the episode's
    await EpisodeStore(aredis_client, keys, ttl_s=86_400).request_cancel(episode.tenant, episode.id)
    stats_before = await aredis_client.hgetall(keys.stats())

    def connection_lost(*_args: object, **_kwargs: object) -> None:
        raise RedisConnectionError("connection lost after the terminal script")

    for method in ("expire", "pipeline", "hincrbyfloat", "set", "exists"):
        monkeypatch.setattr(aredis_client, method, connection_lost)
    monkeypatch.setattr(aredis_client, "evalsha", _only_once(aredis_client.evalsha))
    done = episode.model_copy(update={"status": "cancelled", "stop_reason": "cancelled"})
    assert await store.finish(done, token=token, mode="owner")
    monkeypatch.undo()

    stats = await aredis_client.hgetall(keys.stats())
    assert stats_before == {}
    assert float(stats[b"episodes:cancelled"]) == 1 and float(stats[b"trials:count"]) == 1
    assert 0 < await aredis_client.ttl(keys.episode_cancel(episode.id)) <= 600
    assert (await store.get(episode.tenant, episode.id)).status == "cancelled"


def _only_once(call: Any) -> Any:
    """The script call goes through; any Redis call after it fails as if the connection dropped."""
    calls = 0

    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls > 1:
            raise RedisConnectionError("connection lost after the terminal script")
        return await call(*args, **kwargs)

    return wrapper


async def test_claim_reports_a_cancel_asked_before_it(aredis_client: Any, key_prefix: str) -> None:
    """A reclaim says whether a cancel came while the dead worker held it (one round trip)."""
    store = EpisodeStore(aredis_client, Keys(key_prefix), ttl_s=600)
    asked, plain = new_episode(), new_episode()
    for e in (asked, plain):
        await store.create(e, quota=10, queue_max=10)
        assert (await EpisodeLeases(store).claim(e.id, "w:0")).outcome == "claimed"
    await store.request_cancel(asked.tenant, asked.id)  # owned: a flag; then w:0 dies
    claim_asked = await EpisodeLeases(store).claim(asked.id, "w:1")
    claim_plain = await EpisodeLeases(store).claim(plain.id, "w:2")
    assert claim_asked.outcome == claim_plain.outcome == "claimed"
    assert claim_asked.cancel_requested and not claim_plain.cancel_requested
