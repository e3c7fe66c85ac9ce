"""Everything a request needs, built once at start-up from the settings and injected.

Example:
    svc = Services.build(settings)        # loads the embedder, opens the stores, imports litellm
    ...
    svc.close()
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from gateway.audit import AuditLog
from gateway.db import open_engine
from gateway.metrics import Metrics
from gateway.ratelimit import RateLimiter
from gateway.settings import Settings
from gateway.tenants import Tenants
from guardrails import Guards, default_guards
from retrieval import MiniLMEmbedder, QdrantStore, Retriever, RunbookIndex
from routing import LiteLLMBackend, ModelBackend, Router, RouteTable
from tools import ToolRegistry, default_tools

__all__ = ["Services", "open_index"]


@dataclass
class Services:
    """The platform's parts, wired."""

    settings: Settings
    engine: Engine
    tenants: Tenants
    audit: AuditLog
    guards: Guards
    retriever: Retriever
    store: QdrantStore
    router: Router
    tools: ToolRegistry
    limiter: RateLimiter
    metrics: Metrics

    @classmethod
    def build(cls, settings: Settings, *, backend: ModelBackend | None = None) -> Services:
        engine = open_engine(settings.sqlalchemy_url)
        store, index = open_index(settings)
        return cls(
            settings=settings,
            engine=engine,
            tenants=Tenants(engine),
            audit=AuditLog(engine),
            guards=default_guards(
                max_chars=settings.guardrails.max_input_chars, max_tokens=settings.guardrails.max_input_tokens
            ),
            retriever=index,
            store=store,
            router=Router(RouteTable(settings.deployments, settings.routes), backend or LiteLLMBackend()),
            tools=ToolRegistry(default_tools()),
            limiter=RateLimiter(),
            metrics=Metrics(),
        )

    def close(self) -> None:
        self.store.close()
        self.engine.dispose()


def open_index(settings: Settings) -> tuple[QdrantStore, RunbookIndex]:
    """Open the configured vector store and the runbook index over it (loads the embedder)."""
    r = settings.retrieval
    store = QdrantStore.open(
        url=r.qdrant_url,
        path=settings.data_dir / "qdrant",
        api_key=r.qdrant_api_key.get_secret_value() if r.qdrant_api_key else None,
    )
    index = RunbookIndex(
        store,
        MiniLMEmbedder.load(),
        collection=r.collection,
        manifest=settings.data_dir / "index" / f"{r.collection}.json",
    )
    return store, index
