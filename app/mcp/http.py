"""`/mcp`: the MCP server over streamable HTTP, on the service's own app, keys and tenants.

Each request is authenticated with the API's Bearer keys before the SDK sees it (a wrong key is the
API's own 401 problem), and the tenant rides in the request scope as the SDK's authenticated user:
the SDK then binds each MCP session to the tenant that opened it, and every tool call acts for the
tenant of the request carrying it, so no tenant reaches another's episodes or lessons.
"""

from __future__ import annotations

from typing import Any

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from app.api import problems
from app.api.deps import Services
from app.errors import Unauthorized
from app.mcp.backend import Backend, ServiceBackend
from app.mcp.server import Ctx, build_server

PATH = "/mcp"


class McpEndpoint:
    """The ASGI endpoint; `manager.run()` must wrap the app's lifespan."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.manager = StreamableHTTPSessionManager(app=build_server(self.backend_for))

    def backend_for(self, ctx: Ctx) -> Backend:
        """The backend of the request's tenant; fails closed if the request carries none."""
        request: Any = ctx.request
        user = request.scope.get("user") if isinstance(request, Request) else None
        if not isinstance(user, AuthenticatedUser):
            raise Unauthorized("this request carries no authenticated tenant")
        return ServiceBackend(self.services, user.access_token.client_id)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)
        try:
            tenant = self.services.api_keys.tenant_for(request.headers.get("authorization"))
        except Unauthorized as exc:
            response = problems.problem(
                exc.status, exc.type, exc.title, exc.detail, instance=PATH, headers=exc.headers
            )
            await response(scope, receive, send)
            return
        scope["user"] = AuthenticatedUser(AccessToken(token="", client_id=tenant, scopes=[]))
        await self.manager.handle_request(scope, receive, send)
