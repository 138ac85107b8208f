"""POST /v1/judge: a synchronous verdict from the real sandbox; rate limit and saturation answers."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.integration.apiserver import running_app, service_settings


def judged(metrics: str) -> float:
    line = next(ln for ln in metrics.splitlines() if ln.startswith("rfx_api_judge_seconds_count "))
    return float(line.split()[1])


TESTS = "def check(candidate):\n    assert candidate(2, 3) == 5\n"


async def test_judge_gives_verdicts(redis_url: str, key_prefix: str, sandbox_image: str) -> None:
    settings = service_settings(redis_url, key_prefix, judge_image=sandbox_image)
    async with running_app(settings) as base, httpx.AsyncClient(base_url=base, timeout=60) as client:
        before = judged((await client.get("/metrics")).text)
        ok = await client.post(
            "/v1/judge",
            json={"code": "def add(a, b):\n    return a + b\n", "tests": TESTS, "entry_point": "add"},
        )
        wrong = await client.post(
            "/v1/judge",
            json={"code": "def add(a, b):\n    return a * b\n", "tests": TESTS, "entry_point": "add"},
        )
        asserts = await client.post(
            "/v1/judge",
            json={
                "code": "def add(a, b):\n    return a + b\n",
                "asserts": ["assert add(1, 1) == 2", "assert add(1, 1) == 3"],
            },
        )
        metrics = (await client.get("/metrics")).text
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "passed"
    assert wrong.json()["status"] == "failed"
    results = asserts.json()["tests"]
    assert [t["passed"] for t in results] == [True, False]
    assert judged(metrics) == before + 3


async def test_judge_rate_limit_and_saturation(redis_url: str, key_prefix: str, sandbox_image: str) -> None:
    body = {"code": "import time\ndef f():\n    time.sleep(2)\n", "asserts": ["f()"]}
    settings = service_settings(
        redis_url,
        key_prefix,
        judge_image=sandbox_image,
        api_judge_workers=1,
        api_judge_waiting=0,
        quota_judge_per_min=4,
    )
    async with running_app(settings) as base, httpx.AsyncClient(base_url=base, timeout=60) as client:
        # one pool slot and no waiting line: of three simultaneous calls, at least one is turned away
        replies: list[Any] = await asyncio.gather(*(client.post("/v1/judge", json=body) for _ in range(3)))
        codes = sorted(r.status_code for r in replies)
        busy = [r for r in replies if r.status_code == 503]
        # the per-minute quota (4) is used up by the three calls plus this one; the next is 429
        await client.post("/v1/judge", json={"code": "x = 1", "asserts": ["assert x == 1"]})
        limited = await client.post("/v1/judge", json={"code": "x = 1", "asserts": ["assert x == 1"]})
    assert codes[0] == 200 and busy, codes
    assert busy[0].headers["retry-after"] == "1"
    assert busy[0].headers["content-type"].startswith("application/problem+json")
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert "per minute" in limited.json()["detail"]
