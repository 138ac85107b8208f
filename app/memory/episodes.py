"""The episode store and the durable job queue's write side, on Redis.

Every state change that must not be half-done is one Lua script, so it is atomic on the server:
accepting an episode (hash + tenant index + active sets + job-stream entry + idempotency key, after
the quota checks), a worker claiming it (fencing token in `owner`), each step (snapshot + event,
refused unless the caller still owns the episode) and the one terminal transition (refused once the
episode is terminal, which is what makes `episode.finished` happen exactly once under at-least-once
delivery). Key names come from app/memory/keys.py only.

Every write is idempotent under the client's retry of a command whose reply was lost (it had run):
accepting keys on the episode id (the same id again answers `created` without a second job entry),
a claim on its fencing token (the same token again is not a second delivery), a step and the
terminal transition on their event key (the same key again answers the first stream id).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import redis.asyncio as aredis
from pydantic import ValidationError

from app.errors import Conflict, InvalidInput, NotFound, RateLimited, Unavailable
from app.memory import stats
from app.memory.keys import Keys
from app.reflexion.ids import EPISODE_ID_RE
from app.reflexion.models import Episode, Event, Task, utcnow
from app.reflexion.vocabulary import EPISODE_STATUSES

IDEMPOTENCY_TTL_S = 24 * 3600

_CREATE = """
if redis.call('HGET', KEYS[1], 'tenant') == ARGV[2] then return {'created', ARGV[1]} end
if ARGV[7] ~= '' then
  local existing = redis.call('GET', KEYS[6])
  if existing then return {'existing', existing} end
end
if redis.call('SCARD', KEYS[3]) >= tonumber(ARGV[5]) then return {'quota', ''} end
if redis.call('SCARD', KEYS[4]) >= tonumber(ARGV[6]) then return {'full', ''} end
redis.call('HSET', KEYS[1], 'tenant', ARGV[2], 'json', ARGV[3], 'status', 'queued', 'owner', '',
           'terminal', '0', 'claims', 0, 'created', ARGV[4])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('SADD', KEYS[4], ARGV[1])
redis.call('XADD', KEYS[5], '*', 'episode', ARGV[1])
if ARGV[7] ~= '' then redis.call('SET', KEYS[6], ARGV[7], 'EX', ARGV[8]) end
return {'created', ARGV[1]}
"""

_FINISH = """
local owner = redis.call('HGET', KEYS[1], 'owner')
if not owner then return {'gone'} end
if redis.call('HGET', KEYS[1], 'terminal') == '1' then
  if redis.call('HGET', KEYS[1], 'event') == ARGV[9] then
    return {'ok', redis.call('HGET', KEYS[1], 'event_id')}
  end
  return {'terminal'}
end
if ARGV[8] == 'owner' and owner ~= ARGV[1] then return {'fenced'} end
if ARGV[8] == 'unowned' and owner ~= '' then return {'owned'} end
local id = redis.call('XADD', KEYS[2], '*', 'type', 'episode.finished', 'at', ARGV[4], 'data', ARGV[5])
redis.call('HSET', KEYS[1], 'json', ARGV[2], 'status', ARGV[3], 'terminal', '1', 'owner', '',
           'event', ARGV[9], 'event_id', id)
redis.call('SREM', KEYS[3], ARGV[7])
redis.call('SREM', KEYS[4], ARGV[7])
redis.call('EXPIRE', KEYS[1], ARGV[6])
redis.call('EXPIRE', KEYS[2], ARGV[6])
redis.call('EXPIRE', KEYS[5], ARGV[6])
for i = 10, #ARGV, 2 do redis.call('HINCRBYFLOAT', KEYS[6], ARGV[i], ARGV[i + 1]) end
return {'ok', id}
"""

FinishMode = Literal["owner", "unowned", "any"]


class LeaseLost(Exception):
    """This worker no longer owns the episode (its lease lapsed and another worker claimed it)."""


@dataclass(frozen=True)
class Page:
    data: list[Episode]
    has_more: bool
    next: str | None


def new_event_key() -> str:
    """The identity of one write of an event, made before the command is sent: the client's retry
    after a lost reply sends the same key, and the script then answers the first write's stream id
    instead of appending the event again."""
    return os.urandom(8).hex()


def request_fingerprint(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:32]


def as_text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def salvage(raw: str | bytes, *, episode_id: str, tenant: str, status: str, reason: str) -> Episode:
    """A valid record standing in for one this version cannot read (written by another release, or
    damaged), so that it can still be shown, finished and counted: whatever validates is kept."""
    try:
        data = json.loads(raw)
    except ValueError:
        data = {}
    data = data if isinstance(data, dict) else {}
    found = data.get("task")
    raw_task: dict[str, Any] = found if isinstance(found, dict) else {}
    try:
        task = Task.model_validate(raw_task)
    except ValidationError:
        task_id = raw_task.get("id")
        task_id = task_id[:200] if isinstance(task_id, str) and task_id else "unreadable"
        task = Task(id=task_id, prompt="", entry_point="unreadable", tests="")
    created = data.get("created_at")
    try:
        created_at = datetime.fromisoformat(created) if isinstance(created, str) else utcnow()
    except ValueError:
        created_at = utcnow()
    return Episode(
        id=episode_id,
        tenant=tenant,
        task=task,
        status=status if status in EPISODE_STATUSES else "queued",
        created_at=created_at,
        error=f"the stored episode record could not be read: {reason}"[:500],
    )


def read_record(raw: str | bytes, *, episode_id: str, tenant: str, status: str) -> tuple[Episode, str]:
    """The stored record as an Episode, and why it had to be salvaged ('' when it validated)."""
    try:
        return Episode.model_validate_json(raw), ""
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0] if errors else None
        where = ".".join(str(part) for part in first["loc"]) if first else ""
        reason = f"{len(errors)} validation error(s), first at {where or 'the top'}: "
        reason += first["msg"] if first else str(exc)
        return salvage(raw, episode_id=episode_id, tenant=tenant, status=status, reason=reason), reason


class EpisodeStore:
    """Episodes and their event streams: the API's side (accept, read, list, cancel, delete) and the
    one terminal transition every side uses. A worker's fenced writes (claim, save, release) are the
    queue's own: app/queue/leases.py."""

    def __init__(self, client: aredis.Redis, keys: Keys, *, ttl_s: int) -> None:
        self.redis = client
        self.keys = keys
        self.ttl_s = ttl_s
        self._create = client.register_script(_CREATE)
        self._finish = client.register_script(_FINISH)

    # ---- API side -------------------------------------------------------------------------
    async def create(
        self,
        episode: Episode,
        *,
        quota: int,
        queue_max: int,
        idempotency_key: str | None = None,
        fingerprint: str = "",
    ) -> tuple[str, bool]:
        """Persist and enqueue atomically. Returns (episode id, created); a replayed key gives the old id."""
        k = self.keys
        idem_key = k.idempotency(episode.tenant, idempotency_key) if idempotency_key else k.pattern()
        idem_value = f"{episode.id}|{fingerprint}" if idempotency_key else ""
        created_ms = int(episode.created_at.timestamp() * 1000)
        result = await self._create(
            keys=[
                k.episode(episode.id),
                k.tenant_episodes(episode.tenant),
                k.tenant_active(episode.tenant),
                k.active_episodes(),
                k.job_stream(),
                idem_key,
            ],
            args=[
                episode.id,
                episode.tenant,
                episode.model_dump_json(),
                created_ms,
                quota,
                queue_max,
                idem_value,
                IDEMPOTENCY_TTL_S,
            ],
        )
        outcome, value = as_text(result[0]), as_text(result[1])
        if outcome == "existing":
            old_id, _, old_fp = value.partition("|")
            if old_fp != fingerprint:
                raise Conflict("this Idempotency-Key was already used with a different request body")
            return old_id, False
        if outcome == "quota":
            raise RateLimited(
                f"tenant quota reached: at most {quota} queued or running episodes",
                headers={"Retry-After": "10"},
            )
        if outcome == "full":
            raise Unavailable("the episode queue is full; retry later", headers={"Retry-After": "10"})
        return value, True

    async def get(self, tenant: str, episode_id: str) -> Episode:
        """The episode, if it exists and belongs to `tenant` (another tenant's is NotFound, not Forbidden)."""
        if not EPISODE_ID_RE.match(episode_id):
            raise NotFound(f"episode {episode_id!r} not found")
        owner_tenant, raw, status = await self.redis.hmget(
            self.keys.episode(episode_id), ["tenant", "json", "status"]
        )
        if raw is None or owner_tenant is None or as_text(owner_tenant) != tenant:
            raise NotFound(f"episode {episode_id!r} not found")
        return read_record(raw, episode_id=episode_id, tenant=tenant, status=as_text(status))[0]

    async def list_page(self, tenant: str, *, limit: int, after: str | None, status: str | None) -> Page:
        if after is not None and not EPISODE_ID_RE.match(after):
            raise InvalidInput("after: not an episode id (use the `next` value of the previous page)")
        index = self.keys.tenant_episodes(tenant)
        found: list[Episode] = []
        cursor = f"({after}" if after else "+"
        batch = max(limit + 1, 50)
        while len(found) <= limit:
            ids = [
                as_text(i)
                for i in await self.redis.zrange(
                    index, cursor, "-", desc=True, bylex=True, offset=0, num=batch
                )
            ]
            if not ids:
                break
            async with self.redis.pipeline(transaction=False) as pipe:
                for episode_id in ids:
                    pipe.hmget(self.keys.episode(episode_id), ["status", "json"])
                rows = await pipe.execute()
            expired = []
            for episode_id, (st, raw) in zip(ids, rows, strict=True):
                if raw is None:
                    expired.append(episode_id)
                elif status is None or as_text(st) == status:
                    found.append(
                        read_record(raw, episode_id=episode_id, tenant=tenant, status=as_text(st))[0]
                    )
                    if len(found) > limit:
                        break
            if expired:
                await self.redis.zrem(index, *expired)  # terminal episodes whose TTL ran out
            cursor = f"({ids[-1]}"
            if len(ids) < batch:
                break
        page = found[:limit]
        has_more = len(found) > limit
        return Page(page, has_more, page[-1].id if has_more and page else None)

    async def delete(self, tenant: str, episode_id: str) -> None:
        episode = await self.get(tenant, episode_id)
        if not episode.terminal:
            raise Conflict(f"episode {episode_id} is {episode.status}: cancel it before deleting it")
        k = self.keys
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(k.episode(episode_id), k.episode_events(episode_id), k.episode_cancel(episode_id))
            pipe.zrem(k.tenant_episodes(tenant), episode_id)
            await pipe.execute()

    async def request_cancel(self, tenant: str, episode_id: str) -> Episode:
        """Idempotent. A queued episode ends here and now; a running one is told to stop via pub/sub."""
        episode = await self.get(tenant, episode_id)
        if episode.terminal:
            return episode
        cancelled = episode.model_copy(
            update={"status": "cancelled", "stop_reason": "cancelled", "finished_at": utcnow()}
        )
        if await self.finish(cancelled, token="", mode="unowned") is not None:
            return cancelled
        # owned by a worker: leave a flag (seen at claim and heartbeat) and tell the workers now
        await self.redis.set(self.keys.episode_cancel(episode_id), "1", ex=self.ttl_s)
        await self.redis.publish(self.keys.cancel_channel(), episode_id)
        return await self.get(tenant, episode_id)

    async def cancel_requested(self, episode_id: str) -> bool:
        return bool(await self.redis.exists(self.keys.episode_cancel(episode_id)))

    async def events(self, episode_id: str, after: str, count: int = 200) -> list[Event]:
        """Events strictly after stream id `after` ('0' for all), oldest first."""
        start = f"({after}" if after != "0" else "-"
        rows: Any = await self.redis.xrange(self.keys.episode_events(episode_id), start, "+", count=count)
        return [self._event(episode_id, row_id, fields) for row_id, fields in rows]

    async def wait_events(self, episode_id: str, after: str, block_ms: int) -> list[Event]:
        reply: Any = await self.redis.xread(
            {self.keys.episode_events(episode_id): after}, count=200, block=block_ms
        )
        out: list[Event] = []
        for _stream, rows in reply or []:
            out.extend(self._event(episode_id, row_id, fields) for row_id, fields in rows)
        return out

    @staticmethod
    def _event(episode_id: str, row_id: Any, fields: dict[Any, Any]) -> Event:
        f = {as_text(k): as_text(v) for k, v in fields.items()}
        return Event(
            id=as_text(row_id),
            type=f["type"],
            episode_id=episode_id,
            at=datetime.fromisoformat(f["at"]),
            data=json.loads(f["data"]),
        )

    async def active_count(self) -> int:
        return int(await self.redis.scard(self.keys.active_episodes()))

    async def finish(
        self, episode: Episode, *, token: str, mode: FinishMode, data: dict[str, object] | None = None
    ) -> str | None:
        """The one terminal transition. Returns the event id, or None when it was already terminal."""
        k = self.keys
        payload = episode.finished_data() if data is None else data
        # The episode's metrics go in the same script: counted exactly when it becomes terminal,
        # even if this process dies the moment the script returns.
        increments = [str(part) for item in stats.episode_increments(episode).items() for part in item]
        result = await self._finish(
            keys=[
                k.episode(episode.id),
                k.episode_events(episode.id),
                k.tenant_active(episode.tenant),
                k.active_episodes(),
                k.episode_cancel(episode.id),
                k.stats(),
            ],
            args=[
                token,
                episode.model_dump_json(),
                episode.status,
                utcnow().isoformat(),
                json.dumps(payload, default=str),
                self.ttl_s,
                episode.id,
                mode,
                new_event_key(),
                *increments,
            ],
        )
        outcome = as_text(result[0])
        if outcome == "fenced":
            raise LeaseLost(episode.id)
        return as_text(result[1]) if outcome == "ok" else None
