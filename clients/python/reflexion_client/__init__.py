"""Python client for reflexion-service: submit coding tasks, follow episodes live, judge code.

    from reflexion_client import Client
    with Client("http://127.0.0.1:8000", api_key="...") as rfx:
        episode = rfx.submit({"id": "t1", "prompt": "...", "entry_point": "f", "tests": "def check(c): ..."})
        for event in rfx.stream_events(episode.id):
            print(event.type)
        print(rfx.get(episode.id).status)

`AsyncClient` has the same methods, awaited. Errors are typed (reflexion_client.errors), decoded
from the server's problem+json. Depends only on httpx and pydantic: apps never import the service.
"""

from __future__ import annotations

__version__ = "0.1.0"

from reflexion_client.aio import AsyncClient
from reflexion_client.client import Client
from reflexion_client.errors import (
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    RateLimited,
    ReflexionClientError,
    ServerError,
    TransportError,
    Unauthorized,
    Unavailable,
    WaitTimeout,
)
from reflexion_client.models import (
    Attempt,
    Episode,
    EpisodePage,
    ErrorFacts,
    Event,
    Resample,
    Task,
    TestResult,
    Usage,
    Verdict,
)

__all__ = [
    "ApiError",
    "AsyncClient",
    "Attempt",
    "BadRequest",
    "Client",
    "Conflict",
    "Episode",
    "EpisodePage",
    "ErrorFacts",
    "Event",
    "Forbidden",
    "NotFound",
    "RateLimited",
    "ReflexionClientError",
    "Resample",
    "ServerError",
    "Task",
    "TestResult",
    "TransportError",
    "Unauthorized",
    "Unavailable",
    "Usage",
    "Verdict",
    "WaitTimeout",
    "__version__",
]
