"""RFC 9457 problem+json for every error the API can answer with.

One place maps the error taxonomy (app/errors.py), FastAPI's validation errors and Starlette's
HTTP exceptions (404 for unknown routes, 405, ...) to `application/problem+json`, so a client never
has to parse two error shapes, and an unexpected exception is logged and answered as a plain 500
problem without a traceback leaking out.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.errors import ReflexionError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://reflexion.dev/problems/"

_HTTP_TYPES = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Unauthorized"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    413: ("too-large", "Request too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    429: ("rate-limited", "Too many requests"),
}


def problem(
    status: int,
    type_: str,
    title: str,
    detail: str,
    *,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"type": TYPE_BASE + type_, "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    if extra:
        body.update(extra)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def _loc(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts) or "body"


def _field_and_message(err: Any) -> tuple[str, str]:
    """Where and what, for one validation error. A body that is not JSON at all says where the
    parser stopped and why (the framework's own text is "JSON decode error" at a bare position)."""
    loc = err.get("loc", ())
    if err.get("type") == "json_invalid":
        where = f" at character {loc[-1]}" if loc and isinstance(loc[-1], int) else ""
        reason = str((err.get("ctx") or {}).get("error", ""))[:200]
        return "body", f"not valid JSON{where}" + (f": {reason}" if reason else "")
    message = str(err.get("msg", "invalid"))
    if err.get("type") == "value_error":  # a model's own rule: its text is the message, unprefixed
        message = message.removeprefix("Value error, ")
    return _loc(loc), message[:300]


def validation_detail(errors: Sequence[Any]) -> tuple[str, list[dict[str, str]]]:
    """A one-line summary plus the per-field list (capped: a huge bad body must not echo itself)."""
    items = []
    for err in list(errors)[:20]:
        field, message = _field_and_message(err)
        items.append({"field": field, "message": message})
    summary = "; ".join(f"{i['field']}: {i['message']}" for i in items[:3]) or "invalid request"
    if len(errors) > 3:
        summary += f" (and {len(errors) - 3} more)"
    return summary, items


async def _reflexion_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ReflexionError)
    if exc.status >= 500:
        log.warning("%s on %s: %s", exc.type, request.url.path, exc.detail)
    return problem(
        exc.status, exc.type, exc.title, exc.detail, instance=request.url.path, headers=exc.headers
    )


def _not_sent_as_json(request: Request, errors: Sequence[Any]) -> str | None:
    """The content type, when a body was sent under one that is not JSON: the framework then does
    not parse it, and "Input should be a valid dictionary" alone would not say why."""
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";")[0].strip().lower()
    if not media_type or media_type == "application/json" or media_type.endswith("+json"):
        return None
    body_errors = any(tuple(err.get("loc", ()))[:1] == ("body",) for err in errors)
    return content_type[:100] if body_errors else None


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    summary, items = validation_detail(errors)
    content_type = _not_sent_as_json(request, errors)
    if content_type is not None:
        summary = f"the body must be JSON sent with Content-Type: application/json, not {content_type}"
    return problem(
        422, "invalid-input", "Invalid input", summary, instance=request.url.path, extra={"errors": items}
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    type_, title = _HTTP_TYPES.get(exc.status_code, ("http-error", "HTTP error"))
    detail = exc.detail if isinstance(exc.detail, str) else title
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no route for {request.method} {request.url.path}"
    if exc.status_code == 405:
        detail = f"method {request.method} is not allowed on {request.url.path}"
    return problem(
        exc.status_code, type_, title, detail, instance=request.url.path, headers=dict(exc.headers or {})
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(
        500,
        "internal",
        "Internal error",
        "an unexpected error occurred; it has been logged",
        instance=request.url.path,
    )


def install(app: FastAPI) -> None:
    """Register the handlers: taxonomy, validation, HTTP exceptions, and the last-resort 500."""
    app.add_exception_handler(ReflexionError, _reflexion_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
