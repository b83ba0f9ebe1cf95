// Connections / MCP servers of an agent definition (spec 06 §3.5.3): status pills,
// Connect (hub OAuth approve with returnTo), Paste token, and Add MCP server (a wants
// PATCH on the definition, which works daemon-direct too).
import { h, put, pill, banner, button, field, stacked } from "./dom.js";
import { api, hub, enc, errorText, daemonDirect } from "./api.js";

const LABELS = { approved: ["Connected", "ok"], needs_consent: ["Needs reconnect", "warn"], revoked: ["Revoked", "bad"] };
const statusPill = (s) => { const [t, tone] = LABELS[s] || ["Pending", "warn"]; return pill(t, tone); };

export function mcpRows(def) {
  const conns = (def.connections || []).filter((c) => c.kind === "mcp");
  if ((def.connections || []).length) return conns;
  return (def.wants || []).filter((w) => /^mcp:https?:\/\//.test(w)).map((w) => ({
    key: w, kind: "mcp", target: w.slice(4), status: (def.pending || []).includes(w) ? "pending" : "approved",
  }));
}

function validUrl(u) {
  if (!/^https?:\/\/.+/.test(u)) return false;
  try { new URL(u); return true; } catch { return false; }
}

export function connectionsSection(def, reload) {
  const sec = h("section", { class: "sub", "aria-label": "Connections / MCP servers" });
  const msg = h("div", {});
  const rows = mcpRows(def);
  const returnTo = () => window.location.pathname + window.location.search + window.location.hash;
  const why = daemonDirect ? "Connect needs the hub origin (you're on the loopback daemon)." : "No grant yet for this connection.";

  const approve = async (c, body) => {
    put(msg);
    try {
      const r = await hub(`/admin/grants/${enc(c.grantId)}/approve`, { method: "POST", body });
      if (r.authorizeUrl) { window.location.assign(r.authorizeUrl); return; }
      reload();
    } catch (e) {
      put(msg, banner("error", e.message));
    }
  };

  const actionCell = (c) => {
    const td = h("td", {});
    if (c.status === "approved") return put(td, "—");
    const usable = !!c.grantId && !daemonDirect;
    const connect = h("button", { type: "button", class: "btn small", disabled: !usable, title: usable ? "" : why,
      onClick: () => approve(c, { returnTo: returnTo() }) }, c.status === "needs_consent" ? "Reconnect" : "Connect");
    const idle = () => put(td, connect, usable ? h("button", { type: "button", class: "btn link small", onClick: pasteForm }, "Paste token") : null);
    const pasteForm = () => {
      const tok = h("input", { type: "password", autocomplete: "off" });
      const save = h("button", { type: "submit", class: "btn small primary", disabled: true }, "Save");
      tok.addEventListener("input", () => { save.disabled = !tok.value.trim(); });
      put(td, h("form", { class: "inline", onSubmit: (e) => { e.preventDefault(); if (tok.value.trim()) approve(c, { token: tok.value.trim() }); } },
        field(`Token for ${c.target}`, tok).wrap, save, button("Cancel", idle, { kind: "small" })));
      tok.focus();
    };
    idle();
    return td;
  };

  const addToggle = button("Add MCP server", () => openAdd());
  const addSlot = h("div", {});
  const openAdd = () => {
    addToggle.hidden = true;
    const url = h("input", { type: "url", placeholder: "https://mcp.example.com/mcp" });
    const f = field("MCP server URL", url);
    const auth = h("fieldset", {}, h("legend", {}, "Authentication"),
      h("label", { class: "radio" }, h("input", { type: "radio", name: "mcp-auth", value: "oauth", checked: true }), " OAuth (default)"),
      h("label", { class: "radio" }, h("input", { type: "radio", name: "mcp-auth", value: "token" }), " Paste a token (after adding, use Paste token)"));
    const submit = h("button", { type: "submit", class: "btn primary" }, "Add");
    const err = h("div", {});
    const check = () => {
      const u = url.value.trim();
      if (!u) return "";
      if (!validUrl(u)) return "Must be a full http(s) URL.";
      if ((def.wants || []).includes(`mcp:${u}`)) return "This MCP server is already connected to the agent.";
      return "";
    };
    url.addEventListener("input", () => { f.err.textContent = check(); });
    const close = () => { put(addSlot); addToggle.hidden = false; };
    put(addSlot, h("form", { class: "fields", onSubmit: async (e) => {
      e.preventDefault();
      const problem = check() || (url.value.trim() ? "" : "Must be a full http(s) URL.");
      f.err.textContent = problem;
      if (problem) return;
      submit.disabled = true; submit.textContent = "Adding…";
      try {
        await api(`/agent-defs/${enc(def.noteId)}`, { method: "PATCH",
          body: { wants: [...(def.wants || []), `mcp:${url.value.trim()}`].join(", ") } });
        close();
        reload();
      } catch (x) {
        put(err, banner("error", errorText(x)));
        submit.disabled = false; submit.textContent = "Add";
      }
    } }, f.wrap, auth, err, h("div", { class: "row" }, submit, button("Cancel", close))));
    url.focus();
  };

  put(sec, h("h3", {}, "Connections / MCP servers"),
    daemonDirect ? banner("info", "Open this surface via your hub to connect MCP servers — the OAuth/approve step needs the hub origin (you're on the loopback daemon).") : null,
    msg,
    rows.length ? h("div", { class: "table-wrap" }, stacked(h("table", {}, h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "MCP server"), h("th", { scope: "col" }, "Status"), h("th", { scope: "col" }, "Action"))),
      h("tbody", {}, rows.map((c) => h("tr", { "data-mcp": c.target }, h("td", { class: "mono" }, c.target), h("td", {}, statusPill(c.status)), actionCell(c)))))))
      : h("p", { class: "muted" }, "No MCP servers connected to this agent yet."),
    addToggle, addSlot);
  return sec;
}
