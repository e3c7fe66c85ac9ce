"""An OpenAI-compatible upstream whose behaviour per deployment is switched at runtime: the gameday's fault injector.

Each deployment is a path prefix on one server (`http://127.0.0.1:P/<deployment>/v1`), so the gateway sees
distinct backends and the server counts which one served each request; `POST /<name>/scan` is a moderation
service for the `remote` guardrail scanner, switched the same way. Modes:

    ok          a fixed short answer, JSON or SSE, after `base_delay_s`
    dead        503 on every path (the gateway's /readyz probe sees it too)
    slow_tail   a share (`tail_share`) of requests waits `base_delay_s * tail_factor` before the first byte
    malformed   a stream request is answered with a plain JSON completion (no event stream)
    slow_first  every request waits `slow_first_s` before the first byte

Example:
    faults = FaultUpstream().start()
    faults.set("primary", Fault.DEAD)
    faults.hits["fallback"]
"""

from __future__ import annotations

import asyncio
import enum
import json
import random
import threading
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from gateway.local import ThreadedServer

__all__ = ["ANSWER", "Fault", "FaultSpec", "FaultUpstream"]

ANSWER = "Check the BGP peer state."


class Fault(enum.StrEnum):
    OK = "ok"
    DEAD = "dead"
    SLOW_TAIL = "slow_tail"
    MALFORMED = "malformed"
    SLOW_FIRST = "slow_first"


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """A deployment's behaviour."""

    fault: Fault = Fault.OK
    base_delay_s: float = 0.02
    tail_share: float = 0.1
    tail_factor: float = 10.0
    slow_first_s: float = 1.0


class FaultUpstream:
    """The fault-injecting server, run by uvicorn in a background thread."""

    def __init__(self, *, seed: int = 15) -> None:
        self._specs: dict[str, FaultSpec] = {}
        self._lock = threading.Lock()
        self._rng = random.Random(seed)  # noqa: S311 - which request is slow, not cryptography
        self.hits: Counter[str] = Counter()  # chat requests per deployment
        self._server = ThreadedServer(self.app())
        self.url = self._server.url

    def start(self) -> FaultUpstream:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def base_url(self, deployment: str) -> str:
        return f"{self.url}/{deployment}/v1"

    def set(self, deployment: str, fault: Fault, **options: float) -> None:
        """Switch a deployment's behaviour now (options: FaultSpec fields)."""
        with self._lock:
            self._specs[deployment] = FaultSpec(fault, **options)

    def spec(self, deployment: str) -> FaultSpec:
        with self._lock:
            return self._specs.get(deployment, FaultSpec())

    def _delay(self, spec: FaultSpec) -> float:
        if spec.fault is Fault.SLOW_FIRST:
            return spec.slow_first_s
        if spec.fault is Fault.SLOW_TAIL:
            with self._lock:
                slow = self._rng.random() < spec.tail_share
            return spec.base_delay_s * (spec.tail_factor if slow else 1.0)
        return spec.base_delay_s

    def app(self) -> Starlette:
        async def models(request: Request) -> Response:
            if self.spec(request.path_params["dep"]).fault is Fault.DEAD:
                return JSONResponse({"error": "down"}, status_code=503)
            return JSONResponse({"object": "list", "data": [{"id": "gameday", "object": "model"}]})

        async def chat(request: Request) -> Response:
            dep = request.path_params["dep"]
            spec = self.spec(dep)
            body = json.loads(await request.body())
            if spec.fault is Fault.DEAD:
                return JSONResponse({"error": "down"}, status_code=503)
            await asyncio.sleep(self._delay(spec))
            with self._lock:
                self.hits[dep] += 1
            if body.get("stream") and spec.fault is not Fault.MALFORMED:
                return StreamingResponse(_sse(), media_type="text/event-stream")
            return JSONResponse(_completion())

        async def scan(request: Request) -> Response:
            """A moderation service for the `remote` guardrail scanner: never flags; dead is 503, slow waits."""
            spec = self.spec(request.path_params["dep"])
            if spec.fault is Fault.DEAD:
                return JSONResponse({"error": "down"}, status_code=503)
            await asyncio.sleep(self._delay(spec))
            return JSONResponse({"flagged": False, "score": 0.0})

        return Starlette(
            routes=[
                Route("/{dep}/v1/models", models, methods=["GET"]),
                Route("/{dep}/v1/chat/completions", chat, methods=["POST"]),
                Route("/{dep}/scan", scan, methods=["POST"]),
            ]
        )


def _completion() -> dict[str, object]:
    return {
        "id": "chatcmpl-gameday",
        "object": "chat.completion",
        "model": "gameday",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": ANSWER}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 6, "total_tokens": 16},
    }


async def _sse() -> AsyncIterator[str]:
    base = {"id": "chatcmpl-gameday", "object": "chat.completion.chunk", "model": "gameday"}
    for word in ANSWER.split(" "):
        delta = {"index": 0, "delta": {"content": word + " "}, "finish_reason": None}
        yield f"data: {json.dumps({**base, 'choices': [delta]})}\n\n"
    end = {"index": 0, "delta": {}, "finish_reason": "stop"}
    usage = {"prompt_tokens": 10, "completion_tokens": 6, "total_tokens": 16}
    yield f"data: {json.dumps({**base, 'choices': [end], 'usage': usage})}\n\n"
    yield "data: [DONE]\n\n"
