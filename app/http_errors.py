"""A server's error answer as the service's own error, for the clients inside this package
(`rfx episodes`, `rfx mcp --url`): the ReflexionError whose status it is, carrying the answer's
one-line problem `detail`, so a failure reads the same whichever way the server was reached.
"""

from __future__ import annotations

import httpx

from app.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    RateLimited,
    ReflexionError,
    Unauthorized,
    Unavailable,
)

_BY_STATUS: dict[int, type[ReflexionError]] = {
    400: InvalidInput,
    401: Unauthorized,
    403: Unauthorized,
    404: NotFound,
    409: Conflict,
    413: InvalidInput,
    422: InvalidInput,
    429: RateLimited,
    503: Unavailable,
}


def problem_detail(response: httpx.Response) -> str:
    """The problem's `detail` (or `title`); the start of the body when it is not problem JSON."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:200] or response.reason_phrase
    if not isinstance(body, dict):
        return response.text.strip()[:200]
    return str(body.get("detail") or body.get("title"))


def error_from_response(response: httpx.Response, prefix: str = "") -> ReflexionError:
    return _BY_STATUS.get(response.status_code, ReflexionError)(prefix + problem_detail(response))
