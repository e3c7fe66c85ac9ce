"""The platform an eval tier runs against, started here and stopped at the end: a fresh data directory with the
runbook index, the gateway's services, and (for the quality tier) the real gateway on a free port with the demo
tenant and a judge tenant, over the embedded model or the configured deployments.

The judge tenant (`eval-judge`) gets the guardrail policy `judge.yaml` (next to this module): a judge's prompts
quote answers and excerpts and carry instructions of their own, which the default policy's injection scanner
would refuse; secrets are still redacted both ways.

Example:
    with gateway_stack(settings, Path(tmp), model_url=None, progress=print) as stack:
        httpx.post(f"{stack.url}/v1/chat/completions", headers={"authorization": f"Bearer {stack.key}"}, ...)
"""

from __future__ import annotations

import importlib.resources
import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from gateway.app import create_app
from gateway.demo import build_index, ensure_demo_key
from gateway.local import ThreadedServer, free_port
from gateway.services import Services
from gateway.settings import Settings
from gateway.supervisor import ModelServer
from routing import Deployment

__all__ = ["JUDGE_TENANT", "Stack", "eval_settings", "gateway_stack", "services_for"]

JUDGE_TENANT = "eval-judge"
Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Stack:
    """A running gateway: its URL, services, the demo tenant's key and the judge tenant's key."""

    url: str
    svc: Services
    key: str
    judge_key: str

    @property
    def v1(self) -> str:
        return f"{self.url}/v1"


def eval_settings(settings: Settings, root: Path, *, model_url: str | None = None) -> Settings:
    """The settings with a fresh data dir under `root` (vectors cached in the configured data dir), a policies
    folder that adds the judge's policy, and the model at `model_url` (or the embedded one, on a free port, when
    no deployment is configured)."""
    update: dict[str, object] = {
        "data_dir": root / "data",
        # the operator's vector cache: a tier's fresh index embeds only the chunks no earlier build has seen
        "retrieval": settings.retrieval.model_copy(
            update={"embed_threads": None, "vector_cache": settings.vector_cache_path.resolve()}
        ),
    }
    source = settings.guardrails.policies_dir
    if source is not None and source.is_dir():  # else the built-in default applies to the judge too
        policies = root / "policies"
        shutil.copytree(source, policies)
        (policies / f"{JUDGE_TENANT}.yaml").write_text(_packaged("judge.yaml"))
        update["guardrails"] = settings.guardrails.model_copy(update={"policies_dir": policies})
    data = settings.model_copy(update=update).model_dump()
    if model_url is not None:
        data["deployments"] = [Deployment(name="local-smollm2", model="smollm2-135m-instruct", base_url=model_url)]
        data["routes"] = []
        data["model_server"] = {**data["model_server"], "enabled": False}
    elif settings.deployments == [settings.embedded_deployment()]:  # room for a judge prompt and its verdict
        n_ctx = max(data["model_server"]["n_ctx"], 4096)
        data["model_server"] = {**data["model_server"], "port": free_port(), "n_ctx": n_ctx}
        data["deployments"], data["routes"] = [], []
    else:
        data["model_server"] = {**data["model_server"], "enabled": False}
    return Settings(**data)


@contextmanager
def services_for(settings: Settings, progress: Progress) -> Iterator[Services]:
    """The platform's services over `settings` (see `eval_settings`), with the runbook index built."""
    svc = Services.build(settings)
    try:
        build_index(svc, progress)
        yield svc
    finally:
        svc.close()


@contextmanager
def gateway_stack(settings: Settings, progress: Progress) -> Iterator[Stack]:
    """The real gateway on a free port over `settings` (see `eval_settings`); starts the embedded model server
    when the settings enable it."""
    with ExitStack() as stack:
        if settings.model_server.enabled:
            model = ModelServer(settings.model_server, log_dir=settings.data_dir / "logs")
            model.start()
            stack.callback(model.stop)
        else:
            model = None
        svc = stack.enter_context(services_for(settings, progress))
        key = ensure_demo_key(svc)
        judge_routes = [r for r in svc.router.table.routes if r != "netops-assistant"] or ["*"]
        svc.tenants.create(JUDGE_TENANT, models=judge_routes, tools=[], rpm=10_000)
        judge_key = svc.tenants.create_key(JUDGE_TENANT, label="eval judge").plaintext
        if model is not None:
            progress("model server: waiting until ready")
            model.wait_ready()
        server = ThreadedServer(create_app(svc)).start()
        stack.callback(server.stop)
        yield Stack(server.url, svc, key, judge_key)


def _packaged(name: str) -> str:
    return importlib.resources.files("evals.suite").joinpath(name).read_text()
