"""Size and token limits on input: the cheapest guard, run first."""

from __future__ import annotations

from collections.abc import Mapping

from guardrails.errors import InputTooLarge, PolicyError
from guardrails.scanner import ScanContext, Scanner, Stage, check_options, register
from guardrails.verdict import Verdict

__all__ = ["SizeLimit", "estimate_tokens"]


def estimate_tokens(text: str) -> int:
    """A conservative token estimate without a tokenizer: about 4 bytes a token, at least one a word."""
    return max(len(text.encode()) // 4, len(text.split()))


class SizeLimit:
    """Raises `InputTooLarge` over `max_chars` characters or `max_tokens` estimated tokens (on input, and on the
    earlier assistant turns a client sends back, which are scanned as context: `TenantGuards.history`)."""

    name = "size_limit"
    bounded = True
    stages = frozenset({Stage.INPUT, Stage.CONTEXT})

    def __init__(self, max_chars: int, max_tokens: int) -> None:
        if max_chars <= 0 or max_tokens <= 0:
            raise PolicyError("size_limit: max_chars and max_tokens must be positive")
        self.max_chars = max_chars
        self.max_tokens = max_tokens

    def scan(self, text: str, ctx: ScanContext) -> Verdict:
        if len(text) > self.max_chars:
            raise InputTooLarge(f"input is {len(text)} characters; the limit is {self.max_chars}", scanner=self.name)
        tokens = estimate_tokens(text)
        if tokens > self.max_tokens:
            raise InputTooLarge(f"input is about {tokens} tokens; the limit is {self.max_tokens}", scanner=self.name)
        return Verdict.allow(self.name, text)


@register("size_limit")
def _make(options: Mapping[str, object]) -> Scanner:
    check_options("size_limit", options, {"max_chars", "max_tokens"})
    return SizeLimit(int(str(options.get("max_chars", 24_000))), int(str(options.get("max_tokens", 1_500))))
