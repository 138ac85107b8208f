"""In-process reflection memory for benchmark runs.

Why not Redis: a benchmark is one process, its lessons matter only while it runs, and `rfx bench`
should not need a Redis server. It implements the same Memory port as app/memory/redis_memory.py
(newest last, per episode and per task), guarded by one asyncio lock; per-task lessons are capped
like the Redis store's so a long run cannot grow without bound.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

from app.reflexion.models import Reflection

TASK_LESSONS_CAP = 50


class InProcessMemory:
    def __init__(self) -> None:
        self._episodes: dict[tuple[str, str], list[Reflection]] = defaultdict(list)
        self._tasks: dict[tuple[str, str], list[Reflection]] = defaultdict(list)
        self._lock = asyncio.Lock()

    async def add(self, tenant: str, reflection: Reflection) -> None:
        async with self._lock:
            self._episodes[(tenant, reflection.episode_id)].append(reflection)
            lessons = self._tasks[(tenant, reflection.task_id)]
            lessons.append(reflection)
            del lessons[:-TASK_LESSONS_CAP]

    async def episode_lessons(self, tenant: str, episode_id: str, limit: int) -> list[Reflection]:
        async with self._lock:
            return list(self._episodes.get((tenant, episode_id), [])[-limit:]) if limit > 0 else []

    async def task_lessons(self, tenant: str, task_id: str, limit: int) -> list[Reflection]:
        async with self._lock:
            return list(self._tasks.get((tenant, task_id), [])[-limit:]) if limit > 0 else []

    async def clear_task(self, tenant: str, task_id: str) -> int:
        async with self._lock:
            return len(self._tasks.pop((tenant, task_id), []))
