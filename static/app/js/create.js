// The New agent screen (spec 06 §3.8): writes an #agent/definition note through
// POST /api/agent-defs; a channel-backend result shows the `claude mcp add` command.
import { h, put, banner, button, field } from "./dom.js";
import { api, errorText, mount, appBase } from "./api.js";
import { MODELS, backendWord } from "./agents.js";

const SLUG = /^[a-zA-Z0-9_-]+$/;
const MODES = [["single-threaded", "Single-threaded"], ["multi-threaded", "Multi-threaded"]];
const BACKENDS = [["programmatic", "Programmatic", "Parachute runs it headless — always on, sandboxed."],
  ["channel", "Channel", "You run a Claude Code session on your own machine and connect it — your env, unsandboxed."]];

function radios(name, options, initial) {
  return options.map(([v, label, hint]) => h("label", { class: "radio" },
    h("input", { type: "radio", name, value: v, checked: v === initial }), h("span", {}, label), hint ? h("span", { class: "hint" }, hint) : null));
}

export function createScreen() {
  const el = h("section", { class: "screen" });
  const body = h("div", {});
  put(el, h("h1", {}, "New agent"),
    h("p", { class: "lede" }, "Writing an #agent/definition note into a def-vault instantiates the agent and its channel."), body);
  const load = async () => {
    put(body, h("p", { class: "muted", role: "status" }, "Loading…"));
    let vaults;
    try { vaults = (await api("/agent-vaults")).vaults || []; } catch (e) { put(body, banner("error", errorText(e), button("Retry", load))); return; }
    form(vaults);
  };
  const form = (vaults) => {
    const name = field("Name", h("input", { type: "text", placeholder: "my-agent", autocomplete: "off" }), "A slug (letters, numbers, dash, underscore). This is also the agent's channel.");
    const vault = field("Def-vault", h("select", {}, vaults.map((v) => h("option", { value: v.vault }, v.vault + (v.tokenPresent ? "" : " (token missing)")))));
    const model = field("Model", h("select", {}, MODELS.map(([v, l]) => h("option", { value: v }, l))));
    const prompt = field("System prompt", h("textarea", { rows: "6", placeholder: "You are…" }));
    const wants = field("Wants (connections)", h("input", { type: "text", placeholder: "vault:other, service:github" }));
    const submit = h("button", { type: "submit", class: "btn primary", disabled: true }, "Create agent");
    const err = h("div", {});
    const update = () => {
      const v = name.input.value;
      name.err.textContent = v && !SLUG.test(v) ? "Must be a slug — letters, numbers, dash, underscore only." : "";
      submit.disabled = !vaults.length || !SLUG.test(v) || !vault.input.value;
    };
    name.input.addEventListener("input", update);
    const f = h("form", { class: "card fields", onSubmit: async (e) => {
      e.preventDefault();
      update();
      if (submit.disabled) return;
      const mode = f.querySelector("input[name=mode]:checked").value;
      const backend = f.querySelector("input[name=backend]:checked").value;
      const b = { vault: vault.input.value, name: name.input.value, backend, systemPrompt: prompt.input.value, metadata: { mode } };
      if (model.input.value) b.metadata.model = model.input.value;
      if (wants.input.value.trim()) b.wants = wants.input.value.trim();
      submit.disabled = true; submit.textContent = "Creating…"; put(err);
      try {
        const r = await api("/agent-defs", { method: "POST", body: b });
        done(r.def || {}, mode, b.vault);
      } catch (x) {
        put(err, banner("error", errorText(x)));
        submit.textContent = "Create agent"; update();
      }
    } },
    vaults.length ? null : banner("error", "A def-vault is required — add one on the Agents page first (creating would fail with the daemon's \"no def-vaults configured\" error)."),
    name.wrap, vault.wrap,
    h("fieldset", {}, h("legend", {}, "Mode"), radios("mode", MODES, "single-threaded")),
    h("fieldset", {}, h("legend", {}, "Backend"), radios("backend", BACKENDS, "programmatic")),
    model.wrap, prompt.wrap,
    h("details", {}, h("summary", {}, "Advanced"), wants.wrap),
    err, h("div", { class: "row" }, submit, h("a", { class: "btn", href: `${appBase}/`, "data-link": "" }, "Cancel")));
    put(body, f);
    update();
  };
  const done = (def, mode, vault) => {
    const name = def.name;
    const shown = backendWord(def.backend);
    const parts = [h("h2", {}, "Agent created"), banner("ok", `${name} · ${mode} · ${shown}`),
      h("p", {}, `The definition was written to the "${def.vault || vault}" vault.`)];
    if (shown === "channel") {
      const cmd = `claude mcp add --transport http --scope user agent-${name} ${window.location.origin}${mount}/mcp/${name}`;
      const copy = button("Copy", async () => {
        try { await navigator.clipboard.writeText(cmd); copy.textContent = "Copied"; setTimeout(() => { copy.textContent = "Copy"; }, 2000); } catch { /* silent */ }
      }, { kind: "small" });
      parts.push(h("section", { class: "sub", "aria-label": "Connect your Claude Code session" }, h("h3", {}, "Connect your Claude Code session"),
        h("div", { class: "cmd" }, h("code", {}, cmd), copy),
        h("p", { class: "muted" }, "Messages queue durably until a session connects.")));
    }
    parts.push(h("p", {}, h("a", { href: `${appBase}/`, "data-link": "" }, "Back to Agents")));
    put(body, h("div", { class: "card" }, parts));
  };
  load();
  return { el };
}
