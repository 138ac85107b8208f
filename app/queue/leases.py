"""The queue's write side of an episode: a worker's claim, its fenced snapshots and events, and the
hand-back. Each is one Lua script that checks the claim's fencing token first, so a worker whose
lease lapsed writes nothing (LeaseLost). The terminal transition is the store's (EpisodeStore.finish):
a cancel of a queued episode takes it too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from app.memory.episodes import EpisodeStore, LeaseLost, as_text, new_event_key, read_record
from app.reflexion.models import Episode, EventType, utcnow

_CLAIM = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {'gone'} end
if redis.call('HGET', KEYS[1], 'terminal') == '1' then return {'terminal'} end
local n
if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then
  n = tonumber(redis.call('HGET', KEYS[1], 'claims'))
else
  n = redis.call('HINCRBY', KEYS[1], 'claims', 1)
  redis.call('HSET', KEYS[1], 'owner', ARGV[1])
end
local f = redis.call('HMGET', KEYS[1], 'json', 'tenant', 'status')
return {'claimed', f[1], tostring(n), redis.call('EXISTS', KEYS[2]), f[2], f[3]}
"""

_SAVE = """
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return {'fenced'} end
if redis.call('HGET', KEYS[1], 'terminal') == '1' then return {'terminal'} end
if redis.call('HGET', KEYS[1], 'event') == ARGV[7] then
  return {'ok', redis.call('HGET', KEYS[1], 'event_id')}
end
local id = redis.call('XADD', KEYS[2], '*', 'type', ARGV[4], 'at', ARGV[5], 'data', ARGV[6])
redis.call('HSET', KEYS[1], 'json', ARGV[2], 'status', ARGV[3], 'event', ARGV[7], 'event_id', id)
return {'ok', id}
"""

_RELEASE = """
if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'owner', '')
  return 1
end
return 0
"""


@dataclass(frozen=True)
class Claim:
    outcome: Literal["claimed", "gone", "terminal"]
    episode: Episode | None = None
    claims: int = 0
    cancel_requested: bool = False  # asked before this claim: the worker settles it at once
    unreadable: str = ""  # the stored record failed validation: `episode` is what could be salvaged


class EpisodeLeases:
    """A worker's writes to the episodes it holds (reads and the terminal transition: `store`)."""

    def __init__(self, store: EpisodeStore) -> None:
        self.store = store
        self._claim = store.redis.register_script(_CLAIM)
        self._save = store.redis.register_script(_SAVE)
        self._release = store.redis.register_script(_RELEASE)

    async def claim(self, episode_id: str, token: str) -> Claim:
        result = await self._claim(
            keys=[self.store.keys.episode(episode_id), self.store.keys.episode_cancel(episode_id)],
            args=[token],
        )
        outcome = as_text(result[0])
        if outcome != "claimed":
            return Claim(outcome)  # type: ignore[arg-type]
        episode, unreadable = read_record(
            result[1], episode_id=episode_id, tenant=as_text(result[4]), status=as_text(result[5])
        )
        return Claim("claimed", episode, int(as_text(result[2])), result[3] == 1, unreadable)

    async def save(self, episode: Episode, token: str, type: EventType, data: dict[str, object]) -> str:
        """Persist the snapshot and append the event; LeaseLost if another worker owns it now."""
        if type == "episode.finished":
            event_id = await self.store.finish(episode, token=token, mode="owner", data=data)
            return event_id or ""
        result = await self._save(
            keys=[self.store.keys.episode(episode.id), self.store.keys.episode_events(episode.id)],
            args=[
                token,
                episode.model_dump_json(),
                episode.status,
                type,
                utcnow().isoformat(),
                json.dumps(data, default=str),
                new_event_key(),
            ],
        )
        outcome = as_text(result[0])
        if outcome == "fenced":
            raise LeaseLost(episode.id)
        return as_text(result[1]) if outcome == "ok" else ""

    async def release(self, episode_id: str, token: str) -> bool:
        """Hand an episode back (graceful shutdown): the next claimer resumes it."""
        return bool(await self._release(keys=[self.store.keys.episode(episode_id)], args=[token]))
