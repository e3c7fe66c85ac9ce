"""Tool fixtures: one real FRR lab (network namespaces, real daemons) per test run, and toolboxes over it.

The lab needs root and FRR (CI runs as root; `infra/apt-packages.txt` installs FRR); elsewhere these tests skip.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from gateway.app import create_app
from gateway.db import open_engine
from gateway.demo import build_index, ensure_demo_key
from gateway.services import Services
from gateway.settings import RetrievalSettings, Settings, ToolSettings
from tests.conftest import ModelEndpoint, gateway_settings
from tests.support import ThreadedServer, free_port
from tools import Toolbox
from tools.commands import Command
from tools.devices import LocalFrrTransport, Transport
from tools.inventory import Device
from tools.lab import Faults, Lab
from tools.ssh import ScrapliTransport

REPO = Path(__file__).resolve().parents[2]
INVENTORY = REPO / "infra" / "inventory"


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    """The lab, up and converged once for the session; torn down at the end."""
    if os.geteuid() != 0:
        pytest.skip("the FRR lab needs root (namespaces, veth); CI runs as root")
    assert shutil.which("vtysh"), "FRR is missing: `make test` installs infra/apt-packages.txt"
    # a prefix of this run's own, so two test runs (or a test run beside `netops lab up`) never share namespaces
    prefix = f"t{os.getpid() % 36**5:x}"[:8]
    the_lab = Lab(Path(f"/run/netops-lab-test-{os.getpid()}"), prefix=prefix, ssh_port=free_port())
    the_lab.up()
    try:
        the_lab.wait_converged()
        yield the_lab
    finally:
        the_lab.down()


@pytest.fixture
def faults(lab: Lab) -> Iterator[Faults]:
    """Fault injection; every fault is healed (and the lab re-converged) after the test."""
    f = Faults(lab)
    yield f
    if f.heal():
        lab.wait_converged()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = open_engine(f"sqlite:///{tmp_path / 'tools.db'}")
    yield eng
    eng.dispose()


class CountingTransport:
    """The real local FRR transport, counting what reaches it (to prove refusals happen before anything runs)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, tuple[str, ...]]] = []
        self._inner = LocalFrrTransport()

    async def send(self, device: Device, command: Command, timeout_s: float) -> str:
        self.sent.append((device.name, command.lines))
        return await self._inner.send(device, command, timeout_s)


@pytest.fixture
def transport() -> CountingTransport:
    return CountingTransport()


@pytest.fixture
def box(lab: Lab, engine: Engine, transport: CountingTransport) -> Toolbox:
    """The demo tenant's tools over the lab, through a counting transport."""
    transports: dict[str, Transport] = {"vtysh": transport, "ssh": ScrapliTransport()}
    return Toolbox.build(
        engine,
        inventory_dir=INVENTORY,
        lab_dir=str(lab.root),
        lab_prefix=lab.prefix,
        lab_ssh_port=lab.ssh_port,
        transports=transports,
    )


@dataclass
class ToolGateway:
    url: str
    svc: Services
    settings: Settings
    admin: str
    approver: str
    user: str

    def post(self, path: str, key: str, body: object = None) -> httpx.Response:
        return httpx.post(f"{self.url}{path}", json=body, headers={"authorization": f"Bearer {key}"}, timeout=120)

    def get(self, path: str, key: str) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", headers={"authorization": f"Bearer {key}"}, timeout=30)

    def audit_kinds(self) -> list[str]:
        """The tool and action records, oldest first (each request's final `request.*` record left out)."""
        records = reversed(self.svc.audit.records(tenant="demo", limit=1000))
        return [r["kind"] for r in records if not r["kind"].startswith("request.")]


@pytest.fixture(scope="module")
def gw(lab: Lab, model: ModelEndpoint, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ToolGateway]:
    data = tmp_path_factory.mktemp("tools-gateway")
    tools = ToolSettings(inventory_dir=INVENTORY, lab_dir=lab.root, lab_prefix=lab.prefix, lab_ssh_port=lab.ssh_port)
    retrieval = RetrievalSettings(sources=[REPO / "infra" / "demo" / "runbooks"])
    svc = Services.build(gateway_settings(data, model.url, tools=tools, retrieval=retrieval))
    settings = svc.settings
    build_index(svc, lambda _: None)
    admin = ensure_demo_key(svc)
    approver = svc.tenants.create_key("demo", label="approver", role="approver").plaintext
    user = svc.tenants.create_key("demo", label="noc", role="user").plaintext
    server = ThreadedServer(create_app(svc)).start()
    yield ToolGateway(server.url, svc, settings, admin, approver, user)
    server.stop()
    svc.close()
