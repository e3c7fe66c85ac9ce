// NetOps Assistant chat: talks to the gateway's OpenAI-compatible API with the user's key.
// Model output is data: it is only ever inserted with textContent, never as HTML.
//
// Modules: util.js (helpers), store.js (conversations in localStorage), chat.js (the SSE stream),
// render.js (an answer: checks, findings, prose, sources), actions.js (pending actions), kills.js (the
// kill-switch banner, and an operator's switch panel), panels.js (runbook section, device strip, theme).

import { ActionsPanel } from "./actions.js";
import { streamChat } from "./chat.js";
import { KillSwitches } from "./kills.js";
import { DeviceStrip, closeSource, initTheme, openSource } from "./panels.js";
import { AnswerView, plainItem } from "./render.js";
import { Conversations, compact, history } from "./store.js";
import { $, api, el, fingerprint, problemText } from "./util.js";

const KEY_SLOT = "netops-key";
const state = { key: "", store: null, conversation: null, controller: null, deleted: new Set() };
const actions = new ActionsPanel(() => state.key);
const devices = new DeviceStrip();
const kills = new KillSwitches(() => state.key);
const showSource = (citation, opener) => openSource(state.key, citation, opener);

// -- connecting ---------------------------------------------------------------------------------------------

async function connect(key) {
  const response = await api(key, "/v1/models");
  if (!response.ok) {
    $("status").textContent = await problemText(response);
    $("send").disabled = true;
    return;
  }
  state.key = key;
  sessionStorage.setItem(KEY_SLOT, key);
  const models = (await response.json()).data.map((m) => m.id);
  $("model").replaceChildren(...models.map((id) => el("option", { text: id, attrs: { value: id } })));
  state.store = new Conversations(await fingerprint(key));
  const latest = state.store.list()[0];
  show(latest || state.store.create());
  $("status").textContent = "connected";
  $("send").disabled = false;
  devices.start(key);
  actions.start();
  kills.start();
}

// -- conversations ------------------------------------------------------------------------------------------

function show(conversation) {
  stop();
  state.conversation = conversation;
  const items = conversation.messages.map((m) =>
    m.role === "assistant" ? storedAnswer(m) : plainItem(m.role, m.content),
  );
  $("log").replaceChildren(...items);
  scrollToEnd(true);
  listConversations();
}

function storedAnswer(message) {
  const view = AnswerView.stored(message, showSource);
  if (message.request_id) view.rateWith((rating) => rate(message, rating), message.rating);
  return view.li;
}

// A thumbs up / down, booked by the gateway against the prompt version that wrote the answer.
async function rate(message, rating) {
  const json = { request_id: message.request_id, rating };
  const response = await api(state.key, "/v1/feedback", { method: "POST", json });
  if (!response.ok) {
    $("status").textContent = await problemText(response);
    return false;
  }
  message.rating = rating;
  if (state.store) state.store.persist();
  return true;
}

function listConversations() {
  const current = state.conversation && state.conversation.id;
  const rows = state.store.list().map((c) => {
    const open = el("button", { className: "open", text: c.title, attrs: { type: "button", title: c.title } });
    if (c.id === current) open.setAttribute("aria-current", "true");
    open.addEventListener("click", () => show(state.store.get(c.id)));
    const remove = el("button", {
      className: "delete",
      text: "✕",
      attrs: { type: "button", "aria-label": `Delete conversation: ${c.title}` },
    });
    remove.addEventListener("click", () => removeConversation(c.id));
    return el("li", {}, open, remove);
  });
  $("conversations").replaceChildren(...rows);
}

function removeConversation(id) {
  state.deleted.add(id);
  state.store.remove(id);
  if (state.conversation && state.conversation.id === id) show(state.store.list()[0] || state.store.create());
  else listConversations();
  $("new-chat").focus();
}

function newChat() {
  if (!state.store) return;
  show(state.store.create());
  $("prompt").focus();
}

// -- asking -------------------------------------------------------------------------------------------------

async function ask(event) {
  event.preventDefault();
  const text = $("prompt").value.trim();
  if (!text || state.controller || !state.key) return;
  $("prompt").value = "";
  const conversation = state.conversation;
  const asked = { role: "user", content: text };
  conversation.messages.push(asked);
  const item = plainItem("user", text);
  const view = new AnswerView(showSource);
  $("log").append(item, view.li);
  scrollToEnd(true);
  const message = await answer(conversation, view);
  await keepSafe(asked, item, message.netops);
  conversation.messages.push(message);
  if (message.role === "assistant" && message.request_id) view.rateWith((rating) => rate(message, rating));
  if (!state.deleted.has(conversation.id)) state.store.save(conversation); // kept once answered, never before
  listConversations();
  kills.refresh(); // a refusal or a degraded answer may be a switch just thrown
  const netops = message.netops || {};
  if ((netops.tools || []).length || (netops.confirmation_required || []).length) actions.refresh();
}

// No secret stays in localStorage: a question whose secrets the gateway redacted (or whose answer never
// reported) is kept as the tenant's own input guardrails redact it.
async function keepSafe(message, item, netops) {
  if (netops && netops.redactions === 0) return;
  const response = await api(state.key, "/v1/guardrails/scan", {
    method: "POST",
    json: { stage: "input", text: message.content },
  });
  if (!response.ok) {
    message.content = "(not kept: the gateway could not check it for secrets)";
    return;
  }
  const redacted = (await response.json()).text;
  if (redacted === message.content) return;
  message.content = redacted;
  item.querySelector(".text").textContent = redacted;
}

// Streams the answer into `view`; returns the message to keep (assistant text, or an error).
async function answer(conversation, view) {
  const controller = new AbortController();
  state.controller = controller;
  busy(true);
  let result;
  try {
    const request = {
      key: state.key,
      model: $("model").value,
      messages: history(conversation),
      conversation: conversation.id,
    };
    result = await streamChat({ ...request, signal: controller.signal, view });
  } catch (err) {
    const broken = { netops: { error: { code: "stream_broken", detail: `the stream broke off (${err.message})` } } };
    result = err.name === "AbortError" ? { stopped: true } : broken;
  } finally {
    state.controller = null;
    busy(false);
  }
  if (result.error) {
    view.li.replaceWith(plainItem("error", result.error));
    return { role: "error", content: result.error };
  }
  const content = view.finishText();
  if (result.netops) view.final(result.netops);
  if (result.stopped) view.stopped();
  scrollToEnd();
  const answered = result.netops && !result.netops.error; // a complete answer: it can be rated
  const requestId = answered ? result.requestId || undefined : undefined;
  const stopped = result.stopped || undefined;
  return { role: "assistant", content, netops: compact(result.netops), stopped, request_id: requestId };
}

function stop() {
  if (state.controller) state.controller.abort();
}

function busy(on) {
  $("send").disabled = on;
  $("stop").disabled = !on;
  $("log").setAttribute("aria-busy", String(on));
  if (!on && document.activeElement === $("stop")) $("prompt").focus();
}

function scrollToEnd(force = false) {
  const log = $("log");
  if (force || log.scrollHeight - log.scrollTop - log.clientHeight < 120) log.scrollTop = log.scrollHeight;
}

// Enter sends, Shift+Enter is a new line, Escape stops a running answer.
function onPromptKey(event) {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    if (!$("send").disabled) $("ask").requestSubmit();
  } else if (event.key === "Escape" && state.controller) {
    event.preventDefault();
    stop();
  }
}

// -- start --------------------------------------------------------------------------------------------------

initTheme();
$("auth").addEventListener("submit", (event) => {
  event.preventDefault();
  connect($("key").value.trim());
});
$("ask").addEventListener("submit", ask);
$("prompt").addEventListener("keydown", onPromptKey);
$("stop").addEventListener("click", stop);
$("new-chat").addEventListener("click", newChat);
$("source-close").addEventListener("click", closeSource);
$("source").addEventListener("keydown", (event) => event.key === "Escape" && closeSource());
new MutationObserver(() => scrollToEnd()).observe($("log"), { childList: true, subtree: true, characterData: true });

const saved = sessionStorage.getItem(KEY_SLOT);
if (saved) {
  $("key").value = saved;
  connect(saved);
}
