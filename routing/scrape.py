"""Scraping vLLM `/metrics` pages so routing is load-aware, without a background thread.

`poke()` is called on every routed request; when a deployment's last scrape is older than the interval it
starts one scrape task on the running event loop (never more than one per deployment at a time). The
result lands in that deployment's `DeploymentStats.load`; a failed scrape clears it and keeps the reason.

Example:
    scraper = LoadScraper({"gpu-a": "http://gpu-a:8000/metrics"}, {"gpu-a": stats}, interval_s=5)
    scraper.poke()              # inside a running loop
    await scraper.scrape_all()  # or on demand
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx

from routing.promtext import MetricsParseError
from routing.signals import DeploymentStats, vllm_load

__all__ = ["LoadScraper"]


class LoadScraper:
    """Keeps each vLLM deployment's queue and KV-cache state fresh enough for routing."""

    def __init__(
        self,
        urls: dict[str, str],
        stats: dict[str, DeploymentStats],
        *,
        interval_s: float,
        clock: Callable[[], float],
        timeout_s: float = 1.0,
    ) -> None:
        self._urls = urls
        self._stats = stats
        self._interval = interval_s
        self._clock = clock
        self._timeout = timeout_s
        self._due: dict[str, float] = dict.fromkeys(urls, 0.0)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.last_error: dict[str, str | None] = dict.fromkeys(urls)

    def poke(self) -> None:
        """Start the scrapes that are due (needs a running event loop; a no-op without vLLM deployments)."""
        if not self._urls:
            return
        now = self._clock()
        for name, due in self._due.items():
            if now >= due and (name not in self._tasks or self._tasks[name].done()):
                self._due[name] = now + self._interval
                self._tasks[name] = asyncio.get_running_loop().create_task(self.scrape(name))

    async def scrape_all(self) -> None:
        await asyncio.gather(*(self.scrape(name) for name in self._urls))

    async def scrape(self, name: str) -> None:
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                response = await client.get(self._urls[name])
            response.raise_for_status()
            self._stats[name].load = vllm_load(response.text)
            self.last_error[name] = None
        except (httpx.HTTPError, MetricsParseError) as exc:
            self._stats[name].load = None
            self.last_error[name] = f"{type(exc).__name__}: {str(exc)[:120]}"
