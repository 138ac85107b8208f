"""Cancel while an attempt's code runs in the sandbox: the episode ends `cancelled`, its container is gone."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from app.reflexion.models import JudgeLimits
from tests.integration.apiserver import (
    service_settings,
    serving,
    task_body,
    wait_terminal,
)

SLEEPER = "```python\ndef add(a, b):\n    import time\n    time.sleep(120)\n    return a + b\n```"


async def test_cancel_running_attempt_stops_it_and_its_container(
    redis_url: str,
    key_prefix: str,
    fake_llm: Any,
    judge_factory: Any,
    sandbox_image: str,
    docker_client: Any,
    test_labels: dict[str, str],
) -> None:
    fake_llm.script({"pattern": "Complete the Python function", "replies": [SLEEPER]}, default="lesson")
    settings = service_settings(redis_url, key_prefix, fake_llm.base_url, judge_image=sandbox_image)
    # fresh mode: one container per judge run, so "no container left" is exact; 300 s judge limit,
    # so only the cancel can end that run early
    judge = await judge_factory(
        mode="fresh", limits=JudgeLimits(timeout_s=300), labels={"rfx.test-case": "cancel"}
    )
    label = "rfx.test-case=cancel"

    def containers() -> list[Any]:
        return list(docker_client.api.containers(all=True, filters={"label": label}))  # one call, no race

    async with serving(settings, judge) as client:
        episode_id = (await client.post("/v1/episodes", json=task_body())).json()["id"]
        deadline = time.monotonic() + 60
        while not any(c["State"] == "running" for c in containers()):
            assert time.monotonic() < deadline, "no sandbox container ever started"
            await asyncio.sleep(0.05)
        # a container starts in ~0.4 s and its code then sleeps 120 s: 2 s in, the code is running
        await asyncio.sleep(2)
        assert (await client.get(f"/v1/episodes/{episode_id}")).json()["status"] == "running"

        started = time.monotonic()
        r = await client.post(f"/v1/episodes/{episode_id}/cancel")
        assert r.status_code == 200
        episode = await wait_terminal(client, episode_id, timeout_s=60)
        took = time.monotonic() - started
        again = await client.post(f"/v1/episodes/{episode_id}/cancel")
        async with client.stream("GET", f"/v1/episodes/{episode_id}/events") as stream:
            text = "".join([chunk async for chunk in stream.aiter_text()])
        states = [(c["Names"], c["State"], c["Status"]) for c in containers()]
        while containers():  # the judge kills the run at once; Docker removes the container after
            assert time.monotonic() < deadline, f"sandbox containers left behind: {states}"
            await asyncio.sleep(0.05)
        gone_after = time.monotonic() - started

    assert episode["status"] == "cancelled" and episode["stop_reason"] == "cancelled"
    assert again.json()["status"] == "cancelled"  # idempotent
    assert text.count("event: episode.finished") == 1
    # the sandboxed code would sleep 120 s: ending at all well before that proves it was stopped
    assert took < 120
    print(f"cancel -> terminal in {took:.3f}s, containers gone in {gone_after:.3f}s; at terminal: {states}")
