"""The shape of a network-secret rule: a kind and a regular expression whose `secret` group is the value.

Shared by our own rules (`guardrails.secret_rules`) and the ported vendor table (`guardrails.vendor_rules`).
Each rule also carries the words a text must contain for its pattern to match, read off the parsed pattern
(`re._parser`, CPython's own parser, stable since 3.11) so no list is kept by hand: the scanner tests them
with `in` before running the pattern, which halves its cost on config text and spares nearly all patterns
on prose.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["KEYWORD_VALUE", "NOT_SENTENCE", "TYPES", "SecretRule", "rule"]

# private modules with no stubs: loaded by name so the type checker treats them as Any
sre: Any = importlib.import_module("re._constants")
_parser: Any = importlib.import_module("re._parser")

# type / encoding words that sit between a keyword and its value (`password 7 X`, `key-string encrypted X`)
TYPES = r"(?:(?:\d{1,2}|sha512|md5|encrypted|clear|cipher|simple|password|hex|hexadecimal|ascii|ascii-text|ENC)\s+)*"
# config keywords that follow `password` / `secret` / `key` where no value is given (`password inheritance-disable`)
KEYWORD_VALUE = (
    r"(?!(?:inheritance-disable|strength-check|encryption|required|prompt|recovery|policy|level|chain|row|"
    r"config-key|id|key-id|auth|authentication|group|view|list|type|string|file|size|pair|exchange|"
    r"hash|ring|lifetime|mode|algorithm|none|default|option|options|length|min-length)(?:\s|;|$))"
)

# a lower-case word in a line that ends like a sentence is prose (`rotate the password afterwards.`), not a value
NOT_SENTENCE = r"(?![a-z]+\b[^\n]*[.?!]\s*$)"


@dataclass(frozen=True, slots=True)
class SecretRule:
    """One kind of secret and the pattern that finds its value (the `secret` group).

    `needs`: lower-case words of which any one must be in a text for the pattern to match (derived from the
    pattern by `rule`); the scanner skips the pattern when none is there. Empty: always run it.
    """

    kind: str
    pattern: re.Pattern[str]
    needs: tuple[str, ...] = field(default=())

    def may_match(self, lowered: str) -> bool:
        """False when the pattern cannot match a text whose lower-case form is `lowered`."""
        return not self.needs or any(word in lowered for word in self.needs)


def rule(kind: str, pattern: str, *, case: bool = False) -> SecretRule:
    """Compile `pattern` (multi-line; case-insensitive unless `case`) as a rule of `kind`.

    >>> rule("snmp-community", r"\\bcommunity\\s+(?P<secret>\\S+)").needs
    ('community',)
    """
    flags = re.MULTILINE if case else re.IGNORECASE | re.MULTILINE
    compiled = re.compile(pattern, flags)
    if "secret" not in compiled.groupindex:
        raise ValueError(f"rule {kind!r} has no `secret` group: {pattern}")
    best = max(_required(_parser.parse(pattern, flags)), key=lambda alts: min(map(len, alts)), default=())
    needs = best if best and min(map(len, best)) >= 3 else ()
    return SecretRule(kind, compiled, needs)


def _required(seq: Iterable[tuple[Any, Any]]) -> list[tuple[str, ...]]:
    """Literal words that every match of the parsed sequence contains: each entry is a choice of alternatives."""
    found: list[tuple[str, ...]] = []
    run = ""
    for op, av in seq:
        if op is sre.LITERAL:
            run += chr(av).lower()
            continue
        if run:
            found.append((run,))
            run = ""
        if op is sre.SUBPATTERN:
            found += _required(av[-1])
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT) and av[0] >= 1:
            found += _required(av[2])
        elif op is sre.BRANCH:
            options = [max(_required(alt), key=lambda a: min(map(len, a)), default=()) for alt in av[1]]
            if all(options):
                found.append(tuple(word for alts in options for word in alts))
    if run:
        found.append((run,))
    return found
