"""The synchronous client: `Client(base_url, api_key)`.

Every method is one HTTP call except `wait` (polls until the episode is terminal) and
`stream_events` (follows the SSE stream and, when the connection drops, reconnects with
`Last-Event-ID` so no event is lost or repeated). The async twin in aio.py has the same surface.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Iterator, Mapping
from types import TracebackType
from typing import Any

import httpx

from reflexion_client import _core
from reflexion_client._sse import SSEParser
from reflexion_client.errors import TransportError, WaitTimeout
from reflexion_client.models import Episode, EpisodePage, Event, Task, Verdict

STREAM_TIMEOUT = httpx.Timeout(10.0, read=60.0)  # the server pings well within a minute


class Client:
    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        retries: int = 3,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        url, key = _core.resolve_config(base_url, api_key)
        self.base_url = url
        self.retries = retries
        self._http = httpx.Client(
            base_url=url,
            headers=_core.default_headers(key),
            timeout=timeout,
            transport=transport or httpx.HTTPTransport(retries=2),
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _request(self, method: str, path: str, *, retry: bool, **kwargs: Any) -> httpx.Response:
        """Send once, or (for requests safe to repeat) retry 502/503/504 and broken connections."""
        attempts = self.retries + 1 if retry else 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            delay: float | None = None
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                if last:
                    raise TransportError(f"{method} {self.base_url}{path}: {exc}") from exc
            else:
                if last or response.status_code not in _core.RETRYABLE_STATUSES:
                    return response
                delay = _core.retry_after(response)
            time.sleep(_core.backoff(attempt, delay))
        raise AssertionError("unreachable")

    # ---- episodes -----------------------------------------------------------------------------
    def submit(
        self,
        task: Task | Mapping[str, Any],
        *,
        config: Mapping[str, Any] | None = None,
        actor_model: str | None = None,
        reflector_model: str | None = None,
        idempotency_key: str | None = None,
    ) -> Episode:
        """Queue an episode (202); the returned record is `queued`. Safe to retry: see Idempotency-Key."""
        response = self._request(
            "POST",
            "/v1/episodes",
            retry=True,
            json=_core.submit_body(task, config, actor_model, reflector_model),
            headers=_core.submit_headers(idempotency_key),
        )
        return _core.parse(Episode, response)

    def get(self, episode_id: str) -> Episode:
        return _core.parse(Episode, self._request("GET", _core.episode_path(episode_id), retry=True))

    def list(
        self, *, limit: int | None = None, after: str | None = None, status: str | None = None
    ) -> EpisodePage:
        params = _core.list_params(limit, after, status)
        return _core.parse(EpisodePage, self._request("GET", "/v1/episodes", retry=True, params=params))

    def iter_episodes(self, *, status: str | None = None, page_size: int = 50) -> Iterator[Episode]:
        """Every episode of the tenant, newest first, following the cursor page by page."""
        after: str | None = None
        while True:
            page = self.list(limit=page_size, after=after, status=status)
            yield from page.data
            if not page.has_more or not page.next:
                return
            after = page.next

    def cancel(self, episode_id: str) -> Episode:
        path = f"{_core.episode_path(episode_id)}/cancel"
        return _core.parse(Episode, self._request("POST", path, retry=True))  # idempotent

    def delete(self, episode_id: str) -> None:
        _core.raise_for_problem(self._request("DELETE", _core.episode_path(episode_id), retry=True))

    def wait(self, episode_id: str, *, timeout: float = 600.0, poll_interval: float = 0.5) -> Episode:
        """Block until the episode is terminal; WaitTimeout after `timeout` seconds (it keeps running)."""
        deadline = time.monotonic() + timeout
        interval = min(0.1, poll_interval)
        while True:
            episode = self.get(episode_id)
            if episode.terminal:
                return episode
            if time.monotonic() >= deadline:
                raise WaitTimeout(f"episode {episode_id} still {episode.status} after {timeout:g} s")
            time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
            interval = min(interval * 2, poll_interval)

    def stream_events(
        self, episode_id: str, *, last_event_id: str | None = None, max_reconnects: int = 5
    ) -> Iterator[Event]:
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
                with self._http.stream("GET", path, headers=headers, timeout=STREAM_TIMEOUT) as response:
                    if response.status_code >= 400:
                        response.read()
                        if response.status_code not in _core.RETRYABLE_STATUSES:
                            _core.raise_for_problem(response)
                        reason = f"HTTP {response.status_code}"
                    else:
                        for line in response.iter_lines():
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
                if reason.startswith("stream ended") and (self.get(episode_id)).terminal:
                    return  # resumed after the last event of a finished episode: nothing more will come
            failures += 1
            if failures > max_reconnects:
                raise TransportError(f"event stream of {episode_id} lost {failures} times: {reason}")
            time.sleep((parser.retry_ms or 500) / 1000 * failures)

    # ---- judge --------------------------------------------------------------------------------
    def judge(
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
        return _core.parse(Verdict, self._request("POST", "/v1/judge", retry=False, json=body))
