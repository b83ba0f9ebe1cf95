// The Agents screen (spec 06 §3.4) and the agent detail panel (§3.5): the merged live +
// definition list, the read view, Edit (§3.5.1) and Delete (§3.5.2). The detail's
// sections live in connections.js and sections.js; the page cards in cards.js.
import { h, put, pill, banner, button, field, stacked } from "./dom.js";
import { api, enc, errorText, mount } from "./api.js";
import { connectionsSection } from "./connections.js";
import { schedulesSection, secretsSection, envSection } from "./sections.js";
import { claudeCard, defVaultsCard } from "./cards.js";

export const MODELS = [["", "Default (Claude Code's default)"], ["opus", "Opus — most capable"],
  ["sonnet", "Sonnet — balanced"], ["haiku", "Haiku — fastest"]];
export const modelLabel = (m) => (!m ? "Default" : (MODELS.find(([v]) => v === m) || [m, m])[1]);
const PREVIEW_CHARS = 200; // systemPromptPreview's length (spec 06 §3.5)
const MODES = { "single-threaded": "Single-threaded", "multi-threaded": "Multi-threaded" };
/** [ext] every backend value is normalised: the daemon's attached (and legacy channel) show as channel. */
export const backendWord = (b) => (b === "attached" || b === "channel" ? "channel" : b || "—");

export function statusTone(s) {
  if (s === "enabled" || s === "idle") return "ok";
  if (s === "working") return "working";
  if (s === "pending" || /^queued/.test(s || "")) return "warn";
  if (s === "error") return "bad";
  return "neutral";
}

/** One row per name: live agents, each def attached to its live agent or a not-running row. */
export function mergeRows(agents, defs) {
  const rows = new Map();
  for (const a of agents) {
    rows.set(a.name, { name: a.name, backend: a.backend, channel: a.channel, vault: a.vault,
      status: a.status, running: true, def: null });
  }
  for (const d of defs) {
    const r = rows.get(d.name);
    if (r) {
      r.def = d;
      r.channel = r.channel || d.channel;
      r.vault = r.vault || d.vault;
    } else {
      rows.set(d.name, { name: d.name, backend: d.backend, channel: d.channel, vault: d.vault,
        status: d.status, running: false, def: d });
    }
  }
  return [...rows.values()].sort((a, b) => a.name.localeCompare(b.name));
}

const dash = (v) => v || "—";
/** The time of the first list drawn from data (scripts/bench-ui.sh, the browser tests). */
const listed = () => { if (!performance.getEntriesByName("pa:agents-listed").length) performance.mark("pa:agents-listed"); };
const shownStatus = (r) => r.status || (r.running ? "live" : "not running");

export function agentsScreen() {
  const el = h("section", { class: "screen" });
  const st = { loading: true, error: null, rows: [], selected: null, connected: false };
  const params = new URLSearchParams(window.location.search);
  if (params.get("mcp_connected") === "1") {
    st.connected = true;
    params.delete("mcp_connected");
    const q = params.toString();
    history.replaceState(null, "", window.location.pathname + (q ? `?${q}` : "") + window.location.hash);
  }
  const detailSlot = h("div", { class: "detail-slot" });
  const listSlot = h("div", {});
  const cards = h("div", { class: "cards" });

  let vaultsCard = null;
  const load = async () => {
    st.loading = true; st.error = null; draw();
    try {
      const [a, d, v] = await Promise.all([api("/agents"), api("/agent-defs"), api("/agent-vaults")]);
      st.rows = mergeRows(a.agents || [], d.defs || []);
      vaultsCard.show({ vaults: v.vaults || [] });
      if (st.selected && !st.rows.some((r) => r.name === st.selected)) st.selected = null;
    } catch (e) {
      st.error = e;
      vaultsCard.show({ error: e });
    }
    st.loading = false;
    draw();
  };

  // The list is redrawn on every selection: keep keyboard focus on the row it was on (or
  // move it to the row when its detail's Close button had it).
  const select = (name, { focusRow = false } = {}) => {
    const active = document.activeElement;
    const refocus = focusRow || (active && active.dataset && active.dataset.agent === name);
    st.selected = st.selected === name ? null : name;
    drawDetail(); drawList();
    if (refocus) {
      const tr = [...listSlot.querySelectorAll("tr[data-agent]")].find((x) => x.dataset.agent === name);
      if (tr) tr.focus();
    }
  };

  // A reload that brings the same data keeps the open panel as it is (a form being filled
  // in, the sections already loaded); new data redraws it.
  let shownKey = null;
  function drawDetail() {
    const row = st.rows.find((r) => r.name === st.selected);
    const key = row ? JSON.stringify(row) : null;
    if (row && key === shownKey && detailSlot.firstChild) return;
    shownKey = key;
    put(detailSlot, row ? detailPanel(row, { close: () => select(row.name, { focusRow: true }), reload: load }) : null);
  }

  function drawList() {
    if (st.loading) { put(listSlot, h("p", { class: "muted", role: "status" }, "Loading agents…")); return; }
    if (st.error) {
      put(listSlot, banner("error", errorText(st.error).startsWith("Not signed in") ? errorText(st.error)
        : `Failed to load agents: ${errorText(st.error)}`, button("Retry", load)));
      return;
    }
    const n = st.rows.length;
    const head = h("div", { class: "card-head" }, h("h2", {}, "All agents"),
      h("span", { class: "count" }, `${n} ${n === 1 ? "agent" : "agents"}`),
      h("a", { class: "btn primary small", href: `${mount}/app/create`, "data-link": "" }, "New agent"));
    if (!n) {
      put(listSlot, h("div", { class: "card" }, head, h("p", { class: "muted empty" },
        "No agents yet. Define one in a vault as an #agent/definition note, or spawn one from the create flow — it will show up here.")));
      listed();
      return;
    }
    const body = h("tbody", {}, st.rows.map((r) => {
      const tr = h("tr", { class: r.name === st.selected ? "selected" : "", tabindex: "0",
        "aria-selected": r.name === st.selected ? "true" : "false", "data-agent": r.name,
        onClick: () => select(r.name),
        onKeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); select(r.name); } } },
      h("td", { class: "name" }, r.name), h("td", {}, pill(backendWord(r.backend), "neutral")),
      h("td", {}, dash(r.channel)), h("td", {}, pill(shownStatus(r), statusTone(r.status))), h("td", {}, dash(r.vault)));
      return tr;
    }));
    put(listSlot, h("div", { class: "card" }, head, h("div", { class: "table-wrap" }, stacked(h("table", { class: "agents" },
      h("thead", {}, h("tr", {}, ["Name", "Backend", "Channel", "Status", "Vault"].map((c) => h("th", { scope: "col" }, c)))),
      body)))));
    listed();
  }

  function draw() {
    drawDetail();
    drawList();
  }

  const okBanner = st.connected ? banner("ok", "✓ MCP server connected — it'll be available to the agent on its next run.",
    button("Dismiss", (e) => e.target.closest(".banner").remove(), { kind: "small" })) : null;
  put(el, h("h1", {}, "Agents"),
    h("p", { class: "lede" }, "Every agent this daemon runs or knows from a vault definition — programmatic and channel backends on one surface."),
    okBanner, detailSlot, listSlot, cards);
  vaultsCard = defVaultsCard({ reload: () => load() });
  put(cards, claudeCard(), vaultsCard.el);
  load();
  return { el };
}

function detailPanel(row, { close, reload }) {
  const panel = h("section", { class: "card detail", "aria-label": `Agent ${row.name}` });
  const def = row.def;
  const readView = () => {
    const grid = [["Backend", backendWord(row.backend)], ["Mode", def ? MODES[def.mode] || dash(def.mode) : "—"],
      ["Channel", dash(row.channel)], ["Vault", dash(row.vault)],
      ["Running", row.running ? "yes" : "no (defined, not instantiated)"]];
    if (def) grid.push(["Model", modelLabel(def.model)], ["Def status", dash(def.status)]);
    const parts = [h("dl", { class: "grid" }, grid.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]))];
    if (def) {
      const preview = def.systemPromptPreview || "";
      // the daemon sends the first PREVIEW_CHARS characters: mark a cut prompt as such
      parts.push(h("h3", {}, "System prompt"), h("p", { class: "prompt" }, !preview ? "No system prompt set (Claude Code's default)."
        : preview.length >= PREVIEW_CHARS ? `${preview}…` : preview));
      parts.push(h("h3", {}, "Wants"), (def.wants || []).length
        ? h("div", { class: "tags" }, def.wants.map((w) => h("span", { class: "tag" }, w)))
        : h("p", { class: "muted" }, "Own-vault only — no extra connections requested."));
      if ((def.pending || []).length) {
        parts.push(h("h3", {}, "Pending approval"), h("div", { class: "tags" }, def.pending.map((w) => h("span", { class: "tag warn" }, w))));
      }
      if (def.noteId) parts.push(connectionsSection(def, reload));
    } else {
      parts.push(h("p", { class: "muted" }, "This agent isn't backed by a vault-native #agent/definition note, so there's no system prompt or wants to show."));
    }
    if (backendWord(row.backend) === "channel") {
      parts.push(h("p", { class: "muted" }, "Queue depth and the connect-your-session affordance arrive in a later version."));
    }
    if (row.channel) {
      parts.push(schedulesSection(row.channel), secretsSection(row.channel, backendWord(row.backend) === "channel"), envSection(row.name));
    }
    parts.push(h("p", { class: "muted" }, h("a", { href: `${mount}/terminal/?agent=${enc(row.name)}` }, "Open a terminal on this agent")));
    const actions = def && def.noteId
      ? [button("Edit", editView), button("Delete", deleteView, { kind: "danger" })] : [];
    put(panel, head(row.name, actions), parts);
  };
  const head = (title, actions) => h("div", { class: "card-head" }, h("h2", {}, title),
    pill(backendWord(row.backend), "neutral"), row.status ? pill(row.status, statusTone(row.status)) : null,
    h("span", { class: "spacer" }), actions, button("Close", close));

  const editView = async () => {
    put(panel, head(`Edit ${row.name}`, []), h("p", { class: "muted", role: "status" }, "Loading def…"));
    let full;
    try {
      full = (await api(`/agent-defs/${enc(def.noteId)}`)).def || {};
    } catch (e) {
      put(panel, head(`Edit ${row.name}`, []), banner("error", errorText(e), button("Retry", editView)), button("Cancel", readView));
      return;
    }
    const modeRadios = Object.entries({
      "single-threaded": "One continuous conversation — remembers everything on this channel.",
      "multi-threaded": "Each run is its own thread — good for scheduled or stateless tasks.",
    }).map(([v, hint]) => h("label", { class: "radio" }, h("input", { type: "radio", name: "edit-mode", value: v, checked: (full.mode || "single-threaded") === v }),
      h("span", {}, MODES[v]), h("span", { class: "hint" }, hint)));
    const model = h("select", {}, MODELS.map(([v, l]) => h("option", { value: v, selected: (full.model || "") === v }, l)));
    if (full.model && !MODELS.some(([v]) => v === full.model)) model.append(h("option", { value: full.model, selected: true }, full.model));
    const prompt = h("textarea", { rows: "8", placeholder: "You are…" });
    prompt.value = full.systemPrompt || "";
    const wants = h("input", { type: "text", placeholder: "vault:other, service:github", value: (full.wants || []).join(", ") });
    const err = h("div", {});
    const save = h("button", { type: "submit", class: "btn primary" }, "Save changes");
    const form = h("form", { class: "fields", onSubmit: async (e) => {
      e.preventDefault();
      save.disabled = true; save.textContent = "Saving…"; put(err);
      try {
        await api(`/agent-defs/${enc(def.noteId)}`, { method: "PATCH", body: {
          systemPrompt: prompt.value,
          metadata: { mode: form.querySelector("input[name=edit-mode]:checked").value, model: model.value },
          wants: wants.value.trim(),
        } });
        readView();
        reload();
      } catch (x) {
        put(err, banner("error", errorText(x)));
        save.disabled = false; save.textContent = "Save changes";
      }
    } }, h("fieldset", {}, h("legend", {}, "Mode"), modeRadios), field("Model", model).wrap,
    field("System prompt", prompt).wrap, field("Wants (connections)", wants).wrap, err,
    h("div", { class: "row" }, save, button("Cancel", readView)));
    put(panel, head(`Edit ${row.name}`, []), form);
    prompt.focus();
  };

  const deleteView = () => {
    const input = h("input", { type: "text", autocomplete: "off" });
    const f = field(`Type ${row.name} to confirm`, input);
    const go = h("button", { type: "submit", class: "btn danger-fill", disabled: true }, "Delete agent");
    const err = h("div", {});
    input.addEventListener("input", () => { go.disabled = input.value !== row.name; });
    put(panel, head(row.name, []), h("form", { class: "confirm-box", onSubmit: async (e) => {
      e.preventDefault();
      if (input.value !== row.name) return;
      go.disabled = true; go.textContent = "Deleting…";
      try {
        await api(`/agent-defs/${enc(def.noteId)}`, { method: "DELETE" });
        close();
        reload();
      } catch (x) {
        put(err, banner("error", errorText(x)));
        go.disabled = false; go.textContent = "Delete agent";
      }
    } }, h("p", {}, `Delete ${row.name}? This removes the definition note and deregisters the agent. Type the agent name to confirm.`),
    f.wrap, err, h("div", { class: "row" }, go, button("Cancel", readView))));
    input.focus();
  };
  readView();
  return panel;
}
