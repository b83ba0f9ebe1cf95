// Agent detail sections that need a channel (spec 06 §3.5.4–§3.5.6): Schedules (jobs of
// this channel, presets, run now, delete with confirm), Secrets (env var names only;
// writes are step-up gated), and the read-only Effective env with source badges.
import { h, put, pill, banner, button, field, localTime, confirmButton, stacked } from "./dom.js";
import { api, enc, errorText } from "./api.js";

const SLUG = /^[a-zA-Z0-9_-]+$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RESERVED = ["ANTHROPIC_API_KEY", "CLAUDE_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN"];
const PRESETS = [["daily 8am", "0 8 * * *"], ["hourly", "0 * * * *"], ["every 15m", "*/15 * * * *"],
  ["weekdays 9am", "0 9 * * 1-5"], ["weekly Mon 8am", "0 8 * * 1"]];

/** A section that loads itself: `fetchAndDraw(body)` redraws into `body`. */
function loader(title, loadingText, load, draw) {
  const body = h("div", {});
  const run = async () => {
    put(body, h("p", { class: "muted", role: "status" }, loadingText));
    let data;
    try { data = await load(); } catch (e) { put(body, banner("error", errorText(e), button("Retry", run))); return; }
    draw(body, data, run);
  };
  run();
  return body;
}

export function schedulesSection(channel) {
  const sec = h("section", { class: "sub", "aria-label": "Schedules" });
  const status = h("p", { class: "muted", role: "status" });
  const formSlot = h("div", {});
  const toggle = button("New schedule", () => { if (formSlot.firstChild) { closeForm(); } else openForm(); });
  let reload = () => {};
  const closeForm = () => { put(formSlot); toggle.textContent = "New schedule"; };
  const openForm = () => {
    toggle.textContent = "Cancel";
    const id = field("Job id (slug)", h("input", { type: "text", placeholder: "morning-standup" }));
    const msg = field("Message to send", h("textarea", { rows: "3" }));
    const cron = field("Cron (min hour dom mon dow)", h("input", { type: "text", placeholder: "0 8 * * *", class: "mono" }));
    const tz = field("Timezone (IANA, optional)", h("input", { type: "text", placeholder: "America/Los_Angeles" }), "Leave blank to use the daemon's local timezone.");
    const presets = h("div", { class: "presets", role: "group", "aria-label": "Cron presets" }, PRESETS.map(([label, expr]) =>
      button(label, () => { cron.input.value = expr; update(); }, { kind: "small" })));
    const submit = h("button", { type: "submit", class: "btn primary", disabled: true }, "Create schedule");
    const err = h("div", {});
    const update = () => {
      const v = id.input.value;
      id.err.textContent = v && !SLUG.test(v) ? "Must be a slug — letters, numbers, dash, underscore only." : "";
      submit.disabled = !SLUG.test(v) || !msg.input.value.trim() || !cron.input.value.trim();
    };
    [id, msg, cron].forEach((f) => f.input.addEventListener("input", update));
    put(formSlot, h("form", { class: "fields", onSubmit: async (e) => {
      e.preventDefault();
      if (submit.disabled) return;
      submit.disabled = true; submit.textContent = "Scheduling…"; put(err);
      const schedule = { cron: cron.input.value.trim() };
      if (tz.input.value.trim()) schedule.tz = tz.input.value.trim();
      try {
        await api("/jobs", { method: "POST", body: { id: id.input.value, channel, message: msg.input.value.trim(), schedule, enabled: true } });
        closeForm();
        reload();
      } catch (x) {
        put(err, banner("error", errorText(x)));
        submit.textContent = "Create schedule"; update();
      }
    } }, id.wrap, msg.wrap, cron.wrap, presets, tz.wrap, err, h("div", { class: "row" }, submit)));
    id.input.focus();
  };
  const body = loader("Schedules", "Loading schedules…", async () => (await api("/jobs")).jobs || [], (el, all, run) => {
    reload = run;
    const jobs = all.filter((j) => j.channel === channel);
    if (!jobs.length) { put(el, h("p", { class: "muted" }, "No schedules yet for this agent.")); return; }
    put(el, h("div", { class: "table-wrap" }, stacked(h("table", {}, h("thead", {}, h("tr", {}, ["Id", "Cron", "Next run", "Last status", "Actions"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, jobs.map((j) => {
        const sched = j.schedule || {};
        const last = j.lastStatus ? [pill(j.lastStatus, /^error/.test(j.lastStatus) ? "bad" : "ok"), " ", localTime(j.lastRunAt)] : "—";
        const runBtn = button("Run now", async () => {
          runBtn.disabled = true; runBtn.textContent = "Running…";
          try {
            const r = await api(`/jobs/${enc(j.id)}/run`, { method: "POST", body: {} });
            status.textContent = `Ran ${j.id} (${r.status}).`;
            run();
          } catch (x) {
            status.textContent = `Run failed: ${errorText(x)}`;
            runBtn.disabled = false; runBtn.textContent = "Run now";
          }
        }, { kind: "small" });
        const del = confirmButton("Delete", "Confirm delete", "Deleting…", async () => {
          try { await api(`/jobs/${enc(j.id)}`, { method: "DELETE" }); run(); } catch (x) { status.textContent = errorText(x); }
        });
        return h("tr", { "data-job": j.id }, h("td", { class: "mono" }, j.id, j.enabled === false ? " (disabled)" : ""),
          h("td", { class: "mono" }, sched.cron || "", sched.tz ? h("span", { class: "dim" }, ` ${sched.tz}`) : null),
          h("td", {}, localTime(j.nextRunAt)), h("td", {}, last), h("td", { class: "actions" }, runBtn, del));
      }))))));
  });
  put(sec, h("div", { class: "sub-head" }, h("h3", {}, "Schedules"), toggle),
    h("p", { class: "muted" }, "Send this agent a message on a cron schedule; the runner writes it as an inbound note."),
    status, body, formSlot);
  return sec;
}

export function secretsSection(channel, channelBackend) {
  const sec = h("section", { class: "sub", "aria-label": "Secrets" });
  const formSlot = h("div", {});
  const msg = h("div", {});
  let reload = () => {};
  const toggle = button("Add secret", () => { if (formSlot.firstChild) closeForm(); else openForm(); });
  const closeForm = () => { put(formSlot); toggle.textContent = "Add secret"; };
  const openForm = () => {
    toggle.textContent = "Cancel";
    const name = field("Name", h("input", { type: "text", autocomplete: "off", class: "mono" }));
    const value = field("Value", h("input", { type: "password", autocomplete: "off" }));
    const save = h("button", { type: "submit", class: "btn primary", disabled: true }, "Save secret");
    const err = h("div", {});
    const problem = () => {
      const n = name.input.value.trim();
      if (!n) return null;
      if (!ENV_NAME.test(n)) return "A valid env var name — letters, numbers, underscore; not starting with a digit.";
      if (RESERVED.includes(n)) return `Reserved — ${n} would hijack the agent's managed billing/auth.`;
      return "";
    };
    const update = () => { const p = problem(); name.err.textContent = p || ""; save.disabled = p !== "" || !value.input.value; };
    name.input.addEventListener("input", update);
    value.input.addEventListener("input", update);
    put(formSlot, h("form", { class: "fields", onSubmit: async (e) => {
      e.preventDefault();
      if (problem() !== "" || !value.input.value) return;
      save.disabled = true; save.textContent = "Saving…"; put(err);
      try {
        await api("/credentials/env", { method: "POST", body: { channel, name: name.input.value.trim(), value: value.input.value } });
        closeForm();
        reload();
      } catch (x) {
        put(err, banner("error", errorText(x)));
        save.textContent = "Save secret"; update();
      }
    } }, name.wrap, value.wrap, err, h("div", { class: "row" }, save)));
    name.input.focus();
  };
  const body = loader("Secrets", "Loading secrets…", async () => ((await api("/credentials/env")).channels || {})[channel] || [], (el, names, run) => {
    reload = run;
    if (!names.length) { put(el, h("p", { class: "muted" }, "No secrets set for this agent.")); return; }
    put(el, h("table", {}, h("tbody", {}, [...names].sort().map((n) => h("tr", { "data-secret": n }, h("td", { class: "mono" }, n), h("td", { "aria-label": "value hidden" }, "••••••••"),
      h("td", { class: "actions" }, confirmButton("Remove", "Confirm remove", "Removing…", async () => {
        try { await api("/credentials/env", { method: "DELETE", body: { channel, name: n } }); put(msg); run(); } catch (x) { put(msg, banner("error", errorText(x))); }
      })))))));
  });
  put(sec, h("div", { class: "sub-head" }, h("h3", {}, "Secrets"), toggle),
    h("p", { class: "muted" }, "Env vars injected into this agent's sandboxed programmatic turns. Stored locally (0600), never in the vault; values are write-only.",
      channelBackend ? " They apply only to programmatic turns, not to a session you connect yourself." : ""),
    msg, body, formSlot);
  return sec;
}

export function envSection(name) {
  const sec = h("section", { class: "sub", "aria-label": "Effective env" });
  const slot = h("div", {});
  const load = () => put(slot, loader("Effective env", "Loading env…", () => api(`/agents/${enc(name)}/env`), (el, r) => {
    const env = r.env || [];
    put(el, r.note ? h("p", { class: "note" }, r.note) : null,
      env.length ? h("table", {}, h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Source"), h("th", { scope: "col" }, h("span", { class: "sr" }, "Overridden")))),
        h("tbody", {}, env.map((v) => h("tr", { class: v.overridden ? "dimmed" : "", "data-env": v.name }, h("td", { class: "mono" }, v.name),
          h("td", {}, h("span", { class: `badge src-${String(v.source).split(":")[0]}` }, v.source)), h("td", {}, v.overridden ? "overridden" : "")))))
        : h("p", { class: "muted" }, "No env vars resolved for this agent."));
  }));
  load();
  put(sec, h("div", { class: "sub-head" }, h("h3", {}, "Effective env"), button("Refresh", load, { kind: "small" })),
    h("p", { class: "muted" }, "What a turn of this agent gets, by name only. Precedence: channel > default > grant."), slot);
  return sec;
}
