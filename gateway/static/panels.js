// The side panels that are not the conversation: the cited runbook section, the device status strip
// and the colour theme.

import { $, api, el, problemText } from "./util.js";

const THEME_SLOT = "netops-theme";
const INVENTORY_REFRESH_MS = 30000;

// Opens a citation's runbook section (GET /v1/runbooks/section) in the side panel, as text.
export async function openSource(key, citation, opener) {
  const panel = $("source");
  panel.hidden = false;
  panel.returnFocus = opener || null;
  $("source-where").textContent = `${citation.path} > ${citation.heading}`;
  $("source-text").textContent = "Loading...";
  $("source-text").className = "output";
  const query = new URLSearchParams({ path: citation.path, heading: citation.heading });
  const response = await api(key, `/v1/runbooks/section?${query}`);
  if (!response.ok) {
    $("source-text").className = "output problem";
    $("source-text").textContent = await problemText(response);
  } else {
    const section = await response.json();
    $("source-where").textContent = `${section.path} > ${section.heading} (index ${section.index_version})`;
    $("source-text").textContent = section.text;
  }
  panel.focus();
}

export function closeSource() {
  const panel = $("source");
  if (panel.hidden) return;
  panel.hidden = true;
  if (panel.returnFocus && panel.returnFocus.isConnected) panel.returnFocus.focus();
  else $("prompt").focus();
}

// The device strip: each device of the key's tenant with its liveness (GET /v1/inventory).
export class DeviceStrip {
  constructor() {
    this.timer = null;
  }

  start(key) {
    clearInterval(this.timer);
    this.timer = setInterval(() => document.hidden || this.refresh(key), INVENTORY_REFRESH_MS);
    return this.refresh(key);
  }

  async refresh(key) {
    const strip = $("devices");
    const response = await api(key, "/v1/inventory");
    if (!response.ok) {
      strip.replaceChildren(el("li", { className: "device unknown", text: `devices: ${await problemText(response)}` }));
      return;
    }
    const devices = (await response.json()).data || [];
    const up = devices.filter((d) => d.live === true).length;
    const label = el("li", { className: "devices-label", text: devices.length ? `Lab ${up}/${devices.length} up` : "No devices" });
    strip.replaceChildren(label, ...devices.map(device));
  }
}

function device(d) {
  const state = d.live === true ? "up" : d.live === false ? "down" : "unknown";
  const li = el("li", { className: `device ${state}`, attrs: { title: `${d.name}: ${state} (${d.platform}, ${d.transport})` } });
  li.append(el("span", { className: "dot", attrs: { "aria-hidden": "true" } }), ` ${d.name}`);
  li.append(el("span", { className: state === "up" ? "sr-only" : "state", text: ` ${state}` }));
  return li;
}

// Light or dark: the system's preference unless the toggle chose one (kept in localStorage).
export function initTheme() {
  const button = $("theme");
  const system = matchMedia("(prefers-color-scheme: dark)");
  const apply = () => {
    const chosen = localStorage.getItem(THEME_SLOT);
    const dark = chosen ? chosen === "dark" : system.matches;
    document.documentElement.dataset.theme = dark ? "dark" : "light";
    button.setAttribute("aria-pressed", String(dark));
  };
  button.addEventListener("click", () => {
    const dark = document.documentElement.dataset.theme === "dark";
    localStorage.setItem(THEME_SLOT, dark ? "light" : "dark");
    apply();
  });
  system.addEventListener("change", apply);
  apply();
}
