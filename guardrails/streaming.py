"""Guarding a streamed answer: text is released only once the output chain has seen it whole.

The guard holds back the last incomplete line (secrets in configs and answers are line-scoped),
and everything inside an open `-----BEGIN ... PRIVATE KEY-----` block, so a secret split across two
chunks is redacted before any of it is emitted. A line longer than `max_hold` is released
in pieces at whitespace; each later piece of that line is scanned with the guarded end of the line so far
in front of it (`context_chars`), so a keyword released in one piece still redacts its value in the next.
Released text is never scanned again on its own: only as that bounded context. With no output scanner in the
chain (a tenant whose policy has none), deltas pass through as they come, unbuffered.

The chain runs through `GuardChain.arun`, each scanner's deadline enforced: off the event loop, or in place for a
short line when every scanner is `bounded`.

Example:
    guard = StreamGuard(chain, ctx)
    async for delta in model_deltas:
        emit(await guard.afeed(delta))
    emit(await guard.aflush())
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

    def __init__(self, chain: GuardChain, ctx: ScanContext, *, max_hold: int = 512, context_chars: int = 160) -> None:
        self._chain = chain
        self._ctx = ctx
        self._max_hold = max_hold
        self._context_chars = context_chars
        self._pending = ""
        self._line = ""  # the released (guarded) end of the current, unfinished line
        self.verdicts: list[Verdict] = []
        self._passthrough = not chain.at(ctx.stage)

    async def afeed(self, delta: str) -> str:
        """Add a delta; return the guarded text that is now safe to emit (may be empty)."""
        if self._passthrough:
            return delta
        self._pending += delta
        cut = self._safe_cut()
        if cut <= 0:
            return ""
        ready, self._pending = self._pending[:cut], self._pending[cut:]
        return await self._guard(ready)

    async def aflush(self) -> str:
        """Release everything left at the end of the stream, guarded."""
        ready, self._pending = self._pending, ""
        return await self._guard(ready) if ready else ""

    def _safe_cut(self) -> int:
        text = self._pending
        begin = text.rfind(_BEGIN)
        if begin != -1 and "PRIVATE KEY" in text[begin : begin + 60] and text.find(_END, begin) == -1:
            return text.rfind("\n", 0, begin) + 1  # hold the open key block
        cut = text.rfind("\n") + 1
        if cut == 0 and len(text) > self._max_hold:
            cut = text.rfind(" ", 0, len(text) - self._max_hold // 2) + 1
        return cut

    async def _guard(self, text: str) -> str:
        before = self._line
        result = await self._chain.arun(before + text, self._ctx)
        self.verdicts.extend(result.verdicts)
        guarded = result.text
        self._line = guarded[guarded.rfind("\n") + 1 :][-self._context_chars :]
        if not before:
            return guarded
        if guarded.startswith(before):
            return guarded[len(before) :]
        return guarded[_common_prefix(guarded, before) :]


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n
