"""The MCP server (the official SDK's low-level `Server`): tools, resources, and their errors.

The low-level server is used so each tool's input schema is exactly the API model's JSON schema and
arguments are validated by that model, giving the same one-line detail as the HTTP API's 422. Every
failure of a call is a tool error (or, for resources, a JSON-RPC error) carrying that detail; none
ends the session. Which backend (and so which tenant) serves a call is decided per request by
`backend_for`, from the request's credentials over HTTP or the process's own over stdio.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import mcp.types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError

from app import __version__
from app.api.problems import validation_detail
from app.errors import ReflexionError
from app.mcp.backend import Backend
from app.mcp.tools import TOOLS

log = logging.getLogger("rfx.mcp")
Ctx = ServerRequestContext[Any, Any]
BackendFor = Callable[[Ctx], Backend]
EPISODE_URI, LESSONS_URI = "episode://", "lessons://"
INSTRUCTIONS = (
    "Reflexion for code: `run_episode` gets judged, repaired Python code for a task; `judge` runs code "
    "against tests in a sandbox. Episodes are readable as episode://{id}, lessons as lessons://{task id "
    "URL-encoded}."
)


def _tool_error(text: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=True)


def build_server(backend_for: BackendFor) -> Server[Any]:
    async def list_tools(ctx: Ctx, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(
            tools=[
                types.Tool(
                    name=name, description=spec.description, input_schema=spec.args.model_json_schema()
                )
                for name, spec in TOOLS.items()
            ]
        )

    async def call_tool(ctx: Ctx, params: types.CallToolRequestParams) -> types.CallToolResult:
        spec = TOOLS.get(params.name)
        if spec is None:
            return _tool_error(f"unknown tool {params.name!r}: the tools are {', '.join(TOOLS)}")
        try:
            args = spec.args.model_validate(params.arguments or {})
        except ValidationError as exc:
            return _tool_error(validation_detail(exc.errors())[0])

        async def progress(done: float, total: float | None, message: str | None) -> None:
            await ctx.session.report_progress(done, total, message)

        try:
            result = await spec.run(backend_for(ctx), args, progress)
        except ReflexionError as exc:
            return _tool_error(exc.detail)
        except Exception:
            log.exception("tool %s failed", params.name)
            return _tool_error("an unexpected error occurred; it has been logged")
        text = json.dumps(result, default=str)
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=text)], structured_content=result
        )

    async def list_resources(
        ctx: Ctx, params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        try:
            page = await backend_for(ctx).page(50, None, None)
        except ReflexionError as exc:
            raise MCPError(types.INVALID_PARAMS, exc.detail) from None
        return types.ListResourcesResult(
            resources=[
                types.Resource(
                    uri=f"{EPISODE_URI}{e.id}",
                    name=e.id,
                    description=f"{e.task.id}: {e.status}",
                    mime_type="application/json",
                )
                for e in page.data
            ]
        )

    async def list_templates(
        ctx: Ctx, params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        return types.ListResourceTemplatesResult(
            resource_templates=[
                types.ResourceTemplate(
                    uri_template=EPISODE_URI + "{episode_id}",
                    name="episode",
                    description="an episode record (as GET /v1/episodes/{id})",
                    mime_type="application/json",
                ),
                types.ResourceTemplate(
                    uri_template=LESSONS_URI + "{task_id}",
                    name="lessons",
                    description="the lessons stored for a task id, URL-encoded (HumanEval%2F10)",
                    mime_type="application/json",
                ),
            ]
        )

    async def read_resource(ctx: Ctx, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        uri = str(params.uri)
        try:
            backend = backend_for(ctx)
            if uri.startswith(EPISODE_URI):
                text = (await backend.get(unquote(uri.removeprefix(EPISODE_URI)))).model_dump_json()
            elif uri.startswith(LESSONS_URI):
                text = (await backend.lessons(unquote(uri.removeprefix(LESSONS_URI)))).model_dump_json()
            else:
                raise MCPError(
                    types.INVALID_PARAMS, f"unknown resource {uri!r}: use episode:// or lessons://"
                )
        except ReflexionError as exc:
            raise MCPError(types.INVALID_PARAMS, exc.detail, data={"uri": uri}) from None
        return types.ReadResourceResult(
            contents=[types.TextResourceContents(uri=uri, text=text, mime_type="application/json")]
        )

    return Server(
        "reflexion-service",
        version=__version__,
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_templates,
        on_read_resource=read_resource,
    )
