"""First-start set-up for the embedded default: a demo tenant with a key, and the demo runbook index.

The demo key is kept in `<data_dir>/demo-api-key` (mode 0600) so that every start can print it;
production tenants get keys from `netops key create`, shown once and never stored in clear.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable

from gateway.errors import Conflict
from gateway.services import Services
from retrieval import IndexStatus, RunbookIndex, scan

__all__ = ["DEMO_TENANT", "build_index", "ensure_demo_key"]

DEMO_TENANT = "demo"


def ensure_demo_key(svc: Services) -> str:
    """The demo tenant's key, creating the tenant and key on first start."""
    path = svc.settings.data_dir / "demo-api-key"
    if path.is_file() and svc.tenants.exists(DEMO_TENANT):
        return path.read_text().strip()
    if not svc.tenants.exists(DEMO_TENANT):
        with contextlib.suppress(Conflict):  # replicas starting together on one database: one of them creates it
            svc.tenants.create(DEMO_TENANT, models=["*"], tools=svc.tools.names, rpm=svc.settings.default_rpm)
    key = svc.tenants.create_key(DEMO_TENANT, label="demo", role="admin").plaintext
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


def build_index(svc: Services, say: Callable[[str], None]) -> IndexStatus:
    """Build a version of the runbook index from the configured sources and promote it (first start)."""
    index = svc.retriever
    assert isinstance(index, RunbookIndex)
    sources = svc.settings.retrieval.sources
    corpus = scan(sources, max_chars=svc.settings.retrieval.max_chunk_chars)
    say(f"indexing {len(corpus.chunks)} chunks from {', '.join(str(s) for s in sources if s.is_dir())} ...")
    for rejected in corpus.rejected:
        say(f"skipped {rejected.path}: {rejected.reason}")
    manifest = index.build(corpus)
    if index.live() != manifest.version:
        index.promote(manifest.version, gate=None)
    return index.status()
