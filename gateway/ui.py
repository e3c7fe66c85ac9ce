"""The chat UI: static files served by the gateway at `/` (no build step, no third-party scripts).

The page holds no secrets: the user types an API key, kept in the tab's sessionStorage,
and the page calls the same OpenAI-compatible API as any other client.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from gateway.errors import NotFound

__all__ = ["router"]

STATIC = Path(__file__).resolve().parent / "static"
_MEDIA = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}
_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; frame-ancestors 'none'"

router = APIRouter(include_in_schema=False)


@router.get("/")
async def index() -> FileResponse:
    return _file("index.html")


@router.get("/ui/{name}")
async def asset(name: str) -> FileResponse:
    return _file(name)


def _file(name: str) -> FileResponse:
    path = STATIC / name
    if path.parent != STATIC or path.suffix not in _MEDIA or not path.is_file():
        raise NotFound(f"no UI file {name!r}")
    return FileResponse(path, media_type=_MEDIA[path.suffix], headers={"content-security-policy": _CSP})
