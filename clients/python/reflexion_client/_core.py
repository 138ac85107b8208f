"""What the sync and async clients share: configuration, request bodies, response decoding.

Only the sending differs between `Client` and `AsyncClient`; everything that decides *what* to
send and *how to read* the answer lives here once, so the two cannot drift apart.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from reflexion_client import __version__
from reflexion_client.errors import ReflexionClientError, error_for
from reflexion_client.models import Event, Task

DEFAULT_URL = "http://127.0.0.1:8000"
RETRYABLE_STATUSES = frozenset({502, 503, 504})
M = TypeVar("M", bound=BaseModel)


def resolve_config(base_url: str | None, api_key: str | None) -> tuple[str, str | None]:
    """Explicit arguments win; else `RFX_URL` and `RFX_API_KEY` from the environment."""
    url = (base_url or os.environ.get("RFX_URL") or DEFAULT_URL).rstrip("/")
    key = api_key if api_key is not None else os.environ.get("RFX_API_KEY")
    return url, key or None


def default_headers(api_key: str | None) -> dict[str, str]:
    headers = {"Accept": "application/json", "User-Agent": f"reflexion-client/{__version__}"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return headers


def dump(value: BaseModel | Mapping[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    return dict(value)


def submit_body(
    task: Task | Mapping[str, Any],
    config: Mapping[str, Any] | None,
    actor_model: str | None,
    reflector_model: str | None,
) -> dict[str, Any]:
    """The POST /v1/episodes body: the task, the episode options beside it, models chosen by name."""
    body: dict[str, Any] = {**(config or {}), "task": dump(task)}
    if actor_model:
        body["actor"] = {"model": actor_model}
    if reflector_model:
        body["reflector"] = {"model": reflector_model}
    return body


def submit_headers(idempotency_key: str | None) -> dict[str, str]:
    """Every submission carries an Idempotency-Key, so a retried POST never starts a second episode."""
    return {"Idempotency-Key": idempotency_key or uuid.uuid4().hex}


def judge_body(
    code: str,
    tests: str,
    entry_point: str | None,
    asserts: list[str] | None,
    limits: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The POST /v1/judge body: the submission's fields, plus optional sandbox limits."""
    body: dict[str, Any] = {"code": code, "tests": tests}
    if entry_point:
        body["entry_point"] = entry_point
    if asserts:
        body["asserts"] = list(asserts)
    if limits:
        body["limits"] = dict(limits)
    return body


def list_params(limit: int | None, after: str | None, status: str | None) -> dict[str, str]:
    params: dict[str, str] = {}
    if limit is not None:
        params["limit"] = str(limit)
    if after:
        params["after"] = after
    if status:
        params["status"] = status
    return params


def retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("Retry-After")
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


def backoff(attempt: int, retry_after_s: float | None) -> float:
    """Seconds before retry `attempt + 1`: the server's Retry-After (capped), else exponential."""
    if retry_after_s is not None:
        return min(max(retry_after_s, 0.0), 10.0)
    return float(min(0.25 * 2**attempt, 4.0))


def raise_for_problem(response: httpx.Response) -> None:
    """Turn an error response into the typed exception; a non-JSON body still gives a useful detail."""
    if response.status_code < 400:
        return
    try:
        problem = response.json()
        if not isinstance(problem, dict):
            raise ValueError
    except ValueError:
        text = response.text.strip()[:300]
        problem = {"title": response.reason_phrase, "detail": text or response.reason_phrase}
    raise error_for(response.status_code, problem, retry_after(response))


def parse(model: type[M], response: httpx.Response) -> M:
    raise_for_problem(response)
    try:
        return model.model_validate(response.json())
    except (ValueError, ValidationError) as exc:
        raise ReflexionClientError(f"unexpected response from {response.request.url}: {exc}") from exc


def parse_event(data: str) -> Event | None:
    """An SSE `data:` payload as an Event; None for messages that are not events (e.g. keep-alives)."""
    try:
        payload = json.loads(data)
    except ValueError:
        return None
    if not isinstance(payload, dict) or "type" not in payload:
        return None
    try:
        return Event.model_validate(payload)
    except ValidationError:
        return None


def episode_path(episode_id: str) -> str:
    return f"/v1/episodes/{episode_id}"
