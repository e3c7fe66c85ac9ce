"""`netops slack map ...`: channels and users mapped in the store, users' keys only in a 0600 file."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from click.testing import CliRunner

from gateway.cli import cli
from gateway.db import open_engine
from gateway.tenants import Tenants


def test_map_list_and_unmap_through_the_cli(tmp_path: Path) -> None:
    env = {"NETOPS_DATA_DIR": str(tmp_path)}
    engine = open_engine(f"sqlite:///{tmp_path / 'netops.db'}")
    Tenants(engine).create("acme", models=["*"], tools=[], rpm=10)
    run = CliRunner().invoke
    assert run(cli, ["slack", "map", "channel", "T1", "C1", "acme"], env=env).exit_code == 0
    mapped = run(cli, ["slack", "map", "user", "T1", "U1", "acme", "--role", "approver"], env=env)
    assert mapped.exit_code == 0, mapped.output
    keys = tmp_path / "slack-keys.json"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    ((key_id, key),) = json.loads(keys.read_text()).items()
    assert key_id in mapped.output and key not in mapped.output
    listing = run(cli, ["slack", "map", "list"], env=env)
    assert key not in listing.output
    data = json.loads(listing.output)
    assert data["channels"][0]["tenant"] == "acme" and data["users"][0]["role"] == "approver"
    assert Tenants(engine).authenticate(key).role == "approver"
    assert run(cli, ["slack", "map", "channel", "T1", "C2", "nosuch"], env=env).exit_code == 2
    assert run(cli, ["slack", "map", "channel", "T1", "bad id", "acme"], env=env).exit_code == 2
    assert run(cli, ["slack", "unmap", "user", "T1", "U1"], env=env).exit_code == 0
    assert json.loads(keys.read_text()) == {}
    assert Tenants(engine).list_keys("acme")[0]["revoked"]
