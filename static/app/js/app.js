// The app shell (spec 06 §3.3): nav, client routes relative to the run-time base, the
// standalone sign-in (paste a token, or trade a one-time `#login=<code>` link), and the
// screen lifecycle (a screen's cleanup runs when the route changes).
import { h, put, banner, button, field } from "./dom.js";
import { appBase, apiBase, daemonDirect, setStandaloneToken, hasStandaloneToken, onAuthChange, signingInWith, isSigningIn } from "./api.js";
import { openStepUp } from "./stepup.js";
import { agentsScreen } from "./agents.js";
import { createScreen } from "./create.js";
import { chatScreen } from "./chat.js";

const root = document.getElementById("root");
const header = h("header", { class: "top" });
const signin = h("div", { class: "signin-slot" });
const main = h("main", { id: "main", tabindex: "-1" });
let cleanup = null;

/** The client route: the pathname below the app base ("/", "/chat/eng", …). */
export function route() {
  const p = window.location.pathname;
  const rest = p.startsWith(appBase) ? p.slice(appBase.length) : p;
  return rest === "" ? "/" : rest;
}

export function navigate(to, { replace = false } = {}) {
  const url = `${appBase}${to}`;
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  render();
}

function section(r) {
  if (r === "/" || r === "/agents" || r === "/agents/") return "agents";
  if (r === "/create" || r === "/create/") return "create";
  if (r === "/chat" || r.startsWith("/chat/")) return "chat";
  return "404";
}

function link(to, label, active) {
  return h("a", { href: `${appBase}${to}`, "data-link": "", "aria-current": active ? "page" : null }, label);
}

function renderHeader(sec) {
  const subtitle = { agents: "agents", create: "new agent", chat: "chat" }[sec] || "";
  put(header,
    h("a", { class: "brand", href: `${appBase}/`, "data-link": "" },
      h("span", { class: "mark", "aria-hidden": "true" }, "A"),
      h("span", { class: "word" }, "Parachute Agent"),
      subtitle ? h("span", { class: "subtitle" }, subtitle) : null),
    h("nav", { "aria-label": "Main" },
      link("/", "Agents", sec === "agents"),
      link("/create", "New agent", sec === "create"),
      link("/chat", "Chat", sec === "chat"),
      button("Step-up PIN", () => openStepUp("settings"), { kind: "small" })));
}

/** Standalone (daemon-direct) sign-in: a token pasted here stays in memory only. */
function renderSignin(notice) {
  if (!daemonDirect || hasStandaloneToken() || isSigningIn()) { put(signin); return; }
  const input = h("input", { type: "password", autocomplete: "off", placeholder: "eyJ…" });
  const f = field("Bearer token (agent:read agent:send agent:admin)", input,
    "Kept in this tab's memory only. Or run `parachute-agent login-url` on the host and open its link.");
  const use = h("button", { type: "submit", class: "btn primary" }, "Use token");
  put(signin, h("form", {
    class: "card signin", "aria-label": "Sign in",
    onSubmit: (e) => { e.preventDefault(); if (input.value.trim()) setStandaloneToken(input.value.trim(), null); },
  }, h("h2", {}, "Sign in"), notice ? banner("error", notice) : null,
  h("p", { class: "muted" }, "This page is served by the daemon itself, without a hub session."),
  f.wrap, h("div", { class: "row" }, use)));
}

export function render() {
  const r = route();
  const sec = section(r);
  renderHeader(sec);
  if (cleanup) { try { cleanup(); } catch { /* a screen's cleanup never blocks routing */ } }
  cleanup = null;
  let screen;
  if (sec === "agents") screen = agentsScreen({ navigate });
  else if (sec === "create") screen = createScreen({ navigate });
  else if (sec === "chat") screen = chatScreen({ navigate, channel: r.startsWith("/chat/") ? decodeURIComponent(r.slice(6)) : "" });
  else screen = { el: h("section", { class: "card" }, h("h1", {}, "Page not found"), h("p", {}, "404 — ", h("a", { href: `${appBase}/`, "data-link": "" }, "back to Agents"), ".")) };
  cleanup = screen.cleanup || null;
  put(main, screen.el);
  if (!performance.getEntriesByName("pa:first-render").length) performance.mark("pa:first-render");
}

/**
 * `#login=<code>`: drop the code from the URL and trade it for a token. Resolves to null,
 * or the notice for the sign-in box when the code is refused.
 */
async function redeemLoginLink(code) {
  try {
    const r = await fetch(`${apiBase}/ui/login`, {
      method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ code }),
    });
    const j = await r.json().catch(() => ({}));
    // quiet: the first screen's calls are already waiting for this token
    if (r.ok && j.token) { setStandaloneToken(j.token, j.expires_at, { notify: false }); return null; }
    return r.status === 429 ? "Too many sign-in attempts — wait a minute."
      : "This sign-in link is invalid, used or expired — run `parachute-agent login-url` again.";
  } catch {
    return "Sign-in failed: the daemon did not answer.";
  }
}

function boot() {
  put(root, h("a", { class: "skip", href: "#main" }, "Skip to content"), header, signin, main);
  document.addEventListener("click", (e) => {
    const a = e.target.closest && e.target.closest("a[data-link]");
    if (!a || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(new URL(a.href).pathname.slice(appBase.length) || "/");
  });
  window.addEventListener("popstate", render);
  onAuthChange(() => { renderSignin(null); render(); });
  const m = /^#login=([A-Za-z0-9_-]+)$/.exec(window.location.hash);
  if (m) {
    history.replaceState(null, "", window.location.pathname + window.location.search);
    signingInWith(redeemLoginLink(m[1])).then(renderSignin);
  }
  // The shell and the screen's frame first; its data follows (no fetch before first paint).
  renderSignin(null);
  render();
}

boot();
