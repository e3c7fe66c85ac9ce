"""Checking the audit chain: the kinds of tampering, the report, and the walk that finds them (`AuditLog.verify`).

`ChainCheck` walks the records in seq order against the checkpoints `Signed` admits (their MAC verifies with the
key); `VerifyReport` sums up its findings. The kinds are described in `gateway.audit`.

Example:
    check = ChainCheck(Signed().by_seq)
    for row in rows: check.feed(row)
    VerifyReport.of(check.checked, check.finish(), check.anchor).ok  # True
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, RowMapping

from gateway.checkpoints import AuditKey, Checkpoint, Checkpointer, iso_utc, read_checkpoints

__all__ = ["GENESIS", "HASHED", "ChainCheck", "Finding", "Signed", "Tamper", "VerifyReport", "canonical", "chain_hash"]

GENESIS = "0" * 64
HASHED = ("seq", "ts", "tenant", "request_id", "kind", "payload")  # the columns a record's hash covers


class Tamper(enum.StrEnum):
    """The kinds of tampering `verify` tells apart (see the module docstring)."""

    EDITED = "edited"
    DELETED = "deleted"
    REORDERED = "reordered"
    TRUNCATED = "truncated"
    REWRITTEN = "rewritten"
    FORGED = "forged"
    BAD_SIGNATURE = "bad_signature"
    ANCHOR_MISMATCH = "anchor_mismatch"


@dataclass(frozen=True, slots=True)
class Finding:
    """One sign of tampering, at a sequence number (0 for a checkpoint file entry that is not a checkpoint)."""

    kind: Tamper
    seq: int
    detail: str


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The result of recomputing the chain and checking it against the signed checkpoints.

    `findings` are sorted by seq; `ok`, `first_bad_seq` and `reason` summarise them (`reason` is the first
    finding's detail and kind). `checked` counts the records read. `anchor` is the latest checkpoint the chain
    matched (None: not anchored), and `unanchored` the records after it, which no checkpoint vouches for yet.

    Example:
        report = log.verify()  # after the last record was deleted
        report.ok, report.first_bad_seq  # (False, 110)
        [(f.kind, f.seq) for f in report.findings]  # [(Tamper.TRUNCATED, 110)]
    """

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str = ""
    findings: tuple[Finding, ...] = ()
    anchor: Checkpoint | None = None

    @classmethod
    def of(cls, checked: int, findings: Iterable[Finding], anchor: Checkpoint | None) -> VerifyReport:
        ordered = tuple(sorted(findings, key=lambda f: (f.seq, f.kind)))
        if not ordered:
            return cls(True, checked, anchor=anchor)
        first = ordered[0]
        return cls(False, checked, first.seq, f"{first.detail} ({first.kind})", ordered, anchor)

    @property
    def unanchored(self) -> int:
        """How many records follow the anchor (all of them when nothing is anchored)."""
        return self.checked - (self.anchor.seq if self.anchor else 0)


@dataclass
class Signed:
    """The checkpoints whose MAC verifies, by seq (one per distinct head), and findings about the others."""

    by_seq: dict[int, list[Checkpoint]] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    @classmethod
    def load(cls, checkpointer: Checkpointer, engine: Engine, source: Path | None) -> Signed:
        outside = read_checkpoints(source) if source else checkpointer.anchored()  # before the database rows
        inside = checkpointer.stored(engine)
        signed = cls()
        for number in outside.unreadable:
            signed.findings.append(
                Finding(Tamper.BAD_SIGNATURE, 0, f"{outside.path} entry {number} is not a checkpoint")
            )
        outside_heads = signed._admit(checkpointer.key, outside.checkpoints, origin=str(outside.path))
        inside_heads = signed._admit(checkpointer.key, inside, origin="database")
        signed._compare(outside_heads, inside_heads, origin=str(outside.path))
        return signed

    def _admit(self, key: AuditKey, checkpoints: Sequence[Checkpoint], *, origin: str) -> dict[int, set[str]]:
        heads: dict[int, set[str]] = {}
        for cp in checkpoints:
            if not key.signed(cp):
                other = (
                    f"; signed with key {cp.key_id}, not the configured {key.key_id}" if cp.key_id != key.key_id else ""
                )
                self.findings.append(
                    Finding(Tamper.BAD_SIGNATURE, cp.seq, f"checkpoint signature invalid ({origin}{other})")
                )
                continue
            heads.setdefault(cp.seq, set()).add(cp.head)
            known = self.by_seq.setdefault(cp.seq, [])
            if all(k.head != cp.head for k in known):
                known.append(cp)
        return heads

    def _compare(self, outside: Mapping[int, set[str]], inside: Mapping[int, set[str]], *, origin: str) -> None:
        for seq, heads in sorted(outside.items()):
            if seq not in inside:
                detail = f"the checkpoint in {origin} has no valid copy in the database (removed or altered there)"
            elif heads - inside[seq]:
                detail = f"the database's signed checkpoint names another head than the one in {origin}"
            else:
                continue
            self.findings.append(Finding(Tamper.ANCHOR_MISMATCH, seq, detail))


class ChainCheck:
    """Walks the records in seq order, checking seq, links, hashes and signed heads; collects findings."""

    def __init__(self, signed: Mapping[int, list[Checkpoint]]) -> None:
        self._signed = signed
        self._prev = GENESIS
        self._next = 1
        self._last_match = 0  # seq of the last checkpoint the chain matched
        self._diverged = False  # report a divergence once, not at every checkpoint after it
        self.checked = 0
        self.anchor: Checkpoint | None = None
        self.findings: list[Finding] = []

    def feed(self, r: RowMapping) -> None:
        finding = self._record_finding(r)
        if finding is not None:
            self.findings.append(finding)
        self._against_checkpoints(r)
        self._prev, self._next = r["hash"], r["seq"] + 1
        self.checked += 1

    def finish(self) -> list[Finding]:
        beyond = [cp for seq, cps in self._signed.items() if seq >= self._next for cp in cps]
        if beyond:
            last = max(beyond, key=lambda cp: cp.seq)
            ends = f"the chain ends at seq {self._next - 1}" if self._next > 1 else "the chain is empty"
            self.findings.append(
                Finding(
                    Tamper.TRUNCATED,
                    self._next,
                    f"{ends}, but a checkpoint signed {last.when} covers seq {last.seq}: "
                    f"records {self._next}..{last.seq} (and any after) were deleted",
                )
            )
        return self.findings

    def _record_finding(self, r: RowMapping) -> Finding | None:
        seq = r["seq"]
        if seq != self._next:
            return Finding(Tamper.DELETED, seq, f"record(s) missing before seq {seq}: {self._next}..{seq - 1}")
        if r["prev_hash"] != self._prev:
            return Finding(Tamper.REORDERED, seq, "previous-hash link broken")
        if chain_hash(self._prev, {k: r[k] for k in HASHED}) != r["hash"]:
            return Finding(Tamper.EDITED, seq, "content does not match its hash")
        return None

    def _against_checkpoints(self, r: RowMapping) -> None:
        checkpoints = self._signed.get(r["seq"])
        if not checkpoints:
            return
        match = next((cp for cp in checkpoints if cp.head == r["hash"]), None)
        if match is not None:
            self.anchor, self._last_match, self._diverged = match, match.seq, False
            return
        if not self._diverged:
            self.findings.append(self._divergence(r, checkpoints[0]))
        self._diverged = True

    def _divergence(self, r: RowMapping, cp: Checkpoint) -> Finding:
        span = f"{self._last_match + 1}..{cp.seq}"
        if r["ts"] > cp.ts:
            return Finding(
                Tamper.FORGED,
                cp.seq,
                f"record written {iso_utc(r['ts'])}, after the checkpoint signed {cp.when} for another head: "
                f"signed records in {span} were cut and forged ones appended",
            )
        return Finding(
            Tamper.REWRITTEN,
            cp.seq,
            f"hash differs from the checkpoint signed {cp.when}: a record in {span} was changed and the rest re-hashed",
        )


def canonical(data: object) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


def chain_hash(prev: str, row: Mapping[str, Any]) -> str:
    return hashlib.sha256((prev + canonical(row)).encode()).hexdigest()
