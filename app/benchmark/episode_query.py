"""`rfx export --episodes QUERY`: pick finished episodes from the service's Redis episode store.

QUERY is `all`, or comma-separated `key=value` filters: `status=succeeded`, `strategy=reflexion`,
`task=HumanEval/0` (exact id; a trailing `*` matches a prefix), `limit=N` (default 1000, newest
first), or bare episode ids (`ep_...`). Only terminal episodes are exported: a running one has no final
answer yet. Everything stays within one tenant (`--tenant`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import redis.asyncio as aredis
from redis.exceptions import RedisError

from app.errors import InvalidInput, Unavailable
from app.memory.episodes import EpisodeStore
from app.memory.keys import Keys
from app.reflexion.ids import EPISODE_ID_RE
from app.reflexion.models import Episode
from app.reflexion.vocabulary import TERMINAL_STATUSES
from app.settings import Settings

PAGE = 200
STATUSES = TERMINAL_STATUSES


@dataclass
class EpisodeQuery:
    ids: list[str] = field(default_factory=list)
    status: str | None = None
    strategy: str | None = None
    task: str | None = None
    limit: int = 1000

    def matches(self, episode: Episode) -> bool:
        if not episode.terminal:
            return False
        if self.strategy and episode.config.strategy != self.strategy:
            return False
        if self.task:
            if self.task.endswith("*"):
                return episode.task.id.startswith(self.task[:-1])
            return episode.task.id == self.task
        return True


def parse_query(text: str) -> EpisodeQuery:
    query = EpisodeQuery()
    if text.strip() == "all":
        return query
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep:
            if not EPISODE_ID_RE.match(part):
                raise InvalidInput(f"--episodes: {part!r} is neither key=value nor an episode id")
            query.ids.append(part)
        elif key == "status":
            if value not in STATUSES:
                raise InvalidInput(f"--episodes: status must be one of {', '.join(STATUSES)}")
            query.status = value
        elif key == "strategy":
            query.strategy = value
        elif key == "task":
            query.task = value
        elif key == "limit":
            if not value.isdigit() or int(value) < 1:
                raise InvalidInput("--episodes: limit must be a positive integer")
            query.limit = int(value)
        else:
            raise InvalidInput(f"--episodes: unknown filter {key!r} (status, strategy, task, limit)")
    return query


async def query_episodes(settings: Settings, tenant: str, query: EpisodeQuery) -> list[Episode]:
    client = aredis.Redis.from_url(settings.redis_url, socket_connect_timeout=3)
    store = EpisodeStore(client, Keys(settings.key_prefix), ttl_s=settings.episode_ttl_s)
    try:
        if query.ids:
            found = [await store.get(tenant, i) for i in query.ids]
            return [e for e in found if query.matches(e)]
        episodes: list[Episode] = []
        after: str | None = None
        while len(episodes) < query.limit:
            page = await store.list_page(tenant, limit=PAGE, after=after, status=query.status)
            episodes += [e for e in page.data if query.matches(e)]
            if not page.has_more:
                break
            after = page.next
        return episodes[: query.limit]
    except RedisError as exc:
        raise Unavailable(f"cannot read episodes from Redis (RFX_REDIS_URL): {exc}") from None
    finally:
        await client.aclose()
