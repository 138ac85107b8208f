"""A real episode through the HTTP API and the queue: fake LLM over HTTP, real Docker judge, real Redis."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from tests.integration.apiserver import (
    LESSON,
    parse_sse,
    script_fail_then_fix,
    service_settings,
    serving,
    task_body,
    wait_terminal,
)


async def test_episode_runs_through_queue_and_streams_every_step(
    redis_url: str, key_prefix: str, fake_llm: Any, judge_factory: Any, sandbox_image: str
) -> None:
    script_fail_then_fix(fake_llm)
    settings = service_settings(redis_url, key_prefix, fake_llm.base_url, judge_image=sandbox_image)
    judge = await judge_factory(mode="pooled")
    async with serving(settings, judge) as client:
        r = await client.post("/v1/episodes", json=task_body("demo/add", max_trials=3, memory="task"))
        episode_id = r.json()["id"]
        async with client.stream("GET", f"/v1/episodes/{episode_id}/events") as stream:
            text = "".join([chunk async for chunk in stream.aiter_text()])
        episode = await wait_terminal(client, episode_id)
        lessons = await client.get("/v1/memory/demo/add")
        metrics = (await client.get("/metrics")).text

    frames = parse_sse(text)
    types = [f["event"] for f in frames]
    assert types == [
        "episode.started",
        "attempt.generated",
        "attempt.judged",
        "reflection.created",
        "attempt.generated",
        "attempt.judged",
        "episode.finished",
    ]
    ids = [f["id"] for f in frames]
    assert ids == sorted(ids, key=lambda i: tuple(int(p) for p in i.split("-"))) and len(set(ids)) == len(ids)
    payloads = [json.loads(f["data"]) for f in frames]
    for payload, frame in zip(payloads, frames, strict=True):
        assert payload["episode_id"] == episode_id and payload["id"] == frame["id"]

    assert episode["status"] == "succeeded" and episode["stop_reason"] == "solved"
    attempts = episode["attempts"]
    assert isinstance(attempts, list) and [a["trial"] for a in attempts] == [1, 2]
    assert attempts[0]["feedback"]["status"] == "failed" and attempts[1]["hidden"]["status"] == "passed"
    assert attempts[0]["reflection"] == LESSON

    assert lessons.status_code == 200
    assert [x["text"] for x in lessons.json()["lessons"]] == [LESSON]
    assert 'rfx_episodes_finished_total{status="succeeded"} 1.0' in metrics
    verdicts = sum((a["feedback"] is not None) + (a["hidden"] is not None) for a in attempts)
    assert f"rfx_judge_seconds_count {float(verdicts)}" in metrics
    assert "rfx_episode_trials_sum 2.0" in metrics


class PriorityRecorder:
    """The real judge, noting the priority each call is made with (an argument of the judge port)."""

    def __init__(self, judge: Any) -> None:
        self.judge_ = judge
        self.priorities: list[float | None] = []

    async def judge(self, submission: Any, limits: Any = None, *, priority: datetime | None = None) -> Any:
        self.priorities.append(None if priority is None else priority.timestamp())
        return await self.judge_.judge(submission, limits, priority=priority)


async def test_the_worker_judges_each_episode_at_its_own_age(
    redis_url: str, key_prefix: str, fake_llm: Any, judge_factory: Any, sandbox_image: str
) -> None:
    """A busy judge pool serves the oldest episode first: the worker tags each judgement with its
    episode's acceptance time."""
    script_fail_then_fix(fake_llm)
    settings = service_settings(redis_url, key_prefix, fake_llm.base_url, judge_image=sandbox_image)
    recorder = PriorityRecorder(await judge_factory(mode="pooled"))
    async with serving(settings, recorder) as client:
        r = await client.post("/v1/episodes", json=task_body("demo/age", max_trials=3))
        episode = await wait_terminal(client, r.json()["id"])
    accepted = datetime.fromisoformat(episode["created_at"]).timestamp()
    # two trials, each judged on its visible tests (feedback) and its hidden tests (grading)
    assert recorder.priorities == [accepted] * 4
