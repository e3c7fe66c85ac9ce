"""Routing fixtures: a second real llama.cpp server, a delaying proxy (a slow backend), and a gateway over both."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route as StarletteRoute

from gateway.app import create_app
from gateway.demo import ensure_demo_key
from gateway.services import Services
from gateway.settings import ModelServerSettings, RetrievalSettings, Settings
from gateway.supervisor import ModelServer
from routing import Deployment, Route, RoutingSettings
from tests.conftest import ModelEndpoint
from tests.support import ThreadedServer, free_port


def delaying_proxy(upstream: str, delay_s: float) -> Starlette:
    """A reverse proxy that waits `delay_s` before forwarding: a backend with a slow first token."""
    client = httpx.AsyncClient(base_url=upstream, timeout=120)

    async def forward(request: Request) -> Response:
        body = await request.body()
        await asyncio.sleep(delay_s)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in {"host", "content-length"}}
        response = await client.send(
            client.build_request(request.method, request.url.path, content=body, headers=headers), stream=True
        )

        async def relay() -> AsyncIterator[bytes]:
            async for chunk in response.aiter_raw():
                yield chunk
            await response.aclose()

        ctype = {k: v for k, v in response.headers.items() if k.lower() == "content-type"}
        return StreamingResponse(relay(), status_code=response.status_code, headers=ctype)

    return Starlette(routes=[StarletteRoute("/{path:path}", forward, methods=["GET", "POST"])])


@pytest.fixture(scope="session")
def second_model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelServer]:
    """A second llama.cpp server (the supervisor restarts it if it dies)."""
    server = ModelServer(ModelServerSettings(port=free_port()), log_dir=tmp_path_factory.mktemp("model2"))
    server.start()
    try:
        server.wait_ready()
        httpx.post(  # warm it up: the first completion of a fresh server is slow
            f"{server.url}/chat/completions",
            json={"model": "smollm2-135m-instruct", "max_tokens": 4, "messages": [{"role": "user", "content": "hi"}]},
            timeout=120,
        )
        yield server
    finally:
        server.stop()


@dataclass
class RoutingGateway:
    url: str
    svc: Services
    key: str
    slow_url: str
    operator: str = ""  # a platform operator's key: /v1/routing/status and /metrics

    @property
    def v1(self) -> str:
        return f"{self.url}/v1"


def routing_settings(data_dir: Path, fast_url: str, slow_url: str) -> Settings:
    """`fast`: the second server (priced like a hosted model); `slow`: the first, 0.5 s late, free.

    llama-cpp-python serves one request at a time and interrupts a running stream when another arrives,
    so each deployment has `max_concurrency: 1` (the router queues for a free slot).
    """
    runbooks = data_dir / "runbooks"
    runbooks.mkdir(parents=True, exist_ok=True)
    (runbooks / "dns.md").write_text("# DNS\n\nCheck the resolver with `dig`.\n")
    deployments = [
        Deployment(
            name="fast",
            model="smollm2-135m-instruct",
            base_url=fast_url,
            residency="hosted",
            input_price_per_1k=0.5,
            output_price_per_1k=1.5,
            quality=8,
        ),
        Deployment(name="slow", model="smollm2-135m-instruct", base_url=slow_url, quality=5, max_concurrency=1),
    ]
    plain = {"assistant": False, "max_tokens": 8, "retries": 0}
    routes = [
        Route(name="fastest", deployments=["slow", "fast"], policy="fastest", **plain),
        Route(
            name="cheap", deployments=["fast", "slow"], policy="cheapest-meeting-latency", max_ttft_ms=60_000, **plain
        ),
        Route(name="ha", deployments=["fast", "slow"], policy="ordered", **plain),
    ]
    return Settings(
        data_dir=data_dir,
        model_server=ModelServerSettings(enabled=False),
        deployments=deployments,
        routes=routes,
        routing=RoutingSettings(failure_threshold=2, cooldown_s=0.5, max_cooldown_s=2.0),
        retrieval=RetrievalSettings(sources=[runbooks]),
    )


@pytest.fixture(scope="session")
def routing_gateway(
    model: ModelEndpoint, second_model: ModelServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RoutingGateway]:
    """A real gateway routing over two real llama.cpp servers, one of them behind a 0.5 s delaying proxy."""
    slow = ThreadedServer(delaying_proxy(model.direct_url.removesuffix("/v1"), 0.5)).start()
    settings = routing_settings(tmp_path_factory.mktemp("routing-gw"), second_model.url, f"{slow.url}/v1")
    svc = Services.build(settings)
    key = ensure_demo_key(svc)
    server = ThreadedServer(create_app(svc)).start()
    operator = svc.tenants.create_key("platform", label="ops", role="operator").plaintext
    yield RoutingGateway(server.url, svc, key, f"{slow.url}/v1", operator)
    server.stop()
    slow.stop()
    svc.close()
