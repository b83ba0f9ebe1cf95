// The step-up PIN dialog (spec 06 §3.10) in its three modes: *prompt* and *setup* answer a
// gated request's 403 (api.js retries the request once with the token), *settings* is the
// nav button. The step-up token is held in api.js's memory only.
import { h, put, button, field } from "./dom.js";
import { api, holdStepUp, setStepUpPrompt, ApiError } from "./api.js";

const TITLES = { prompt: "Confirm with your PIN", setup: "Set a step-up PIN" };

function pinInput(label) {
  const input = h("input", {
    type: "password", inputmode: "numeric", autocomplete: "off", maxlength: "12",
    onInput: (e) => { e.target.value = e.target.value.replace(/\D/g, "").slice(0, 12); },
  });
  return field(label, input);
}

function errorFor(e) {
  if (!(e instanceof ApiError)) return "Something went wrong.";
  return { 401: "Incorrect PIN.", 429: "Too many attempts — wait a minute and try again.",
    400: "PIN must be 4–12 digits." }[e.status] || e.message || "Something went wrong.";
}

async function exchange(pin) {
  const r = await api("/step-up", { method: "POST", body: { pin }, stepUp: false });
  holdStepUp(r.stepUpToken, r.expires_at);
  return r.stepUpToken;
}

/** Opens the dialog; resolves to a step-up token (prompt/setup), true (settings) or null. */
export function openStepUp(mode) {
  return new Promise((resolve) => {
    const previous = document.activeElement;
    const title = h("h2", { id: "stepup-title" }, TITLES[mode] || "Step-up PIN");
    const error = h("div", { class: "banner error", role: "alert", hidden: true });
    const body = h("div", { class: "fields" });
    const submit = h("button", { type: "submit", class: "btn primary" }, mode === "prompt" ? "Confirm" : "Save PIN");
    const cancel = button("Cancel", () => close(null));
    const form = h("form", { class: "dialog", role: "dialog", "aria-modal": "true", "aria-labelledby": "stepup-title" },
      title, body, error, h("div", { class: "row end" }, cancel, submit));
    const backdrop = h("div", { class: "backdrop", onClick: (e) => { if (e.target === backdrop) close(null); } }, form);
    let configured = mode !== "settings" ? null : undefined;
    let current, pin, confirm;

    const layout = () => {
      const parts = [];
      if (mode === "prompt") { pin = pinInput("PIN"); parts.push(pin.wrap); }
      else {
        if (mode === "settings" && configured) { current = pinInput("Current PIN"); parts.push(current.wrap); }
        pin = pinInput("New PIN (4–12 digits)");
        confirm = pinInput("Confirm PIN");
        parts.push(pin.wrap, confirm.wrap);
      }
      put(body, parts);
      submit.disabled = mode === "settings" && configured === undefined;
      (parts[0].querySelector("input") || submit).focus();
    };
    const close = (result) => {
      document.removeEventListener("keydown", onKey, true);
      backdrop.remove();
      if (previous && previous.focus) previous.focus();
      resolve(result);
    };
    const onKey = (e) => {
      if (e.key === "Escape") { e.preventDefault(); close(null); }
      if (e.key === "Tab") { // keep focus inside the modal
        const f = [...form.querySelectorAll("input,button")].filter((x) => !x.disabled);
        if (!f.length) return;
        const [first, last] = [f[0], f[f.length - 1]];
        if (e.shiftKey && document.activeElement === first) { e.preventDefault(); last.focus(); }
        else if (!e.shiftKey && document.activeElement === last) { e.preventDefault(); first.focus(); }
      }
    };
    const showError = (text) => { error.textContent = text; error.hidden = false; };

    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      error.hidden = true;
      if (mode !== "prompt" && pin.input.value !== confirm.input.value) { showError("The PINs don't match."); return; }
      submit.disabled = cancel.disabled = true;
      const label = submit.textContent;
      submit.textContent = "Working…";
      try {
        if (mode === "prompt") close(await exchange(pin.input.value));
        else {
          const b = { newPin: pin.input.value };
          if (current) b.currentPin = current.input.value;
          await api("/step-up/pin", { method: "POST", body: b, stepUp: false });
          close(mode === "setup" ? await exchange(pin.input.value) : true);
        }
      } catch (err) {
        showError(errorFor(err));
        submit.textContent = label;
        submit.disabled = cancel.disabled = false;
      }
    });
    document.addEventListener("keydown", onKey, true);
    document.body.append(backdrop);
    layout();
    if (mode === "settings") {
      title.textContent = "Step-up PIN";
      api("/step-up", { stepUp: false })
        .then((r) => !!r.configured, () => false)
        .then((c) => {
          configured = c;
          title.textContent = c ? "Change step-up PIN" : "Set step-up PIN";
          layout();
        });
    }
  });
}

setStepUpPrompt(openStepUp);
