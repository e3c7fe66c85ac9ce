"""Prompt-injection and jailbreak detection on user input and on untrusted context (indirect injection).

Layered: `normalize` (NFKC, invisible characters, confusables, spaced letters) and decoding of base64/hex
payloads; high-precision rules; then a trained classifier (see `guardrails.classifier`) scoring each
sentence-sized segment; the text's score is its highest segment's. On INPUT a hit blocks the request.
On CONTEXT (retrieved chunks, tool output) text addressed to the model is itself suspicious, so extra
rules apply and, by default, the chunk is withheld from the prompt (redact) rather than failing the request.

Example:
    scanner = InjectionScanner(HashedNgramClassifier.load(INPUT_WEIGHTS), HashedNgramClassifier.load(CONTEXT_WEIGHTS))
    scanner.scan("Ignore previous instructions", ScanContext("acme", Stage.INPUT))  # raises Blocked
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from guardrails.classifier import InjectionClassifier, build_classifier
from guardrails.errors import Blocked, PolicyError
from guardrails.ngram import CONTEXT_WEIGHTS
from guardrails.normalize import decoded_payloads, deleet, normalize, segments
from guardrails.scanner import ScanContext, Scanner, Stage, check_options, register
from guardrails.verdict import Action, Span, Verdict

__all__ = ["CONTEXT_RULES", "RULES", "InjectionScanner", "withheld"]


def _rx(pattern: str) -> re.Pattern[str]:
    """A rule, matched against casefolded text (`_fold`): lower-case literals without IGNORECASE search a 1 KB
    text in about half the time (measured: the eight input rules 0.78 -> 0.45 ms per view)."""
    return re.compile(pattern.lower())


def _fold(text: str) -> str:
    """The text as the rules see it: casefolded (so the long s is `s` and the Kelvin sign `k`, as IGNORECASE had
    them), without the combining dot that casefolding a dotted capital I leaves after its `i`."""
    return text.casefold().replace("\u0307", "")


RULES: dict[str, re.Pattern[str]] = {
    "ignore-instructions": _rx(
        r"\b(?:ignore|disregard|forget|overlook|bypass|override)\b[^.\n]{0,40}\b(?:previous|prior|above|earlier|"
        r"preceding|all|your|any|the)\b[^.\n]{0,20}\b(?:instructions?|rules|guidelines|directions|prompts?|"
        r"guidance|constraints|polic(?:y|ies)|restrictions)\b"
    ),
    "reveal-prompt": _rx(
        r"\b(?:reveal|print|show|repeat|output|echo|quote|display|copy|translate|what (?:are|were|does))\b[^.\n]{0,40}"
        r"\b(?:system prompt|hidden prompt|(?:your|the) (?:initial |hidden |original |system )?(?:instructions|prompt|"
        r"rules|system message))\b"
    ),
    "persona-jailbreak": _rx(
        r"\b(?:DAN|do anything now|developer mode|god mode|maintenance mode|admin mode|jailbre(?:ak|ken)|"
        r"unfiltered ?gpt|free ?gpt|evil ?bot|no (?:restrictions|limits|rules|guardrails)|without (?:any )?"
        r"(?:restrictions|guardrails|rules|limits)|not bound by|guidelines don't exist)\b"
    ),
    "new-identity": _rx(r"\byou are (?:now|no longer)\b|\bfrom now on,? you\b|\bnew (?:instructions|task|session)\b:?"),
    "chat-markup": _rx(r"<\|im_start\|>|\[/?INST\]|^#{2,} ?(?:system|instruction)|\bsystem override\b"),
    "unmask-secrets": _rx(
        r"\b(?:real|original|actual|unredacted|unmasked|clear[- ]text) (?:values?|secrets?|passwords?|keys?|config)\b|"
        r"\b(?:turn off|disable|stop|bypass)\b[^.\n]{0,20}\b(?:redaction|guardrails?|filters?)\b|"
        r"\bskip\b[^.\n]{0,20}\bconfirmation\b[^.\n]{0,20}\bdangerous\b|"
        r"\bunmask (?:the )?(?:redacted|secrets?|keys?|passwords?|placeholders?)\b|"
        r"<SECRET:[^>]*>[^.\n]{0,20}\b(?:value|print|reveal)|"
        r"\b(?:filters?|guardrails?|safety checks?|restrictions) (?:are |is |were )?(?:off|disabled|removed|lifted)\b"
    ),
    "ignore-instructions-translated": _rx(  # the same instruction in the languages NOC teams most often write
        r"\b(?:olvida|ignora|omite|oublie[zs]?|ignorez|vergiss|ignorier(?:e|en)?|dimentica|esque[çc]a|"
        r"felejtsd el|hagyd figyelmen k[íi]v[üu]l|vergeet|negeer|zapomnij|zignoruj)\b[^.\n]{0,40}"
        r"\b(?:instrucciones|reglas|instructions|r[èe]gles|consignes|anweisungen|regeln|instruktionen|vorgaben|"
        r"istruzioni|regole|instru[çc][õo]es|regras|utas[íi]t[áa]s\w*|szab[áa]ly\w*|instructies|regels|"
        r"instrukcje|polecenia|zasady)\b"
    ),
    "pwned": _rx(r"\b(?:i have been pwned|hacked|pwned|compromised)\b['\"]? (?:and nothing else|ten times|\d+ times)|"
                 r"\bsay ['\"]?(?:i have been )?pwned"),
}  # fmt: skip

CONTEXT_RULES: dict[str, re.Pattern[str]] = {
    "addresses-model": _rx(
        r"\b(?:ai|assistant|language model|llm|chatbot|model)\b[^.\n]{0,40}\b(?:reading|processing|summari[sz]ing|"
        r"must|should|ignore|stop)\b|\b(?:note|attention|message|instruction) (?:to|for) (?:the )?(?:ai|assistant|"
        r"model|llm)\b|^(?:dear |hey )?(?:ai|assistant)\b"
    ),
    "steers-answer": _rx(
        r"\byour (?:response|reply|answer|message|output)\b|\b(?:respond|reply|answer) (?:only |exclusively )?"
        r"(?:in|with|using)\b"
    ),
}

WITHHELD = "[withheld by the gateway: suspected prompt injection]"


def withheld() -> str:
    """The text that replaces a context chunk withheld as an injection."""
    return WITHHELD


def _rule_views(views: list[str]) -> list[str]:
    """Each view casefolded, and its de-leeted form when that differs (`1gn0r3` -> `ignore`)."""
    out: list[str] = []
    for view in views:
        folded = _fold(view)
        out.append(folded)
        if (plain := deleet(folded)) != folded:
            out.append(plain)
    return out


@dataclass(frozen=True, slots=True)
class _Finding:
    score: float
    label: str


class InjectionScanner:
    """Rules then a classifier; blocks on INPUT, withholds (or blocks) on CONTEXT."""

    name = "prompt_injection"
    stages = frozenset({Stage.INPUT, Stage.CONTEXT})

    def __init__(
        self,
        classifier: InjectionClassifier,
        context_classifier: InjectionClassifier | None = None,
        *,
        threshold: float = 0.5,
        context_threshold: float = 0.6,
        context_action: str = "redact",
    ) -> None:
        if not (0.0 < threshold <= 1.0 and 0.0 < context_threshold <= 1.0):
            raise PolicyError("prompt_injection: thresholds must be in (0, 1]")
        if context_action not in ("redact", "block"):
            raise PolicyError("prompt_injection: context_action must be 'redact' or 'block'")
        self.classifier = classifier
        self.context_classifier = context_classifier or classifier
        # bounded (see `Scanner`) only if both classifiers say so: a plugin model may wait on a GPU server
        self.bounded = all(getattr(c, "bounded", False) for c in (self.classifier, self.context_classifier))
        self.threshold = threshold
        self.context_threshold = context_threshold
        self.context_action = context_action

    def assess(self, text: str, stage: Stage) -> _Finding:
        """The highest evidence of injection in `text` (rules first, then the classifier)."""
        norm = normalize(text)
        views = [norm, *decoded_payloads(text), *(decoded_payloads(norm) if norm != text else ())]
        rules = {**RULES, **CONTEXT_RULES} if stage is Stage.CONTEXT else RULES
        for view in _rule_views(views):
            for name, pattern in rules.items():
                if pattern.search(view):
                    return _Finding(1.0, f"injection-rule:{name}")
        model = self.context_classifier if stage is Stage.CONTEXT else self.classifier
        pieces = [seg for view in views for seg in segments(view)]
        score = max(model.score(pieces), default=0.0)
        return _Finding(score, f"injection-classifier:{model.name}")

    def scan(self, text: str, ctx: ScanContext) -> Verdict:
        finding = self.assess(text, ctx.stage)
        limit = self.context_threshold if ctx.stage is Stage.CONTEXT else self.threshold
        if finding.score < limit:
            return Verdict.allow(self.name, text, score=round(finding.score, 4))
        reason = f"suspected prompt injection ({finding.label}, score {finding.score:.2f})"
        if ctx.stage is Stage.CONTEXT and self.context_action == "redact":
            evidence = (Span(0, len(text), "prompt-injection"),)
            return Verdict(Action.REDACT, self.name, WITHHELD, reason, evidence, round(finding.score, 4))
        raise Blocked(reason, scanner=self.name)


@register("prompt_injection")
def _make(options: Mapping[str, object]) -> Scanner:
    allowed = {"classifier", "weights", "context_weights", "threshold", "context_threshold", "context_action"}
    check_options("prompt_injection", options, allowed)
    kind = str(options.get("classifier", "hashed-ngram"))
    context_options = {**options, "weights": options.get("context_weights", CONTEXT_WEIGHTS)}
    return InjectionScanner(
        build_classifier(kind, options),
        build_classifier(kind, context_options),
        threshold=float(str(options.get("threshold", 0.5))),
        context_threshold=float(str(options.get("context_threshold", 0.6))),
        context_action=str(options.get("context_action", "redact")),
    )
