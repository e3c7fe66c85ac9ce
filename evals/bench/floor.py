"""The floor of the streaming benchmark: the least a Python proxy can do per stream on this machine.

A raw ASGI app on uvicorn (httptools, uvloop), the same workers as the gateway, that forwards the request body to
the paced upstream with a pooled aiohttp session and re-encodes each content delta as a chunk: no key, no limits,
no audit, no guardrails, no error handling. What it costs per chunk (a read, a JSON parse, a JSON encode, a write)
every gateway in Python pays; `netops bench streams` measures it in the same run as the gateway, so the table
shows how much of the gateway's overhead is its own and how much is the machine's.

Run: python -m evals.bench.floor --port 8090 --upstream http://127.0.0.1:8081/v1 --workers 2
"""

from __future__ import annotations

import os

import aiohttp
import click
import orjson
import uvicorn
from starlette.types import Receive, Scope, Send

__all__ = ["app"]

_UPSTREAM = "NETOPS_FLOOR_UPSTREAM"
_session: list[aiohttp.ClientSession] = []  # one per worker process, opened on its first request


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """POST anything: the upstream's stream, chunk by chunk (`GET` answers 200 for the readiness probe)."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["method"] != "POST":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        return
    if not _session:
        _session.append(aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)))
    body, more = b"", True
    while more:
        message = await receive()
        body, more = body + message.get("body", b""), message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
    url = f"{os.environ[_UPSTREAM]}/chat/completions"
    async with _session[0].post(url, data=body, headers={"content-type": "application/json"}) as response:
        async for line in response.content:
            data = line[5:].strip() if line.startswith(b"data:") else b""
            if data and data != b"[DONE]":
                choices = orjson.loads(data).get("choices") or [{}]
                text = (choices[0].get("delta") or {}).get("content")
                if text:
                    chunk = orjson.dumps({"choices": [{"index": 0, "delta": {"content": text}}]})
                    await send({"type": "http.response.body", "body": b"data: " + chunk + b"\n\n", "more_body": True})
    await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})


@click.command()
@click.option("--port", type=int, required=True)
@click.option("--upstream", required=True, help="The upstream's OpenAI base URL.")
@click.option("--workers", type=int, default=1, show_default=True)
def main(port: int, upstream: str, workers: int) -> None:
    os.environ[_UPSTREAM] = upstream  # the worker processes inherit it
    uvicorn.run("evals.bench.floor:app", host="127.0.0.1", port=port, workers=workers, access_log=False)


if __name__ == "__main__":
    main()
