// Tiny DOM helpers. Every string a caller passes becomes a Text node (never HTML), so a
// server string can never inject markup: there is no innerHTML anywhere in the app.

const PROPS = new Set(["value", "checked", "disabled", "selected", "hidden"]);

/** h("button", {class: "btn", onClick: fn, disabled: true}, "Save", childNode, [more]) */
export function h(tag, props, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false && !PROPS.has(k)) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2).toLowerCase(), v);
    else if (PROPS.has(k)) el[k] = v;
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  add(el, kids);
  return el;
}

export function add(el, kids) {
  for (const k of [kids].flat(Infinity)) {
    if (k === null || k === undefined || k === false) continue;
    el.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return el;
}

/** Replace every child of `el`. */
export function put(el, ...kids) {
  el.replaceChildren();
  return add(el, kids);
}

export function pill(text, tone) {
  return h("span", { class: `pill ${tone || "neutral"}` }, text);
}

export function banner(kind, text, ...actions) {
  return h("div", { class: `banner ${kind}`, role: kind === "error" ? "alert" : "status" },
    h("span", {}, text), actions.length ? h("span", { class: "actions" }, actions) : null);
}

export function button(label, onClick, opts = {}) {
  return h("button", { type: "button", class: `btn ${opts.kind || ""}`, onClick, ...opts.attrs }, label);
}

let seq = 0;
/** A labelled form field: returns {wrap, input}. */
export function field(label, input, hint) {
  const id = input.id || `f${++seq}`;
  input.id = id;
  const err = h("div", { class: "field-error", role: "alert" });
  const wrap = h("div", { class: "field" }, h("label", { for: id }, label), input,
    hint ? h("div", { class: "hint" }, hint) : null, err);
  return { wrap, input, err };
}

export function localTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return isNaN(d) ? String(iso) : d.toLocaleString();
}

/** Two-step confirm: `label` arms the inline confirm/cancel pair. */
export function confirmButton(label, confirmLabel, busyLabel, run) {
  const box = h("span", { class: "confirm" });
  const idle = () => put(box, button(label, armed, { kind: "danger small" }));
  const armed = () => {
    const yes = button(confirmLabel, async () => {
      yes.disabled = true; no.disabled = true; yes.textContent = busyLabel;
      try { await run(); } finally { if (box.isConnected) idle(); }
    }, { kind: "danger small" });
    const no = button("Cancel", idle, { kind: "small" });
    put(box, yes, no);
    yes.focus();
  };
  idle();
  return box;
}

/**
 * At a phone's width a table with many columns shows one block per row (app.css
 * `table.stack`): each body cell is labelled with its column's name.
 */
export function stacked(table) {
  const names = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
  table.classList.add("stack");
  for (const tr of table.querySelectorAll("tbody tr")) {
    [...tr.children].forEach((td, i) => { if (names[i]) td.dataset.label = names[i]; });
  }
  return table;
}
