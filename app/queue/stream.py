"""The job stream: one Redis stream, one consumer group, leases as pending-entry idle time.

Why streams and not a job library: a consumer group already is an at-least-once queue with
per-consumer pending lists, `XAUTOCLAIM` turns an entry idle longer than the lease into a reclaim
(a SIGKILLed worker's jobs move to a live one), `XCLAIM ... IDLE` hands a job back on shutdown, and
the entry is appended in the same Lua script that stores the episode (accept + enqueue is atomic).
arq/rq keep their own job records and cannot share that script.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aredis
from redis.exceptions import ResponseError

from app.memory.keys import Keys

# Renew a lease only if this consumer still holds the entry (another may have reclaimed it).
_HEARTBEAT = """
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if #p == 0 or p[1][2] ~= ARGV[2] then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID')
return 1
"""


@dataclass(frozen=True)
class Job:
    stream_id: str
    episode_id: str


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{os.urandom(3).hex()}"


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _jobs(rows: Any) -> list[Job]:
    jobs = []
    for row_id, fields in rows or []:
        if fields is None:  # entry deleted under us
            continue
        f = {_s(k): _s(v) for k, v in fields.items()}
        jobs.append(Job(_s(row_id), f.get("episode", "")))
    return jobs


class JobStream:
    def __init__(self, client: aredis.Redis, keys: Keys, consumer: str | None = None) -> None:
        self.redis = client
        self.stream = keys.job_stream()
        self.group = keys.job_group()
        self.consumer = consumer or consumer_name()
        self._heartbeat = client.register_script(_HEARTBEAT)

    async def ensure_group(self) -> None:
        """Create the group reading from the start (id 0) so jobs added before it existed are seen."""
        try:
            await self.redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def prune_consumers(self, idle_ms: int) -> int:
        """Forget consumers of dead workers: nothing pending and silent for `idle_ms` (names never repeat)."""
        removed = 0
        consumers: Any = await self.redis.xinfo_consumers(self.stream, self.group)
        for c in consumers:
            name = _s(c.get("name"))
            idle, pending = int(c.get("idle") or 0), int(c.get("pending") or 0)
            if name != self.consumer and pending == 0 and idle > idle_ms:
                await self.redis.xgroup_delconsumer(self.stream, self.group, name)
                removed += 1
        return removed

    async def read(self, count: int, block_ms: int) -> list[Job]:
        reply: Any = await self.redis.xreadgroup(
            self.group, self.consumer, {self.stream: ">"}, count=count, block=block_ms
        )
        jobs: list[Job] = []
        for _stream, rows in reply or []:
            jobs.extend(_jobs(rows))
        return jobs

    async def own_pending(self, count: int) -> list[Job]:
        """Entries delivered to this consumer and not acknowledged (XREADGROUP from id 0). Among them
        is any delivery whose reply was lost: the client's retry read past it, so only this finds it
        before its lease lapses."""
        reply: Any = await self.redis.xreadgroup(self.group, self.consumer, {self.stream: "0"}, count=count)
        jobs: list[Job] = []
        for _stream, rows in reply or []:
            jobs.extend(_jobs(rows))
        return jobs

    async def reclaim(self, count: int, lease_ms: int) -> list[Job]:
        """Take over entries whose holder has not renewed its lease for `lease_ms`."""
        jobs: list[Job] = []
        cursor = "0-0"
        for _ in range(100):  # XAUTOCLAIM scans at most 10*count entries per call: follow the cursor
            reply: Any = await self.redis.xautoclaim(
                self.stream,
                self.group,
                self.consumer,
                min_idle_time=lease_ms,
                start_id=cursor,
                count=count - len(jobs),
            )
            jobs.extend(_jobs(reply[1]))
            cursor = _s(reply[0])
            if cursor == "0-0" or len(jobs) >= count:
                break
        return jobs

    async def renew(self, job: Job) -> bool:
        """Heartbeat: reset the entry's idle time; False when another consumer holds it now."""
        held = await self._heartbeat(keys=[self.stream], args=[self.group, self.consumer, job.stream_id])
        return bool(held)

    async def ack(self, job: Job) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xack(self.stream, self.group, job.stream_id)
            pipe.xdel(self.stream, job.stream_id)
            await pipe.execute()

    async def hand_back(self, job: Job, lease_ms: int) -> None:
        """Mark the entry idle for a whole lease, so the next XAUTOCLAIM anywhere takes it at once."""
        await self.redis.xclaim(
            self.stream, self.group, self.consumer, 0, [job.stream_id], idle=lease_ms, justid=True
        )

    async def depth(self) -> tuple[int, int]:
        """(entries never delivered, entries delivered and not yet acknowledged)."""
        try:
            groups: Any = await self.redis.xinfo_groups(self.stream)
        except ResponseError:
            return 0, 0
        for g in groups:
            if _s(g.get("name")) == self.group:
                return int(g.get("lag") or 0), int(g.get("pending") or 0)
        return 0, 0
