"""The `netops` CLI: tenants, keys, and a clear refusal to serve on a busy port."""

from __future__ import annotations

import socket
from pathlib import Path

from gateway.db import open_engine
from gateway.tenants import Tenants
from tests.gateway.test_audit import netops


def test_tenant_and_key_lifecycle(tmp_path: Path) -> None:
    assert netops(tmp_path, "tenant", "create", "acme", "--models", "smollm2", "--tools", "dns_lookup").returncode == 0
    again = netops(tmp_path, "tenant", "create", "acme")
    assert again.returncode == 2 and "already exists" in again.stderr
    created = netops(tmp_path, "key", "create", "acme", "--label", "laptop")
    assert created.returncode == 0
    plaintext = next(line.split()[-1] for line in created.stdout.splitlines() if line.startswith("api key:"))
    key_id = next(line.split()[-1] for line in created.stdout.splitlines() if line.startswith("key id:"))
    tenants = Tenants(open_engine(f"sqlite:///{tmp_path / 'netops.db'}"))
    principal = tenants.authenticate(plaintext)
    assert principal.tenant == "acme" and principal.may_use("smollm2") and not principal.may_use("netops-assistant")
    assert plaintext not in (tmp_path / "netops.db").read_bytes().decode("latin-1")
    assert netops(tmp_path, "key", "revoke", key_id).returncode == 0
    missing = netops(tmp_path, "key", "create", "nobody")
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_serve_on_a_busy_port_fails_clearly(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = netops(tmp_path, "serve", "--port", str(port), "--no-model-server")
    assert result.returncode == 2
    assert f"127.0.0.1:{port} is already in use" in result.stderr
    assert "Traceback" not in result.stderr
