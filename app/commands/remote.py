"""HTTP access to a running `rfx serve` for the CLI commands that talk to a server (`rfx episodes`).

Every failure becomes the matching ReflexionError (app/errors.py), so `rfx` prints one line and
exits non-zero: the server's problem+json `detail` when it answered, "cannot reach" when it did not.
The event stream is read with a small SSE reader that resumes with Last-Event-ID after a drop.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx

from app.errors import ReflexionError, Unavailable
from app.http_errors import error_from_response
from app.reflexion.models import Episode, Event

MAX_RECONNECTS = 5


def problem_error(response: httpx.Response) -> ReflexionError:
    return error_from_response(response, prefix=f"server answered {response.status_code}: ")


class Remote:
    """A connection to one server with one API key (Bearer; never in the URL)."""

    def __init__(self, url: str, api_key: str | None, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        headers = {"Accept": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Remote:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, path: str, **params: Any) -> Any:
        try:
            response = self.http.get(path, params={k: v for k, v in params.items() if v is not None})
        except httpx.TransportError as exc:
            raise Unavailable(f"cannot reach the server at {self.url}: {exc}") from None
        if response.status_code >= 400:
            raise problem_error(response)
        return response.json()

    def episode(self, episode_id: str) -> Episode:
        return Episode.model_validate(self._get(f"/v1/episodes/{episode_id}"))

    def page(self, *, limit: int, after: str | None, status: str | None) -> tuple[list[Episode], str | None]:
        body = self._get("/v1/episodes", limit=limit, after=after, status=status)
        return [Episode.model_validate(e) for e in body["data"]], body.get("next")

    def events(self, episode_id: str) -> Iterator[Event]:
        """The episode's events until episode.finished, reconnecting after drops without repeats."""
        last: str | None = None
        failures = 0
        while True:
            headers = {"Accept": "text/event-stream", **({"Last-Event-ID": last} if last else {})}
            try:
                with self.http.stream(
                    "GET",
                    f"/v1/episodes/{episode_id}/events",
                    headers=headers,
                    timeout=httpx.Timeout(10.0, read=60.0),
                ) as response:
                    if response.status_code >= 400:
                        response.read()
                        raise problem_error(response)
                    for event in _parse(response.iter_lines()):
                        last, failures = event.id, 0
                        yield event
                        if event.type == "episode.finished":
                            return
                if self.episode(episode_id).terminal:
                    return
            except httpx.TransportError as exc:
                failures += 1
                if failures > MAX_RECONNECTS:
                    raise Unavailable(f"lost the event stream of {episode_id}: {exc}") from None
                time.sleep(0.5 * failures)


def _parse(lines: Iterator[str]) -> Iterator[Event]:
    data: list[str] = []
    for line in lines:
        if line == "":
            if data:
                with contextlib.suppress(ValueError):
                    yield Event.model_validate(json.loads("\n".join(data)))
            data = []
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
