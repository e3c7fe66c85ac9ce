// Small helpers shared by the chat UI's modules: element building (text only), the API client,
// problem+json messages, the key fingerprint and the removal of the model's <data> fences.
// Nothing here ever assigns innerHTML: every string reaches the page through textContent.

export const $ = (id) => document.getElementById(id);

// el("li", { className: "x", text: "t", attrs: { "aria-label": "y" } }, child, ...)
export function el(tag, options = {}, ...children) {
  const node = document.createElement(tag);
  if (options.className) node.className = options.className;
  if (options.text !== undefined) node.textContent = String(options.text);
  for (const [name, value] of Object.entries(options.attrs || {})) node.setAttribute(name, String(value));
  for (const child of children) if (child) node.append(child);
  return node;
}

// `{code}: {detail}` of a problem+json response, or its HTTP status when the body is not one.
export async function problemText(response) {
  try {
    const problem = await response.json();
    if (problem && problem.code) return `${problem.code}: ${problem.detail || ""}`.trim();
  } catch {
    // not JSON: fall through
  }
  return `HTTP ${response.status}`;
}

// fetch() with the caller's key; `json` is sent as the body, `headers` are added. A gateway that cannot be
// reached answers like a problem (`network_error`), so every caller has one error path; only a stop
// (AbortError) throws.
export async function api(key, path, { method = "GET", json, signal, headers: extra = {} } = {}) {
  const headers = { ...extra, authorization: `Bearer ${key}` };
  const init = { method, headers, signal };
  if (json !== undefined) {
    headers["content-type"] = "application/json";
    init.body = JSON.stringify(json);
  }
  try {
    return await fetch(path, init);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    const problem = { code: "network_error", detail: "the gateway could not be reached" };
    return new Response(JSON.stringify(problem), { status: 503, headers: { "content-type": "application/problem+json" } });
  }
}

// A short, stable name for a key, under which its conversations are kept: never the key itself.
export async function fingerprint(key) {
  const bytes = new TextEncoder().encode(`netops-ui:${key}`);
  if (globalThis.crypto && crypto.subtle) {
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    return Array.from(digest.slice(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
  }
  let hash = 0x811c9dc5; // FNV-1a, where WebCrypto is unavailable (a plain-HTTP origin other than localhost)
  for (const b of bytes) hash = Math.imul(hash ^ b, 0x01000193) >>> 0;
  return `f${hash.toString(16)}`;
}

const FENCE = /<\/?data\b[^>]*>/gi;
const OPEN_TAIL = /<\/?([a-z]*)(\s[^<>]*)?$/i;

// The model's text without its <data ...> / </data> fence tags. While `streaming`, a tag still
// arriving ("<da") is held back so that it never flashes on screen.
export function stripFences(text, streaming = false) {
  let out = text.replace(FENCE, "");
  if (streaming) {
    const tail = out.match(OPEN_TAIL);
    const name = tail ? tail[1].toLowerCase() : null;
    const held = name !== null && (tail[2] ? name === "data" : "data".startsWith(name));
    if (held) out = out.slice(0, tail.index);
  }
  return out.replace(/\n{3,}/g, "\n\n");
}

// "in 12 min", "3 min ago": a time relative to now, for expiry and creation times (epoch seconds).
export function relative(epochSeconds) {
  const minutes = Math.round((epochSeconds * 1000 - Date.now()) / 60000);
  if (minutes === 0) return "now";
  return minutes > 0 ? `in ${minutes} min` : `${-minutes} min ago`;
}
