"""Test support: real servers on free ports (uvicorn in a thread), and a recording reverse proxy.

The recording proxy stands in front of the real model server and appends every request body it
forwards to a log file: that file is "the model server's request log" the secrecy tests read.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from gateway.local import ThreadedServer, free_port

__all__ = ["ThreadedServer", "free_port", "recording_proxy"]


def recording_proxy(upstream: str, log_path: Path) -> Starlette:
    """A reverse proxy to `upstream` that logs each request's method, path and body."""
    client = httpx.AsyncClient(base_url=upstream, timeout=120)
    lock = threading.Lock()

    async def forward(request: Request) -> Response:
        body = await request.body()
        with lock, log_path.open("ab") as log:
            log.write(f"{request.method} {request.url.path}\n".encode() + body + b"\n")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in {"host", "content-length"}}
        upstream_request = client.build_request(request.method, request.url.path, content=body, headers=headers)
        response = await client.send(upstream_request, stream=True)

        async def relay() -> AsyncIterator[bytes]:
            async for chunk in response.aiter_raw():
                yield chunk
            await response.aclose()

        passthrough = {k: v for k, v in response.headers.items() if k.lower() in {"content-type"}}
        return StreamingResponse(relay(), status_code=response.status_code, headers=passthrough)

    return Starlette(routes=[Route("/{path:path}", forward, methods=["GET", "POST"])])
