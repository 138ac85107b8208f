"""Durability: Redis stopped with SIGTERM and restarted (AOF on) loses no accepted episode;
SIGTERM to a worker finishes or hands back its episodes, and another worker completes them."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import redis

from app.memory.keys import Keys
from tests.fixtures.services import RedisServer
from tests.integration.apiserver import (
    running_app,
    running_worker,
    script_fail_then_fix,
    service_settings,
    start_worker_process,
    task_body,
    wait_terminal,
    worker_env,
)

TERMINAL = {"succeeded", "failed", "cancelled", "timed_out"}


async def test_redis_restart_loses_no_accepted_episode(
    redis_server_factory: Callable[..., RedisServer],
    key_prefix: str,
    fake_llm: Any,
    judge_factory: Any,
    sandbox_image: str,
) -> None:
    server = redis_server_factory(appendonly=True)
    script_fail_then_fix(fake_llm, latency_s=0.1)
    settings = service_settings(
        server.url, key_prefix, fake_llm.base_url, judge_image=sandbox_image, lease_s=3.0
    )
    keys = Keys(key_prefix)
    judge = await judge_factory(mode="pooled")
    async with running_app(settings) as base, httpx.AsyncClient(base_url=base, timeout=60) as client:
        ids = [
            (await client.post("/v1/episodes", json=task_body(f"durable/{i}"))).json()["id"]
            for i in range(30)
        ]
        async with running_worker(settings, judge, concurrency=4):
            deadline = time.monotonic() + 120
            while True:  # restart Redis while episodes are both finished and in flight
                sync = redis.Redis.from_url(server.url)
                done = sum((sync.hget(keys.episode(i), "status") or b"").decode() in TERMINAL for i in ids)
                sync.close()
                if done >= 3:
                    break
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
            server.stop("TERM")  # Redis writes its AOF and exits
            await asyncio.sleep(1.0)
            server.start()  # same port, same directory: it reloads the AOF
            final = [await wait_terminal(client, i, timeout_s=120) for i in ids]
    assert all(e["status"] == "succeeded" for e in final), [e["status"] for e in final]
    sync = redis.Redis.from_url(server.url)
    for episode_id in ids:
        types = [f[b"type"].decode() for _, f in sync.xrange(keys.episode_events(episode_id))]
        assert types.count("episode.finished") == 1, types
    assert sync.xlen(keys.job_stream()) == 0
    sync.close()


async def test_sigterm_hands_back_running_episode_to_another_worker(
    redis_url: str, key_prefix: str, fake_llm: Any, sandbox_image: str, tmp_path: Path
) -> None:
    # every LLM call takes 1.5 s, so the episode is mid-run when the first worker is told to stop
    script_fail_then_fix(fake_llm, latency_s=1.5)
    settings = service_settings(
        redis_url, key_prefix, fake_llm.base_url, judge_image=sandbox_image, lease_s=600.0
    )  # a lapsed lease cannot explain the takeover
    env = worker_env(settings, RFX_JUDGE_WORKERS="1", RFX_WORKER_GRACE_S="0.5")
    keys = Keys(key_prefix)
    first = start_worker_process(env, "first", 2, str(tmp_path / "first.log"))
    second = None
    try:
        async with running_app(settings) as base, httpx.AsyncClient(base_url=base, timeout=60) as client:
            episode_id = (await client.post("/v1/episodes", json=task_body())).json()["id"]
            deadline = time.monotonic() + 60
            while (await client.get(f"/v1/episodes/{episode_id}")).json()["status"] != "running":
                assert time.monotonic() < deadline, (tmp_path / "first.log").read_text()[-2000:]
                await asyncio.sleep(0.05)
            first.send_signal(signal.SIGTERM)
            first_rc = first.wait(60)
            handed_back = (await client.get(f"/v1/episodes/{episode_id}")).json()
            second = start_worker_process(env, "second", 2, str(tmp_path / "second.log"))
            episode = await wait_terminal(client, episode_id, timeout_s=120)
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(60)
    sync = redis.Redis.from_url(redis_url)
    types = [f[b"type"].decode() for _, f in sync.xrange(keys.episode_events(episode_id))]
    claims = int(sync.hget(keys.episode(episode_id), "claims") or 0)
    sync.close()
    assert first_rc == 0
    assert "handed back" in (tmp_path / "first.log").read_text()
    assert handed_back["status"] == "running"  # not cancelled, not failed: just not finished yet
    assert episode["status"] == "succeeded"
    assert claims == 2  # taken over at once by the second worker, well before the 600 s lease
    assert types.count("episode.started") == 1 and types.count("episode.finished") == 1
