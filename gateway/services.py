"""Everything a request needs, built once at start-up from the settings and injected.

Example:
    svc = Services.build(settings)        # loads the embedder, opens the stores (litellm only if a provider needs it)
    ...
    svc.close()
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from gateway.audit import AuditLog
from gateway.audit_spool import AuditSpool
from gateway.cache import Caches
from gateway.checkpoints import Checkpointer
from gateway.config_checks import validate_policy, validate_routes
from gateway.config_live import LiveConfig, guards_with
from gateway.config_model import Kind
from gateway.config_versions import ConfigVersions
from gateway.db import health_of, open_engine
from gateway.kills import KillSwitches, Target
from gateway.metrics import Metrics
from gateway.prompting import PromptBook
from gateway.ratelimit import Metering
from gateway.rollout import Rollouts
from gateway.settings import Settings
from gateway.shadow import Shadows
from gateway.tenants import Tenants
from gateway.tracing import Tracing
from guardrails import Guards, TenantGuards, default_guards, load_guards
from retrieval import (
    Embedder,
    LazyEmbedder,
    MiniLMEmbedder,
    Retriever,
    RunbookIndex,
    VectorCache,
    VectorStore,
    open_store,
)
from retrieval.semantic import SemanticCache, SemanticMemory
from routing import BreakerConfig, ModelBackend, ProviderBackend, Router, RouteTable
from routing.fallback_limits import FallbackLimits
from tools import Toolbox, ToolRegistry

__all__ = ["Services", "build_guards", "open_index", "semantic_memory"]

log = logging.getLogger("netops.services")


@dataclass
class Services:
    """The platform's parts, wired."""

    settings: Settings
    engine: Engine
    tenants: Tenants
    audit: AuditLog
    guards: Guards
    retriever: Retriever
    store: VectorStore | None  # None in a `serve --workers` worker: the parent holds the index (gateway.workers)
    router: Router
    tools: ToolRegistry
    metering: Metering
    metrics: Metrics
    toolbox: Toolbox
    prompts: PromptBook
    rollouts: Rollouts = field(init=False)  # canary and shadow rollouts of prompt versions, and their counters
    shadows: Shadows = field(init=False)  # shadow rollouts' background answers
    caches: Caches = field(init=False)  # response, tool-output and retrieval caches (gateway.cache)
    config: ConfigVersions = field(init=False)  # routes and policies as versions (gateway.config_versions)
    live: LiveConfig = field(init=False)  # keeps this process on the versions in force and the kill switches
    kill: KillSwitches = field(init=False)  # throw and revive kill switches (gateway.kills)
    semantic: SemanticMemory | None = None  # the semantic cache's memory (in the index's process)
    tracing: Tracing = field(default_factory=Tracing)  # request spans (gateway.tracing): no-op unless configured

    def __post_init__(self) -> None:
        ps = self.settings.prompts
        self.rollouts = Rollouts(self.engine, self.prompts, self.audit, refresh_s=ps.rollout_refresh_s)
        self.shadows = Shadows(
            self.router, self.rollouts, self.audit, concurrency=ps.shadow_concurrency, queue=ps.shadow_queue
        )
        self.caches = Caches.build(self.settings.cache, self.metrics)
        self.config = ConfigVersions(self.engine, self.audit)
        self.live = LiveConfig(self.config, refresh_s=self.settings.config_refresh_s)
        self.live.on(Kind.ROUTES, self._routes, lambda _, table: self.router.use(table))
        self.live.on(Kind.POLICY, self._policy, self._use_policy)
        self.metrics.poll(self.metrics.store_down, health_of(self.engine).down_for)
        spool = self.audit.spool
        self.metrics.poll(self.metrics.audit_spooled, lambda: spool.waiting if spool is not None else 0)
        if isinstance(self.metering.store, FallbackLimits):
            self.metrics.poll(self.metrics.limits_down, self.metering.store.down_for)
        self.kill = KillSwitches(self.engine, self.audit)
        self.live.watch(self.kill, lambda kills: setattr(self.router, "killed", kills.names(Target.DEPLOYMENT)))
        self.live.refresh()  # a version applied before this start wins over the settings file

    def _routes(self, subject: str, body: dict[str, Any]) -> RouteTable:
        table = validate_routes(body, self.settings)
        self.router.know(table)  # its deployments get signals and breakers, in force or as a rollout's candidate
        return table

    def _policy(self, subject: str, body: dict[str, Any]) -> TenantGuards:
        return validate_policy(subject, body, self.settings)

    def _use_policy(self, subject: str, guards: TenantGuards) -> None:
        self.guards = guards_with(self.guards, subject, guards)

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        backend: ModelBackend | None = None,
        index: tuple[VectorStore | None, Retriever] | None = None,
        shared_limits: bool = False,
        semantic: SemanticMemory | None = None,
    ) -> Services:
        """`index` replaces the configured one (a worker's remote index); `shared_limits` keeps limits and
        budgets in a store all worker processes share (`Metering.build`)."""
        engine = open_engine(settings.sqlalchemy_url)
        store, retriever = index or open_index(settings)
        if semantic is None:
            semantic = semantic_memory(settings, store, retriever)
        metrics, rs = Metrics(), settings.routing
        breaker = BreakerConfig(rs.failure_threshold, rs.cooldown_s, rs.max_cooldown_s)
        table = RouteTable(settings.deployments, settings.routes)
        t = settings.tools
        toolbox = Toolbox.build(
            engine,
            inventory_dir=t.inventory_dir,
            lab_dir=str(t.lab_dir),
            lab_prefix=t.lab_prefix,
            lab_ssh_port=t.lab_ssh_port,
        )
        return cls(
            settings=settings,
            engine=engine,
            tenants=Tenants(engine, snapshot_max_age_s=settings.snapshot_max_age_s),
            audit=AuditLog(
                engine,
                checkpoints=Checkpointer.in_dir(settings.data_dir),
                spool=AuditSpool.in_dir(settings.data_dir),
            ),
            guards=build_guards(settings),
            retriever=retriever,
            store=store,
            router=Router(
                table,
                backend or ProviderBackend(table.deployments.values()),
                breaker=breaker,
                scrape_interval_s=rs.scrape_interval_s,
            ),
            tools=toolbox.registry,
            metering=Metering.build(settings, metrics, shared=shared_limits),
            metrics=metrics,
            toolbox=toolbox,
            prompts=PromptBook.open(
                settings.prompts.dir, engine=engine, pins=settings.prompts.pins, legacy=settings.data_dir / "prompts"
            ),
            semantic=semantic,
            tracing=Tracing.build(settings.tracing),
        )

    def close(self) -> None:
        """Write what is deferred, sign the audit chain's head, then close the stores."""
        with contextlib.suppress(SQLAlchemyError):  # the store is gone: only feedback mappings are lost
            self.rollouts.flush()
        self.audit.close()
        if self.store is not None:
            self.store.close()
        self.engine.dispose()
        self.tracing.shutdown()  # exports the spans still batched


def build_guards(settings: Settings) -> Guards:
    """Every tenant's guardrail chains from the policies folder (validated here: a bad policy fails boot)."""
    g = settings.guardrails
    if g.policies_dir is None:
        return default_guards(max_chars=g.max_input_chars, max_tokens=g.max_input_tokens)
    return load_guards(g.policies_dir, max_chars=g.max_input_chars, max_tokens=g.max_input_tokens)


def semantic_memory(settings: Settings, store: VectorStore | None, retriever: Retriever) -> SemanticMemory | None:
    """The semantic cache over the index's store and embedder (a worker is given its parent's instead)."""
    c = settings.cache
    if not (c.enabled and c.semantic):
        return None
    r = settings.retrieval
    if r.path is not None and r.qdrant_url is None:  # an embedded folder other processes write: no cache in it
        log.warning("semantic cache off: the embedded index folder retrieval.path is shared (use a Qdrant server)")
        return None
    if store is not None and isinstance(retriever, RunbookIndex):
        name = f"{settings.retrieval.collection}-semcache"
        return SemanticCache(
            store, retriever.embedder, name=name, ttl_s=c.semantic_ttl_s, max_entries=c.semantic_entries
        )
    return None


def open_index(settings: Settings, *, lazy: bool = False) -> tuple[VectorStore, RunbookIndex]:
    """Open the configured vector store and the runbook index over it; the embedder loads now (the server:
    no work on the request path) or, with `lazy`, on first use (commands that may not embed at all)."""
    r = settings.retrieval
    store = open_store(
        engine=r.engine,
        url=r.qdrant_url,
        path=r.path or settings.data_dir,
        api_key=r.qdrant_api_key.get_secret_value() if r.qdrant_api_key else None,
    )
    embedder: Embedder = LazyEmbedder(threads=r.embed_threads) if lazy else MiniLMEmbedder.load(threads=r.embed_threads)
    vectors = VectorCache(settings.vector_cache_path, embedder=embedder.name, dim=embedder.dim)
    index = RunbookIndex(store, embedder, name=r.collection, mode=r.mode, max_chars=r.max_chunk_chars, vectors=vectors)
    return store, index
