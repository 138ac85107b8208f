"""Service-wide counters in one Redis hash, so /metrics shows what every worker process did.

Workers are separate processes on separate hosts; a Prometheus registry in each would need a scrape
per worker. Instead the one terminal transition of an episode (exactly once per episode) adds that
episode's figures here, inside the same Lua script (app/memory/episodes.py), and the API renders
them as Prometheus counters and histograms.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aredis

from app.reflexion.models import Episode

LATENCY_BUCKETS_MS = (50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000)
TRIAL_BUCKETS = (1, 2, 3, 5, 10, 20)


def _bucket(value: float, bounds: tuple[int, ...]) -> str:
    for bound in bounds:
        if value <= bound:
            return str(bound)
    return "inf"


def episode_increments(episode: Episode) -> dict[str, float]:
    inc: dict[str, float] = {}

    def add(field: str, amount: float = 1) -> None:
        inc[field] = inc.get(field, 0) + amount

    add(f"episodes:{episode.status}")
    trials = len(episode.attempts)
    add(f"trials:le:{_bucket(trials, TRIAL_BUCKETS)}")
    add("trials:sum", trials)
    add("trials:count")
    for attempt in episode.attempts:
        if attempt.latency_ms > 0:
            add(f"llm_ms:le:{_bucket(attempt.latency_ms, LATENCY_BUCKETS_MS)}")
            add("llm_ms:sum", attempt.latency_ms)
            add("llm_ms:count")
        for verdict in (attempt.feedback, attempt.hidden):
            if verdict is not None:
                add(f"judge_ms:le:{_bucket(verdict.duration_ms, LATENCY_BUCKETS_MS)}")
                add("judge_ms:sum", verdict.duration_ms)
                add("judge_ms:count")
    add("tokens:prompt", episode.usage.prompt_tokens)
    add("tokens:completion", episode.usage.completion_tokens)
    return inc


async def read(client: aredis.Redis, key: str) -> dict[str, float]:
    raw: Any = await client.hgetall(key)
    return {(k.decode() if isinstance(k, bytes) else k): float(v) for k, v in raw.items()}
