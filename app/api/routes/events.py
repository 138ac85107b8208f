"""`GET /v1/episodes/{id}/events`: the episode's steps as Server-Sent Events.

History is replayed from the episode's Redis stream, then the stream is followed live (XREAD
BLOCK). The SSE `id:` is the stream id, which only grows, so a client that reconnects with
`Last-Event-ID` gets every later event exactly once and in order. The response ends after
`episode.finished`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from sse_starlette import EventSourceResponse, ServerSentEvent

from app.api.deps import ServicesDep, TenantDep
from app.api.schemas import PROBLEM
from app.errors import NotFound
from app.memory.episodes import EpisodeStore
from app.reflexion.models import Event

router = APIRouter(prefix="/episodes", tags=["events"])

STREAM_ID_PATTERN = r"^([0-9]{1,20}-[0-9]{1,20})?$"  # empty: from the start
BLOCK_MS = 5000


def _sse(event: Event) -> ServerSentEvent:
    return ServerSentEvent(data=event.model_dump_json(), event=event.type, id=event.id)


async def follow(
    store: EpisodeStore, tenant: str, episode_id: str, after: str
) -> AsyncIterator[ServerSentEvent]:
    async for event in episode_events(store, tenant, episode_id, after):
        yield _sse(event)


async def episode_events(
    store: EpisodeStore, tenant: str, episode_id: str, after: str = "0", block_ms: int = BLOCK_MS
) -> AsyncIterator[Event]:
    """Replay, then follow; stop after episode.finished or when the episode disappears (deleted/expired).

    Also what the OpenAI-compatible route and the MCP tools wait on, so every follower reads the
    same stream the same way."""
    last = after
    while True:
        batch = await store.events(episode_id, last)
        if not batch:
            break
        for event in batch:
            last = event.id
            yield event
            if event.type == "episode.finished":
                return
    while not await _nothing_more(store, tenant, episode_id, last):
        batch = await store.wait_events(episode_id, last if last != "0" else "0-0", block_ms)
        for event in batch:
            last = event.id
            yield event
            if event.type == "episode.finished":
                return


async def _nothing_more(store: EpisodeStore, tenant: str, episode_id: str, last: str) -> bool:
    """True when no event can follow `last`: the episode is gone, or terminal with nothing after it.

    Checked before every blocking wait, so a client that resumes after `episode.finished` (or
    after the last event of a finished episode) gets an empty stream that ends at once.
    """
    try:
        episode = await store.get(tenant, episode_id)
    except NotFound:  # deleted or expired
        return True
    return episode.terminal and not await store.events(episode_id, last)


@router.get(
    "/{episode_id}/events",
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "the event stream"},
        401: PROBLEM,
        404: PROBLEM,
        422: PROBLEM,
    },
    summary="Stream the episode's events (SSE; resumable with Last-Event-ID)",
)
async def stream_events(
    episode_id: str,
    services: ServicesDep,
    tenant: TenantDep,
    last_event_id: Annotated[str, Header(pattern=STREAM_ID_PATTERN)] = "",
    after: Annotated[str, Query(pattern=STREAM_ID_PATTERN, description="same as Last-Event-ID")] = "",
) -> Any:
    start = last_event_id or after or "0"
    await services.store.get(tenant, episode_id)  # 404 for unknown ids and other tenants' episodes
    return EventSourceResponse(
        follow(services.store, tenant, episode_id, start),
        ping=15,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
