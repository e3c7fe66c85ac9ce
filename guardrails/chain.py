"""A chain of scanners for one stage: each sees the text the previous one passed on.

A block stops the chain with `Blocked`. A scanner that raises anything else stops it with
`ScannerFailed` (fail closed) unless the scanner is listed in `fail_open`, in which case its
failure is recorded as a `failed_open` verdict (in the trail, the response's warnings and the audit record)
and the text passes on unchanged. A scanner that takes longer than
`timeout_s` counts as failed the same way (`ScannerTimedOut`): its verdict is discarded, never trusted late.

Example:
    chain = GuardChain([SizeLimit(24_000, 1_500), SecretsScanner()])
    result = chain.run(text, ScanContext(tenant="acme", stage=Stage.INPUT))
    result.text      # redacted text
    result.verdicts  # one per scanner
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from guardrails.errors import Blocked, ScannerFailed, ScannerTimedOut
from guardrails.scanner import ScanContext, Scanner
from guardrails.verdict import Action, Verdict

__all__ = ["ChainResult", "GuardChain"]


@dataclass(frozen=True, slots=True)
class ChainResult:
    """The text after every scanner, and each scanner's verdict."""

    text: str
    verdicts: tuple[Verdict, ...]


class GuardChain:
    """Runs the scanners that apply to a context's stage, in order."""

    def __init__(
        self, scanners: Sequence[Scanner], *, fail_open: Iterable[str] = (), timeout_s: float | None = None
    ) -> None:
        self.scanners = tuple(scanners)
        self.fail_open = frozenset(fail_open)
        self.timeout_s = timeout_s

    def run(self, text: str, ctx: ScanContext) -> ChainResult:
        verdicts: list[Verdict] = []
        for scanner in self.scanners:
            if ctx.stage not in scanner.stages:
                continue
            verdict = self._scan_one(scanner, text, ctx)
            verdicts.append(verdict)
            if verdict.action is Action.BLOCK:
                raise Blocked(f"{scanner.name}: {verdict.reason}", scanner=scanner.name)
            text = verdict.text
        return ChainResult(text, tuple(verdicts))

    async def arun(self, text: str, ctx: ScanContext) -> ChainResult:
        """`run` for the request path: each scanner runs off the event loop and its deadline is enforced while it
        runs, so a scanner that hangs blocks the request (fail closed) instead of stalling it or the server.
        A hung scanner's thread cannot be killed; it is abandoned and its late verdict ignored."""
        verdicts: list[Verdict] = []
        for scanner in self.scanners:
            if ctx.stage not in scanner.stages:
                continue
            try:
                verdict = await asyncio.wait_for(
                    asyncio.to_thread(self._scan_one, scanner, text, ctx), timeout=self._deadline()
                )
            except TimeoutError:
                verdict = self._failed(scanner, text, self._timed_out(scanner, self._deadline()), None)
            verdicts.append(verdict)
            if verdict.action is Action.BLOCK:
                raise Blocked(f"{scanner.name}: {verdict.reason}", scanner=scanner.name)
            text = verdict.text
        return ChainResult(text, tuple(verdicts))

    def _deadline(self) -> float | None:
        return None if self.timeout_s is None else self.timeout_s * 2  # `_scan_one` applies the exact limit

    def _timed_out(self, scanner: Scanner, elapsed: float | None) -> ScannerTimedOut:
        assert self.timeout_s is not None and elapsed is not None
        return ScannerTimedOut(
            f"scanner {scanner.name!r} took {elapsed * 1000:.0f} ms (limit {self.timeout_s * 1000:.0f} ms); "
            "request blocked (fail closed)",
            scanner=scanner.name,
        )

    def _scan_one(self, scanner: Scanner, text: str, ctx: ScanContext) -> Verdict:
        started = time.perf_counter()
        try:
            verdict = scanner.scan(text, ctx)
        except Blocked:
            raise
        except Exception as exc:  # noqa: BLE001 - any scanner failure is handled here: fail closed or open
            return self._failed(scanner, text, ScannerFailed(
                f"scanner {scanner.name!r} failed ({type(exc).__name__}); request blocked (fail closed)",
                scanner=scanner.name,
            ), exc)  # fmt: skip
        elapsed = time.perf_counter() - started
        if self.timeout_s is not None and elapsed > self.timeout_s:
            return self._failed(scanner, text, self._timed_out(scanner, elapsed), None)
        return verdict

    def _failed(self, scanner: Scanner, text: str, error: ScannerFailed, cause: Exception | None) -> Verdict:
        if scanner.name in self.fail_open:
            why = f"failed open ({type(cause).__name__})" if cause is not None else "failed open (timed out)"
            return Verdict.failed_open(scanner.name, text, reason=why)
        raise error from cause
