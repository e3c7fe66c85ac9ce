"""Guarding a streamed answer: text is released only once the output chain has seen it whole.

The guard holds back the last incomplete line (secrets in configs and answers are line-scoped),
and everything inside an open `-----BEGIN ... PRIVATE KEY-----` block, so a secret split across two
chunks is redacted before any of it is emitted. A line longer than `max_hold` is released
in pieces at whitespace, after the chain has seen it.

Example:
    guard = StreamGuard(chain, ctx)
    for delta in model_deltas:
        emit(guard.feed(delta))
    emit(guard.flush())
"""

from __future__ import annotations

from guardrails.chain import GuardChain
from guardrails.scanner import ScanContext
from guardrails.verdict import Verdict

__all__ = ["StreamGuard"]

_BEGIN = "-----BEGIN"
_END = "-----END"


class StreamGuard:
    """Feeds deltas through an output chain with a line-based sliding window."""

    def __init__(self, chain: GuardChain, ctx: ScanContext, *, max_hold: int = 512) -> None:
        self._chain = chain
        self._ctx = ctx
        self._max_hold = max_hold
        self._pending = ""
        self.verdicts: list[Verdict] = []

    def feed(self, delta: str) -> str:
        """Add a delta; return the guarded text that is now safe to emit (may be empty)."""
        self._pending += delta
        cut = self._safe_cut()
        if cut <= 0:
            return ""
        ready, self._pending = self._pending[:cut], self._pending[cut:]
        return self._guard(ready)

    def flush(self) -> str:
        """Release everything left at the end of the stream, guarded."""
        ready, self._pending = self._pending, ""
        return self._guard(ready) if ready else ""

    def _safe_cut(self) -> int:
        text = self._pending
        begin = text.rfind(_BEGIN)
        if begin != -1 and "PRIVATE KEY" in text[begin : begin + 60] and text.find(_END, begin) == -1:
            return text.rfind("\n", 0, begin) + 1  # hold the open key block
        cut = text.rfind("\n") + 1
        if cut == 0 and len(text) > self._max_hold:
            cut = text.rfind(" ", 0, len(text) - self._max_hold // 2) + 1
        return cut

    def _guard(self, text: str) -> str:
        result = self._chain.run(text, self._ctx)
        self.verdicts.extend(result.verdicts)
        return result.text
