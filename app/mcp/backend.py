"""What the MCP tools act on: the service of this process, or a running server over HTTP.

The tools are the same whichever transport carries them; a `Backend` is bound to one tenant, so a
tool can never name another tenant's episode. `ServiceBackend` calls the same functions as the HTTP
routes (so checks, quotas and error texts are the API's own); `RemoteBackend` (app/mcp/remote.py)
sends the API's requests and raises the API's one-line details.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from app.api.deps import Services
from app.api.routes.episodes import submit
from app.api.routes.events import episode_events
from app.api.routes.judge import judge_submission
from app.api.routes.memory import task_lessons
from app.api.schemas import EpisodeCreate, EpisodePage, JudgeRequest, MemoryView
from app.reflexion.models import Episode, Event, Verdict


class Backend(Protocol):
    async def judge(self, body: JudgeRequest) -> Verdict: ...

    async def submit(self, body: EpisodeCreate) -> Episode: ...

    async def get(self, episode_id: str) -> Episode: ...

    async def page(self, limit: int, after: str | None, status: str | None) -> EpisodePage: ...

    async def cancel(self, episode_id: str) -> Episode: ...

    async def lessons(self, task_id: str) -> MemoryView: ...

    def events(self, episode_id: str) -> AsyncIterator[Event]: ...


class ServiceBackend:
    """This process's services (the API's, or `rfx mcp`'s own in-process ones) for one tenant."""

    def __init__(self, services: Services, tenant: str) -> None:
        self.services, self.tenant = services, tenant

    async def judge(self, body: JudgeRequest) -> Verdict:
        return await judge_submission(self.services, self.tenant, body)

    async def submit(self, body: EpisodeCreate) -> Episode:
        episode, _ = await submit(self.services, self.tenant, body)
        return episode

    async def get(self, episode_id: str) -> Episode:
        return await self.services.store.get(self.tenant, episode_id)

    async def page(self, limit: int, after: str | None, status: str | None) -> EpisodePage:
        found = await self.services.store.list_page(self.tenant, limit=limit, after=after, status=status)
        return EpisodePage(data=found.data, has_more=found.has_more, next=found.next)

    async def cancel(self, episode_id: str) -> Episode:
        return await self.services.store.request_cancel(self.tenant, episode_id)

    async def lessons(self, task_id: str) -> MemoryView:
        return await task_lessons(self.services, self.tenant, task_id)

    def events(self, episode_id: str) -> AsyncIterator[Event]:
        return episode_events(self.services.store, self.tenant, episode_id)
