"""PII redaction with Presidio, offline: the one module that imports presidio.

No spaCy model is loaded (`NoOpNlpEngine`): only pattern and checksum recognizers run, which keeps a
1 KB scan around a millisecond and needs no download. In scope: e-mail addresses, phone numbers,
credit cards, IBANs, US SSNs, and (per tenant, `network_identifiers: true`) IP addresses and host names.
Left out: person names, street addresses and organisations need an NER model (slow on CPU, false hits
on device configs); see `docs/guardrails.md`.

Presidio's e-mail recognizer validates domains with `tldextract`, whose default extractor fetches the
public suffix list from the internet; `_OfflineEmail` uses an extractor pinned to the bundled snapshot.

Example:
    scanner = PiiScanner(network_identifiers=False)
    scanner.scan("call +1 212 555 0100", ctx).text  # "call <SECRET:phone:1>"
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import tldextract
from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer, RecognizerRegistry, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts, NoOpNlpEngine
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    IpRecognizer,
    PhoneRecognizer,
    UsSsnRecognizer,
)

from guardrails.errors import PolicyError
from guardrails.scanner import ScanContext, Scanner, Stage, check_options, register
from guardrails.verdict import Span, Verdict

__all__ = ["NETWORK", "PERSONAL", "PiiScanner"]

PERSONAL = {
    "EMAIL_ADDRESS": "email",
    "PHONE_NUMBER": "phone",
    "CREDIT_CARD": "credit-card",
    "IBAN_CODE": "iban",
    "US_SSN": "ssn",
}
NETWORK = {"IP_ADDRESS": "ip-address", "HOSTNAME": "hostname"}

_PLACEHOLDER = re.compile(r"<SECRET:[a-z0-9-]+:\d+>")
# Presidio's analysis costs about 90 us even on "ok\n" (a streamed line): a text with fewer digits than any personal
# entity can have (phone 4, IBAN 2 check digits and more, SSN 9, card 12) and no "@" is not analysed
_FEWEST_DIGITS = 3
_PHONE = (
    r"(?<![\w.:/+-])(?:\+\d{1,3}[ .-]?(?:\(0\)[ .-]?)?|\b00?1-)?(?:\(\d{1,4}\)[ .-]?)?\d{2,5}(?:[ .-]\d{2,4}){1,4}"
    r"(?:x\d{1,5})?(?![\w.:/-])"
)
_NOT_PHONE = re.compile(
    r"\d{1,3}(?:\.\d{1,3}){3}|\d{4}-\d{2}-\d{2}|\d{2}-\d{2}-\d{4}|\d{3}-\d{2}-\d{4}|[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}"
)


class _PhonePattern(PatternRecognizer):
    """Phone numbers by shape (7-15 digits in groups), without libphonenumber's per-region parsing.

    presidio's `PhoneRecognizer` parses every digit run once per region: about 1 ms per region per KB of
    config text. This pattern is ~0.05 ms and finds more of the international formats; IPv4 addresses,
    dates, SSN-shaped and MAC-shaped runs are excluded.
    """

    def __init__(self) -> None:
        super().__init__(supported_entity="PHONE_NUMBER", patterns=[Pattern("phone", _PHONE, 0.45)])

    def validate_result(self, pattern_text: str) -> bool:
        digits = sum(ch.isdigit() for ch in pattern_text)
        return 7 <= digits <= 15 and not _NOT_PHONE.fullmatch(pattern_text)


# a digit run libphonenumber could read as a phone that `_PHONE` cannot: 7+ digits joined only by spaces, dashes,
# parentheses or a leading + (bare "2125550100", "+12125550100"); IPv4 addresses and dotted versions never are
_BARE_PHONE = re.compile(r"\+?\(?\d(?:[ ()-]?\d){6,}")


class _UsPhone(PhoneRecognizer):
    """presidio's libphonenumber recognizer (US), run only on texts with a digit run it could read as a phone.

    It parses every digit run it sees (AS numbers, ports, counters): most of the PII scanner's time on network
    text. Where the text has no run `_BARE_PHONE` matches, it would find nothing `_PhonePattern` does not.
    """

    def __init__(self) -> None:
        super().__init__(supported_regions=("US",))

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if not _BARE_PHONE.search(text):
            return []
        return super().analyze(text, entities, nlp_artifacts)  # type: ignore[arg-type]


_HOSTNAME = PatternRecognizer(
    supported_entity="HOSTNAME",
    patterns=[Pattern("fqdn", r"\b(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.){2,}[a-z]{2,24}\b", 0.6)],
)


class _OfflineEmail(EmailRecognizer):
    """The e-mail recognizer, validating domains against the bundled public suffix list (no fetch)."""

    def __init__(self) -> None:
        super().__init__()
        self._tld = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    def validate_result(self, pattern_text: str) -> bool:
        return bool(self._tld(pattern_text).fqdn)


def _analyzer(network_identifiers: bool) -> AnalyzerEngine:
    registry = RecognizerRegistry(supported_languages=["en"])
    recognizers = [
        _OfflineEmail(),
        _UsPhone(),
        _PhonePattern(),
        CreditCardRecognizer(),
        IbanRecognizer(),
        UsSsnRecognizer(),
    ]
    if network_identifiers:
        recognizers += [IpRecognizer(), _HOSTNAME]
    for recognizer in recognizers:
        registry.add_recognizer(recognizer)
    engine = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])
    engine.load()
    return AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en"])


class PiiScanner:
    """Replaces personal data (and optionally IPs / host names) with stable placeholders."""

    name = "pii"
    bounded = True
    stages = frozenset({Stage.INPUT, Stage.CONTEXT, Stage.OUTPUT})

    def __init__(self, *, network_identifiers: bool = False, threshold: float = 0.4) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise PolicyError("pii: threshold must be in [0, 1]")
        self.labels = {**PERSONAL, **(NETWORK if network_identifiers else {})}
        self.threshold = threshold
        self._engine = _analyzer(network_identifiers)
        self._needs_digits = not network_identifiers  # host names need no digit, IPv6 addresses few

    def find(self, text: str) -> list[Span]:
        """Non-overlapping spans of in-scope entities (Presidio entity names mapped to our labels)."""
        if self._needs_digits and "@" not in text and sum(map(str.isdigit, text)) < _FEWEST_DIGITS:
            return []  # no e-mail without "@"; every other personal entity has more digits than this
        results = self._engine.analyze(text, language="en", entities=list(self.labels), score_threshold=self.threshold)
        ranked = sorted(results, key=lambda r: (r.start, -r.end, -r.score))  # on equal spans, the surer type
        spans = [Span(r.start, r.end, self.labels[r.entity_type]) for r in ranked]
        taken = [(m.start(), m.end()) for m in _PLACEHOLDER.finditer(text)]  # written by an earlier scanner
        kept: list[Span] = []
        for span in spans:
            if kept and span.start < kept[-1].end:
                continue
            if any(span.start < end and start < span.end for start, end in taken):
                continue
            kept.append(span)
        return kept

    def scan(self, text: str, ctx: ScanContext) -> Verdict:
        spans = self.find(text)
        if not spans:
            return Verdict.allow(self.name, text)
        out: list[str] = []
        cursor = 0
        for span in spans:
            out.append(text[cursor : span.start])
            out.append(ctx.vault.placeholder(span.label, text[span.start : span.end]))
            cursor = span.end
        out.append(text[cursor:])
        return Verdict.redact(self.name, text="".join(out), evidence=tuple(spans), reason=f"{len(spans)} PII item(s)")


@register("pii")
def _make(options: Mapping[str, object]) -> Scanner:
    check_options("pii", options, {"network_identifiers", "threshold"})
    return PiiScanner(
        network_identifiers=bool(options.get("network_identifiers", False)),
        threshold=float(str(options.get("threshold", 0.4))),
    )
