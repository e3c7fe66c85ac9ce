"""The text of one cited runbook section, for the chat UI's sources panel.

    GET /v1/runbooks/section?path=runbooks/network/bgp-session-down.md&heading=BGP session down > Checks
        -> {"path", "heading", "index_version", "text", "warnings"}

A citation (`netops.citations[i]`) names a path and a heading path; this endpoint returns that section's
text as the caller may read it: the search runs for the key's own tenant (plus `global`) and clearance, so
a section of another tenant, or above the key's clearance, is a 404 exactly like one that does not exist.
The text passes the tenant's context guardrails, as every excerpt the model sees does.

Left out: a section's exact version. The section is read from the live index version, which may be newer
than the one cited; `index_version` says which one answered. Sections split into several chunks are
joined with the chunk that opens the section first (the index keeps no chunk positions).

Example:
    GET /v1/runbooks/section?path=runbooks/network/mtu-mismatch.md&heading=MTU mismatch
    {"path": "runbooks/network/mtu-mismatch.md", "heading": "MTU mismatch", "index_version": "runbooks-v1",
     "text": "# MTU mismatch\\n...", "warnings": []}
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from functools import partial
from pathlib import PurePosixPath
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from gateway.deps import Caller, services, turn_of
from gateway.errors import NotFound
from gateway.openapi import responses
from guardrails import ScanContext, Stage
from retrieval import Hit

__all__ = ["RunbookSection", "router", "section_query"]

SEARCH_DEPTH = 20  # chunks searched for the section's pieces; a section rarely has more than three
MAX_FIELD = 512

router = APIRouter(prefix="/v1/runbooks")


class RunbookSection(BaseModel):
    """One runbook section's text, through the tenant's context guardrails."""

    path: str
    heading: str
    index_version: str
    text: str
    warnings: list[str] = []


@router.get("/section", responses=responses(RunbookSection, 404, 422, 503))
async def section(
    request: Request,
    who: Caller,
    path: Annotated[str, Query(min_length=1, max_length=MAX_FIELD)],
    heading: Annotated[str, Query(min_length=1, max_length=MAX_FIELD)],
) -> RunbookSection:
    """The cited section for the caller's tenant and clearance (404 when this key may not read it)."""
    turn = turn_of(request)
    search = partial(services(request).retriever.search, who.tenant, section_query(path, heading), SEARCH_DEPTH)
    hits = await asyncio.to_thread(search, clearance=who.clearance)
    pieces = _in_order([h for h in hits if h.path == path and h.heading == heading])
    if not pieces:
        raise NotFound(f"no runbook section {heading!r} in {path!r} that this key may read")
    text = "\n\n".join(piece.text for piece in pieces)
    guarded = await turn.guards.context.arun(text, ScanContext(who.tenant, Stage.CONTEXT, turn.vault))
    turn.trail.extend(guarded.verdicts)
    version = pieces[0].index_version
    turn.details.update(path=path, heading=heading[:200], index_version=version, chunks=len(pieces))
    return RunbookSection(
        path=path, heading=heading, index_version=version, text=guarded.text, warnings=turn.trail.warnings
    )


def section_query(path: str, heading: str) -> str:
    """The search text that finds a section's chunks: its heading path and the document's name.

    >>> section_query("runbooks/network/bgp-session-down.md", "BGP session down > Checks")
    'BGP session down > Checks bgp session down'
    """
    stem = PurePosixPath(path).stem.replace("-", " ").replace("_", " ")
    return f"{heading} {stem}".strip()


def _in_order(pieces: Sequence[Hit]) -> list[Hit]:
    """The piece that opens the section (it starts with the heading line) first, then by rank."""
    return sorted(pieces, key=lambda hit: not hit.text.lstrip().startswith("#"))
