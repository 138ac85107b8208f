"""One error taxonomy for the whole service.

Every failure a user can cause or meet is a `ReflexionError` subclass with an HTTP status and a
stable `type` slug; the API maps them to RFC 9457 problem+json and the CLI prints `detail` as one
line on stderr with a non-zero exit code.
"""

from __future__ import annotations


class ReflexionError(Exception):
    status: int = 500
    type: str = "internal"
    title: str = "Internal error"
    exit_code: int = 1

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}


class InvalidInput(ReflexionError):
    status, type, title, exit_code = 422, "invalid-input", "Invalid input", 2


class NotFound(ReflexionError):
    status, type, title = 404, "not-found", "Not found"


class Conflict(ReflexionError):
    status, type, title = 409, "conflict", "Conflict"


class Unauthorized(ReflexionError):
    status, type, title = 401, "unauthorized", "Unauthorized"


class RateLimited(ReflexionError):
    status, type, title = 429, "rate-limited", "Too many requests"


class Unavailable(ReflexionError):
    """A dependency (Redis, the Docker engine, an LLM endpoint) is not reachable."""

    status, type, title, exit_code = 503, "unavailable", "Service unavailable", 3


class SandboxError(Unavailable):
    type, title = "sandbox-error", "Sandbox unavailable"


class ConfigError(ReflexionError):
    status, type, title, exit_code = 500, "config-error", "Configuration error", 2


class IntegrityError(ReflexionError):
    """Downloaded bytes (model weights) do not match their pinned digest: they are refused, never used."""

    status, type, title, exit_code = 502, "integrity-error", "Integrity check failed", 4


class BackgroundTaskDied(ReflexionError):
    """A task the process cannot work without (a worker, its heartbeat, its cancel listener) ended.

    The process reports it and exits non-zero so that its supervisor (compose, systemd) restarts it:
    carrying on would leave leases unrenewed or cancels unheard while looking healthy."""

    status, type, title, exit_code = 503, "background-task-died", "Background task died", 1

    def __init__(self, task: str, detail: str) -> None:
        super().__init__(f"{task} died: {detail}")
        self.task = task
