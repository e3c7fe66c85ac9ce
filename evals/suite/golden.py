"""The golden set: NOC questions over the demo runbooks and inventory, with what a good answer must do.

Cases live in `evals/data/golden/*.yaml` (packaged), one list per file; each case has a `kind`:

    answer   a question the assistant should answer, citing one of `cite` (runbook paths), planning one of
             `checks` (read-only tools), close to `reference` (used by the non-LLM metrics)
    redact   a question carrying secrets (`redact`): they never reach the model nor come back in the answer
    refuse   a question the input guardrails must refuse
    output   a text a model might produce (`output`, `$canary` filled in) and what the output guardrails must
             do with it (`expect`: block, redact, flag or allow)

Left out: multi-turn conversations and tool calls chosen by the model (the gateway plans the checks).

Example:
    cases = load_golden()                  # the packaged set
    [c.id for c in cases if c.kind is Kind.REFUSE]
"""

from __future__ import annotations

import enum
import importlib.resources
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from guardrails import CANARY

__all__ = ["GoldenCase", "GoldenError", "Kind", "load_golden"]


class GoldenError(ValueError):
    """A golden file that does not parse or a case that breaks the schema."""


class Kind(enum.StrEnum):
    ANSWER = "answer"
    REDACT = "redact"
    REFUSE = "refuse"
    OUTPUT = "output"


_FIELDS = {"id", "kind", "question", "cite", "checks", "reference", "redact", "output", "expect"}
_EXPECT = {"block", "redact", "flag", "allow"}


@dataclass(frozen=True, slots=True)
class GoldenCase:
    """One golden case (see the module docstring for the kinds)."""

    id: str
    kind: Kind
    question: str = ""
    cite: tuple[str, ...] = ()
    checks: tuple[str, ...] = ()
    reference: str = ""
    redact: tuple[str, ...] = ()
    output: str = ""
    expect: str = ""

    @property
    def asks(self) -> bool:
        """The case sends a question to the assistant (every kind but `output`)."""
        return self.kind is not Kind.OUTPUT


def load_golden(folder: Path | None = None) -> list[GoldenCase]:
    """Every case of every `*.yaml` in `folder` (default: the packaged set), in file and list order."""
    if folder is None:
        root = importlib.resources.files("evals").joinpath("data/golden")
        texts = [
            (p.name, p.read_text()) for p in sorted(root.iterdir(), key=lambda p: p.name) if p.name.endswith(".yaml")
        ]
    else:
        if not folder.is_dir():
            raise GoldenError(f"no golden folder at {folder}")
        texts = [(p.name, p.read_text()) for p in sorted(folder.glob("*.yaml"))]
    cases = [_case(name, raw) for name, text in texts for raw in (yaml.safe_load(text) or [])]
    ids = [c.id for c in cases]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise GoldenError(f"duplicate golden case ids: {', '.join(dupes)}")
    return cases


def _case(file: str, raw: Any) -> GoldenCase:
    if not isinstance(raw, dict) or "id" not in raw or "kind" not in raw:
        raise GoldenError(f"{file}: every case is a mapping with an id and a kind")
    unknown = set(raw) - _FIELDS
    if unknown:
        raise GoldenError(f"{file}: case {raw['id']}: unknown fields {sorted(unknown)}")
    try:
        kind = Kind(raw["kind"])
    except ValueError as exc:
        raise GoldenError(f"{file}: case {raw['id']}: unknown kind {raw['kind']!r}") from exc
    case = GoldenCase(
        id=str(raw["id"]),
        kind=kind,
        question=str(raw.get("question", "")),
        cite=tuple(str(x) for x in raw.get("cite", ())),
        checks=tuple(str(x) for x in raw.get("checks", ())),
        reference=str(raw.get("reference", "")),
        redact=tuple(str(x) for x in raw.get("redact", ())),
        output=string.Template(str(raw.get("output", ""))).safe_substitute(canary=CANARY),
        expect=str(raw.get("expect", "")),
    )
    if case.asks and not case.question:
        raise GoldenError(f"{file}: case {case.id}: a {kind.value} case needs a question")
    if kind is Kind.OUTPUT and (not case.output or case.expect not in _EXPECT):
        raise GoldenError(f"{file}: case {case.id}: an output case needs an output and expect in {sorted(_EXPECT)}")
    if kind is Kind.REDACT and not case.redact:
        raise GoldenError(f"{file}: case {case.id}: a redact case lists the values to redact")
    return case
