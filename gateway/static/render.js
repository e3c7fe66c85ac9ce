// Rendering one answer: the checks run (live progress from `check.start` / `check.end` events), the findings
// (problems first), the model's prose with its <data> fences removed, then sources, tools and warnings.
// Everything the model or a device produced is inserted as text (textContent), never as HTML.

import { el, stripFences } from "./util.js";

const SEVERITY_ORDER = { problem: 0, info: 1, ok: 2 };
const SEVERITY_LABEL = { problem: "Problem", info: "Info", ok: "OK" };
// Words that carry the state in FRR / ping / DNS output: bad states (group 1), then good ones (group 2).
const BAD_STATES =
  "Idle|Active|Connect|OpenSent|OpenConfirm|[Dd]own|DOWN|Admin|shutdown|Init|ExStart|Exchange|Loading|" +
  "failed|timeout|timed out|unreachable|refused|NXDOMAIN|SERVFAIL|100% packet loss";
const GOOD_STATES = "Established|Full|[Uu]p|UP|0% packet loss|NOERROR";
// whole words only, and not the "Up/Down" column title
const KEY_FACT = new RegExp(`(?<![\\w/-])(?:(${BAD_STATES})|(${GOOD_STATES}))(?![\\w-]|/Down)`, "g");
const OPEN_LINES = 15; // outputs up to this many lines are shown open

// A user's or an error's message.
export function plainItem(role, text) {
  return el("li", { className: role }, el("div", { className: "text", text }));
}

// One assistant answer, built while its stream arrives (or at once from a stored message).
export class AnswerView {
  constructor(onSource) {
    this.onSource = onSource;
    this.raw = "";
    this.rows = new Map();
    this.checks = el("ol", { className: "checks", attrs: { "aria-label": "Checks run" } });
    this.findings = el("div", { className: "findings" });
    this.text = el("div", { className: "text" });
    this.li = el("li", { className: "assistant waiting" }, this.checks, this.findings, this.text);
  }

  static stored(message, onSource) {
    const view = new AnswerView(onSource);
    view.raw = message.content || "";
    view.finishText();
    if (message.netops) view.final(message.netops);
    if (message.stopped) view.stopped();
    return view;
  }

  append(delta) {
    this.raw += delta;
    this.text.textContent = stripFences(this.raw, true);
  }

  // The displayed text once the stream is over (this is what the conversation keeps).
  finishText() {
    this.li.classList.remove("waiting");
    this.text.textContent = stripFences(this.raw).trim();
    return this.text.textContent;
  }

  // A progress chunk: `{event: "check.start" | "check.end" | "findings", ...}`.
  event(netops) {
    if (netops.event === "check.start" && netops.check) this.checkStart(netops.check);
    else if (netops.event === "check.end" && netops.check) this.checkEnd(netops.check);
    else if (netops.event === "findings") this.showFindings(netops.findings);
  }

  // The final chunk's `netops`: findings, tools not already shown, sources, warnings, errors.
  final(netops) {
    if (netops.findings) this.showFindings(netops.findings);
    if (!this.rows.size) for (const tool of [...(netops.checks || []), ...(netops.tools || [])]) this.toolRow(tool);
    this.li.append(meta(netops, this.onSource));
  }

  // Thumbs up / down under the answer: `onRate(rating)` resolves to true once the gateway booked the vote.
  rateWith(onRate, current) {
    const box = el("div", { className: "feedback", attrs: { role: "group", "aria-label": "Rate this answer" } });
    const choices = [
      ["up", "\u25B2 Helpful", "Helpful answer"],
      ["down", "\u25BC Not helpful", "Unhelpful answer"],
    ];
    const buttons = choices.map(([rating, text, label]) => {
      const attrs = { type: "button", "aria-label": label, "aria-pressed": String(current === rating) };
      const button = el("button", { className: `thumb ${rating}`, text, attrs });
      button.addEventListener("click", async () => {
        if (!(await onRate(rating))) return;
        for (const other of buttons) other.setAttribute("aria-pressed", String(other === button));
      });
      return button;
    });
    box.append(...buttons);
    this.li.append(box);
  }

  stopped() {
    this.li.classList.add("stopped");
    this.li.append(el("p", { className: "meta warning", text: "Stopped: the answer above is incomplete." }));
  }

  checkStart(check) {
    const row = el("li", { className: "check running", attrs: { "aria-busy": "true" } });
    row.append(el("span", { className: "check-state", text: "running" }));
    row.append(el("code", { text: ` ${check.tool} ${args(check.arguments)}` }));
    if (check.reason) row.append(el("div", { className: "reason", text: check.reason }));
    const entry = { row, check, details: null };
    this.rows.set(check.id || `check-${this.rows.size}`, entry);
    this.checks.append(row);
    return entry;
  }

  checkEnd(check) {
    const entry = this.rows.get(check.id) || this.checkStart(check);
    const failed = check.ok === false;
    entry.check = check;
    entry.row.className = `check ${failed ? "failed" : "done"}`;
    entry.row.removeAttribute("aria-busy");
    const ms = typeof check.duration_ms === "number" ? ` in ${Math.round(check.duration_ms)} ms` : "";
    const age = typeof check.cached_age_s === "number" ? `, from ${Math.round(check.cached_age_s)} s ago` : "";
    entry.row.querySelector(".check-state").textContent = `${failed ? "failed" : "done"}${ms}${age}`;
    this.showOutput(entry);
  }

  // (Re)draws a check's output, marking the lines the findings quote.
  showOutput(entry) {
    const { check } = entry;
    if (!check.output) return;
    const block = outputBlock(`Output of ${check.tool} ${args(check.arguments)}`.trim(), check.output, this.evidence(check.tool));
    if (entry.details) {
      block.open = block.open || entry.details.open;
      entry.details.replaceWith(block);
    } else entry.row.append(block);
    entry.details = block;
  }

  toolRow(tool) {
    const check = { id: `tool-${this.rows.size}`, tool: tool.name, arguments: tool.arguments };
    this.checkStart(check);
    this.checkEnd({ ...check, duration_ms: tool.duration_ms, output: tool.output, cached_age_s: tool.cached_age_s });
  }

  showFindings(findings) {
    this.found = findings || [];
    this.findings.replaceChildren();
    for (const entry of this.rows.values()) this.showOutput(entry);
    if (!this.found.length) return;
    const sorted = [...this.found].sort((a, b) => rank(a) - rank(b));
    const list = el("ul", { attrs: { "aria-label": "Findings" } }, ...sorted.map(findingItem));
    this.findings.append(el("h3", { text: "Findings" }), list);
  }

  evidence(tool) {
    return (this.found || []).filter((f) => !f.tool || f.tool === tool);
  }
}

function rank(finding) {
  return SEVERITY_ORDER[finding.severity] ?? 1;
}

function findingItem(f) {
  const severity = SEVERITY_LABEL[f.severity] ? f.severity : "info";
  const li = el("li", { className: `finding ${severity}` });
  li.append(el("span", { className: "badge", text: SEVERITY_LABEL[severity] }));
  li.append(el("strong", { text: ` ${f.device || ""}` }), ` ${f.subject || ""}: `);
  li.append(el("mark", { className: severity, text: f.fact || "" }));
  if (f.evidence) li.append(el("code", { className: "evidence", text: f.evidence }));
  const age = typeof f.age_s === "number" ? `, from ${Math.round(f.age_s)} s ago` : "";
  if (f.tool) li.append(el("span", { className: "from", text: ` (${f.tool}${age})` }));
  return li;
}

function args(value) {
  if (!value || typeof value !== "object") return "";
  return Object.entries(value).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`).join(" ");
}

// A tool's output as a monospace block: lines quoted by a finding are marked, state words highlighted.
export function outputBlock(title, output, findings = []) {
  const pre = el("pre", { className: "output", attrs: { tabindex: "0", "aria-label": title } });
  const quoted = new Map(findings.filter((f) => f.evidence).map((f) => [f.evidence.trim(), f.severity]));
  const lines = String(output).split("\n");
  lines.forEach((line, i) => {
    const severity = quoted.get(line.trim());
    if (severity) pre.append(el("mark", { className: `line ${severity}`, text: line }));
    else highlightLine(pre, line);
    if (i < lines.length - 1) pre.append("\n");
  });
  const details = el("details", {}, el("summary", { text: title }), pre);
  details.open = lines.length <= OPEN_LINES || findings.some((f) => f.severity === "problem");
  return details;
}

function highlightLine(parent, line) {
  let last = 0;
  for (const match of line.matchAll(KEY_FACT)) {
    if (match.index > last) parent.append(line.slice(last, match.index));
    parent.append(el("mark", { className: match[1] ? "bad" : "good", text: match[0] }));
    last = match.index + match[0].length;
  }
  if (last < line.length) parent.append(line.slice(last));
}

function meta(netops, onSource) {
  const box = el("div", { className: "meta" });
  const section = (title, rows, cls) => {
    if (!rows || !rows.length) return;
    box.append(el("div", { className: `meta-title ${cls || ""}`.trim(), text: title }), el("ul", {}, ...rows));
  };
  const text = (s, cls) => el("li", { className: cls || "", text: s });
  section("Sources", (netops.citations || []).map((c, i) => el("li", {}, sourceButton(c, i, onSource))));
  const unsupported = (netops.unsupported || []).map((u) => text(`"${u.claim}": ${u.reason}`, "warning"));
  section("Not supported by any check", unsupported, "warning");
  section("Confirm before running", (netops.confirmation_required || []).map((c) => text(c, "warning")), "warning");
  section("Warnings", (netops.warnings || []).map((w) => text(w, "warning")), "warning");
  if (netops.degraded) {
    const d = netops.degraded;
    section("Degraded", [text(`answered by ${d.to} instead of ${d.from} (${d.reason})`, "warning")], "warning");
  }
  if (netops.cache) {
    const c = netops.cache;
    section("Cached", [text(`answered from the ${c.kind} cache, computed ${Math.round(c.age_s)} s ago by request ${c.source_request_id}`)]);
  }
  if (netops.error) section("Stopped", [text(`${netops.error.code}: ${netops.error.detail}`, "warning")], "warning");
  if (netops.route) {
    const cost = typeof netops.cost_usd === "number" ? ` · $${netops.cost_usd.toFixed(6)}` : "";
    box.append(el("div", { className: "route", text: `${netops.route} via ${netops.deployment || "?"}${cost}` }));
  }
  return box;
}

function sourceButton(citation, i, onSource) {
  const label = `[${i + 1}] ${citation.path} > ${citation.heading}`;
  const button = el("button", {
    className: "source",
    text: label,
    attrs: { type: "button", title: `index ${citation.index_version}`, "aria-label": `Open source ${label}` },
  });
  button.addEventListener("click", () => onSource(citation, button));
  return button;
}
