// The Chat screen (spec 06 §3.9): channel picker, transcript (plain text only), optimistic
// send, and the live streams — `/ui/events` for http-ui channels, turn events for vault
// channels — each opened with its own freshly minted one-time ticket. [ext] A stream that
// keeps failing is retried with a fresh ticket and exponential back-off (1 s … 30 s)
// instead of being left dead.
import { h, put, banner, button } from "./dom.js";
import { api, enc, errorText, sseTicket, streamUrl, dropOperatorToken, appBase } from "./api.js";

const MAX_BACKOFF_MS = 30e3;

export function chatScreen({ channel: wanted }) {
  const el = h("section", { class: "screen chat" });
  const picker = h("select", { id: "chat-channel" });
  const status = h("span", { class: "status", role: "status", "aria-live": "polite" });
  const lines = h("div", { class: "transcript", "aria-label": "Transcript", role: "log" });
  const input = h("textarea", { rows: "2", placeholder: "Type a message... (Enter to send, Shift+Enter for newline)", "aria-label": "Message" });
  const send = h("button", { type: "submit", class: "btn primary", disabled: true }, "Send");
  const top = h("div", { class: "chat-top" });
  let channels = [];
  let cur = null; // per-channel session
  let gen = 0;

  const scroll = () => { lines.scrollTop = lines.scrollHeight; };
  const bubble = (who, text) => h("div", { class: `bubble ${who}` }, h("span", { class: "who" }, who === "you" ? "you" : "them"), h("div", { class: "text" }, text));
  const system = (text) => { lines.append(h("div", { class: "system" }, text)); scroll(); };

  const closeStreams = () => {
    if (!cur) return;
    clearTimeout(cur.timer);
    cur.streams.forEach((s) => s.close());
    cur.streams = [];
  };

  /** Appends a message once (de-dup by id); true when it was new. */
  const addMessage = (m) => {
    if (!cur || (m.id && cur.seen.has(m.id))) return false;
    if (m.id) cur.seen.add(m.id);
    lines.insertBefore(bubble(m.direction === "inbound" ? "you" : "them", m.text ?? ""), cur.live && cur.live.isConnected ? cur.live : null);
    scroll();
    return true;
  };

  /** Loads the transcript, appending what is new; resolves to the number of new replies. */
  const history = async (session, first) => {
    if (first) status.textContent = "loading history...";
    try {
      const r = await api(`/channels/${enc(session.name)}/messages`);
      if (session !== cur) return 0;
      let replies = 0;
      for (const m of [...(r.messages || [])].sort((a, b) => String(a.ts).localeCompare(String(b.ts)))) {
        if (addMessage(m) && m.direction !== "inbound") replies += 1;
      }
      if (first) status.textContent = `live - ${session.name}`;
      return replies;
    } catch (e) {
      if (session === cur && first) status.textContent = `history error: ${errorText(e)}`;
      return 0;
    }
  };

  const dropLive = () => {
    if (cur && cur.live) cur.live.remove();
    if (cur) cur.live = null;
  };

  const liveBubble = () => {
    if (!cur.live || !cur.live.isConnected) {
      cur.chips = new Set();
      cur.live = h("div", { class: "bubble them live working", "aria-label": "Agent is working" },
        h("span", { class: "who" }, "them"), h("div", { class: "text" }), h("div", { class: "chips" }), h("div", { class: "working-line" }, "working..."));
      lines.append(cur.live);
    }
    return cur.live;
  };

  const onTurn = (ev) => {
    let d;
    try { d = JSON.parse(ev.data); } catch { return; }
    if (d.kind === "init") liveBubble();
    else if (d.kind === "text") { liveBubble().querySelector(".text").append(d.text || ""); }
    else if (d.kind === "tool") {
      const b = liveBubble();
      if (d.tool && !cur.chips.has(d.tool)) { cur.chips.add(d.tool); b.querySelector(".chips").append(h("span", { class: "chip" }, d.tool)); }
    } else if (d.kind === "done") {
      dropLive();
      history(cur, false);
    } else if (d.kind === "error") {
      const b = liveBubble();
      b.classList.remove("working"); b.classList.add("errored");
      b.querySelector(".working-line").textContent = `turn failed: ${d.error || "unknown error"}`;
    }
    scroll();
  };

  const onUiEvent = (name) => (ev) => {
    let d;
    try { d = JSON.parse(ev.data); } catch { return; }
    if (name === "reply") addMessage({ id: d.id, text: d.text, direction: "outbound" });
    else if (name === "edit") system(`(edited) ${d.text ?? ""}`);
    else if (name === "permission") system(`permission: ${d.tool_name} - ${d.description} (respond in the session terminal)`);
  };

  const openStreams = async (session) => {
    const my = ++gen;
    const specs = [];
    if (session.transport === "http-ui") specs.push(["/ui/events", { channel: session.name }, { reply: onUiEvent("reply"), edit: onUiEvent("edit"), permission: onUiEvent("permission") }]);
    if (session.transport === "vault") specs.push([`/api/channels/${enc(session.name)}/turn-events`, {}, { turn: onTurn }]);
    for (const [path, params, handlers] of specs) {
      const ticket = await sseTicket();
      if (my !== gen || session !== cur) return; // switched away while minting
      const es = new EventSource(streamUrl(path, params, ticket));
      for (const [n, fn] of Object.entries(handlers)) es.addEventListener(n, fn);
      es.onopen = async () => {
        if (session !== cur) return;
        const after = session.failures > 0;
        session.failures = 0;
        status.textContent = `live - ${session.name}`;
        // Turn events are not replayed: after a gap, the transcript catches up on what the
        // stream missed, and a live bubble whose turn ended meanwhile goes.
        if (after && (await history(session, false)) > 0 && session === cur) dropLive();
      };
      es.onerror = () => {
        if (session !== cur || my !== gen) return;
        closeStreams();
        session.failures += 1;
        if (session.failures === 1) {
          status.textContent = "re-authenticating...";
          dropOperatorToken();
          openStreams(session);
        } else {
          status.textContent = "reconnecting...";
          const wait = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (session.failures - 2));
          session.timer = setTimeout(() => { if (session === cur) openStreams(session); }, wait);
        }
      };
      session.streams.push(es);
    }
  };

  const select = async (name, { replaceUrl = true } = {}) => {
    closeStreams();
    const ch = channels.find((c) => c.name === name);
    if (!ch) return;
    picker.value = name;
    if (replaceUrl) window.history.replaceState(null, "", `${appBase}/chat/${enc(name)}`);
    put(lines);
    cur = { name, transport: ch.transport, seen: new Set(), live: null, chips: new Set(), streams: [], failures: 0, timer: null };
    const session = cur;
    await history(session, true);
    if (session === cur) openStreams(session);
  };

  const doSend = async () => {
    const text = input.value.trim();
    if (!text || !cur || send.disabled) return;
    const session = cur;
    send.disabled = true; send.textContent = "Sending...";
    lines.insertBefore(bubble("you", text), cur.live && cur.live.isConnected ? cur.live : null);
    scroll();
    input.value = "";
    try {
      const r = await api(`/channels/${enc(session.name)}/send`, { method: "POST", body: { text } });
      if (r.id) session.seen.add(r.id);
    } catch (e) {
      if (session === cur) system(`send failed: ${errorText(e)}`);
    }
    send.textContent = "Send";
    send.disabled = !input.value.trim();
  };

  input.addEventListener("input", () => { send.disabled = !input.value.trim() || send.textContent !== "Send"; });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); doSend(); }
  });
  picker.addEventListener("change", () => select(picker.value));

  const load = async () => {
    put(top, h("p", { class: "muted", role: "status" }, "Loading channels…"));
    try {
      channels = (await api("/channels")).channels || [];
    } catch (e) {
      put(top, banner("error", errorText(e), button("Retry", load)));
      return;
    }
    if (!channels.length) {
      put(top, h("p", { class: "muted" }, "No channels yet. Create a channel-backed agent in the create flow, then chat with it here."));
      return;
    }
    put(picker, channels.map((c) => h("option", { value: c.name }, `${c.name} (${c.transport})`)));
    put(top, h("label", { for: "chat-channel" }, "Channel"), picker, status);
    composer.hidden = false;
    const first = channels.some((c) => c.name === wanted) ? wanted : channels[0].name;
    select(first, { replaceUrl: first !== wanted });
  };
  const composer = h("form", { class: "composer", hidden: true, onSubmit: (e) => { e.preventDefault(); doSend(); } }, input, send);
  put(el, h("h1", { class: "sr" }, "Chat"), top, lines, composer);
  load();
  return { el, cleanup: () => { closeStreams(); cur = null; gen += 1; } };
}
