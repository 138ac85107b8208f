"""100 concurrent episodes; a worker SIGKILLed among them loses none, and each ends exactly once."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import redis

from app.judge.reaper import reap_orphans
from app.memory.keys import Keys
from tests.integration.apiserver import (
    running_app,
    script_fail_then_fix,
    service_settings,
    start_worker_process,
    task_body,
    worker_env,
)

EPISODES = 100
TERMINAL = {"succeeded", "failed", "cancelled", "timed_out"}


def statuses(client: redis.Redis, keys: Keys, ids: list[str]) -> list[str]:
    pipe = client.pipeline(transaction=False)
    for episode_id in ids:
        pipe.hget(keys.episode(episode_id), "status")
    return [s.decode() if s else "" for s in pipe.execute()]


async def test_sigkilled_worker_loses_no_episode(
    redis_url: str, key_prefix: str, fake_llm: Any, sandbox_image: str, tmp_path: Path
) -> None:
    script_fail_then_fix(fake_llm, latency_s=0.2)
    settings = service_settings(
        redis_url, key_prefix, fake_llm.base_url, judge_image=sandbox_image, lease_s=2.0
    )
    env = worker_env(settings, RFX_JUDGE_WORKERS="2", RFX_JUDGE_MODE="pooled", RFX_WORKER_GRACE_S="20")
    keys = Keys(key_prefix)
    sync = redis.Redis.from_url(redis_url)
    victim = start_worker_process(env, "victim", 25, str(tmp_path / "victim.log"))
    survivor = start_worker_process(env, "survivor", 25, str(tmp_path / "survivor.log"))
    try:
        async with running_app(settings) as base, httpx.AsyncClient(base_url=base, timeout=60) as client:
            replies = await asyncio.gather(
                *(client.post("/v1/episodes", json=task_body(f"crash/{i}")) for i in range(EPISODES))
            )
            assert [r.status_code for r in replies] == [202] * EPISODES
            ids = [r.json()["id"] for r in replies]

            deadline = time.monotonic() + 120
            held: dict[str, int] = {}
            while True:  # kill the victim mid-run: some episodes done, some of its own in flight
                done = sum(s in TERMINAL for s in statuses(sync, keys, ids))
                pending = sync.xpending(keys.job_stream(), keys.job_group())
                held = {c["name"].decode(): int(c["pending"]) for c in pending["consumers"]}
                if done >= 10 and held.get("victim", 0) > 0:
                    break
                assert time.monotonic() < deadline, f"no progress: {done} done, pending {held}"
                await asyncio.sleep(0.1)
            victim.send_signal(signal.SIGKILL)
            victim.wait(10)
            in_flight_at_kill = held["victim"]

            while True:
                final = statuses(sync, keys, ids)
                if all(s in TERMINAL for s in final):
                    break
                unfinished = [s for s in final if s not in TERMINAL]
                assert time.monotonic() < deadline + 120, f"unfinished: {unfinished}"
                await asyncio.sleep(0.2)
            episodes = [(await client.get(f"/v1/episodes/{i}")).json() for i in ids]
    finally:
        if victim.poll() is None:
            victim.kill()
        survivor.send_signal(signal.SIGTERM)
        survivor_rc = survivor.wait(60)
        await reap_orphans("docker")  # the victim's warm pool, orphaned by the SIGKILL

    assert in_flight_at_kill > 0
    assert survivor_rc == 0, (tmp_path / "survivor.log").read_text()[-2000:]
    assert all(e["status"] == "succeeded" for e in episodes), {e["status"] for e in episodes}
    for episode_id, episode in zip(ids, episodes, strict=True):
        events = sync.xrange(keys.episode_events(episode_id))
        types = [f[b"type"].decode() for _, f in events]
        assert types.count("episode.finished") == 1, (episode_id, types)
        assert types.count("episode.started") == 1, (episode_id, types)
        assert types[-1] == "episode.finished"
        assert [a["trial"] for a in episode["attempts"]] == [1, 2], episode_id  # resumed, not restarted
    claims = [int(sync.hget(keys.episode(i), "claims") or 0) for i in ids]
    reclaimed = sum(c >= 2 for c in claims)
    assert reclaimed >= 1, "the victim's in-flight episodes were taken over by the survivor"
    assert sync.xlen(keys.job_stream()) == 0  # every job acknowledged and removed
    assert sync.scard(keys.active_episodes()) == 0
    log = (tmp_path / "survivor.log").read_text()
    assert "reclaimed" in log
    print(f"victim held {in_flight_at_kill} in flight at SIGKILL; {reclaimed} episodes were reclaimed")
    sync.close()
