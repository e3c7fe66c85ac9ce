// Kill switches: a banner under the header listing what an operator switched off that affects this key
// (GET /v1/kill/active: routes, drained deployments, tools, prompt versions, the key's own tenant), each
// with its reason, who threw it and when; refreshed every 5 s while the tab is visible and after each answer.
// A platform operator's key also gets the switch panel (throw: POST /v1/kill) and a Revive button on each
// switch (DELETE /v1/kill/{kind}/{name}). The gateway decides who may see and throw what; the page only shows.

import { $, api, el, problemText, relative } from "./util.js";

const REFRESH_MS = 5000;
const EFFECT = {
  tool: "tool refused: checks and calls that need it fail",
  route: "model route refused",
  deployment: "drained: new requests go to the route's other deployments",
  tenant: "every request with this tenant's keys is refused",
  prompt: "prompt version off: the version in force answers instead",
};

export class KillSwitches {
  // `chatKey()` is the connected key.
  constructor(chatKey) {
    this.chatKey = chatKey;
    this.timer = null;
    this.shown = "";
    this.operator = false;
    $("kill-form").addEventListener("submit", (event) => this.throwSwitch(event));
    $("kill-kind").addEventListener("change", () => this.suggest());
  }

  start() {
    clearInterval(this.timer);
    this.shown = "";
    this.names = null;
    this.setOperator(false); // until the gateway says this key is an operator's
    this.timer = setInterval(() => document.hidden || this.refresh(), REFRESH_MS);
    return this.refresh();
  }

  async refresh() {
    const key = this.chatKey();
    if (!key) return;
    const response = await api(key, "/v1/kill/active");
    if (key !== this.chatKey()) return; // another key connected meanwhile: its own refresh shows its switches
    if (response.ok) return this.render(await response.json());
    const problem = await response.clone().json().catch(() => ({}));
    if (problem.code === "killed") {
      // this key's own tenant is switched off: the key check refuses every call, this one included
      this.render({ operator: false, data: [{ kind: "tenant", name: "", reason: problem.detail, refused: true }] });
      return;
    }
    $("kills-status").textContent = `Could not refresh the kill switches: ${await problemText(response)}`;
    $("kills").hidden = false; // the last list read stays, marked as possibly stale
  }

  render(view) {
    this.setOperator(view.operator === true);
    const switches = view.data || [];
    const signature = JSON.stringify([this.operator, switches, switches.map((s) => relative(s.at || 0))]);
    const status = switches.length ? `${switches.length} switched off` : "Nothing switched off.";
    if ($("kills-status").textContent !== status) $("kills-status").textContent = status;
    $("kills").hidden = !switches.length;
    if (signature === this.shown) return;
    this.shown = signature;
    const title = switches.length === 1 ? "Switched off by an operator" : `Switched off by an operator (${switches.length})`;
    $("kills-title").textContent = title;
    const keep = document.activeElement && $("kill-list").contains(document.activeElement) ? document.activeElement.dataset.for : null;
    $("kill-list").replaceChildren(...switches.map((s) => this.item(s)));
    if (keep) $("kill-list").querySelector(`button[data-for="${CSS.escape(keep)}"]`)?.focus();
  }

  setOperator(operator) {
    this.operator = operator;
    $("kill-panel").hidden = !operator;
    if (operator && !this.names) this.loadNames();
  }

  item(s) {
    const id = `${s.kind}/${s.name}`;
    const li = el("li", { className: `kill ${s.kind}`, attrs: { "data-kind": s.kind, "data-name": s.name } });
    const head = el("div", { className: "kill-head" }, el("span", { className: "badge", text: s.kind }));
    if (s.refused) head.append(el("strong", { text: " your tenant" }));
    else head.append(" ", el("strong", { text: s.name }));
    head.append(el("span", { className: "effect", text: ` ${effect(s, this.operator)}` }));
    li.append(head, el("div", { className: "kill-reason", text: s.reason }));
    if (!s.refused) {
      const when = new Date(s.at * 1000);
      const ago = relative(s.at) === "now" ? "just now" : relative(s.at);
      const time = el("time", { text: `${ago} (${when.toLocaleString()})`, attrs: { datetime: when.toISOString() } });
      li.append(el("div", { className: "small" }, `by ${s.author} · thrown `, time));
    }
    if (this.operator && !s.refused) {
      const outcome = el("span", { className: "outcome", attrs: { role: "status" } });
      const revive = el("button", {
        className: "revive",
        text: "Revive",
        attrs: { type: "button", "data-for": id, "aria-label": `Revive ${s.kind} ${s.name}` },
      });
      revive.addEventListener("click", () => this.revive(s, revive, outcome));
      li.append(el("div", { className: "buttons" }, revive, outcome));
    }
    return li;
  }

  async revive(s, button, outcome) {
    button.disabled = true;
    const path = `/v1/kill/${encodeURIComponent(s.kind)}/${encodeURIComponent(s.name)}`;
    const response = await api(this.chatKey(), path, { method: "DELETE" });
    if (!response.ok) {
      outcome.className = "outcome problem";
      outcome.textContent = `${response.status} ${await problemText(response)}`;
      button.disabled = false;
      return;
    }
    $("kill-outcome").className = "outcome";
    $("kill-outcome").textContent = `Revived ${s.kind} ${s.name}.`;
    await this.refresh();
  }

  async throwSwitch(event) {
    event.preventDefault();
    const json = { kind: $("kill-kind").value, name: $("kill-name").value.trim(), reason: $("kill-reason").value.trim() };
    const outcome = $("kill-outcome");
    const submit = $("kill-form").querySelector("button[type=submit]");
    submit.disabled = true;
    const response = await api(this.chatKey(), "/v1/kill", { method: "POST", json });
    submit.disabled = false;
    if (!response.ok) {
      outcome.className = "outcome problem";
      outcome.textContent = `${response.status} ${await problemText(response)}`;
      return;
    }
    const thrown = await response.json();
    outcome.className = "outcome";
    outcome.textContent = `Switched off ${thrown.kind} ${thrown.name}: in force on every gateway within about a second.`;
    $("kill-name").value = "";
    $("kill-reason").value = "";
    await this.refresh();
  }

  // Route and deployment names for the name field, from the operator's view of the router.
  async loadNames() {
    this.names = { route: [], deployment: [] };
    const response = await api(this.chatKey(), "/v1/routing/status");
    if (!response.ok) return;
    const status = await response.json();
    this.names = { route: Object.keys(status.routes || {}), deployment: Object.keys(status.deployments || {}) };
    this.suggest();
  }

  suggest() {
    const names = (this.names && this.names[$("kill-kind").value]) || [];
    $("kill-names").replaceChildren(...names.map((n) => el("option", { attrs: { value: n } })));
  }
}

function effect(s, operator) {
  if (s.kind === "tenant" && !operator) return "every request with this key is refused";
  if (s.kind === "deployment" && (s.routes || []).length) return `${EFFECT.deployment} (serves ${s.routes.join(", ")})`;
  return EFFECT[s.kind] || "switched off";
}
