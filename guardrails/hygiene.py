"""Unicode hygiene: characters a reader cannot see are removed at every stage, before the other scanners.

Unicode tag characters (U+E0000-U+E007F) spell ASCII invisibly ("ASCII smuggling"); bidi controls reorder what
is displayed (Trojan Source); zero-width and other format characters split words a filter looks for. None of
them belongs in a NOC question, a runbook, tool output or an answer, so `UnicodeHygieneScanner` drops them
(a `redact` verdict labelled with what was found), and `tag_payload` reads the smuggled ASCII so the injection
scanner judges what was hidden (see `guardrails.normalize.decoded_payloads`).

Example:
    UnicodeHygieneScanner().scan("hi\U000e0069\U000e0067", ctx).text  # "hi"
    tag_payload("hi\U000e0069\U000e0067")                               # "ig"
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping

from guardrails.errors import Blocked
from guardrails.scanner import ScanContext, Scanner, Stage, check_options, register
from guardrails.verdict import Span, Verdict

__all__ = ["UnicodeHygieneScanner", "hidden_kind", "tag_payload"]

_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
_KEEP = frozenset("\t\n\r")


def hidden_kind(ch: str) -> str | None:
    """What kind of invisible character `ch` is, or None for a visible one (tabs and newlines are visible)."""
    if "\U000e0000" <= ch <= "\U000e007f":
        return "tag-chars"
    if ch in _BIDI:
        return "bidi-controls"
    if ch in _KEEP:
        return None
    category = unicodedata.category(ch)
    if category == "Cf" or ch in "\u034f\u115f\u1160\u3164\uffa0":
        return "invisible-chars"
    if category == "Cc":
        return "control-chars"
    return None


def tag_payload(text: str) -> str:
    """The ASCII spelled by tag characters in `text` (empty when there are none)."""
    return "".join(chr(ord(ch) - 0xE0000) for ch in text if "\U000e0020" <= ch <= "\U000e007e")


class UnicodeHygieneScanner:
    """Removes invisible, tag, bidi-control and control characters; the text otherwise passes unchanged.
    With `block_tags`, text smuggling ASCII in tag characters is refused instead (input stage)."""

    name = "unicode_hygiene"
    bounded = True
    stages = frozenset({Stage.INPUT, Stage.CONTEXT, Stage.OUTPUT})

    def __init__(self, *, block_tags: bool = False) -> None:
        self.block_tags = block_tags

    def scan(self, text: str, ctx: ScanContext) -> Verdict:
        if text.isascii() and text.isprintable():
            return Verdict.allow(self.name, text)
        kept: list[str] = []
        spans: list[Span] = []
        for i, ch in enumerate(text):
            kind = hidden_kind(ch)
            if kind is None:
                kept.append(ch)
            elif spans and spans[-1].label == kind and spans[-1].end == i:
                spans[-1] = Span(spans[-1].start, i + 1, kind)
            else:
                spans.append(Span(i, i + 1, kind))
        if not spans:
            return Verdict.allow(self.name, text)
        labels = ", ".join(sorted({s.label for s in spans}))
        if self.block_tags and ctx.stage is Stage.INPUT and tag_payload(text).strip():
            raise Blocked("text hidden in Unicode tag characters (ASCII smuggling)", scanner=self.name)
        return Verdict.redact(self.name, text="".join(kept), evidence=tuple(spans), reason=f"removed {labels}")


@register("unicode_hygiene")
def _make(options: Mapping[str, object]) -> Scanner:
    check_options("unicode_hygiene", options, {"block_tags"})
    return UnicodeHygieneScanner(block_tags=bool(options.get("block_tags", False)))
