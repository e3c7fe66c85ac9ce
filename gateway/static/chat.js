// One streamed chat completion: POST /v1/chat/completions with `stream: true`, read as server-sent events.
// Text deltas go to the answer view as they arrive; progress chunks (`choices: []` with `netops.event`)
// update its checks and findings; the final chunk's `netops` is returned. Aborting `signal` stops it.
// `conversation` (the conversation's id) keeps it on one prompt version while the gateway runs a canary.

import { api, problemText } from "./util.js";

// Resolves to {netops, requestId} (the final chunk's `netops`; the answer's id, for feedback), or {error}
// when the gateway refused the request. Throws the fetch's AbortError when stopped.
export async function streamChat({ key, model, messages, signal, view, conversation }) {
  const response = await api(key, "/v1/chat/completions", {
    method: "POST",
    json: { model, messages, stream: true },
    headers: conversation ? { "x-netops-conversation": conversation } : {},
    signal,
  });
  if (!response.ok) return { error: await problemText(response) };
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let final = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const chunk = parse(buffer.slice(0, cut));
      buffer = buffer.slice(cut + 2);
      if (chunk) final = apply(chunk, view) || final;
    }
  }
  return { netops: final, requestId: response.headers.get("x-request-id") };
}

// One SSE event's JSON (its `data:` lines joined), or null for [DONE], comments and malformed events.
function parse(event) {
  const data = event
    .split("\n")
    .filter((line) => line.startsWith("data:"))
    .map((line) => line.slice(5).replace(/^ /, ""))
    .join("\n");
  if (!data || data === "[DONE]") return null;
  try {
    return JSON.parse(data);
  } catch {
    return null;
  }
}

// Shows one chunk; returns its `netops` when it is the final report (not a progress event).
function apply(chunk, view) {
  const netops = chunk.netops;
  if (netops && netops.event) {
    view.event(netops);
    return null;
  }
  const choice = chunk.choices && chunk.choices[0];
  if (choice && choice.delta && choice.delta.content) view.append(choice.delta.content);
  return netops || null;
}
