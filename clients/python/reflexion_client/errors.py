"""Typed errors raised by the client.

The service answers every failure with RFC 9457 problem+json; the client turns that document into
one exception class per kind of failure, so callers can `except NotFound` instead of comparing
status codes, and still see the server's own `detail`. Transport failures (nothing answered) and a
`wait()` that ran out of time are separate classes: they are not the server's verdict.
"""

from __future__ import annotations

from typing import Any


class ReflexionClientError(Exception):
    """Base of every error this package raises."""


class TransportError(ReflexionClientError):
    """The server could not be reached, or the connection broke and retrying did not help."""


class WaitTimeout(ReflexionClientError):
    """`wait()` gave up before the episode reached a terminal status (the episode keeps running)."""


class ApiError(ReflexionClientError):
    """The server answered with an error status; `problem` is its problem+json body."""

    status: int = 0

    def __init__(self, status: int, problem: dict[str, Any], *, retry_after: float | None = None) -> None:
        self.status = status
        self.problem = problem
        self.type = str(problem.get("type", "about:blank"))
        self.title = str(problem.get("title", ""))
        self.detail = str(problem.get("detail", "") or self.title or f"HTTP {status}")
        self.retry_after = retry_after
        super().__init__(
            f"{status} {self.title}: {self.detail}" if self.title else f"{status}: {self.detail}"
        )


class BadRequest(ApiError):
    """400 or 422: the request was malformed or failed validation."""


class Unauthorized(ApiError):
    """401: no API key, or an unknown one."""


class Forbidden(ApiError):
    """403: the key is valid but may not do this."""


class NotFound(ApiError):
    """404: no such episode for this tenant (another tenant's episodes are not found either)."""


class Conflict(ApiError):
    """409: e.g. cancelling a finished episode, or an Idempotency-Key reused with another body."""


class RateLimited(ApiError):
    """429: slow down; `retry_after` says for how long when the server said so."""


class ServerError(ApiError):
    """5xx other than 503."""


class Unavailable(ServerError):
    """503: a dependency of the server (Redis, Docker, an LLM) is down."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: BadRequest,
    429: RateLimited,
    503: Unavailable,
}


def error_for(status: int, problem: dict[str, Any], retry_after: float | None = None) -> ApiError:
    """The exception for an error response (5xx without its own class is a ServerError)."""
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else ApiError)
    return cls(status, problem, retry_after=retry_after)
