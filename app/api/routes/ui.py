"""`/ui`: the live web view, three static files from app/api/ui/ served by the API itself.

The files are public (they hold no data); everything they show comes from the authenticated `/v1`
API, called by the page with the key the user typed in. A strict Content-Security-Policy allows
only this origin's own script, style and API, so nothing is fetched from elsewhere at run time and
model output that slipped into the DOM could not run as script.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse

from app.errors import NotFound

UI_DIR = Path(__file__).resolve().parent.parent / "ui"
ASSETS = {"app.js": "text/javascript", "app.css": "text/css"}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter(tags=["ui"], include_in_schema=False)


@router.get("/ui")
async def ui_root() -> RedirectResponse:
    return RedirectResponse("/ui/", status_code=307)


@router.get("/ui/")
async def ui_index() -> FileResponse:
    return FileResponse(UI_DIR / "index.html", media_type="text/html", headers=SECURITY_HEADERS)


@router.get("/ui/{name}")
async def ui_asset(name: str) -> FileResponse:
    media_type = ASSETS.get(name)
    if media_type is None:
        raise NotFound(f"no UI asset named {name!r}")
    return FileResponse(UI_DIR / name, media_type=media_type, headers=SECURITY_HEADERS)
