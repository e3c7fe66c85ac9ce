// The pending-actions panel: lists the tenant's pending change actions (what will run, on which device,
// from what state) and lets an approver approve or deny with their own key. The key typed here is kept
// only in this tab's sessionStorage. The rules (roles, two-person rule, expiry) are enforced by the
// gateway; a refusal comes back as problem+json and is shown on the action.

import { $, api, el, problemText, relative } from "./util.js";

const APPROVER_SLOT = "netops-approver-key";
const REFRESH_MS = 20000;

export class ActionsPanel {
  // `chatKey()` is the connected key, used when no separate approver key was entered.
  constructor(chatKey) {
    this.chatKey = chatKey;
    this.timer = null;
    this.renderedFor = "";
    const input = $("approver-key");
    input.value = sessionStorage.getItem(APPROVER_SLOT) || "";
    input.addEventListener("change", () => {
      const key = input.value.trim();
      if (key) sessionStorage.setItem(APPROVER_SLOT, key);
      else sessionStorage.removeItem(APPROVER_SLOT);
      this.refresh();
    });
    $("refresh-actions").addEventListener("click", () => this.refresh());
  }

  key() {
    return $("approver-key").value.trim() || this.chatKey();
  }

  start() {
    clearInterval(this.timer);
    this.timer = setInterval(() => document.hidden || this.refresh(), REFRESH_MS);
    return this.refresh();
  }

  async refresh() {
    const key = this.key();
    if (!key) return;
    const response = await api(key, "/v1/tools/actions?status=pending");
    if (!response.ok) {
      $("actions-status").textContent = await problemText(response);
      return;
    }
    const actions = (await response.json()).data || [];
    $("actions-status").textContent = actions.length ? `${actions.length} pending` : "No pending actions.";
    $("actions-title").textContent = actions.length ? `Pending actions (${actions.length})` : "Pending actions";
    const ids = new Set(actions.map((a) => a.id));
    const shown = new Map([...$("actions").children].map((li) => [li.dataset.id, li]));
    const decided = [...shown.values()].filter((li) => li.dataset.decided && !ids.has(li.dataset.id));
    // a row still current is kept as it is (with any refusal shown on it, and the focus in it)
    const sameKey = this.renderedFor === key;
    this.renderedFor = key;
    const current = (a) => sameKey && shown.get(a.id)?.dataset.version === version(a);
    const rows = actions.map((a) => (current(a) ? shown.get(a.id) : this.item(a)));
    const next = [...decided, ...rows];
    const now = [...$("actions").children];
    if (next.length !== now.length || next.some((li, i) => li !== now[i])) $("actions").replaceChildren(...next);
  }

  item(action) {
    const li = el("li", { className: "action", attrs: { "data-id": action.id, "data-version": version(action) } });
    const title = `${action.tool} on ${action.device}`;
    li.append(el("h3", { text: title }));
    const approvals = `${(action.approvals || []).length}/${action.required_approvals} approvals`;
    const when = action.expires_at ? `expires ${relative(action.expires_at)}` : "";
    const mine = action.requested_by === this.key().split("-")[1] ? " (this key: another approver must decide)" : "";
    const requested = `requested by key ${action.requested_by}${mine} · ${approvals} · ${when}`;
    li.append(el("p", { className: "small", text: requested }));
    block(li, "Will run", (action.commands || []).join("\n") || action.preview);
    block(li, "Before", before(action.before));
    block(li, "Rollback", action.rollback);
    const outcome = el("p", { className: "outcome", attrs: { role: "status" } });
    const approve = button("Approve", `Approve ${title}`, "approve");
    const deny = button("Deny", `Deny ${title}`, "deny");
    approve.addEventListener("click", () => this.decide(action, "approve", li, outcome));
    deny.addEventListener("click", () => this.decide(action, "deny", li, outcome));
    li.append(el("div", { className: "buttons" }, approve, deny), outcome);
    return li;
  }

  async decide(action, verb, li, outcome) {
    const buttons = li.querySelectorAll("button");
    buttons.forEach((b) => (b.disabled = true));
    outcome.className = "outcome";
    const path = `/v1/tools/actions/${encodeURIComponent(action.id)}/${verb}`;
    const response = await api(this.key(), path, { method: "POST" });
    if (!response.ok) {
      outcome.className = "outcome problem";
      outcome.textContent = `${response.status} ${await problemText(response)}`;
      buttons.forEach((b) => (b.disabled = false));
      return;
    }
    const done = await response.json();
    li.dataset.version = version(done);
    if (done.status !== "pending") li.dataset.decided = done.status;
    outcome.className = `outcome ${done.status}`;
    const approvals = `${(done.approvals || []).length}/${done.required_approvals} approvals`;
    outcome.textContent = `${done.status} (${approvals})${done.result ? `: ${done.result}` : ""}`;
    if (done.status === "pending") buttons.forEach((b) => (b.disabled = false));
    this.refresh();
  }
}

function version(action) {
  return `${action.status}:${(action.approvals || []).join(",")}`;
}

function button(text, label, cls) {
  return el("button", { className: cls, text, attrs: { type: "button", "aria-label": label } });
}

function block(parent, title, text) {
  if (!text) return;
  parent.append(el("div", { className: "block-title", text: title }), el("pre", { className: "output", text }));
}

function before(state) {
  if (!state || typeof state !== "object") return state || "";
  return Object.entries(state)
    .map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join("\n");
}
