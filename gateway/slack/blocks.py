"""Block Kit for the bot's messages: pure functions from the gateway's answers to Slack blocks.

Every dynamic text is escaped (`&`, `<`, `>`: a redaction placeholder like `<SECRET:bgp-password:1>` must not
become a Slack link) and cut to Slack's limits (3000 characters a section, 50 blocks a message).

Example:
    blocks = answer_blocks("r1's link is down ...", report, progress=[], final=True)
    await client.chat_update(channel=c, ts=ts, text=fallback(blocks), blocks=blocks)
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from gateway.slack.store import Incident, ThreadItem

__all__ = [
    "APPROVE",
    "DENY",
    "answer_blocks",
    "approval_card",
    "escape",
    "fallback",
    "search_blocks",
    "status_blocks",
    "summary_blocks",
]

APPROVE, DENY = "netops_approve", "netops_deny"  # the card's button action ids
Block = dict[str, Any]
_SECTION_MAX, _BLOCKS_MAX = 2900, 50


def escape(text: str) -> str:
    """Slack mrkdwn's three control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def section(text: str) -> Block:
    cut = text if len(text) <= _SECTION_MAX else text[: _SECTION_MAX - 1] + "…"
    return {"type": "section", "text": {"type": "mrkdwn", "text": cut or " "}}


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:_SECTION_MAX] or " "}]}


def fallback(blocks: Sequence[Block]) -> str:
    """The plain `text` Slack shows in notifications: the first section's text."""
    for block in blocks:
        if block.get("type") == "section":
            return str(block["text"]["text"])[:300]
    return "NetOps"


def answer_blocks(text: str, report: dict[str, Any], *, progress: Sequence[str], final: bool) -> list[Block]:
    """An answer in progress (checks so far, text so far) or final (with findings, tools, citations, warnings)."""
    blocks: list[Block] = []
    if progress and not final:
        blocks.append(context("\n".join(escape(p) for p in progress[-8:])))
    findings = report.get("findings") or []
    if findings:
        lines = [f"{_severity(f['severity'])} {escape(str(f['headline']))}" for f in findings[:12]]
        blocks.append(section("*Findings*\n" + "\n".join(lines)))
    body = escape(text.strip()) or ("_thinking…_" if not final else "_(no answer text)_")
    blocks.append(section(body))
    if final:
        blocks += _report_blocks(report)
    return blocks[:_BLOCKS_MAX]


def _report_blocks(report: dict[str, Any]) -> list[Block]:
    blocks: list[Block] = []
    ran = [*(report.get("checks") or []), *(report.get("tools") or [])]
    if ran:
        lines = [f"• `{c['name']}` {escape(_args(c.get('arguments', {})))}" for c in ran[:10]]
        blocks.append(section("*Checks and tools run*\n" + "\n".join(lines)))
    citations = report.get("citations") or []
    if citations:
        lines = [f"• {escape(str(c['path']))} — {escape(str(c.get('heading', '')))}" for c in citations[:6]]
        blocks.append(section("*Sources*\n" + "\n".join(lines)))
    warnings = [*(report.get("warnings") or [])]
    unsupported = report.get("unsupported") or []
    if warnings or unsupported:
        lines = [f":warning: {escape(str(w))}" for w in warnings[:8]]
        lines += [f":grey_question: unsupported: {escape(str(u['claim']))}" for u in unsupported[:5]]
        blocks.append(section("*Guardrails*\n" + "\n".join(lines)))
    confirm = report.get("confirmation_required") or []
    if confirm:
        blocks.append(
            section(":rotating_light: needs explicit confirmation before running: " + escape(", ".join(confirm)))
        )
    degraded = report.get("degraded")
    if degraded:
        blocks.append(context(f":twisted_rightwards_arrows: {escape(_degraded(degraded))}"))
    cache = report.get("cache")
    if cache:
        age = round(float(cache.get("age_s") or 0))
        blocks.append(context(f":recycle: from the {escape(str(cache.get('kind')))} cache, computed {age} s ago"))
    return blocks


def _degraded(d: dict[str, Any]) -> str:
    return f"degraded: answered by {d.get('to')} instead of {d.get('from')} ({d.get('reason')})"


def approval_card(action: dict[str, Any], *, proposer: str, note: str = "") -> list[Block]:
    """A change action: the exact commands, the before-state, rollback; buttons while it is pending."""
    commands = "\n".join(str(c) for c in action.get("commands") or []) or str(action.get("preview", ""))
    before = ", ".join(f"{k} {v}" for k, v in (action.get("before") or {}).items()) or "(not read)"
    status = str(action["status"])
    approvals = f"{len(action.get('approvals') or [])} of {action.get('required_approvals', 1)}"
    blocks: list[Block] = [
        section(f"*Change proposed* by <@{proposer}>: `{action['tool']}` on *{escape(str(action['device']))}*"),
        section(f"*Commands*\n```{escape(commands)}```"),
        section(f"*Before*: {escape(before)}\n*Rollback*: {escape(str(action.get('rollback', '')))}"),
        context(f"action `{action['id']}` · status *{status}* · approvals {approvals}"),
    ]
    if status == "pending":
        blocks.append(
            {
                "type": "actions",
                "block_id": f"action-{action['id']}",
                "elements": [
                    _button("Approve", APPROVE, str(action["id"]), "primary"),
                    _button("Deny", DENY, str(action["id"]), "danger"),
                ],
            }
        )
    else:
        result = escape(str(action.get("result") or ""))[:1500]
        blocks.append(section(f"*{status.upper()}*{note}" + (f"\n```{result}```" if result else "")))
    return blocks


def _button(text: str, action_id: str, value: str, style: str) -> Block:
    label = {"type": "plain_text", "text": text}
    return {"type": "button", "text": label, "action_id": action_id, "value": value, "style": style}


def status_blocks(ready: dict[str, Any], models: Sequence[str], devices: Sequence[dict[str, Any]]) -> list[Block]:
    """Routes, deployments and the inventory's health, one section each."""
    checks = ready.get("checks") or {}
    deployments = [f"{_ok(v.get('ok'))} {escape(k)}" for k, v in checks.items()]
    inventory = [f"{_ok(d.get('live'))} {escape(str(d['name']))} ({escape(str(d['transport']))})" for d in devices]
    routes = ready.get("routes") or {}
    degraded = [
        f"`{escape(n)}` ({escape(', '.join(r.get('down') or []))} down)" for n, r in routes.items() if r.get("degraded")
    ]
    return [
        section(f"*Gateway*: {escape(str(ready.get('status', 'unknown')))}"),
        section("*Routes*: " + (", ".join(f"`{escape(m)}`" for m in models) or "none")),
        *([section(":twisted_rightwards_arrows: *Degraded*: " + "; ".join(degraded))] if degraded else []),
        section("*Deployments, store and index*\n" + ("\n".join(deployments) or "none")),
        section("*Inventory*\n" + ("\n".join(inventory) or "no devices")),
    ]


def search_blocks(query: str, results: Sequence[dict[str, Any]], base_url: str) -> list[Block]:
    """Runbook hits, each linking to its cited section on the gateway."""
    if not results:
        return [section(f"No runbook matches _{escape(query)}_.")]
    lines = []
    for hit in results:
        link = f"{base_url}/v1/runbooks/section?" + urlencode({"path": hit["path"], "heading": hit["heading"]})
        lines.append(f"• <{link}|{escape(str(hit['heading']))}> — {escape(str(hit['path']))} ({hit['score']:.2f})")
    return [section(f"*Runbooks for* _{escape(query)}_\n" + "\n".join(lines))]


def summary_blocks(incident: Incident, items: Sequence[ThreadItem]) -> list[Block]:
    """A postmortem-ready summary of an incident thread: timeline, findings, changes and the audit ids."""
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(incident.started_at))
    last = items[-1].ts if items else incident.started_at
    minutes = max(0, round((last - incident.started_at) / 60))
    timeline = [
        f"`{time.strftime('%H:%M:%S', time.gmtime(i.ts))}` *{i.kind}* <@{i.user}>: {escape(_line(i.text))}"
        for i in items
    ]
    findings = [escape(_line(i.text)) for i in items if i.kind == "finding"]
    changes = [escape(_line(i.text)) for i in items if i.kind == "approval"]
    ids = sorted({i.request_id for i in items if i.request_id})
    return [
        section(
            f"*Incident summary: {escape(incident.title)}*\nstarted {started} by <@{incident.started_by}>, "
            f"{len(items)} timeline entries over {minutes} min"
        ),
        section("*Timeline*\n" + ("\n".join(timeline[-40:]) or "nothing recorded yet")),
        section("*Findings*\n" + ("\n".join(f"• {f}" for f in findings[-15:]) or "none")),
        section("*Changes and approvals*\n" + ("\n".join(f"• {c}" for c in changes) or "none")),
        context("audit request ids (`netops audit tail`): " + (", ".join(f"`{r}`" for r in ids) or "none")),
    ]


def _line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= 200 else flat[:199] + "…"


def _args(arguments: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in arguments.items())


def _severity(value: str) -> str:
    return {"problem": ":red_circle:", "warning": ":large_orange_circle:"}.get(value, ":large_green_circle:")


def _ok(value: object) -> str:
    if value is True:
        return ":large_green_circle:"
    return ":red_circle:" if value is False else ":white_circle:"
