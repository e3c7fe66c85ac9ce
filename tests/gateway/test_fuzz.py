"""Schema fuzz: schemathesis generates requests from the gateway's own OpenAPI document (valid and invalid
bodies, paths and queries) for every operation, sent with a real key of each role: never a 5xx.

The example count is bounded (`EXAMPLES` per operation, role and mode) to keep `make test` short.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.openapi import from_dict

from tests.conftest import Gateway

EXAMPLES = 6
ROLES = ("user", "approver", "admin", "operator")


def _key(gateway: Gateway, role: str) -> str:
    if role == "operator":
        return gateway.operator
    return gateway.svc.tenants.create_key("demo", label=f"fuzz-{role}", role=role).plaintext


@pytest.mark.parametrize("role", ROLES)
def test_no_generated_request_gets_a_5xx(gateway: Gateway, role: str) -> None:
    doc: dict[str, Any] = httpx.get(f"{gateway.url}/openapi.json").json()
    schema = from_dict(doc)
    key = _key(gateway, role)
    strategies = [
        result.ok().as_strategy(generation_mode=mode)  # type: ignore[union-attr]  # the schema is ours and valid
        for result in schema.get_all_operations()
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
    ]
    failures: list[str] = []
    seen: set[str] = set()
    statuses: dict[int, int] = {}

    @settings(
        max_examples=EXAMPLES * len(strategies),
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=st.one_of(strategies))
    def fuzz(case: Any) -> None:
        headers = {**dict(case.headers or {}), "authorization": f"Bearer {key}"}
        response = case.call(base_url=gateway.url, headers=headers, timeout=60)
        seen.add(case.operation.label)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        if response.status_code >= 500 and not _expected_unavailable(response):
            failures.append(f"{case.method} {case.formatted_path} -> {response.status_code} {response.text[:200]}")

    try:
        fuzz()
    finally:  # an operator's fuzzed `POST /v1/kill` must not switch off what later tests of the session use
        for switch in gateway.svc.kill.list():
            gateway.svc.kill.revive(switch.kind, switch.name, author="test_fuzz")
        gateway.svc.live.refresh()
    print(f"{role}: {sum(statuses.values())} requests, statuses {sorted(statuses.items())}")
    assert not failures, failures[:5]
    assert len(seen) >= len(doc["paths"]) // 2, f"operations reached: {sorted(seen)}"


def _expected_unavailable(response: Any) -> bool:
    """503 for a dependency that is really down here (no FRR lab in this module's gateway), or for what a fuzzed
    operator request switched off (`killed`), is not a crash."""
    try:
        code = response.json().get("code")
    except ValueError:
        return False
    return response.status_code in (502, 503) and code in {"lab_error", "tool_failed", "backend_unavailable", "killed"}
