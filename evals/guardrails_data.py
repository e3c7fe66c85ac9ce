"""Loaders for the guardrail evaluation sets (repo data under `evals/data/guardrails/`, shared data sets).

Each loader returns plain labelled examples; scoring lives in `evals.guardrails_quality`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DATA_DIR",
    "INDEPENDENT_DIR",
    "SHARED_DIR",
    "LabelledText",
    "SecretLine",
    "load_benign_prose",
    "load_bipia",
    "load_independent",
    "load_lines",
    "load_secret_lines",
]

DATA_DIR = Path(__file__).resolve().parent / "data" / "guardrails"
SHARED_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "guardrails"
INDEPENDENT_DIR = DATA_DIR / "independent"
_REPO = Path(__file__).resolve().parents[1]
_MARK = re.compile(r"\{\{(.+?)\}\}", re.DOTALL)


@dataclass(frozen=True, slots=True)
class SecretLine:
    """A config line (marks removed), its family, and the secret values it holds (none for benign lines)."""

    family: str
    text: str
    secrets: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LabelledText:
    """A text and whether it is an attack (injection / jailbreak)."""

    text: str
    attack: bool
    source: str


def load_secret_lines(path: Path | None = None) -> list[SecretLine]:
    """`family<TAB>line` rows; secret values are wrapped in `{{...}}`; `\\n` is a newline."""
    rows: list[SecretLine] = []
    for raw in (path or DATA_DIR / "secret_lines.tsv").read_text().splitlines():
        if not raw.strip() or raw.startswith("#"):
            continue
        family, line = raw.split("\t", 1)
        line = line.replace("\\n", "\n")
        secrets = tuple(v.strip('"') for v in _MARK.findall(line))
        rows.append(SecretLine(family, _MARK.sub(lambda m: m.group(1), line), secrets))
    return rows


def load_independent(split: str, path: Path | None = None) -> list[SecretLine]:
    """The independent vendor-config set (`independent/lines.jsonl`, see its SOURCES.md), one split: dev or test.

    The family of each line is its vendor platform; benign lines have no secrets.
    """
    rows: list[SecretLine] = []
    with (path or INDEPENDENT_DIR / "lines.jsonl").open() as handle:
        for raw in handle:
            row = json.loads(raw)
            if row["split"] == split:
                rows.append(SecretLine(row["vendor"], row["text"], tuple(row["secrets"])))
    return rows


def load_benign_prose(shared: Path | None = None) -> list[str]:
    """Non-empty lines of the runbooks (repo demo runbooks and the shared runbook corpus): prose with no secrets."""
    roots = [_REPO / "infra" / "demo" / "runbooks", (shared or SHARED_DIR).parent / "runbooks"]
    lines: list[str] = []
    for root in roots:
        for path in sorted(root.rglob("*")) if root.is_dir() else []:
            if path.suffix in {".md", ".rst", ".txt"}:
                lines += [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    return lines


def load_lines(name: str, *, attack: bool) -> list[LabelledText]:
    """One example a line from a text file in the data folder (`#` lines are comments)."""
    path = DATA_DIR / name
    lines = [ln.strip() for ln in path.read_text().splitlines()]
    return [LabelledText(ln, attack, name) for ln in lines if ln and not ln.startswith("#")]


def load_bipia(split: str, *, shared: Path | None = None) -> list[LabelledText]:
    """BIPIA attack instructions (`text_attack_train`, `text_attack_test`, `code_attack_test`): all attacks."""
    data = json.loads(((shared or SHARED_DIR) / f"bipia_{split}.json").read_text())
    return [LabelledText(text, True, f"bipia-{split}:{category}") for category, items in data.items() for text in items]
