"""SSE resume: a client that disconnects and reconnects with Last-Event-ID gets every event once, in order."""

from __future__ import annotations

from typing import Any

import httpx

from tests.integration.apiserver import (
    parse_sse,
    script_fail_then_fix,
    service_settings,
    serving,
    task_body,
    wait_terminal,
)


async def read_frames(
    client: httpx.AsyncClient, path: str, last_id: str | None, limit: int | None
) -> list[dict[str, str]]:
    """Read up to `limit` events (all when None), then drop the connection."""
    headers = {"Last-Event-ID": last_id} if last_id else {}
    frames: list[dict[str, str]] = []
    async with client.stream("GET", path, headers=headers) as stream:
        assert stream.status_code == 200
        block: list[str] = []
        async for line in stream.aiter_lines():
            if line:
                block.append(line)
                continue
            frames += parse_sse("\n".join(block) + "\n\n")
            block = []
            if limit is not None and len(frames) >= limit:
                break  # leaving the context closes the connection mid-stream
    return frames


async def test_reconnect_with_last_event_id_gets_each_event_once_in_order(
    redis_url: str, key_prefix: str, fake_llm: Any, judge_factory: Any, sandbox_image: str
) -> None:
    script_fail_then_fix(fake_llm, latency_s=0.3, always_fail=True)  # 3 trials: 11 events, a few seconds
    # greedy retries: the scripted actor repeats one program, which sampled retries would not judge
    settings = service_settings(redis_url, key_prefix, fake_llm.base_url, judge_image=sandbox_image)
    judge = await judge_factory(mode="pooled")
    async with serving(settings, judge) as client:
        episode_id = (
            await client.post("/v1/episodes", json=task_body(max_trials=3, retries="greedy"))
        ).json()["id"]
        path = f"/v1/episodes/{episode_id}/events"
        received: list[dict[str, str]] = []
        received += await read_frames(client, path, None, limit=2)
        mid_run = (await client.get(f"/v1/episodes/{episode_id}")).json()["status"]
        received += await read_frames(client, path, received[-1]["id"], limit=3)
        received += await read_frames(client, path, received[-1]["id"], limit=None)
        await wait_terminal(client, episode_id)
        everything = await read_frames(client, path, None, limit=None)
        # the same stream resumed through ?after= for clients that cannot set headers
        tail = await read_frames(client, f"{path}?after={everything[4]['id']}", None, limit=None)

    assert mid_run == "running", "the first reconnect happened while the episode was live"
    assert [f["id"] for f in received] == [f["id"] for f in everything]
    assert [f["event"] for f in everything] == (
        ["episode.started"]
        + ["attempt.generated", "attempt.judged", "reflection.created"] * 2
        + ["attempt.generated", "attempt.judged", "episode.finished"]
    )
    assert [f["data"] for f in received] == [f["data"] for f in everything]
    assert [f["id"] for f in tail] == [f["id"] for f in everything[5:]]


async def test_resume_after_the_finished_event_ends_at_once(
    redis_url: str, key_prefix: str, fake_llm: Any, judge_factory: Any, sandbox_image: str
) -> None:
    """A client that already saw `episode.finished` and reconnects gets an empty, finished stream."""
    script_fail_then_fix(fake_llm, latency_s=0.0)
    settings = service_settings(redis_url, key_prefix, fake_llm.base_url, judge_image=sandbox_image)
    judge = await judge_factory(mode="pooled")
    async with serving(settings, judge) as client:
        episode_id = (await client.post("/v1/episodes", json=task_body(max_trials=3))).json()["id"]
        await wait_terminal(client, episode_id)
        path = f"/v1/episodes/{episode_id}/events"
        everything = await read_frames(client, path, None, limit=None)
        # the server's BLOCK is 5 s: a stream that waits for live events would outlast this read timeout
        quick = httpx.Timeout(60, read=3)
        async with httpx.AsyncClient(base_url=client.base_url, timeout=quick) as impatient:
            after_finish = await read_frames(impatient, path, everything[-1]["id"], limit=None)
    assert everything[-1]["event"] == "episode.finished"
    assert after_finish == []
