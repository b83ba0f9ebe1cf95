// Auth plumbing shared by every screen (spec 06 §3.2): the operator token (hub mint, or
// a pasted / one-time-link token in standalone mode), daemon API calls with the 401
// re-mint and step-up retries, hub calls with the session cookie, and SSE tickets.
// Tokens live in this module's variables only: never in localStorage, sessionStorage or
// a URL.

// The server writes a relative <base href> that points at the app root, so the base is
// known at run time from the same files daemon-direct (/app/) and behind the hub
// (/agent/app/), deep links included.
export const appBase = new URL(document.baseURI).pathname.replace(/\/+$/, "");
export const mount = appBase.replace(/\/app$/, "");
export const apiBase = `${mount}/api`;
/** Served by the daemon itself (no hub in front): cookie-based hub actions cannot work. */
export const daemonDirect = mount === "";

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

export const SIGNED_OUT = daemonDirect
  ? "Not signed in — paste a token or open a link from `parachute-agent login-url`."
  : "Not signed in to the hub — sign in to the portal, then reload.";

/** The text a screen shows for a failed call (a 401 is always the sign-in text). */
export function errorText(e, prefix) {
  if (e && e.status === 401) return SIGNED_OUT;
  const msg = e && e.message ? e.message : String(e);
  return prefix ? `${prefix}: ${msg}` : msg;
}

// ---- operator token --------------------------------------------------------------------
let cached = null; // {token, exp}
let inflight = null;
let standalone = null; // {token, exp}: pasted or bought with a login code; never re-minted
const listeners = new Set();

export function onAuthChange(fn) { listeners.add(fn); return () => listeners.delete(fn); }
const changed = () => listeners.forEach((fn) => fn());

function expiry(v, fallbackMs) {
  if (typeof v === "number") return v < 1e12 ? v * 1000 : v;
  const t = typeof v === "string" ? Date.parse(v) : NaN;
  return isNaN(t) ? Date.now() + fallbackMs : t;
}

/** A pasted token (`notify`: the screens re-render with it) or one bought with a login code. */
export function setStandaloneToken(token, expiresAt, { notify = true } = {}) {
  standalone = token ? { token, exp: expiry(expiresAt, 3600e3) } : null;
  if (notify) changed();
}
export const hasStandaloneToken = () => !!standalone && standalone.exp > Date.now();

// A one-time-link exchange in flight: the first screen renders at once and its calls wait
// for the token here instead of going out unauthenticated.
let signingIn = null;
export function signingInWith(exchange) {
  signingIn = exchange.finally(() => { signingIn = null; });
  return signingIn;
}
export const isSigningIn = () => !!signingIn;

async function mintFromHub() {
  try {
    const r = await fetch(`${window.location.origin}/admin/agent-token`, {
      headers: { Accept: "application/json" }, credentials: "include",
    });
    if (!r.ok) return null;
    const j = await r.json();
    if (!j || typeof j.token !== "string" || !j.token) return null;
    cached = { token: j.token, exp: expiry(j.expires_at, 600e3) };
    return j.token;
  } catch {
    return null;
  }
}

/** The operator bearer, or null ("no token": calls go out without Authorization). */
export async function operatorToken() {
  if (signingIn) await signingIn.catch(() => {});
  if (standalone) return standalone.exp > Date.now() ? standalone.token : null;
  if (daemonDirect) return null;
  if (cached && cached.exp - Date.now() > 30e3) return cached.token;
  if (!inflight) inflight = mintFromHub().finally(() => { inflight = null; });
  return inflight;
}

/**
 * Forget the cached operator token. With `failed` (the token a request was refused with),
 * only if it is still the cached one: parallel calls that all got a 401 for the same stale
 * token share one re-mint instead of dropping each other's fresh token.
 */
export function dropOperatorToken(failed) {
  if (failed === undefined || (cached && cached.token === failed)) cached = null;
}

// ---- step-up ---------------------------------------------------------------------------
let stepUp = null; // {token, exp}
let stepUpPrompt = async () => null; // installed by stepup.js: (mode) => token | null
export function setStepUpPrompt(fn) { stepUpPrompt = fn; }
export function holdStepUp(token, expiresAt) { stepUp = { token, exp: expiry(expiresAt, 300e3) }; }
const liveStepUp = () => (stepUp && stepUp.exp - Date.now() > 5e3 ? stepUp.token : null);

// ---- daemon API ------------------------------------------------------------------------
async function readBody(res) {
  const text = await res.text();
  try { return { text, json: text ? JSON.parse(text) : null }; } catch { return { text, json: null }; }
}

function fail(suffix, res, body) {
  const msg = (body.json && typeof body.json.error === "string" && body.json.error)
    || body.text || `${suffix} failed: ${res.status}`;
  return new ApiError(res.status, msg, body.json);
}

/**
 * `api("/agents")`, `api("/jobs", {method: "POST", body: {...}})`. Resolves to the JSON
 * body; rejects with an ApiError. `stepUp: false` for the step-up endpoints themselves.
 */
export async function api(suffix, { method = "GET", body, stepUp: gated = true } = {}) {
  const send = async (token) => {
    const headers = { Accept: "application/json" };
    if (token) headers.Authorization = `Bearer ${token}`;
    const su = gated && liveStepUp();
    if (su) headers["X-Step-Up-Token"] = su;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(`${apiBase}${suffix}`, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
  };
  let token = await operatorToken();
  let res = await send(token);
  if (res.status === 401 && !standalone && !daemonDirect) {
    dropOperatorToken(token);
    token = await operatorToken();
    if (token) res = await send(token);
  }
  let parsed = await readBody(res);
  if (res.status === 403 && gated && parsed.json && parsed.json.error === "step_up_required"
      && (parsed.json.reason === "setup" || parsed.json.reason === "token")) {
    stepUp = null;
    const got = await stepUpPrompt(parsed.json.reason === "setup" ? "setup" : "prompt");
    if (got) {
      res = await send(await operatorToken());
      parsed = await readBody(res);
    }
  }
  if (!res.ok) throw fail(suffix, res, parsed);
  return parsed.json ?? {};
}

// ---- hub calls with the session cookie -------------------------------------------------
export async function hub(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(`${window.location.origin}${path}`, {
      method, headers, credentials: "include",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, `hub request failed (${e.message || e})`);
  }
  const parsed = await readBody(res);
  if (res.ok) return parsed.json ?? {};
  const j = parsed.json || {};
  const msg = {
    401: "Not signed in to the hub portal — sign in, then retry.",
    403: "Not authorized — reactive reload needs host-admin access.",
    404: "Reactive reload needs the hub-proxied URL — open the agent app via your hub origin, not the loopback daemon.",
  }[res.status] || j.error_description || j.error || parsed.text || `hub request failed (${res.status})`;
  throw new ApiError(res.status, msg, j);
}

// ---- SSE tickets -----------------------------------------------------------------------
/** A fresh one-time ticket for one stream connection (never cached), or null. */
export async function sseTicket() {
  const once = async (token) => fetch(`${apiBase}/ui/sse-ticket`, {
    method: "POST", headers: token ? { Accept: "application/json", Authorization: `Bearer ${token}` } : { Accept: "application/json" },
  });
  try {
    const token = await operatorToken();
    let res = await once(token);
    if (res.status === 401 && !standalone && !daemonDirect) {
      dropOperatorToken(token);
      const fresh = await operatorToken();
      if (!fresh) return null;
      res = await once(fresh);
    }
    if (!res.ok) return null;
    const j = await res.json();
    return typeof j.ticket === "string" ? j.ticket : null;
  } catch {
    return null;
  }
}

/** `<mount><path>` plus `ticket=` when there is one. */
export function streamUrl(path, params, ticket) {
  const q = new URLSearchParams(params);
  if (ticket) q.set("ticket", ticket);
  const s = q.toString();
  return `${mount}${path}${s ? `?${s}` : ""}`;
}

export const enc = encodeURIComponent;
