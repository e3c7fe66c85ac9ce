"""One settings class: defaults, the YAML file, environment overrides; bad config fails at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.settings import load_settings
from tests.gateway.test_audit import netops

EXAMPLE = Path(__file__).resolve().parents[2] / "infra" / "netops.example.yaml"


def test_example_config_loads() -> None:
    settings = load_settings(EXAMPLE)
    assert settings.server.port == 8080
    assert [r.name for r in settings.routes] == ["netops-assistant", "smollm2"]


def test_environment_overrides_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETOPS_SERVER__PORT", "9191")
    assert load_settings(EXAMPLE).server.port == 9191


def test_unknown_keys_and_dangling_routes_fail(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("server:\n  prot: 80\n")
    with pytest.raises(ValidationError, match="prot"):
        load_settings(bad)
    dangling = tmp_path / "dangling.yaml"
    dangling.write_text(
        "deployments: [{name: a, model: m, base_url: 'http://x/v1'}]\nroutes: [{name: r, deployments: [b]}]\n"
    )
    with pytest.raises(ValidationError, match="unknown deployments"):
        load_settings(dangling)
    result = netops(tmp_path, "--config", str(bad), "tenant", "list")
    assert result.returncode == 2 and "invalid configuration" in result.stderr and "Traceback" not in result.stderr
