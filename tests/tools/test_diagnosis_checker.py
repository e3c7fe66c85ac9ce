"""The answer checker over tool outputs captured from the live lab in this session: a wrong number, state,
interface or address that an answer pins on a device is flagged; a correct quote and prose are not."""

from __future__ import annotations

import asyncio

import pytest

from tools import Toolbox
from tools.diagnosis import Unsupported, check_answer

NAMES = ["r1", "r2", "r3", "h1", "r2-ssh", "bgp_summary", "route_lookup", "ping", "interface_status"]


@pytest.fixture
def outputs(box: Toolbox) -> list[str]:
    """Healthy-lab outputs: r1's route to r3's LAN, r1's BGP summary, r1's r1-r3 interface, a ping across it."""
    ctx = box.context("demo", box.registry.names, role="user", key_id="k-check", request_id="r-check")
    calls: list[tuple[str, dict[str, object]]] = [
        ("route_lookup", {"device": "r1", "destination": "10.3.0.0/24"}),
        ("bgp_summary", {"device": "r1"}),
        ("interface_status", {"device": "r1", "interface": "r1-r3"}),
        ("ping", {"device": "r1", "target": "10.0.13.2", "count": 2}),
    ]

    async def run() -> list[str]:
        return [(await box.registry.invoke(name, args, ctx)).output for name, args in calls]

    return asyncio.run(run())


def claims(found: list[Unsupported]) -> list[str]:
    return [u.claim for u in found]


def test_a_wrong_distance_is_flagged_and_the_right_one_is_not(outputs: list[str]) -> None:
    assert "(distance 20)" in outputs[0]
    wrong = check_answer("r1 reaches 10.3.0.0/24 over BGP with distance 2.", outputs, names=NAMES)
    assert claims(wrong) == ["distance 2"]
    assert wrong[0].reason == "tool output says distance 20, 110"  # the BGP route and the OSPF candidate
    assert check_answer("r1 reaches 10.3.0.0/24 over BGP with distance 20.", outputs, names=NAMES) == []


def test_states_are_checked_against_the_lines_about_that_peer(outputs: list[str]) -> None:
    wrong = check_answer("On r1 the session to 10.0.13.2 is Idle.", outputs, names=NAMES)
    assert claims(wrong) == ["Idle"]
    assert check_answer("On r1 the session to 10.0.13.2 is Established.", outputs, names=NAMES) == []


def test_as_numbers_percentages_and_peer_counts(outputs: list[str]) -> None:
    answer = "r1 peers with r3 in AS 65004. The ping from r1 to 10.0.13.2 shows 100% loss. r1 has 3 peers."
    assert claims(check_answer(answer, outputs, names=NAMES)) == ["AS 65004", "100%", "3 peers"]
    right = "r1 peers with r3 in AS 65003. The ping from r1 to 10.0.13.2 shows 0% packet loss. r1 has 2 peers."
    assert check_answer(right, outputs, names=NAMES) == []


def test_interfaces_addresses_and_down_that_no_output_shows(outputs: list[str]) -> None:
    assert "up/down" in outputs[1]  # a column label, never support for "down"
    found = check_answer("On r1 the interface r1-r4 is down, and r1-r3 is down too.", outputs, names=NAMES)
    assert "r1-r4" in claims(found) and "down" in claims(found)
    assert check_answer("On r1, r1-r3 is admin up oper up with mtu 1500.", outputs, names=NAMES) == []
    assert claims(check_answer("r1 forwards to r3 via 10.0.13.9.", outputs, names=NAMES)) == ["10.0.13.9"]


def test_prose_without_a_subject_and_numbers_from_the_question_are_left_alone(outputs: list[str]) -> None:
    prose = "In general an administrative distance of 2 would be unusual. Restart nothing yet."
    assert check_answer(prose, outputs, names=NAMES) == []
    question = "Did someone set cost 1000 on r1-r3?"
    assert check_answer("No: r1-r3 on r1 has cost 10, not cost 1000.", outputs, question=question, names=NAMES) == []
    flagged = check_answer("Yes: r1-r3 on r1 has cost 1000.", outputs, names=NAMES)
    assert claims(flagged) == ["cost 1000"] and flagged[0].reason == "tool output says cost 10"
