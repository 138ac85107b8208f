"""A background task that dies is seen: logged with its traceback, named by `/readyz`, and the process
(`rfx worker`, `rfx serve --with-worker`) exits non-zero so its supervisor restarts it.

Real failures where a real process is watched (its Redis goes away for good); in-process, a patched
call inside the real worker makes one task die while everything else keeps working.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aredis

from app.errors import BackgroundTaskDied
from app.memory.keys import Keys
from app.queue.runner import start_worker
from app.queue.stream import JobStream
from tests.fixtures.services import RedisServer, free_port
from tests.integration.apiserver import (
    running_app,
    running_worker,
    script_fail_then_fix,
    service_settings,
    task_body,
    wait_terminal,
    worker_env,
)


@pytest.mark.parametrize("command", [["worker"], ["serve", "--with-worker"]], ids=["worker", "serve"])
def test_process_exits_non_zero_when_its_redis_is_gone_for_good(
    command: list[str],
    redis_server_factory: Any,
    key_prefix: str,
    fake_llm: Any,
    sandbox_image: str,
    tmp_path: Path,
) -> None:
    server: RedisServer = redis_server_factory()
    settings = service_settings(server.url, key_prefix, fake_llm.base_url, judge_image=sandbox_image)
    env = worker_env(settings, RFX_JUDGE_MODE="fresh", RFX_REDIS_GIVE_UP_S="1", RFX_PORT=str(free_port()))
    log = tmp_path / "process.log"
    rfx = Path(sys.executable).with_name("rfx")
    with log.open("wb") as out:
        proc = subprocess.Popen([str(rfx), *command], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while "concurrency" not in log.read_text():  # the worker's first line: it is claiming
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.1)
        server.stop()  # for good
        rc = proc.wait(120)  # the client rides out ~15 s of retries, then the give-up (1 s) is past
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text()
    assert rc == 1, text[-3000:]
    assert "cancel listener died" in text, text[-3000:]
    assert "Traceback (most recent call last)" in text, text[-3000:]  # logged with its traceback
    last = text.rstrip().splitlines()[-1]
    assert last.startswith("rfx: ") and "cancel listener died" in last, last  # and one closing line


async def test_readyz_names_the_dead_worker_of_serve_with_worker(
    redis_url: str,
    key_prefix: str,
    fake_llm: Any,
    sandbox_image: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = service_settings(
        redis_url, key_prefix, fake_llm.base_url, judge_image=sandbox_image, judge_mode="fresh"
    )

    def broken(self: Keys) -> str:
        raise RuntimeError("cancel channel name unavailable")

    monkeypatch.setattr(Keys, "cancel_channel", broken)  # the in-process worker's listener dies
    caplog.set_level(logging.ERROR)
    async with running_app(settings, with_worker=True) as base, httpx.AsyncClient(base_url=base) as client:
        deadline = time.monotonic() + 60
        while (r := await client.get("/readyz")).status_code == 200:
            assert time.monotonic() < deadline, "the dead worker never showed"
            await asyncio.sleep(0.1)
        health = await client.get("/healthz")
    assert r.status_code == 503
    body = r.json()
    assert body["checks"]["background"]["ok"] is False
    assert "'worker' died" in body["detail"] and "cancel listener died" in body["detail"]
    assert "RuntimeError: cancel channel name unavailable" in body["detail"]
    assert health.status_code == 200  # alive, not ready: the supervisor's exit comes from rfx serve
    logged = [rec for rec in caplog.records if "died" in rec.getMessage() and rec.exc_info]
    assert {rec.name for rec in logged} >= {"rfx.worker", "rfx.api"}  # each with its traceback


async def test_dead_heartbeat_stops_the_worker_and_hands_its_episode_back(
    redis_url: str,
    key_prefix: str,
    aredis_client: aredis.Redis,
    fake_llm: Any,
    judge_factory: Any,
    sandbox_image: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    script_fail_then_fix(fake_llm, latency_s=1.0)
    settings = service_settings(
        redis_url, key_prefix, fake_llm.base_url, judge_image=sandbox_image, lease_s=1.0
    )
    judge = await judge_factory()
    original = JobStream.renew

    async def renew_fails(self: JobStream, job: Any) -> bool:
        raise RuntimeError("heartbeat bug")

    monkeypatch.setattr(JobStream, "renew", renew_fails)
    caplog.set_level(logging.ERROR)
    async with running_app(settings) as base, httpx.AsyncClient(base_url=base, timeout=60) as client:
        episode_id = (await client.post("/v1/episodes", json=task_body())).json()["id"]
        with pytest.raises(BackgroundTaskDied, match="worker heartbeat died: RuntimeError: heartbeat bug"):
            await asyncio.wait_for(start_worker(settings, asyncio.Event(), judge=judge), 60)
        # handed back, not lost: a healthy worker takes it over and ends it once
        assert (await aredis_client.hget(Keys(key_prefix).episode(episode_id), "owner")) == b""
        monkeypatch.setattr(JobStream, "renew", original)
        async with running_worker(settings, judge):
            episode = await wait_terminal(client, episode_id, timeout_s=60)
    assert episode["status"] == "succeeded"
    events = await aredis_client.xrange(Keys(key_prefix).episode_events(episode_id))
    assert sum(f[b"type"] == b"episode.finished" for _i, f in events) == 1
    assert any("heartbeat died" in rec.getMessage() and rec.exc_info for rec in caplog.records)
