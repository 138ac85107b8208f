"""The asynchronous client: `AsyncClient(base_url, api_key)`, the twin of client.py.

Same methods, same behaviour, awaited: built on the same shared pieces in _core.py so the two
surfaces stay identical (the tests run one scenario through both).
"""

from __future__ import annotations

import asyncio
import builtins
import time
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import Any

import httpx

from reflexion_client import _core
from reflexion_client._sse import SSEParser
from reflexion_client.errors import TransportError, WaitTimeout
from reflexion_client.models import Episode, EpisodePage, Event, Task, Verdict

STREAM_TIMEOUT = httpx.Timeout(10.0, read=60.0)  # the server pings well within a minute


class AsyncClient:
    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        retries: int = 3,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        url, key = _core.resolve_config(base_url, api_key)
        self.base_url = url
        self.retries = retries
        self._http = httpx.AsyncClient(
            base_url=url,
            headers=_core.default_headers(key),
            timeout=timeout,
            transport=transport or httpx.AsyncHTTPTransport(retries=2),
        )

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _request(self, method: str, path: str, *, retry: bool, **kwargs: Any) -> httpx.Response:
        """Send once, or (for requests safe to repeat) retry 502/503/504 and broken connections."""
        attempts = self.retries + 1 if retry else 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            delay: float | None = None
            try:
                response = await self._http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                if last:
                    raise TransportError(f"{method} {self.base_url}{path}: {exc}") from exc
            else:
                if last or response.status_code not in _core.RETRYABLE_STATUSES:
                    return response
                delay = _core.retry_after(response)
            await asyncio.sleep(_core.backoff(attempt, delay))
        raise AssertionError("unreachable")

    # ---- episodes -----------------------------------------------------------------------------
    async def submit(
        self,
        task: Task | Mapping[str, Any],
        *,
        config: Mapping[str, Any] | None = None,
        actor_model: str | None = None,
        reflector_model: str | None = None,
        idempotency_key: str | None = None,
    ) -> Episode:
        """Queue an episode (202); the returned record is `queued`. Safe to retry: see Idempotency-Key."""
        response = await self._request(
            "POST",
            "/v1/episodes",
            retry=True,
            json=_core.submit_body(task, config, actor_model, reflector_model),
            headers=_core.submit_headers(idempotency_key),
        )
        return _core.parse(Episode, response)

    async def get(self, episode_id: str) -> Episode:
        return _core.parse(Episode, await self._request("GET", _core.episode_path(episode_id), retry=True))

    async def list(
        self, *, limit: int | None = None, after: str | None = None, status: str | None = None
    ) -> EpisodePage:
        params = _core.list_params(limit, after, status)
        return _core.parse(EpisodePage, await self._request("GET", "/v1/episodes", retry=True, params=params))

    async def iter_episodes(
        self, *, status: str | None = None, page_size: int = 50
    ) -> AsyncIterator[Episode]:
        """Every episode of the tenant, newest first, following the cursor page by page."""
        after: str | None = None
        while True:
            page = await self.list(limit=page_size, after=after, status=status)
            for episode in page.data:
                yield episode
            if not page.has_more or not page.next:
                return
            after = page.next

    async def cancel(self, episode_id: str) -> Episode:
        path = f"{_core.episode_path(episode_id)}/cancel"
        return _core.parse(Episode, await self._request("POST", path, retry=True))  # idempotent

    async def delete(self, episode_id: str) -> None:
        _core.raise_for_problem(await self._request("DELETE", _core.episode_path(episode_id), retry=True))

    async def wait(
        self,
        episode_id: str,
        *,
        timeout: float = 600.0,  # noqa: ASYNC109 - the sync twin's signature; a poll deadline
        poll_interval: float = 0.5,
    ) -> Episode:
        """Block until the episode is terminal; WaitTimeout after `timeout` seconds (it keeps running)."""
        deadline = time.monotonic() + timeout
        interval = min(0.1, poll_interval)
        while True:
            episode = await self.get(episode_id)
            if episode.terminal:
                return episode
            if time.monotonic() >= deadline:
                raise WaitTimeout(f"episode {episode_id} still {episode.status} after {timeout:g} s")
            await asyncio.sleep(min(interval, max(0.0, deadline - time.monotonic())))
            interval = min(interval * 2, poll_interval)

    async def stream_events(
        self, episode_id: str, *, last_event_id: str | None = None, max_reconnects: int = 5
    ) -> AsyncIterator[Event]:
        """Yield the episode's events until `episode.finished`, resuming after drops.

        Pass `last_event_id` to start after an event already seen. `max_reconnects` counts
        consecutive failed connections; any received event resets it.
        """
        path = f"{_core.episode_path(episode_id)}/events"
        failures = 0
        while True:
            parser = SSEParser()
            headers = {"Accept": "text/event-stream"}
            if last_event_id:
                headers["Last-Event-ID"] = last_event_id
            reason = "stream ended before episode.finished"
            try:
                async with self._http.stream(
                    "GET", path, headers=headers, timeout=STREAM_TIMEOUT
                ) as response:
                    if response.status_code >= 400:
                        await response.aread()
                        if response.status_code not in _core.RETRYABLE_STATUSES:
                            _core.raise_for_problem(response)
                        reason = f"HTTP {response.status_code}"
                    else:
                        async for line in response.aiter_lines():
                            message = parser.feed(line)
                            event = _core.parse_event(message.data) if message else None
                            if event is None:
                                continue
                            last_event_id = (message.id if message else None) or event.id
                            failures = 0
                            yield event
                            if event.type == "episode.finished":
                                return
            except httpx.TransportError as exc:
                reason = str(exc) or type(exc).__name__
            else:
                if reason.startswith("stream ended") and (await self.get(episode_id)).terminal:
                    return  # resumed after the last event of a finished episode: nothing more will come
            failures += 1
            if failures > max_reconnects:
                raise TransportError(f"event stream of {episode_id} lost {failures} times: {reason}")
            await asyncio.sleep((parser.retry_ms or 500) / 1000 * failures)

    # ---- judge --------------------------------------------------------------------------------
    async def judge(
        self,
        code: str,
        tests: str = "",
        *,
        entry_point: str | None = None,
        asserts: builtins.list[str] | None = None,
        limits: Mapping[str, Any] | None = None,
    ) -> Verdict:
        """Run code against tests in the server's sandbox and return the verdict (synchronous)."""
        body = _core.judge_body(code, tests, entry_point, asserts, limits)
        return _core.parse(Verdict, await self._request("POST", "/v1/judge", retry=False, json=body))
