"""A scanner that asks a moderation service over HTTP: an organisation's own classifier, a hosted moderation API
behind an adapter, or an LLM-based judge, as one step of a policy's chain.

    POST <url>  {"text": ..., "stage": "input|context|output", "tenant": ...}
    200         {"flagged": true|false, "score": 0.97, "reason": "..."}   (score and reason optional)

A flagged text is blocked (`action: block`, the default) or reported (`action: flag`); with a `threshold`, a
`score` at or above it counts as flagged whatever `flagged` says. Anything else (the service down, a timeout,
a status other than 200, an answer without a boolean `flagged`) is a scanner failure: the chain blocks the
request (503 `guardrail_failed`) unless the policy lists the scanner's name in `fail_open`. The text goes to the
service as it stands at this point of the chain: put `secrets` before it so placeholders, not values, leave.

Example (a tenant policy):
    fail_open: []
    input: [{scanner: secrets}, {scanner: remote, options: {url: "http://moderation:8000/scan", timeout_s: 1}}]
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from guardrails.errors import Blocked, PolicyError
from guardrails.scanner import ScanContext, Scanner, Stage, check_options, register
from guardrails.verdict import Span, Verdict

__all__ = ["RemoteScanner", "RemoteScannerError"]


class RemoteScannerError(Exception):
    """The moderation service did not give a usable answer."""


class RemoteScanner:
    """Asks a moderation service whether a text may pass."""

    stages = frozenset(Stage)

    def __init__(
        self,
        url: str,
        *,
        name: str = "remote",
        action: str = "block",
        threshold: float | None = None,
        timeout_s: float = 2.0,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise PolicyError(f"{name}: url must be an http(s) URL")
        if action not in ("flag", "block"):
            raise PolicyError(f"{name}: action must be 'flag' or 'block'")
        self.name = name
        self.url = url
        self.action = action
        self.threshold = threshold
        self._client = httpx.Client(timeout=timeout_s)

    def scan(self, text: str, ctx: ScanContext) -> Verdict:
        try:
            response = self._client.post(self.url, json={"text": text, "stage": ctx.stage.value, "tenant": ctx.tenant})
        except httpx.HTTPError as exc:
            raise RemoteScannerError(f"{self.url} unreachable ({type(exc).__name__})") from exc
        if response.status_code != 200:
            raise RemoteScannerError(f"{self.url} answered {response.status_code}")
        try:
            answer = response.json()
            flagged, score = answer["flagged"], answer.get("score")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise RemoteScannerError(f"{self.url} answered without a boolean 'flagged'") from exc
        if not isinstance(flagged, bool) or not (score is None or isinstance(score, int | float)):
            raise RemoteScannerError(f"{self.url} answered without a boolean 'flagged'")
        if self.threshold is not None and score is not None and score >= self.threshold:
            flagged = True
        if not flagged:
            return Verdict.allow(self.name, text, score=None if score is None else float(score))
        reason = f"flagged by the moderation service: {str(answer.get('reason') or 'no reason given')[:200]}"
        if self.action == "block":
            raise Blocked(reason, scanner=self.name)
        return Verdict.flag(self.name, text=text, evidence=(Span(0, len(text), "remote"),), reason=reason)


@register("remote")
def _make(options: Mapping[str, object]) -> Scanner:
    check_options("remote", options, {"url", "name", "action", "threshold", "timeout_s"})
    url = options.get("url")
    if not isinstance(url, str):
        raise PolicyError("remote: option 'url' is required")
    threshold = options.get("threshold")
    return RemoteScanner(
        url,
        name=str(options.get("name", "remote")),
        action=str(options.get("action", "block")),
        threshold=None if threshold is None else float(str(threshold)),
        timeout_s=float(str(options.get("timeout_s", 2.0))),
    )
