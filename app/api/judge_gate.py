"""Admission for `POST /v1/judge`: a per-tenant rate limit and a bounded wait for the API's own pool.

The API process holds its own small judge pool, apart from the workers' pools, so synchronous judge
calls can never take containers from episodes; when that pool is busy and its short waiting line is
full, callers get 503 + Retry-After at once instead of piling up (backpressure, not a slow queue).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Protocol

import redis.asyncio as aredis

from app.errors import RateLimited, Unavailable
from app.memory.keys import Keys
from app.reflexion.ports import Judge


class ClosableJudge(Judge, Protocol):
    """The gate's own pool: it judges and is closed with the app."""

    async def aclose(self) -> None: ...


class JudgeGate:
    def __init__(
        self,
        client: aredis.Redis,
        keys: Keys,
        *,
        per_minute: int,
        workers: int,
        waiting: int,
        make_judge: Callable[[], Awaitable[ClosableJudge]],
    ) -> None:
        self.redis = client
        self.keys = keys
        self.per_minute = per_minute
        self.capacity = workers
        self.max_waiting = waiting
        self._slots = asyncio.Semaphore(workers)
        self._admitted = 0
        self._make_judge = make_judge
        self._judge: ClosableJudge | None = None
        self._lock = asyncio.Lock()

    async def check_rate(self, tenant: str) -> None:
        now = time.time()
        window = int(now // 60)
        key = self.keys.tenant_judge_rate(tenant, window)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, 120)
            count, _ = await pipe.execute()
        if int(count) > self.per_minute:
            retry = max(1, int(60 - now % 60) + 1)
            raise RateLimited(
                f"judge rate limit: at most {self.per_minute} calls per minute per tenant",
                headers={"Retry-After": str(retry)},
            )

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[Judge]:
        if self._admitted >= self.capacity + self.max_waiting:
            raise Unavailable("the judge pool is saturated; retry shortly", headers={"Retry-After": "1"})
        self._admitted += 1
        try:
            async with self._slots:
                yield await self.judge()
        finally:
            self._admitted -= 1

    async def judge(self) -> Judge:
        async with self._lock:
            if self._judge is None:
                self._judge = await self._make_judge()
            return self._judge

    async def aclose(self) -> None:
        if self._judge is not None:
            await self._judge.aclose()
            self._judge = None
