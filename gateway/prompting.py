"""Prompts as versioned assets, and prompt assembly.

Every text the platform sends a model lives in one folder of templates (`gateway/prompts/*.txt`,
`string.Template` syntax: `$name`). A `PromptSet` is the folder's templates; its version is
`<first 12 hex of sha256 over every name and text>`, recorded in every chat audit record and in the
response's `netops.prompts`. Each version seen at start-up (or added with `netops prompts add`) is kept in the
state store (`prompt_versions`), so every replica can serve it (a canary candidate, a promoted version) and a
tenant may stay pinned to it (`prompts.pins` in the settings) while the shipped prompts move on. Versions kept
as files by earlier releases (`<data_dir>/prompts/<version>.json`) are copied into the store at start-up.

Untrusted text (runbook excerpts, tool output, findings) is fenced in `<data>` tags and labelled as data.

Example:
    book = PromptBook.open(None, engine=engine, pins={}, legacy=data_dir / "prompts")
    prompts = book.for_tenant("acme")             # the pinned set, or the current one
    messages = build_messages(prompts, history, excerpts)
    prompts.version                                # "3f9c0d12ab45"
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import re
import string
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from gateway.db import PROMPT_VERSIONS
from guardrails import CANARY
from retrieval import Hit
from tools import ToolResult

__all__ = ["PromptBook", "PromptError", "PromptSet", "build_messages", "evidence_message", "tool_message"]

_VERSION = re.compile(r"^[0-9a-f]{12}$")
REQUIRED = frozenset({"system", "excerpts", "excerpt", "evidence", "tool_result", "operator_note"})


class PromptError(ValueError):
    """A prompt folder or pinned version that cannot be used (missing template, unknown version)."""


@dataclass(frozen=True, slots=True)
class PromptSet:
    """One version of every prompt template, by name."""

    templates: Mapping[str, str]
    version: str = field(init=False, compare=False)  # computed once: it is read on every chat request

    def __post_init__(self) -> None:
        missing = REQUIRED - set(self.templates)
        if missing:
            raise PromptError(f"prompt templates missing: {', '.join(sorted(missing))}")
        digest = hashlib.sha256()
        for name in sorted(self.templates):
            digest.update(f"{name}\x1f{self.templates[name]}\x1e".encode())
        object.__setattr__(self, "version", digest.hexdigest()[:12])

    def render(self, name: str, **values: object) -> str:
        """Fill template `name`; a value never expands further (text from a runbook stays text)."""
        return string.Template(self.templates[name]).safe_substitute({k: str(v) for k, v in values.items()})

    @classmethod
    def packaged(cls) -> PromptSet:
        files = [p for p in importlib.resources.files("gateway.prompts").iterdir() if p.name.endswith(".txt")]
        return cls({p.name.removesuffix(".txt"): _text(p.read_text()) for p in files})

    @classmethod
    def from_dir(cls, folder: Path) -> PromptSet:
        if not folder.is_dir():
            raise PromptError(f"no prompt folder at {folder}")
        return cls({p.stem: _text(p.read_text()) for p in sorted(folder.glob("*.txt"))})


class PromptBook:
    """The current prompt set, the versions kept in the state store, and each tenant's pin."""

    def __init__(self, current: PromptSet, *, engine: Engine, pins: Mapping[str, str]) -> None:
        self.current = current
        self._engine = engine
        self._loaded: dict[str, PromptSet] = {}  # versions read from the store (a kept version never changes)
        self._pinned = {tenant: self.version(v) for tenant, v in pins.items()}

    @classmethod
    def open(
        cls, folder: Path | None, *, engine: Engine, pins: Mapping[str, str], legacy: Path | None = None
    ) -> PromptBook:
        """Load the folder (or the packaged prompts), keep its version, copy in the versions an earlier release
        kept as files in `legacy`, resolve the pins (fail at boot)."""
        current = PromptSet.packaged() if folder is None else PromptSet.from_dir(folder)
        for path in sorted(legacy.glob("*.json"), key=lambda p: p.stat().st_mtime) if legacy else []:
            if _VERSION.match(path.stem):
                _keep(engine, PromptSet(json.loads(path.read_text())))
        _keep(engine, current)
        return cls(current, engine=engine, pins=pins)

    def keep(self, prompts: PromptSet) -> str:
        """Keep a version in the store (e.g. a candidate for a canary), once; returns its version."""
        _keep(self._engine, prompts)
        return prompts.version

    def for_tenant(self, tenant: str) -> PromptSet:
        """The tenant's pinned set, or the current one (a promoted version is `gateway.rollout`'s to resolve)."""
        return self._pinned.get(tenant, self.current)

    def pinned(self, tenant: str) -> str | None:
        """The version the settings pin this tenant to, if any (pins win over rollouts and promotions)."""
        pin = self._pinned.get(tenant)
        return pin.version if pin else None

    def versions(self) -> list[str]:
        """Every version kept, oldest first."""
        query = select(PROMPT_VERSIONS.c.version).order_by(PROMPT_VERSIONS.c.kept_at, PROMPT_VERSIONS.c.version)
        with self._engine.connect() as conn:
            return [row.version for row in conn.execute(query)]

    def version(self, version: str) -> PromptSet:
        """A kept version (or the current one)."""
        if version == self.current.version:
            return self.current
        cached = self._loaded.get(version)
        if cached is not None:
            return cached
        row = None
        if _VERSION.match(version):
            with self._engine.connect() as conn:
                query = select(PROMPT_VERSIONS.c.templates).where(PROMPT_VERSIONS.c.version == version)
                row = conn.execute(query).first()
        if row is None:
            raise PromptError(f"prompt version {version!r} is not kept (netops prompts add FOLDER keeps one)")
        loaded = PromptSet(json.loads(row.templates))
        self._loaded[version] = loaded
        return loaded


def build_messages(
    prompts: PromptSet,
    history: Sequence[tuple[str, str]],
    excerpts: Sequence[tuple[Hit, str]],
    *,
    excerpt_chars: int = 600,
) -> list[dict[str, Any]]:
    """The messages sent to the model: our system prompt, excerpts, then the (guarded) conversation."""
    system = prompts.render("system", canary=CANARY)
    if excerpts:
        blocks = [
            prompts.render("excerpt", n=i, path=hit.path, heading=hit.heading, text=text[:excerpt_chars])
            for i, (hit, text) in enumerate(excerpts, start=1)
        ]
        system += prompts.render("excerpts", blocks="\n\n".join(blocks))
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}]
    for role, text in history:
        if role in ("system", "developer"):
            messages.append({"role": "user", "content": prompts.render("operator_note", text=text)})
        elif role == "tool":
            continue  # client-side tool messages are not supported; tools run in the gateway
        else:
            messages.append({"role": role, "content": text})
    return messages


def evidence_message(prompts: PromptSet, findings: str, *, max_chars: int = 1200) -> dict[str, Any]:
    """The gateway's findings (each with its evidence line), as untrusted data. Bounded: a small model's context
    holds the system prompt, the excerpts, the question and this; the full outputs stay in `netops.checks`."""
    shown = findings if len(findings) <= max_chars else findings[: findings.rfind("\n", 0, max_chars)] + "\n(...)"
    return {"role": "user", "content": prompts.render("evidence", findings=shown)}


def tool_message(prompts: PromptSet, result: ToolResult, guarded_output: str) -> dict[str, Any]:
    """A tool's guarded output, handed back to the model as untrusted data."""
    text = prompts.render("tool_result", tool=result.tool, arguments=result.arguments, output=guarded_output)
    return {"role": "user", "content": text}


def _keep(engine: Engine, prompts: PromptSet) -> None:
    kept = select(PROMPT_VERSIONS.c.version).where(PROMPT_VERSIONS.c.version == prompts.version)
    with engine.connect() as conn:
        if conn.execute(kept).first() is not None:
            return
    row = {"version": prompts.version, "templates": json.dumps(dict(prompts.templates), sort_keys=True)}
    try:
        with engine.begin() as conn:
            conn.execute(insert(PROMPT_VERSIONS).values(**row, kept_at=time.time()))
    except IntegrityError:  # another process kept the same version meanwhile: the same templates
        pass


def _text(raw: str) -> str:
    return raw.removesuffix("\n")
