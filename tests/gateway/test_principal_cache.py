"""The principal cache: a hit costs no query, a revocation through the same `Tenants` applies at once, another
process's change is seen once the entry is older than `cache_ttl_s`, and a wrong secret never rides on a hit."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, event

from gateway.db import open_engine
from gateway.errors import Unauthenticated
from gateway.tenants import Tenants
from routing.limits import Quota


def count_queries(engine: Engine) -> list[int]:
    queries = [0]

    def on_execute(*_: object) -> None:
        queries[0] += 1

    event.listen(engine, "before_cursor_execute", on_execute)
    return queries


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = open_engine(f"sqlite:///{tmp_path / 'netops.db'}")
    Tenants(engine).create("acme", models=["*"], tools=[], rpm=60)
    return engine


def test_a_cached_key_costs_no_query_and_peek_never_queries(engine: Engine) -> None:
    tenants = Tenants(engine, cache_ttl_s=3600)
    key = tenants.create_key("acme").plaintext
    queries = count_queries(engine)
    assert tenants.peek(key) is None and queries[0] == 0  # not cached yet: peek says so without asking
    first = tenants.authenticate(key)
    asked = queries[0]
    assert asked > 0
    assert tenants.authenticate(key) == first and tenants.peek(key) == first
    assert queries[0] == asked


def test_revoking_through_the_same_tenants_applies_at_once(engine: Engine) -> None:
    tenants = Tenants(engine, cache_ttl_s=3600)
    issued = tenants.create_key("acme")
    tenants.authenticate(issued.plaintext)
    tenants.revoke_key(issued.key_id)
    with pytest.raises(Unauthenticated) as refused:
        tenants.authenticate(issued.plaintext)
    assert refused.value.code == "revoked_key"
    with pytest.raises(Unauthenticated):
        tenants.peek(issued.plaintext)  # the revoked state is cached too: no query to refuse it again


def test_another_process_is_seen_once_the_entry_is_older_than_the_ttl(engine: Engine) -> None:
    other = Tenants(engine)  # another worker, or the CLI
    issued = other.create_key("acme")
    stale, fresh = Tenants(engine, cache_ttl_s=3600), Tenants(engine, cache_ttl_s=0)
    for tenants in (stale, fresh):
        tenants.authenticate(issued.plaintext)
    other.revoke_key(issued.key_id)
    assert stale.authenticate(issued.plaintext).key_id == issued.key_id  # within its TTL: the bounded staleness
    with pytest.raises(Unauthenticated, match="revoked"):
        fresh.authenticate(issued.plaintext)  # past its TTL: asks the database again


def test_a_wrong_secret_for_a_cached_key_id_is_unknown(engine: Engine) -> None:
    tenants = Tenants(engine, cache_ttl_s=3600)
    issued = tenants.create_key("acme")
    tenants.authenticate(issued.plaintext)
    forged = f"nk-{issued.key_id}-{'x' * 32}"
    with pytest.raises(Unauthenticated) as refused:
        tenants.authenticate(forged)
    assert refused.value.code == "unknown_key"


def test_a_new_quota_replaces_cached_principals(engine: Engine) -> None:
    tenants = Tenants(engine, cache_ttl_s=3600)
    key = tenants.create_key("acme").plaintext
    assert tenants.authenticate(key).quota == Quota()
    tenants.set_quota("acme", Quota(tpm=500))
    assert tenants.authenticate(key).quota.tpm == 500
