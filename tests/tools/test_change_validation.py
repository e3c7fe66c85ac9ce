"""Change proposals are checked against the real device before a pending action exists: an interface or a BGP
neighbor the router does not have is refused (422, stable codes), nothing is recorded and no change line is
sent; an accepted proposal carries the exact command lines and the state read from the device."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from gateway.db import open_engine
from gateway.problems import problem_for
from tests.tools.conftest import CountingTransport
from tools import InvalidArguments, Toolbox, ToolContext
from tools.approvals import Approvals
from tools.errors import UnknownInterface, UnknownNeighbor


def admin(box: Toolbox) -> ToolContext:
    return box.context("demo", box.registry.names, role="admin", key_id="proposer", request_id="r-val")


def propose(box: Toolbox, tool: str, **arguments: object) -> str:
    return asyncio.run(box.registry.invoke(tool, arguments, admin(box))).output


def changes_sent(transport: CountingTransport) -> list[tuple[str, ...]]:
    return [lines for _, lines in transport.sent if lines[0] in ("configure terminal",) or lines[0].startswith("clear")]


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("interface_shutdown", {"device": "r1", "interface": "eth99"}),
        ("interface_shutdown", {"device": "r1", "interface": "r3"}),  # a router's name is not an interface
        ("interface_no_shutdown", {"device": "r2", "interface": "r1-r3"}),  # r1's interface, not r2's
        ("set_ospf_cost", {"device": "r1", "interface": "eth99", "cost": 50}),
    ],
)
def test_an_unknown_interface_is_refused_before_an_action_exists(
    tool: str, arguments: dict[str, object], box: Toolbox, transport: CountingTransport
) -> None:
    with pytest.raises(UnknownInterface) as refused:
        propose(box, tool, **arguments)
    assert isinstance(refused.value, InvalidArguments) and refused.value.code == "unknown_interface"
    assert f"has no interface {arguments['interface']!r}" in refused.value.detail
    assert "(it has: lo, " in refused.value.detail  # the interfaces it does have, for the model to correct itself
    assert box.approvals.list("demo") == []
    assert changes_sent(transport) == []


def test_an_unknown_bgp_neighbor_is_refused(box: Toolbox, transport: CountingTransport) -> None:
    with pytest.raises(UnknownNeighbor) as refused:
        propose(box, "clear_bgp_session", device="r1", peer="10.0.99.9")
    assert refused.value.code == "unknown_neighbor"
    assert refused.value.detail == (
        "r1 has no BGP neighbor 10.0.99.9 (its neighbors: 10.0.12.2, 10.0.13.2); nothing was proposed"
    )
    assert box.approvals.list("demo") == [] and changes_sent(transport) == []
    response = problem_for(refused.value, "req-1")  # the gateway's one status table: an InvalidArguments, 422
    assert response.status_code == 422 and json.loads(bytes(response.body))["code"] == "unknown_neighbor"


def test_a_pending_action_carries_its_commands_and_the_state_before(box: Toolbox, transport: CountingTransport) -> None:
    output = propose(box, "interface_shutdown", device="r1", interface="r1-r3")
    assert "before: interface r1-r3, admin up, oper up, mtu 1500" in output
    propose(box, "set_ospf_cost", device="r1", interface="r1-r2", cost=42)
    propose(box, "clear_bgp_session", device="r1", peer="10.0.13.2")
    by_tool = {a.tool: a for a in box.approvals.list("demo", "pending")}
    shutdown = by_tool["interface_shutdown"].public()
    assert shutdown["commands"] == ["configure terminal", "interface r1-r3", "shutdown"]
    assert shutdown["before"] == {"interface": "r1-r3", "admin": "up", "oper": "up", "mtu": 1500}
    assert {"id", "tool", "device", "arguments", "preview", "rollback", "status", "result"} <= set(shutdown)
    cost = by_tool["set_ospf_cost"]
    assert cost.commands == ("configure terminal", "interface r1-r2", "ip ospf cost 42")
    assert cost.before["ospf_cost"] == 10 and cost.rollback.endswith("cost=10")
    clear = by_tool["clear_bgp_session"]
    assert clear.commands == ("clear bgp 10.0.13.2",)
    assert clear.before["state"] == "Established" and clear.before["remote_as"] == 65003
    assert changes_sent(transport) == []  # proposals read; they never change anything


def test_an_older_actions_table_gains_the_new_columns(box: Toolbox, tmp_path: Path) -> None:
    engine: Engine = open_engine(f"sqlite:///{tmp_path / 'old.db'}")
    columns = "id, tenant, tool, device, template, params, arguments, preview, rollback, requested_by, request_id"
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE pending_actions (id VARCHAR(32) PRIMARY KEY, tenant VARCHAR(64), tool VARCHAR(64),"
                " device VARCHAR(64), template VARCHAR(64), params TEXT, arguments TEXT, preview TEXT, rollback TEXT,"
                " requested_by VARCHAR(32), request_id VARCHAR(64), required INTEGER, approvals TEXT,"
                " status VARCHAR(16), created_at FLOAT, expires_at FLOAT, decided_at FLOAT, result TEXT)"
            )
        )
        conn.execute(
            text(
                f"INSERT INTO pending_actions ({columns}, required, approvals, status, created_at, expires_at)"
                " VALUES ('old1', 'demo', 'bgp_clear', 'r1', 'bgp_clear', '{}', '{}', 'p', 'r', 'k', 'q', 1, '[]',"
                " 'denied', 1.0, 2.0)"
            )
        )
    old = Approvals(engine, box.devices).get("demo", "old1")
    assert old.commands == () and old.before == {} and old.public()["commands"] == []
    engine.dispose()
