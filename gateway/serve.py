"""`netops serve`: start the model server, build the services, run uvicorn; Ctrl-C stops everything.

Start-up order: check the gateway port, start the model server (it boots while the embedder loads),
build services, ensure the demo tenant and index, wait for the model, then listen.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
import uvicorn

from gateway.app import create_app
from gateway.demo import build_index, ensure_demo_key
from gateway.edge import configure_logging
from gateway.errors import GatewayError
from gateway.prompting import PromptError
from gateway.services import Services
from gateway.settings import Settings
from gateway.slack.serving import attach as attach_slack
from gateway.supervisor import ModelServer, ModelServerError, port_in_use
from gateway.workers import serve_workers
from guardrails import PolicyError

__all__ = ["run"]


def run(
    settings: Settings,
    *,
    host: str | None,
    port: int | None,
    model_server: bool,
    workers: int = 1,
    config: Path | None = None,
) -> None:
    """Serve until interrupted; with `workers` > 1, in that many processes (`gateway.workers`)."""
    started = time.perf_counter()
    host = host or settings.server.host
    port = port or settings.server.port
    if port_in_use(host, port):
        click.echo(
            f"error: {host}:{port} is already in use (another `netops serve`?). Stop it, or pass --port.",
            err=True,
        )
        sys.exit(2)
    _configure_logging()
    server = ModelServer(settings.model_server, log_dir=settings.data_dir / "logs")
    run_model = model_server and settings.model_server.enabled
    try:
        if run_model:
            server.start()
        svc = Services.build(settings)
    except (ModelServerError, PolicyError, PromptError, GatewayError) as exc:  # bad policy, prompts, audit key
        server.stop()
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    try:
        key = ensure_demo_key(svc)
        if not svc.retriever.status().ready:
            status = build_index(svc, click.echo)
            click.echo(f"index {status.version} ready: {status.chunks} chunks")
        if run_model:
            server.wait_ready()
        app = create_app(svc)  # with several workers, only the Slack bot's: each worker builds its own
        slack_note = attach_slack(settings, app, svc, url=f"http://{_loopback(host)}:{port}")
        if workers > 1 and getattr(app.state, "slack", None) is None:  # the HTTP Events bot lives in the app
            _banner(host, port, key, time.perf_counter() - started)
            click.echo(slack_note)
            serve_workers(svc, config=config, host=host, port=port, workers=workers)
            return
        _banner(host, port, key, time.perf_counter() - started)
        click.echo(slack_note)
        uvicorn.run(app, host=host, port=port, log_level="warning")
    except ModelServerError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    finally:
        server.stop()
        svc.close()


def _loopback(host: str) -> str:
    """Where this process reaches its own gateway."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - a comparison, not a bind


def _configure_logging() -> None:
    configure_logging()  # the same in every worker process (gateway.workers)


def _banner(host: str, port: int, key: str, seconds: float) -> None:
    base = f"http://{host}:{port}"
    click.echo(f"""
NetOps Assistant is up ({seconds:.1f} s).
  OpenAI-compatible API:  {base}/v1      (model: netops-assistant)
  Health / readiness:     {base}/healthz  {base}/readyz
  API docs:               {base}/docs
  Demo API key:           {key}

  curl {base}/v1/chat/completions -H "Authorization: Bearer {key}" \\
       -H "content-type: application/json" \\
       -d '{{"model": "netops-assistant", "messages": [{{"role": "user", "content": "BGP session is down"}}]}}'

Ctrl-C stops the gateway and the model server.
""")
