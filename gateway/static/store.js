// Conversations, kept in this browser's localStorage under the key's fingerprint (never the key itself,
// which stays in the tab's sessionStorage). A conversation is {id, title, updated, messages}; a message is
// {role: "user" | "assistant" | "error", content, netops?, stopped?}.

const PREFIX = "netops-conversations:";
const MAX_CONVERSATIONS = 50;
const MAX_OUTPUT_CHARS = 4000; // per tool output kept for re-display; the full text was shown live
const UNTITLED = "New chat";

export class Conversations {
  constructor(fingerprint) {
    this.slot = PREFIX + fingerprint;
    this.items = load(this.slot);
  }

  // Newest first.
  list() {
    return [...this.items].sort((a, b) => b.updated - a.updated);
  }

  get(id) {
    return this.items.find((c) => c.id === id) || null;
  }

  create() {
    const id = globalThis.crypto && crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`;
    return { id, title: UNTITLED, updated: Date.now(), messages: [] };
  }

  save(conversation) {
    conversation.updated = Date.now();
    conversation.title = titleOf(conversation);
    this.items = [conversation, ...this.items.filter((c) => c.id !== conversation.id)];
    this.items = this.items.slice(0, MAX_CONVERSATIONS);
    this.persist();
  }

  remove(id) {
    this.items = this.items.filter((c) => c.id !== id);
    this.persist();
  }

  // Writes the list; when the browser's quota is reached, the oldest conversations go first.
  persist() {
    for (;;) {
      try {
        localStorage.setItem(this.slot, JSON.stringify(this.items));
        return;
      } catch (err) {
        if (this.items.length <= 1) throw err;
        this.items = this.list().slice(0, -1);
      }
    }
  }
}

// What the API is sent: the conversation's user and assistant turns, text only.
export function history(conversation) {
  return conversation.messages
    .filter((m) => (m.role === "user" || m.role === "assistant") && m.content)
    .map((m) => ({ role: m.role, content: m.content }));
}

// The part of a final `netops` object worth keeping with the message (tool outputs shortened).
export function compact(netops) {
  if (!netops) return null;
  const tools = (netops.tools || []).map((t) => ({ ...t, output: clip(t.output) }));
  const keep = [
    ...["route", "deployment", "degraded", "cache", "cost_usd", "policy", "redactions"],
    ...["citations", "findings", "unsupported", "warnings"],
  ];
  const out = Object.fromEntries(keep.filter((k) => netops[k] !== undefined).map((k) => [k, netops[k]]));
  return { ...out, tools, confirmation_required: netops.confirmation_required || [], error: netops.error };
}

function clip(text) {
  if (typeof text !== "string" || text.length <= MAX_OUTPUT_CHARS) return text;
  return `${text.slice(0, MAX_OUTPUT_CHARS)}\n... (${text.length - MAX_OUTPUT_CHARS} more characters not kept)`;
}

function titleOf(conversation) {
  const first = conversation.messages.find((m) => m.role === "user");
  if (!first) return UNTITLED;
  const line = first.content.replace(/\s+/g, " ").trim();
  return line.length > 60 ? `${line.slice(0, 57)}...` : line;
}

function load(slot) {
  try {
    const items = JSON.parse(localStorage.getItem(slot) || "[]");
    return Array.isArray(items) ? items.filter((c) => c && c.id && Array.isArray(c.messages)) : [];
  } catch {
    return [];
  }
}
