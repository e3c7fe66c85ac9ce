"""A paced SSE upstream for the streaming benchmark: an OpenAI-compatible `/v1/chat/completions` that streams
`tokens` chunks at `rate` chunks a second (the first one at once), then usage and `[DONE]`.

Each chunk ends a line: the gateway's output guard releases text line by line (it holds the last incomplete
line, where a secret may still be arriving), so one token a line measures the gateway's own delay, not that hold.

Run as its own process (so it never shares a GIL with the gateway or the client):
    python -m evals.bench.pacer --port 18090 --tokens 100 --rate 10
"""

from __future__ import annotations

import argparse
import asyncio
import json

from aiohttp import web

__all__ = ["main", "make_app"]


def _chunk(delta: dict[str, object], finish: str | None = None) -> bytes:
    body = {
        "id": "chatcmpl-pace",
        "object": "chat.completion.chunk",
        "model": "bench",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def make_app(tokens: int, rate: float) -> web.Application:
    """The app: every POST streams `tokens` chunks, `1/rate` seconds apart."""

    async def completions(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        for i in range(tokens):
            if i:
                await asyncio.sleep(1.0 / rate)
            await response.write(_chunk({"content": f"t{i}\n"}))
        await response.write(_chunk({}, "stop"))
        usage = {"prompt_tokens": 20, "completion_tokens": tokens, "total_tokens": 20 + tokens}
        await response.write(b"data: " + json.dumps({"choices": [], "usage": usage}).encode() + b"\n\n")
        await response.write(b"data: [DONE]\n\n")
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", completions)
    return app


def main() -> None:
    """Serve until killed."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tokens", type=int, default=100)
    parser.add_argument("--rate", type=float, default=10.0)
    args = parser.parse_args()
    web.run_app(make_app(args.tokens, args.rate), host="127.0.0.1", port=args.port, backlog=4096, print=None)


if __name__ == "__main__":
    main()
