// Page-level cards of the Agents screen: the Claude auth card (spec 06 §3.6) and the
// def-vaults card with reactive reload through the hub's connections (§3.7).
import { h, put, pill, banner, button, field, confirmButton, stacked } from "./dom.js";
import { api, hub, enc, errorText, daemonDirect } from "./api.js";

const SLUG = /^[a-zA-Z0-9_-]+$/;

export function claudeCard() {
  const card = h("section", { class: "card", "aria-label": "Claude auth" });
  const notice = h("div", {});
  const formSlot = h("div", {});
  const toggle = button("Set token", () => { if (formSlot.firstChild) closeForm(); else openForm(); });
  const closeForm = () => { put(formSlot); toggle.textContent = "Set token"; };
  const headPill = h("span", {});
  const body = h("div", {});
  const load = async () => {
    put(body, h("p", { class: "muted", role: "status" }, "Loading…"));
    let r;
    try { r = await api("/credentials/claude"); } catch (e) { put(body, banner("error", errorText(e), button("Retry", load))); put(headPill); return; }
    put(headPill, r.defaultSet ? pill("configured", "ok") : pill("not configured", "bad"));
    put(body, r.defaultSet ? null : h("p", { class: "muted" }, "No default Claude token set — programmatic agents can't run turns until one is set (or a per-channel override covers them)."),
      (r.channels || []).length ? h("table", {}, h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Channel override"), h("th", { scope: "col" }, "Token"), h("th", { scope: "col" }, h("span", { class: "sr" }, "Remove")))),
        h("tbody", {}, r.channels.map((ch) => h("tr", { "data-override": ch }, h("td", { class: "mono" }, ch), h("td", {}, "••••••••"),
        h("td", { class: "actions" }, confirmButton("Remove", "Confirm remove", "Removing…", async () => {
          try { await api(`/credentials/claude/${enc(ch)}`, { method: "DELETE" }); put(notice); load(); } catch (x) { put(notice, banner("error", errorText(x))); }
        })))))) : null);
  };
  const openForm = () => {
    toggle.textContent = "Cancel";
    const token = field("Token", h("input", { type: "password", autocomplete: "off" }), "From `claude setup-token`.");
    const channel = field("Channel (optional)", h("input", { type: "text" }), "Blank = the default token.");
    const save = h("button", { type: "submit", class: "btn primary", disabled: true }, "Save token");
    const err = h("div", {});
    token.input.addEventListener("input", () => { save.disabled = !token.input.value; });
    put(formSlot, h("form", { class: "fields", onSubmit: async (e) => {
      e.preventDefault();
      if (!token.input.value) return;
      save.disabled = true; save.textContent = "Saving…"; put(err);
      const ch = channel.input.value.trim();
      try {
        await api(ch ? `/credentials/claude/${enc(ch)}` : "/credentials/claude", { method: "POST", body: { token: token.input.value } });
        closeForm();
        put(notice, banner("ok", ch ? `Saved a Claude token override for "${ch}".` : "Saved the default Claude token."));
        load();
      } catch (x) {
        put(err, banner("error", errorText(x)));
        save.disabled = false; save.textContent = "Save token";
      }
    } }, token.wrap, channel.wrap, err, h("div", { class: "row" }, save)));
    token.input.focus();
  };
  put(card, h("div", { class: "card-head" }, h("h2", {}, "Claude auth"), headPill, h("span", { class: "spacer" }), toggle),
    h("p", { class: "muted" }, "The operator's Claude subscription token (from `claude setup-token`) that programmatic turns run on."),
    notice, body, formSlot);
  load();
  return card;
}

// ---- def-vaults + reactive reload ------------------------------------------------------
const KINDS = [["create", "note.created"], ["edit", "note.updated"]];
const canonicalId = (kind, v) => `agentdefs-${kind}-${v}`;
const matches = (c, v, event) => c && c.source && c.sink && c.source.module === "vault" && c.source.vault === v
  && c.source.event === event && c.sink.module === "agent" && c.sink.action === "definition.reload";
const reactiveOn = (conns, v) => KINDS.every(([, ev]) => conns.some((c) => matches(c, v, ev)));

async function enableReactive(v) {
  const results = await Promise.allSettled(KINDS.map(([kind, event]) => hub("/admin/connections", { method: "POST", body: {
    id: canonicalId(kind, v), requestedBy: "agent",
    source: { module: "vault", vault: v, event, filter: { tags: ["agent/definition"] } },
    sink: { module: "agent", action: "definition.reload" },
  } })));
  const failed = results.filter((r) => r.status === "rejected");
  if (failed.length === results.length) throw failed[0].reason;
  return failed.length ? "partial" : "all";
}

async function disableReactive(v, conns) {
  const ids = new Set(KINDS.map(([kind]) => canonicalId(kind, v)));
  for (const c of conns) if (KINDS.some(([, ev]) => matches(c, v, ev)) && c.id) ids.add(c.id);
  for (const id of ids) {
    try { await hub(`/admin/connections/${enc(id)}`, { method: "DELETE" }); } catch (e) { if (e.status !== 404) throw e; }
  }
}

/**
 * The Def-vaults card. Its rows come from the Agents screen's own load (`show`), so the list
 * is fetched once per load; its actions ask the screen to `reload` all three lists.
 */
export function defVaultsCard({ reload }) {
  const card = h("section", { class: "card", "aria-label": "Def-vaults" });
  const count = h("span", { class: "count" });
  const notice = h("div", {});
  const body = h("div", {}, h("p", { class: "muted", role: "status" }, "Loading def-vaults…"));
  const formSlot = h("div", {});
  const toggle = button("Add def-vault", () => { if (formSlot.firstChild) closeForm(); else openForm(); });
  const closeForm = () => { put(formSlot); toggle.textContent = "Add def-vault"; };
  let conns = null;
  let vaults = [];

  const fetchConns = async () => { if (daemonDirect) { conns = null; return; } try { conns = (await hub("/admin/connections")).connections || []; } catch { conns = null; } };
  let connsReady = fetchConns(); // on mount, in parallel with the screen's load
  const refreshConns = () => { connsReady = fetchConns(); return connsReady; };

  /** `{vaults}` from the screen's load, or `{error}` when it failed. */
  const show = async (result) => {
    if (result.error) { put(body, banner("error", errorText(result.error), button("Retry", reload))); return; }
    vaults = result.vaults;
    await connsReady;
    draw();
  };
  const draw = () => {
    count.textContent = `${vaults.length}`;
    if (!vaults.length) { put(body, h("p", { class: "muted" }, "No def-vaults configured yet.")); return; }
    put(body, h("div", { class: "table-wrap" }, stacked(h("table", {}, h("thead", {}, h("tr", {}, ["Vault", "URL", "Token", "Reactive reload", "Remove"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, vaults.map((v) => h("tr", { "data-vault": v.vault }, h("td", { class: "mono" }, v.vault), h("td", { class: "mono" }, v.url || "—"),
        h("td", {}, v.tokenPresent ? pill("present", "ok") : pill("missing", "bad")), reactiveCell(v.vault),
        h("td", { class: "actions" }, confirmButton("Remove", "Confirm remove", "Removing…", async () => {
          try {
            await api(`/agent-vaults/${enc(v.vault)}`, { method: "DELETE" });
            await refreshConns();
            if (conns) await disableReactive(v.vault, conns).catch(() => {});
            await refreshConns();
            put(notice);
            reload();
          } catch (x) { put(notice, banner("error", errorText(x))); }
        })))))))));
  };
  const reactiveCell = (v) => {
    const td = h("td", {});
    if (conns === null) return put(td, h("span", { title: "Open this page via your hub to see and change reactive reload." }, "—"));
    const on = reactiveOn(conns, v);
    const b = button(on ? "Disable" : "Enable", async () => {
      b.disabled = true; b.textContent = "Working…";
      try { if (on) await disableReactive(v, conns); else await enableReactive(v); put(notice); } catch (x) { put(notice, banner("error", x.message)); }
      await refreshConns();
      draw();
    }, { kind: "small" });
    return put(td, pill(on ? "on" : "off", on ? "ok" : "neutral"), " ", b);
  };
  const openForm = () => {
    toggle.textContent = "Cancel";
    const name = field("Vault name", h("input", { type: "text", class: "mono" }));
    const url = field("Vault URL (optional)", h("input", { type: "text", placeholder: "http://127.0.0.1:1940" }), "Defaults to the loopback vault.");
    const add = h("button", { type: "submit", class: "btn primary", disabled: true }, "Add");
    const err = h("div", {});
    name.input.addEventListener("input", () => {
      const v = name.input.value;
      name.err.textContent = v && !SLUG.test(v) ? "Must be a slug — letters, numbers, dash, underscore only." : "";
      add.disabled = !SLUG.test(v);
    });
    put(formSlot, h("form", { class: "fields", onSubmit: async (e) => {
      e.preventDefault();
      const v = name.input.value;
      if (!SLUG.test(v)) return;
      add.disabled = true; add.textContent = "Adding…"; put(err);
      const b = { vault: v };
      if (url.input.value.trim()) b.url = url.input.value.trim();
      try {
        await api("/agent-vaults", { method: "POST", body: b });
      } catch (x) {
        put(err, banner("error", errorText(x)));
        add.disabled = false; add.textContent = "Add";
        return;
      }
      closeForm();
      let text;
      try {
        const how = await enableReactive(v);
        text = how === "all" ? `Added "${v}" — reactive reload is on (def changes apply instantly).`
          : `Added "${v}" — reactive reload partially wired; defs still converge within 60s.`;
      } catch (x) {
        text = `Added "${v}". Reactive reload couldn't be enabled (${x.message}) — def changes converge within 60s; you can enable it below.`;
      }
      put(notice, banner("ok", text));
      refreshConns();
      reload();
    } }, name.wrap, url.wrap, err, h("div", { class: "row" }, add)));
    name.input.focus();
  };
  put(card, h("div", { class: "card-head" }, h("h2", {}, "Def-vaults"), count, h("span", { class: "spacer" }), toggle),
    h("p", { class: "muted" }, "The vaults this module reads #agent/definition notes from."), notice, body, formSlot);
  return { el: card, show };
}
