"""The chat UI: static files served by the gateway at `/` (no build step, no third-party scripts).

The page holds no secrets: the user types an API key, kept in the tab's sessionStorage, and the page calls
the same OpenAI-compatible API as any other client (plus `/v1/tools/actions`, `/v1/runbooks/section` and
`/v1/inventory`). Conversations are kept in the browser's localStorage under a fingerprint of the key.
Every file is served with a strict Content-Security-Policy: scripts only from this origin, no inline
script or style, no framing. See docs/ui.md.

Example:
    GET /            -> index.html
    GET /ui/app.js   -> the page's entry module (it imports its siblings from /ui/)
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from gateway.errors import NotFound

__all__ = ["CSP", "STATIC", "router"]

STATIC = Path(__file__).resolve().parent / "static"
_MEDIA = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",  # revalidate: a gateway upgrade must not leave a stale page talking to it
}

router = APIRouter(include_in_schema=False)


@router.get("/")
async def index() -> FileResponse:
    """The chat page."""
    return _file("index.html")


@router.get("/ui/{name}")
async def asset(name: str) -> FileResponse:
    """One of the page's own files (flat: no sub-folders, only .html, .js and .css)."""
    return _file(name)


def _file(name: str) -> FileResponse:
    path = STATIC / name
    if path.parent != STATIC or path.suffix not in _MEDIA or not path.is_file():
        raise NotFound(f"no UI file {name!r}")
    return FileResponse(path, media_type=_MEDIA[path.suffix], headers=_HEADERS)
