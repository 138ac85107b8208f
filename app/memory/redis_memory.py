"""Reflection memory on Redis: the lessons of an episode, and of every episode of a task.

Each lesson goes into two lists in one script: the episode's (expires with the episode, after
`episode_ttl_s`) and the task's (kept, capped at the newest `task_cap`), so a later episode of the
same task id can start from earlier lessons when asked (`memory=task`). Lists keep insertion order, so
"the last K lessons" is one LRANGE. Both lists are tenant-scoped through app/memory/keys.py. A lesson
is keyed by its episode and trial, so writing it again adds nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis.asyncio as aredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.errors import Unavailable
from app.memory.keys import Keys
from app.reflexion.models import Reflection
from app.settings import Settings

T = TypeVar("T")
TASK_CAP = 200

# A lesson is one per (episode, trial): written again (the client's retry after a lost reply, or a
# resumed episode redoing its reflection) it is not added twice.
_ADD = """
for _, item in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  local ok, old = pcall(cjson.decode, item)
  if ok and type(old) == 'table' and old['trial'] == tonumber(ARGV[4]) then return 0 end
end
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[3]), -1)
return 1
"""


class RedisMemory:
    """Implements the Memory port (app/reflexion/ports.py); also lists and clears for `/memory/{task_id}`."""

    def __init__(
        self, client: aredis.Redis, keys: Keys, *, episode_ttl_s: int, task_cap: int = TASK_CAP
    ) -> None:
        self.redis = client
        self.keys = keys
        self.episode_ttl_s = episode_ttl_s
        self.task_cap = task_cap
        self._add = client.register_script(_ADD)

    @classmethod
    def from_settings(cls, settings: Settings, client: aredis.Redis | None = None) -> RedisMemory:
        client = client or aredis.Redis.from_url(settings.redis_url, socket_connect_timeout=3)
        return cls(client, Keys(settings.key_prefix), episode_ttl_s=settings.episode_ttl_s)

    async def _call(self, operation: Callable[[], Awaitable[T]]) -> T:
        """Run one Redis operation; an unreachable Redis is the taxonomy's Unavailable, not a traceback."""
        try:
            return await operation()
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise Unavailable(f"reflection memory: Redis is not reachable ({exc})") from None

    async def ping(self) -> None:
        await self._call(self.redis.ping)

    async def add(self, tenant: str, reflection: Reflection) -> None:
        episode_key = self.keys.episode_lessons(tenant, reflection.episode_id)
        task_key = self.keys.task_lessons(tenant, reflection.task_id)
        record = reflection.model_dump_json()

        async def write() -> None:
            await self._add(
                keys=[episode_key, task_key],
                args=[record, self.episode_ttl_s, self.task_cap, reflection.trial],
            )

        await self._call(write)

    async def episode_lessons(self, tenant: str, episode_id: str, limit: int) -> list[Reflection]:
        return await self._last(self.keys.episode_lessons(tenant, episode_id), limit)

    async def task_lessons(self, tenant: str, task_id: str, limit: int) -> list[Reflection]:
        return await self._last(self.keys.task_lessons(tenant, task_id), limit)

    async def clear_task(self, tenant: str, task_id: str) -> int:
        """Forget a task's lessons; returns how many there were (0 when there were none)."""
        key = self.keys.task_lessons(tenant, task_id)

        async def clear() -> int:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.llen(key)
                pipe.delete(key)
                count, _ = await pipe.execute()
            return int(count)

        return await self._call(clear)

    async def _last(self, key: str, limit: int) -> list[Reflection]:
        """The newest `limit` lessons under `key`, oldest first (limit 0 means none)."""
        if limit <= 0:
            return []
        raw = await self._call(lambda: self.redis.lrange(key, -limit, -1))
        return [Reflection.model_validate_json(item) for item in raw]

    async def aclose(self) -> None:
        await self.redis.aclose()
