"""The load scraper over real HTTP: a server publishing a real vLLM page, then one that is gone."""

from __future__ import annotations

import asyncio
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from routing.scrape import LoadScraper
from routing.signals import DeploymentStats
from tests.support import ThreadedServer, free_port

PAGE = (Path(__file__).parent / "data" / "vllm_v0_production_stack_318.txt").read_text()


async def metrics(_: Request) -> PlainTextResponse:
    return PlainTextResponse(PAGE, media_type="text/plain; version=0.0.4")


def test_scraper_reads_a_vllm_page_and_reports_a_dead_one() -> None:
    server = ThreadedServer(Starlette(routes=[Route("/metrics", metrics)])).start()
    stats = {"up": DeploymentStats(), "down": DeploymentStats()}
    urls = {"up": f"{server.url}/metrics", "down": f"http://127.0.0.1:{free_port()}/metrics"}
    scraper = LoadScraper(urls, stats, interval_s=60, clock=lambda: 0.0)
    try:
        asyncio.run(scraper.scrape_all())
    finally:
        server.stop()
    load = stats["up"].load
    assert load is not None and load.kv_metric == "vllm:gpu_cache_usage_perc" and load.waiting == 0.0
    assert stats["down"].load is None and scraper.last_error["down"] and "ConnectError" in scraper.last_error["down"]
    assert scraper.last_error["up"] is None
