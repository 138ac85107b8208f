"""The episode routes over real HTTP on real Redis, with no worker running (episodes stay queued)."""

from __future__ import annotations

import json

import httpx
import redis

from tests.integration.apiserver import running_app, service_settings, task_body

PROBLEM = "application/problem+json"


async def test_submit_get_and_list(redis_url: str, key_prefix: str) -> None:
    settings = service_settings(redis_url, key_prefix)
    async with running_app(settings) as base, httpx.AsyncClient(base_url=base) as client:
        r = await client.post("/v1/episodes", json=task_body("HumanEval/0", max_trials=2))
        assert r.status_code == 202, r.text
        episode = r.json()
        assert r.headers["location"] == f"/v1/episodes/{episode['id']}"
        assert episode["status"] == "queued"
        assert episode["task"]["id"] == "HumanEval/0"
        assert episode["config"]["max_trials"] == 2
        assert episode["actor_model"] == "fake-actor"

        got = await client.get(r.headers["location"])
        assert got.status_code == 200
        assert got.json() == episode

        listed = (await client.get("/v1/episodes")).json()
        assert [e["id"] for e in listed["data"]] == [episode["id"]]
        assert listed["has_more"] is False and listed["next"] is None

    # persisted and enqueued in the same step: the job stream holds exactly this episode
    sync = redis.Redis.from_url(redis_url)
    entries = sync.xrange(f"{key_prefix}:jobs")
    sync.close()
    assert [fields[b"episode"].decode() for _, fields in entries] == [episode["id"]]


async def test_idempotency_key_returns_same_episode(redis_url: str, key_prefix: str) -> None:
    settings = service_settings(redis_url, key_prefix)
    async with running_app(settings) as base, httpx.AsyncClient(base_url=base) as client:
        headers = {"Idempotency-Key": "order-42"}
        first = await client.post("/v1/episodes", json=task_body(), headers=headers)
        second = await client.post("/v1/episodes", json=task_body(), headers=headers)
        assert first.status_code == second.status_code == 202
        assert first.json()["id"] == second.json()["id"]
        assert second.headers["idempotent-replayed"] == "true"
        other = await client.post("/v1/episodes", json=task_body(max_trials=5), headers=headers)
        assert other.status_code == 409
        assert other.headers["content-type"].startswith(PROBLEM)
        listed = (await client.get("/v1/episodes")).json()
        assert len(listed["data"]) == 1


async def test_pagination_walks_every_episode_once(redis_url: str, key_prefix: str) -> None:
    settings = service_settings(redis_url, key_prefix)
    async with running_app(settings) as base, httpx.AsyncClient(base_url=base) as client:
        created = []
        for i in range(5):
            r = await client.post("/v1/episodes", json=task_body(f"t/{i}"))
            created.append(r.json()["id"])
        seen: list[str] = []
        after = None
        pages = 0
        while True:
            params: dict[str, str | int] = {"limit": 2}
            if after:
                params["after"] = after
            page = (await client.get("/v1/episodes", params=params)).json()
            pages += 1
            seen += [e["id"] for e in page["data"]]
            if not page["has_more"]:
                assert page["next"] is None
                break
            after = page["next"]
        assert pages == 3
        assert seen == list(reversed(created))  # newest first, each exactly once

        await client.post(f"/v1/episodes/{created[0]}/cancel")
        cancelled = (await client.get("/v1/episodes", params={"status": "cancelled"})).json()
        assert [e["id"] for e in cancelled["data"]] == [created[0]]
        queued = (await client.get("/v1/episodes", params={"status": "queued"})).json()
        assert len(queued["data"]) == 4

        bad = await client.get("/v1/episodes", params={"after": "not-an-id"})
        assert bad.status_code == 422 and bad.headers["content-type"].startswith(PROBLEM)


async def test_cancel_queued_episode_then_delete(redis_url: str, key_prefix: str) -> None:
    settings = service_settings(redis_url, key_prefix)
    async with running_app(settings) as base, httpx.AsyncClient(base_url=base) as client:
        episode_id = (await client.post("/v1/episodes", json=task_body())).json()["id"]
        busy = await client.delete(f"/v1/episodes/{episode_id}")
        assert busy.status_code == 409, "an active episode is cancelled first, not deleted"

        first = await client.post(f"/v1/episodes/{episode_id}/cancel")
        again = await client.post(f"/v1/episodes/{episode_id}/cancel")
        assert first.status_code == again.status_code == 200
        assert first.json()["status"] == again.json()["status"] == "cancelled"
        assert first.json()["stop_reason"] == "cancelled"

        async with client.stream("GET", f"/v1/episodes/{episode_id}/events") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            text = "".join([chunk async for chunk in stream.aiter_text()])
        assert text.count("event: episode.finished") == 1  # one terminal event, and the stream ended
        finished = next(
            json.loads(line.removeprefix("data:"))
            for line in text.splitlines()
            if line.startswith("data:") and '"episode.finished"' in line
        )
        # the shape of the loop's `episode.finished` (tests/unit/test_loop.py), tokens included
        assert finished["data"] == {
            "status": "cancelled",
            "stop_reason": "cancelled",
            "final_trial": None,
            "trials": 0,
            "tokens": 0,
            "error": None,
        }

        gone = await client.delete(f"/v1/episodes/{episode_id}")
        assert gone.status_code == 204
        assert (await client.get(f"/v1/episodes/{episode_id}")).status_code == 404


async def test_quota_answers_429_with_retry_after(redis_url: str, key_prefix: str) -> None:
    settings = service_settings(redis_url, key_prefix, quota_episodes=2)
    async with running_app(settings) as base, httpx.AsyncClient(base_url=base) as client:
        ids = [(await client.post("/v1/episodes", json=task_body())).json()["id"] for _ in range(2)]
        r = await client.post("/v1/episodes", json=task_body())
        assert r.status_code == 429
        assert r.headers["content-type"].startswith(PROBLEM)
        assert int(r.headers["retry-after"]) > 0
        assert "quota" in r.json()["detail"]
        await client.post(f"/v1/episodes/{ids[0]}/cancel")  # a finished episode frees its slot
        assert (await client.post("/v1/episodes", json=task_body())).status_code == 202


async def test_metrics_show_queue_and_active(redis_url: str, key_prefix: str) -> None:
    settings = service_settings(redis_url, key_prefix)
    async with running_app(settings) as base, httpx.AsyncClient(base_url=base) as client:
        for _ in range(3):
            await client.post("/v1/episodes", json=task_body())
        episode_id = (await client.post("/v1/episodes", json=task_body())).json()["id"]
        await client.post(f"/v1/episodes/{episode_id}/cancel")
        text = (await client.get("/metrics")).text
    assert "rfx_episodes_active 3.0" in text
    assert 'rfx_queue_jobs{state="waiting"} 4.0' in text
    assert 'rfx_episodes_finished_total{status="cancelled"} 1.0' in text
    assert "rfx_http_request_seconds_bucket" in text
