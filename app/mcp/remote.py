"""`rfx mcp --url`: the tools' backend is a running server, reached with the API key as Bearer.

Every error the server answers becomes the matching ReflexionError carrying the problem's one-line
`detail`, so a tool error over stdio reads exactly as it would over the server's own `/mcp`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx

from app.api.schemas import EpisodeCreate, EpisodePage, JudgeRequest, MemoryView
from app.errors import Unavailable
from app.http_errors import error_from_response
from app.reflexion.models import Episode, Event, Verdict

MAX_RECONNECTS = 5


class RemoteBackend:
    def __init__(self, url: str, api_key: str | None, timeout_s: float = 60.0) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.url = url.rstrip("/")
        self.http = httpx.AsyncClient(base_url=self.url, headers=headers, timeout=timeout_s)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise Unavailable(f"cannot reach the server at {self.url}: {exc}") from None
        if response.status_code >= 400:
            raise error_from_response(response)
        return response.json()

    async def check(self) -> None:
        """Fail at start-up, not at the first tool call, when the server or the key is wrong."""
        await self._call("GET", "/v1/episodes", params={"limit": 1})

    async def judge(self, body: JudgeRequest) -> Verdict:
        data = await self._call("POST", "/v1/judge", json=body.model_dump(mode="json", exclude_none=True))
        return Verdict.model_validate(data)

    async def submit(self, body: EpisodeCreate) -> Episode:
        data = await self._call("POST", "/v1/episodes", json=body.model_dump(mode="json", exclude_none=True))
        return Episode.model_validate(data)

    async def get(self, episode_id: str) -> Episode:
        return Episode.model_validate(await self._call("GET", f"/v1/episodes/{quote(episode_id, safe='')}"))

    async def page(self, limit: int, after: str | None, status: str | None) -> EpisodePage:
        params = {
            k: v for k, v in {"limit": limit, "after": after, "status": status}.items() if v is not None
        }
        return EpisodePage.model_validate(await self._call("GET", "/v1/episodes", params=params))

    async def cancel(self, episode_id: str) -> Episode:
        path = f"/v1/episodes/{quote(episode_id, safe='')}/cancel"
        return Episode.model_validate(await self._call("POST", path))

    async def lessons(self, task_id: str) -> MemoryView:
        return MemoryView.model_validate(await self._call("GET", f"/v1/memory/{quote(task_id, safe='/')}"))

    async def events(self, episode_id: str) -> AsyncIterator[Event]:
        """The episode's events until episode.finished, resuming with Last-Event-ID after a drop."""
        last, failures = "", 0
        path = f"/v1/episodes/{quote(episode_id, safe='')}/events"
        while True:
            headers = {"Accept": "text/event-stream", **({"Last-Event-ID": last} if last else {})}
            try:
                async with self.http.stream(
                    "GET", path, headers=headers, timeout=httpx.Timeout(10.0, read=60.0)
                ) as response:
                    if response.status_code >= 400:
                        await response.aread()
                        raise error_from_response(response)
                    data: list[str] = []
                    async for line in response.aiter_lines():
                        if line.startswith("data:"):
                            data.append(line[5:].removeprefix(" "))
                        elif not line and data:
                            event = Event.model_validate(json.loads("\n".join(data)))
                            data, last, failures = [], event.id, 0
                            yield event
                            if event.type == "episode.finished":
                                return
                if (await self.get(episode_id)).terminal:
                    return
            except httpx.TransportError as exc:
                failures += 1
                if failures > MAX_RECONNECTS:
                    raise Unavailable(f"lost the event stream of {episode_id}: {exc}") from None
