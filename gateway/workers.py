"""`netops serve --workers N`: N uvicorn worker processes on one socket, the single-instance parts in the parent.

    parent (`serve_workers`)                        worker 1..N (`worker_app`, spawned by uvicorn)
      model server (llama.cpp child, once)            Services: store, audit (group commit), guards, router
      runbook index + embedder (torch, once)  <---    RemoteRetriever: search/status over a Unix socket
      IndexHost: serves the index to workers          limits: Redis, or <data_dir>/limits.db (SqliteLimits)
      uvicorn's supervisor: restarts dead workers     no torch, no embedded Qdrant (it is one process's lock)

What the workers share, and how it stays exact: the state store (SQLite in WAL mode, or PostgreSQL) with the
audit chain kept linear by a database lock per append transaction (`gateway.audit`); limits and budgets in
Redis when configured, else in one SQLite file whose every reserve and settle is a `BEGIN IMMEDIATE`
transaction (`routing.sqlite_limits`); the principal cache is per process with a bounded staleness
(`gateway.tenants`). The parent writes `<data_dir>/run/workers.json` (the index socket) and a 0600 key file
for the socket's authentication; workers read both at start. Metrics: every worker writes its values under
`<data_dir>/run/metrics` and a scrape of any worker reports them all (`gateway.metrics`).

Left out: the Slack bot with several workers (run `netops slack run` next to the gateway), and hot reload.

Example:
    serve_workers(settings, config=Path("netops.yaml"), host="127.0.0.1", port=8080, workers=2, model_server=True)
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import secrets
import shutil
import tempfile
import threading
from dataclasses import dataclass
from multiprocessing.connection import Client, Connection, Listener
from pathlib import Path
from typing import Any

import click
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.edge import configure_logging
from gateway.services import Services
from gateway.settings import Settings, load_settings
from retrieval import Hit, IndexStatus, Retriever
from retrieval.semantic import Recall, SemanticMemory

__all__ = ["IndexHost", "RemoteRetriever", "WorkerPlan", "rss_mb", "serve_workers", "worker_app"]

_log = logging.getLogger("netops.workers")
_CALLS = {"search": "index", "status": "index", "version": "index", "recall": "semantic", "remember": "semantic"}


@dataclass(frozen=True, slots=True)
class WorkerPlan:
    """Where a worker finds the parent's index (written by the parent before the workers start)."""

    socket: str
    key_file: str

    @staticmethod
    def path(settings: Settings) -> Path:
        return settings.data_dir.resolve() / "run" / "workers.json"

    def write(self, settings: Settings) -> None:
        path = self.path(settings)
        path.write_text(json.dumps({"socket": self.socket, "key_file": self.key_file}))

    @classmethod
    def read(cls, settings: Settings) -> WorkerPlan:
        data = json.loads(cls.path(settings).read_text())
        return cls(str(data["socket"]), str(data["key_file"]))


class IndexHost:
    """Serves one `Retriever` to the worker processes over an authenticated Unix socket, a thread per worker."""

    def __init__(self, retriever: Retriever, run_dir: Path, semantic: SemanticMemory | None = None) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        key_file = run_dir / "index.key"
        key_file.touch(mode=0o600)
        key_file.chmod(0o600)
        self._key = secrets.token_bytes(32)
        key_file.write_bytes(self._key)
        sock = run_dir / "index.sock"
        if len(str(sock)) > 100:  # a Unix socket path holds at most 107 bytes
            sock = Path(tempfile.mkdtemp(prefix="netops-")) / "index.sock"
        sock.unlink(missing_ok=True)
        self.plan = WorkerPlan(str(sock), str(key_file))
        self._targets: dict[str, object] = {"index": retriever}
        if semantic is not None:
            self._targets["semantic"] = semantic
        self._listener = Listener(str(sock), family="AF_UNIX", authkey=self._key)
        self._thread = threading.Thread(target=self._accept, name="index-host", daemon=True)

    def start(self) -> IndexHost:
        self._thread.start()
        return self

    def close(self) -> None:
        self._listener.close()
        Path(self.plan.socket).unlink(missing_ok=True)

    def _accept(self) -> None:
        while True:
            try:
                conn = self._listener.accept()
            except OSError:  # closed at shutdown
                return
            except Exception as exc:  # noqa: BLE001 - a peer that fails authentication: refuse it, keep serving
                _log.warning("index host: refused a connection (%s)", type(exc).__name__)
                continue
            threading.Thread(target=self._serve, args=(conn,), name="index-host-conn", daemon=True).start()

    def _serve(self, conn: Connection) -> None:
        with conn:
            while True:
                try:
                    name, args, kwargs = conn.recv()
                except (EOFError, OSError):
                    return
                conn.send(self._answer(name, args, kwargs))

    def _answer(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[bool, Any]:
        target = self._targets.get(_CALLS.get(name, ""))
        if target is None:
            return False, ValueError(f"index host: no call {name!r}")
        try:
            return True, getattr(target, name)(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - re-raised in the worker that asked
            return False, _portable(exc)


class RemoteRetriever:
    """The `Retriever` a worker uses: the parent's index (and semantic cache), one connection per worker thread."""

    def __init__(self, plan: WorkerPlan) -> None:
        self._plan = plan
        self._key = Path(plan.key_file).read_bytes()
        self._local = threading.local()

    def search(self, tenant: str, query: str, top_k: int, *, clearance: str = "internal") -> list[Hit]:
        result: list[Hit] = self._call("search", (tenant, query, top_k), {"clearance": clearance})
        return result

    def status(self) -> IndexStatus:
        result: IndexStatus = self._call("status", (), {})
        return result

    def version(self) -> str:
        result: str = self._call("version", (), {})
        return result

    def recall(
        self, tenant: str, scope: str, question: str, entities: tuple[str, ...], *, threshold: float
    ) -> Recall | None:
        result: Recall | None = self._call("recall", (tenant, scope, question, entities), {"threshold": threshold})
        return result

    def remember(
        self, tenant: str, scope: str, question: str, entities: tuple[str, ...], value: dict[str, Any]
    ) -> None:
        self._call("remember", (tenant, scope, question, entities, value), {})

    def _call(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        for attempt in (1, 2):  # a parent restarted meanwhile: reconnect once
            conn = self._connection()
            try:
                conn.send((name, args, kwargs))
                ok, value = conn.recv()
            except (EOFError, OSError):
                self._local.conn = None
                if attempt == 2:
                    raise
                continue
            if not ok:
                raise value
            return value
        raise AssertionError("unreachable")

    def _connection(self) -> Connection:
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = Client(self._plan.socket, family="AF_UNIX", authkey=self._key)
            self._local.conn = conn
        return conn


class _ClosesServices:
    """Answers the ASGI lifespan itself and closes the worker's services at shutdown (signs the audit head)."""

    def __init__(self, app: ASGIApp, svc: Services) -> None:
        self.app = app
        self.svc = svc

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.svc.router.aclose()
                self.svc.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def serve_workers(svc: Services, *, config: Path | None, host: str, port: int, workers: int) -> None:
    """Host `svc`'s index for the workers, then run `workers` uvicorn worker processes until interrupted.

    The caller built `svc` (the index, the demo key) and started the model server; it stops both afterwards.
    """
    import uvicorn  # noqa: PLC0415

    index = IndexHost(svc.retriever, svc.settings.data_dir.resolve() / "run", svc.semantic).start()
    index.plan.write(svc.settings)
    metrics = svc.settings.data_dir.resolve() / "run" / "metrics"  # every worker's values, summed by any scrape
    shutil.rmtree(metrics, ignore_errors=True)  # a previous run's workers are gone: their counts with them
    metrics.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics)  # read by the workers' prometheus_client (gateway.metrics)
    if config is not None:  # the workers load the same settings: they are spawned, not forked
        os.environ["NETOPS_CONFIG"] = str(config.resolve())
    click.echo(f"{workers} worker processes; the index and the model server run once, in process {os.getpid()}")
    try:
        uvicorn.run(
            "gateway.workers:worker_app", factory=True, host=host, port=port, workers=workers, log_level="warning"
        )
    finally:
        index.close()


def worker_app() -> ASGIApp:
    """The app factory each uvicorn worker calls: services over the parent's index and the shared limits."""
    from gateway.app import create_app  # noqa: PLC0415 - in the worker process only

    configure_logging()
    settings = load_settings()  # NETOPS_CONFIG, set by the parent, names the same file
    retriever = RemoteRetriever(WorkerPlan.read(settings))
    semantic = retriever if settings.cache.enabled and settings.cache.semantic else None  # the parent's
    svc = Services.build(settings, index=(None, retriever), shared_limits=True, semantic=semantic)
    app = _ClosesServices(create_app(svc), svc)
    click.echo(f"worker {os.getpid()} ready: {rss_mb(os.getpid()):.0f} MB resident", err=True)
    return app


def _portable(exc: Exception) -> Exception:
    """The error itself if it survives pickling (the worker re-raises the same type), else a RuntimeError."""
    try:
        pickle.loads(pickle.dumps(exc))  # noqa: S301 - our own bytes, this process
    except Exception:  # noqa: BLE001 - an error type that does not pickle
        return RuntimeError(f"index host: {type(exc).__name__}: {exc}")
    return exc


def rss_mb(pid: int) -> float:
    """A process's resident memory in MB (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0
