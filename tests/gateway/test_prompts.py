"""Prompts as versioned assets: a content-hash version, kept versions, per-tenant pins, the version recorded in
the response and the audit record, and `netops prompts list|show|diff`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from gateway.cli import cli
from gateway.db import open_engine
from gateway.prompting import PromptBook, PromptError, PromptSet, build_messages
from guardrails import CANARY
from tests.conftest import Gateway

PACKAGED = Path(__file__).resolve().parents[2] / "gateway" / "prompts"


def _edited(tmp_path: Path, word: str) -> Path:
    """The packaged prompts with one line added to the system prompt (whatever its wording on this branch)."""
    folder = tmp_path / "prompts"
    shutil.copytree(PACKAGED, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    system = folder / "system.txt"
    system.write_text(f"{system.read_text().rstrip()}\nAnswer {word}.\n")
    return folder


def test_a_changed_word_is_a_new_version_and_pins_keep_the_old_one(tmp_path: Path) -> None:
    store = open_engine(f"sqlite:///{tmp_path / 'netops.db'}")
    first = PromptBook.open(None, engine=store, pins={})
    edited = _edited(tmp_path, "tersely")
    second = PromptBook.open(edited, engine=store, pins={"acme": first.current.version})
    assert second.current.version != first.current.version
    assert second.versions() == [first.current.version, second.current.version]
    assert "tersely" not in second.for_tenant("acme").render("system", canary=CANARY)
    assert "Answer tersely." in second.for_tenant("other").render("system", canary=CANARY)
    with pytest.raises(PromptError, match="not kept"):
        PromptBook.open(None, engine=store, pins={"acme": "0123456789ab"})


def test_a_version_kept_by_one_process_is_served_by_every_other(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'netops.db'}"
    here, there = (PromptBook.open(None, engine=open_engine(url), pins={}) for _ in range(2))  # two replicas
    candidate = PromptSet.from_dir(_edited(tmp_path, "tersely"))
    assert here.keep(candidate) == candidate.version
    assert there.version(candidate.version).templates == candidate.templates
    assert here.keep(candidate) == candidate.version and there.versions().count(candidate.version) == 1


def test_versions_an_earlier_release_kept_as_files_are_carried_over(tmp_path: Path) -> None:
    legacy = tmp_path / "data" / "prompts"
    legacy.mkdir(parents=True)
    old = PromptSet.from_dir(_edited(tmp_path, "curtly"))
    (legacy / f"{old.version}.json").write_text(json.dumps(dict(old.templates)))
    book = PromptBook.open(None, engine=open_engine(f"sqlite:///{tmp_path / 'netops.db'}"), pins={}, legacy=legacy)
    assert book.versions() == [old.version, book.current.version]
    assert "curtly" in book.version(old.version).render("system", canary=CANARY)


def test_templates_fence_untrusted_text_and_never_expand_it() -> None:
    prompts = PromptSet.packaged()
    messages = build_messages(prompts, [("user", "why?")], [])
    assert CANARY in messages[0]["content"] and messages[-1] == {"role": "user", "content": "why?"}
    assert "$canary <x>" in prompts.render("tool_result", tool="t", arguments={}, output="$canary <x>")
    with pytest.raises(PromptError, match="missing: system"):
        PromptSet({k: v for k, v in prompts.templates.items() if k != "system"})


def test_the_version_in_force_is_in_the_response_and_the_audit_record(gateway: Gateway) -> None:
    body = {"model": "netops-assistant", "max_tokens": 8, "messages": [{"role": "user", "content": "bgp down"}]}
    reply = httpx.post(
        f"{gateway.v1}/chat/completions", json=body, headers={"authorization": f"Bearer {gateway.key}"}, timeout=120
    )
    assert reply.status_code == 200, reply.text
    version = gateway.svc.prompts.current.version
    assert reply.json()["netops"]["prompts"] == version
    rid = reply.headers["x-request-id"]
    records = gateway.svc.audit.records(limit=100)
    (record,) = [r for r in records if r["request_id"] == rid and r["kind"] == "chat.completed"]
    assert record["payload"]["prompts"] == version


def test_the_cli_lists_shows_and_diffs_versions(tmp_path: Path) -> None:
    env = {"NETOPS_DATA_DIR": str(tmp_path / "data")}
    runner = CliRunner()
    assert runner.invoke(cli, ["prompts", "list"], env=env).exit_code == 0
    old = PromptSet.packaged().version
    edited = _edited(tmp_path, "tersely")
    env["NETOPS_PROMPTS__DIR"] = str(edited)
    listed = runner.invoke(cli, ["prompts", "list"], env=env)
    assert listed.exit_code == 0 and listed.output.splitlines()[0] == f"  {old}", listed.output
    diff = runner.invoke(cli, ["prompts", "diff", old], env=env)
    assert diff.exit_code == 0 and "+Answer tersely." in diff.output, diff.output
    shown = runner.invoke(cli, ["prompts", "show", "system", "--version", old], env=env)
    assert shown.exit_code == 0 and "You are NetOps Assistant" in shown.output and "tersely" not in shown.output
    assert runner.invoke(cli, ["prompts", "show", "nope"], env=env).exit_code == 2
