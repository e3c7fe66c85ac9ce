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
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from guardrails.errors import Blocked, ScannerFailed, ScannerTimedOut
from guardrails.scanner import ScanContext, Scanner, Stage
from guardrails.verdict import Action, Verdict

__all__ = ["INLINE_CHARS", "ChainResult", "GuardChain"]

# Texts up to this long are scanned on the event loop when every scanner of the chain is `bounded`: a thread
# hand-off costs about 200 us of CPU, the default output chain on a line under 128 characters p50 72-136 us,
# max 3.8 ms (docs/guardrails.md). Longer texts, and chains with any other scanner, go to a thread.
INLINE_CHARS = 128


class _Run:
    """A chain's progress in its worker thread, shared with the waiter on the event loop (under `lock`)."""

    def __init__(self, text: str, total: int) -> None:
        self.lock = threading.Lock()
        self.total = total  # scanners in this run
        self.text = text  # after the scanners done so far
        self.verdicts: list[Verdict] = []
        self.index = 0  # the scanner running now
        self.started = time.perf_counter()  # when it started
        self.abandoned = False


def _retrieve(task: asyncio.Future[None]) -> None:
    """An abandoned chain's late error is nobody's: read it so asyncio does not log it as never retrieved."""
    if not task.cancelled():
        task.exception()


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
        self._at = {stage: tuple(s for s in self.scanners if stage in s.stages) for stage in Stage}
        self._bounded = {stage: all(getattr(s, "bounded", False) for s in self._at[stage]) for stage in Stage}

    def at(self, stage: Stage) -> tuple[Scanner, ...]:
        """The chain's scanners that run at `stage`, in order."""
        return self._at[stage]

    def run(self, text: str, ctx: ScanContext) -> ChainResult:
        verdicts: list[Verdict] = []
        for scanner in self.at(ctx.stage):
            verdict = self._scan_one(scanner, text, ctx)
            verdicts.append(verdict)
            if verdict.action is Action.BLOCK:
                raise Blocked(f"{scanner.name}: {verdict.reason}", scanner=scanner.name)
            text = verdict.text
        return ChainResult(text, tuple(verdicts))

    async def arun(self, text: str, ctx: ScanContext) -> ChainResult:
        """`run` for the request path: the chain runs off the event loop in one thread hand-off, and each
        scanner's deadline is enforced while it runs, so a scanner that hangs blocks the request (fail closed)
        instead of stalling it or the server. A hung scanner's thread cannot be killed; it is abandoned (it
        runs no further scanner) and its late verdict ignored; past a fail-open one, the chain goes on in a new
        thread from the scanner after it. A short text for a chain of `bounded` scanners is scanned in place
        (`INLINE_CHARS`); a verdict later than its deadline is still refused, after the fact."""
        scanners = self.at(ctx.stage)
        if not scanners:  # nothing to run: no thread hand-off
            return ChainResult(text, ())
        if len(text) <= INLINE_CHARS and self._bounded[ctx.stage]:
            return self.run(text, ctx)  # a streamed line: the hand-off would cost more than the scan
        verdicts: list[Verdict] = []
        while True:
            run = _Run(text, len(scanners))
            task = asyncio.ensure_future(asyncio.to_thread(self._run_from, scanners, ctx, run))
            task.add_done_callback(_retrieve)
            hung = await self._watch(task, run)
            if hung is None:
                task.result()  # raises Blocked / ScannerFailed as `run` would
                return ChainResult(run.text, (*verdicts, *run.verdicts))
            verdicts += run.verdicts  # the scanners before the hung one
            scanner = scanners[hung]
            verdicts.append(self._failed(scanner, run.text, self._timed_out(scanner, self._deadline()), None))
            text, scanners = run.text, scanners[hung + 1 :]
            if not scanners:
                return ChainResult(text, tuple(verdicts))

    async def _watch(self, task: asyncio.Future[None], run: _Run) -> int | None:
        """Wait for the chain's thread; the position of the scanner that overran its deadline, if one did."""
        deadline = self._deadline()
        while True:
            if deadline is None:
                await asyncio.wait({task})
                return None
            with run.lock:
                index, started = run.index, run.started
            if index == run.total:  # every scanner is done: the thread is only returning
                await asyncio.wait({task})
                return None
            done, _ = await asyncio.wait({task}, timeout=max(0.0, started + deadline - time.perf_counter()))
            if done:
                return None
            with run.lock:
                if run.index == index:  # the same scanner, still running past its deadline: abandon the thread
                    run.abandoned = True
                    return index

    def _run_from(self, scanners: Sequence[Scanner], ctx: ScanContext, run: _Run) -> None:
        """The chain in a worker thread, progress kept in `run`; stops once the waiter abandons it."""
        for scanner in scanners:
            verdict = self._scan_one(scanner, run.text, ctx)
            with run.lock:
                if run.abandoned:
                    return
                run.verdicts.append(verdict)
                run.index += 1
                run.started = time.perf_counter()
                if verdict.action is Action.BLOCK:
                    raise Blocked(f"{scanner.name}: {verdict.reason}", scanner=scanner.name)
                run.text = verdict.text

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
