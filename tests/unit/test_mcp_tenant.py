"""/mcp acts for the tenant the request authenticated as, and for no one when there is none."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from starlette.requests import Request

from app.errors import Unauthorized
from app.main import build_services
from app.mcp.backend import ServiceBackend
from app.mcp.http import McpEndpoint
from app.settings import Settings


def _ctx(user: object | None) -> Any:
    scope: dict[str, Any] = {"type": "http", "headers": []}
    if user is not None:
        scope["user"] = user
    return SimpleNamespace(request=Request(scope))


def test_the_backend_is_the_authenticated_tenants_and_fails_closed_without_one() -> None:
    endpoint = McpEndpoint(build_services(Settings(redis_url="redis://127.0.0.1:9/0")))
    user = AuthenticatedUser(AccessToken(token="", client_id="alice", scopes=[]))
    backend = endpoint.backend_for(_ctx(user))
    assert isinstance(backend, ServiceBackend) and backend.tenant == "alice"
    for ctx in (_ctx(None), SimpleNamespace(request=None)):
        with pytest.raises(Unauthorized, match="no authenticated tenant"):
            endpoint.backend_for(ctx)
