"""Three gateway replicas on one PostgreSQL: an approved change action runs exactly once, whoever approves it.

Each replica is what one `netops serve` process holds: its own engine and pool (`gateway.db.open_engine`), its own
inventory and `Devices`, its own `Approvals`. They race from threads on a PostgreSQL cluster of the test's own
(`OwnedPostgres`). The device is a double behind the project's `Transport` interface, shared by the replicas as a
router is: it records every command that reaches it, from whichever replica, so "ran once" is counted where it
matters. Nothing of ours is patched.

A gated race makes the worst case certain instead of likely: the test holds the action's row lock (`SELECT ... FOR
UPDATE` on a connection of its own) until every racer has read the action as pending and is blocked in its
conditional UPDATE, then lets them all go at once.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import psycopg
import pytest
from psycopg.rows import TupleRow

from evals.gameday.stores import OwnedPostgres
from gateway.db import open_engine
from gateway.problems import problem_for
from tools.approvals import Action, Approvals, Plan, ran_for
from tools.commands import Command
from tools.devices import Devices
from tools.errors import ActionNotPending, ApprovalRefused
from tools.inventory import ApprovalPolicy, Device, Inventory, TenantInventory
from tools.registry import ToolContext

ONE = "ops1"  # approvals.required = 1: every racer's approval would be the deciding one
TWO = "ops2"  # approvals.required = 2: the two-person rule
ROUNDS = 20
Outcome = Action | ActionNotPending


class Router:
    """A device double behind `Transport`, shared by every replica: records each command that reaches it and
    answers after a short delay, so a second run of the same action would overlap the first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.received: list[tuple[str, tuple[str, ...], str]] = []  # device, lines, reply

    async def send(self, device: Device, command: Command, timeout_s: float) -> str:
        with self._lock:
            reply = f"applied #{len(self.received) + 1}: {' / '.join(command.lines)}"
            self.received.append((device.name, command.lines, reply))
        await asyncio.sleep(0.005)
        return reply

    def runs(self, interface: str) -> list[str]:
        """The replies to every run of a change on `interface` (one per time it reached the device)."""
        with self._lock:
            return [reply for _, lines, reply in self.received if f"interface {interface}" in lines]


@dataclass
class Cluster:
    pg: OwnedPostgres
    router: Router
    replicas: list[Approvals]


def tenant(name: str, required: int) -> TenantInventory:
    device = Device(name="edge1", platform="frr", transport="vtysh")
    return TenantInventory(tenant=name, devices=[device], approvals=ApprovalPolicy(required=required))


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """One PostgreSQL cluster, three replicas over it (each its own engine and pool), one shared device."""
    router = Router()
    with OwnedPostgres() as pg:
        engines = [open_engine(pg.url) for _ in range(3)]
        try:
            inventory = Inventory({ONE: tenant(ONE, 1), TWO: tenant(TWO, 2)})
            replicas = [Approvals(e, Devices(inventory, {"vtysh": router})) for e in engines]
            yield Cluster(pg, router, replicas)
        finally:
            for engine in engines:
                engine.dispose()


def propose(approvals: Approvals, tenant_name: str, interface: str) -> Action:
    ctx = ToolContext(tenant_name, frozenset({"interface_shutdown"}), request_id=interface, key_id="proposer")
    plan = Plan(
        tool="interface_shutdown",
        device="edge1",
        template="interface_shutdown",
        params={"interface": interface},
        arguments={"device": "edge1", "interface": interface},
        preview=f"interface {interface}: shutdown",
        rollback=f"interface_no_shutdown device=edge1 interface={interface}",
        before={"interface": interface, "admin": "up", "oper": "up"},
    )
    return approvals.propose(ctx, plan)


def approve(approvals: Approvals, tenant_name: str, action_id: str, key: str) -> Callable[[], Action]:
    return lambda: asyncio.run(approvals.approve(tenant_name, action_id, key_id=key, role="approver"))


def deny(approvals: Approvals, tenant_name: str, action_id: str, key: str) -> Callable[[], Action]:
    return lambda: approvals.deny(tenant_name, action_id, key_id=key, role="approver")


def blocked_updates(admin: psycopg.Connection[TupleRow]) -> int:
    """Backends waiting for a lock inside an UPDATE of pending_actions."""
    row = admin.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE pending_actions%'"
    ).fetchone()
    return int(row[0]) if row else 0


def race(pg: OwnedPostgres, action_id: str, calls: list[Callable[[], Action]], *, gated: bool) -> list[Outcome]:
    """Run the calls at once, one thread each; each ends with its decided action or with `ActionNotPending`.
    Gated: hold the action's row lock until every call is blocked in its conditional UPDATE, then release them."""
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], Action]) -> Outcome:
        start.wait(timeout=10)
        try:
            return call()
        except ActionNotPending as exc:
            return exc

    with psycopg.connect(pg.url) as holder, psycopg.connect(pg.url, autocommit=True) as admin:
        if gated:
            holder.execute("SELECT id FROM pending_actions WHERE id = %s FOR UPDATE", (action_id,))
        with ThreadPoolExecutor(len(calls)) as pool:
            futures: list[Future[Outcome]] = [pool.submit(run, call) for call in calls]
            if gated:
                deadline = time.monotonic() + 10
                while blocked_updates(admin) < len(calls):
                    assert time.monotonic() < deadline, "the racers never all reached the conditional UPDATE"
                    assert not any(f.done() for f in futures), "a racer finished while the row was locked"
                    time.sleep(0.005)
                holder.commit()  # every racer read `pending`; now all their UPDATEs go at once
            return [f.result(timeout=30) for f in futures]


def assert_refused_as_409(refusal: ActionNotPending) -> None:
    response = problem_for(refusal, "req-1")
    assert response.status_code == 409
    assert json.loads(bytes(response.body))["code"] == "action_not_pending"


def split(outcomes: list[Outcome]) -> tuple[list[Action], list[ActionNotPending]]:
    return [o for o in outcomes if isinstance(o, Action)], [o for o in outcomes if isinstance(o, ActionNotPending)]


@pytest.mark.parametrize("gated", [False, True], ids=["free-race", "all-at-the-update"])
def test_three_replicas_racing_to_approve_run_the_action_exactly_once(cluster: Cluster, gated: bool) -> None:
    replicas, router = cluster.replicas, cluster.router
    for n in range(ROUNDS):
        interface = f"{'gated' if gated else 'free'}-{n}"
        action = propose(replicas[n % 3], ONE, interface)
        calls = [approve(r, ONE, action.id, f"approver-{i}") for i, r in enumerate(replicas)]
        winners, refusals = split(race(cluster.pg, action.id, calls, gated=gated))
        assert len(winners) == 1 and len(refusals) == 2, (n, winners, refusals)
        (done,) = winners
        runs = router.runs(interface)
        assert runs == [done.result]  # reached the device once, and its one reply is the stored result
        assert done.status == "executed" and len(done.approvals) == 1
        for refusal in refusals:
            assert_refused_as_409(refusal)
        for replica in replicas:  # every replica reads the same final row
            assert replica.get(ONE, action.id) == done
    assert not any(a.status in ("pending", "executing") for a in replicas[0].list(ONE, limit=1000))


def test_approve_racing_deny_across_replicas_has_exactly_one_winner(cluster: Cluster) -> None:
    replicas, router = cluster.replicas, cluster.router
    for n in range(ROUNDS):
        interface = f"deny-race-{n}"
        action = propose(replicas[0], ONE, interface)
        calls = [approve(replicas[1], ONE, action.id, "approver-1"), deny(replicas[2], ONE, action.id, "approver-2")]
        winners, refusals = split(race(cluster.pg, action.id, calls, gated=n % 2 == 1))
        assert len(winners) == 1 and len(refusals) == 1, (n, winners, refusals)
        (decided,) = winners
        assert_refused_as_409(refusals[0])
        final = replicas[0].get(ONE, action.id)
        assert final == decided
        if decided.status == "denied":
            assert router.runs(interface) == [] and final.result is None and final.approvals == ()
        else:
            assert decided.status == "executed" and router.runs(interface) == [final.result]
            assert final.approvals == ("approver-1",)


def test_two_person_rule_across_two_replicas_counts_each_approval_once(cluster: Cluster) -> None:
    (first, second, third), router = cluster.replicas, cluster.router
    action = propose(third, TWO, "two-person")
    half = asyncio.run(first.approve(TWO, action.id, key_id="a1", role="approver"))
    assert half.status == "pending" and half.approvals == ("a1",) and router.runs("two-person") == []
    with pytest.raises(ApprovalRefused):  # the same key through another replica is still one person
        asyncio.run(second.approve(TWO, action.id, key_id="a1", role="approver"))
    done = asyncio.run(second.approve(TWO, action.id, key_id="a2", role="approver"))
    assert done.status == "executed" and done.approvals == ("a1", "a2")
    assert router.runs("two-person") == [done.result]
    with pytest.raises(ActionNotPending):  # a replay through the first replica
        asyncio.run(first.approve(TWO, action.id, key_id="a3", role="approver"))
    assert router.runs("two-person") == [done.result] and third.get(TWO, action.id) == done


@pytest.mark.parametrize("gated", [False, True], ids=["free-race", "all-at-the-update"])
def test_two_person_rule_with_both_approvals_racing_on_two_replicas(cluster: Cluster, gated: bool) -> None:
    """Two approvers press approve at the same moment on two replicas: both count, it runs once. (The approver
    whose approval landed first must not run it too when its re-read already shows the other's `executing`.)"""
    (first, second, _), router = cluster.replicas, cluster.router
    for n in range(ROUNDS):
        interface = f"two-{'gated' if gated else 'free'}-{n}"
        action = propose(first, TWO, interface)
        calls = [approve(first, TWO, action.id, "a1"), approve(second, TWO, action.id, "a2")]
        outcomes = race(cluster.pg, action.id, calls, gated=gated)
        winners, refusals = split(outcomes)
        final = first.get(TWO, action.id)
        ran = [key for key, o in zip(("a1", "a2"), outcomes, strict=True) if isinstance(o, Action) and ran_for(o, key)]
        assert len(ran) == 1, (n, outcomes)  # one approver is told it ran the change (one `action.executed` record)
        assert refusals == [], (n, [str(r) for r in refusals])  # neither approval was lost to the other
        assert router.runs(interface) == [final.result], n  # reached the device once
        assert final.status == "executed" and sorted(final.approvals) == ["a1", "a2"]
        assert [w for w in winners if w.status == "executed" and w.result == final.result], winners


def test_a_deny_racing_the_first_of_two_approvals_is_never_lost(cluster: Cluster) -> None:
    (first, second, _), router = cluster.replicas, cluster.router
    for n in range(ROUNDS // 2):
        interface = f"deny-two-{n}"
        action = propose(first, TWO, interface)
        calls = [approve(first, TWO, action.id, "a1"), deny(second, TWO, action.id, "a2")]
        winners, refusals = split(race(cluster.pg, action.id, calls, gated=True))
        assert "denied" in [w.status for w in winners], (n, winners, refusals)
        assert [str(r) for r in refusals] in (
            [],
            [f"action {action.id} is denied; it cannot be approved or denied again"],
        )
        assert first.get(TWO, action.id).status == "denied" and router.runs(interface) == []
