// NetOps Assistant chat: talks to the gateway's OpenAI-compatible API with the user's key.
// Model output is data: it is only ever inserted with textContent, never as HTML.
"use strict";
const $ = (id) => document.getElementById(id);
const state = { key: sessionStorage.getItem("netops-key") || "", history: [] };

function item(role, text) {
  const li = document.createElement("li");
  li.className = role;
  const body = document.createElement("div");
  body.className = "text";
  body.textContent = text;
  li.appendChild(body);
  $("log").appendChild(li);
  li.scrollIntoView({ block: "end" });
  return li;
}

function meta(li, netops) {
  const box = document.createElement("div");
  box.className = "meta";
  const add = (title, rows, cls) => {
    if (!rows || !rows.length) return;
    const head = document.createElement("div");
    head.textContent = title;
    if (cls) head.className = cls;
    const ul = document.createElement("ul");
    for (const row of rows) { const r = document.createElement("li"); r.textContent = row; ul.appendChild(r); }
    box.append(head, ul);
  };
  add("Sources", (netops.citations || []).map((c, i) => `[${i + 1}] ${c.path} > ${c.heading} (index ${c.index_version})`));
  add("Tools run", (netops.tools || []).map((t) => `${t.name} ${JSON.stringify(t.arguments)}: ${t.output || ""}`));
  add("Warnings", netops.warnings, "warning");
  if (netops.error) add("Stopped", [`${netops.error.code}: ${netops.error.detail}`], "warning");
  li.appendChild(box);
}

async function problem(response) {
  try { const p = await response.json(); return `${p.code}: ${p.detail}`; } catch { return `HTTP ${response.status}`; }
}

async function connect(event) {
  event.preventDefault();
  state.key = $("key").value.trim();
  const response = await fetch("/v1/models", { headers: { authorization: `Bearer ${state.key}` } });
  if (!response.ok) { $("status").textContent = await problem(response); $("send").disabled = true; return; }
  sessionStorage.setItem("netops-key", state.key);
  const models = (await response.json()).data.map((m) => m.id);
  $("model").replaceChildren(...models.map((id) => Object.assign(document.createElement("option"), { value: id, textContent: id })));
  $("status").textContent = "connected";
  $("send").disabled = false;
}

async function ask(event) {
  event.preventDefault();
  const text = $("prompt").value.trim();
  if (!text) return;
  $("prompt").value = "";
  item("user", text);
  state.history.push({ role: "user", content: text });
  const li = item("assistant", "");
  const out = li.querySelector(".text");
  $("send").disabled = true;
  try {
    const response = await fetch("/v1/chat/completions", {
      method: "POST",
      headers: { authorization: `Bearer ${state.key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: $("model").value, messages: state.history, stream: true }),
    });
    if (!response.ok) { li.className = "error"; out.textContent = await problem(response); state.history.pop(); return; }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const line = buffer.slice(0, cut).replace(/^data: /, "");
        buffer = buffer.slice(cut + 2);
        if (line === "[DONE]") continue;
        const chunk = JSON.parse(line);
        const delta = chunk.choices && chunk.choices[0] && chunk.choices[0].delta;
        if (delta && delta.content) out.textContent += delta.content;
        if (chunk.netops) meta(li, chunk.netops);
      }
    }
    state.history.push({ role: "assistant", content: out.textContent });
  } finally {
    $("send").disabled = false;
  }
}

$("key").value = state.key;
$("auth").addEventListener("submit", connect);
$("ask").addEventListener("submit", ask);
