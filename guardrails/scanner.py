"""The scanner contract, the per-request context, and the registry built-ins and plugins share.

A scanner is a small object with a `name`, the `stages` it applies to and a `scan` method.
It returns a `Verdict`; it may raise `Blocked` (or a subclass) to stop the chain with a specific code.
Anything else it raises is a failure, handled by the chain (fail closed by default).

Example:
    @register("shout")
    def _make(options: Mapping[str, object]) -> Scanner:
        return ShoutScanner()
"""

from __future__ import annotations

import enum
import importlib
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from guardrails.errors import PolicyError
from guardrails.verdict import Verdict

__all__ = [
    "ScanContext",
    "Scanner",
    "ScannerFactory",
    "Stage",
    "Vault",
    "build_scanner",
    "check_options",
    "load_builtins",
    "register",
    "registered",
]


class Stage(enum.StrEnum):
    """Where in the request path a text is scanned."""

    INPUT = "input"  # what the user sent
    CONTEXT = "context"  # untrusted text entering the prompt: retrieved chunks, tool output
    OUTPUT = "output"  # what the model answered


@dataclass
class Vault:
    """Stable placeholders for one request: the same secret value always gets the same placeholder.

    The values stay in this object, in the gateway's memory, for the life of one request.
    """

    _by_value: dict[tuple[str, str], str] = field(default_factory=dict)
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def placeholder(self, kind: str, value: str) -> str:
        key = (kind, value)
        if key not in self._by_value:
            self._by_value[key] = f"<SECRET:{kind}:{next(self._counter)}>"
        return self._by_value[key]

    @property
    def count(self) -> int:
        return len(self._by_value)


@dataclass
class ScanContext:
    """What a scanner may know about the request: tenant and stage, and the request's vault."""

    tenant: str
    stage: Stage
    vault: Vault = field(default_factory=Vault)


class Scanner(Protocol):
    """One guardrail check.

    A scanner class may also set `bounded = True`: its scan is in-process work in proportion to the text (no
    I/O, no waiting), so a chain of such scanners scans a short text on the event loop (`GuardChain.arun`).
    """

    name: str
    stages: frozenset[Stage]

    def scan(self, text: str, ctx: ScanContext) -> Verdict:
        """Return a verdict for `text`; `verdict.text` is the text to pass on."""
        ...


ScannerFactory = Callable[[Mapping[str, object]], Scanner]
_REGISTRY: dict[str, ScannerFactory] = {}


def register(name: str) -> Callable[[ScannerFactory], ScannerFactory]:
    """Register a scanner factory under `name` (built-ins and plugins alike)."""

    def decorate(factory: ScannerFactory) -> ScannerFactory:
        _REGISTRY[name] = factory
        return factory

    return decorate


_BUILTINS = (
    "guardrails.limits",
    "guardrails.hygiene",
    "guardrails.secrets",
    "guardrails.pii",
    "guardrails.injection",
    "guardrails.output",
    "guardrails.topic",
    "guardrails.remote",
)


def load_builtins() -> None:
    """Import the built-in scanner modules (they register themselves); heavy ones load only here."""
    for module in _BUILTINS:
        importlib.import_module(module)


def build_scanner(name: str, options: Mapping[str, object]) -> Scanner:
    """Build a registered scanner; an unknown name is a policy error (raised at start-up)."""
    if name not in _REGISTRY:
        load_builtins()
    try:
        factory = _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise PolicyError(f"unknown scanner {name!r}; known scanners: {known}") from None
    try:
        return factory(options)
    except PolicyError:
        raise
    except (TypeError, ValueError) as exc:
        raise PolicyError(f"scanner {name!r}: invalid options ({exc})") from None


def registered() -> list[str]:
    """The names of every registered scanner (built-ins included)."""
    load_builtins()
    return sorted(_REGISTRY)


def check_options(scanner: str, options: Mapping[str, object], allowed: set[str]) -> None:
    """Fail (policy error, at start-up) on an option the scanner does not know."""
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise PolicyError(f"scanner {scanner!r}: unknown option(s) {unknown}; allowed: {sorted(allowed)}")
