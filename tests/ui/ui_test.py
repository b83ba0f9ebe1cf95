"""Browser tests of the web UI (spec 06 §4) in Debian's chromium, driven by Playwright.

Run by `cargo test` (tests/it/webui/browser.rs), which starts the daemons, the fake vault
and the fake claude and passes their coordinates as one JSON argument:
  {"binary", "hub": {"port", "state_dir"}, "bare": {"port", "state_dir"}, "vault_url",
   "screenshots"?}
`hub` is the daemon with agents, definitions and channels, reached through the fake hub
origin (tests/ui/fakehub.py) at /agent/…; `bare` has nothing configured and is reached
daemon-direct at /app/…. Each check runs in a fresh browser context (tokens live in page
memory only, so a context is a fresh sign-in) that carries the hub's session cookie
unless it says otherwise. Every context fails its check on a page error or on a
Content-Security-Policy violation chromium reports. Prints `PASS <name>` / `FAIL <name>`
(with the page's last requests) and a final `FIGURES` line; exits non-zero on a failure.
`UI_TEST_ONLY=<substring>` runs the matching checks only.

The checklist of spec 06 §4, line by line → check:
  shell and auth
    /agent/app/ renders Agents; deep link; unknown route 404   shell_hub_mount_deep_link_and_404
    retired routes land on the SPA / Chat                        retired_routes_land_on_the_spa
    daemon-direct /app/ loads its assets, calls /api             daemon_direct_loads_assets_and_calls_api_without_the_hub_prefix
    token once + reused; 401 → one re-mint, one retry; failed
      mint → sign-in text + Retry                                token_minted_once_reused_and_a_401_re_mints_once
    no token in storage or stream URLs (step-up token too)      no_token_in_storage_or_stream_urls,
                                                                 secrets_validation_setup_dialog_retry_prompt_cancel_and_remove
    nav highlights; Step-up PIN opens the settings dialog        nav_highlights_and_step_up_button_opens_settings
  agents
    loading text, empty state                                    loading_text_then_empty_state
    merged, sorted, not running, channel, "1 agent"/"N agents"   merged_sorted_list_backend_words_count_and_not_running
    row click opens above / closes; Close                        row_click_opens_detail_above_table_and_closes
    detail: mode, model, preview, wants, no-def note, Edit/Delete detail_shows_mode_model_prompt_wants_and_the_no_def_note
    edit pre-fills the full def, PATCHes all three, model ""     edit_prefills_the_full_def_and_patches_all_three_keys
    delete by typing the exact name                              delete_waits_for_the_exact_name_then_the_row_goes
    ?mcp_connected=1 banner, parameter removed                   mcp_connected_banner_and_url_cleanup
  schedules / secrets / env / Claude auth / def-vaults
    schedules list, create, preset, bad cron, run now, delete    schedules_list_create_preset_bad_cron_run_and_delete
    secrets: validation, setup dialog + retry, prompt, cancel,
      DELETE with a JSON body, values never shown                secrets_validation_setup_dialog_retry_prompt_cancel_and_remove
    step-up settings mode and the dialog's error texts           step_up_settings_changes_the_pin_and_shows_the_error_texts
    effective env: badges, overridden, note, Refresh             effective_env_shows_sources_overridden_and_the_note
    Claude auth card                                             claude_auth_set_default_channel_override_cancel_and_remove
    def-vaults card                                              def_vaults_add_validate_reactive_toggle_remove_and_unknown
  connections / MCP                                              mcp_pills_connect_paste_token_add_and_daemon_direct
  create                                                         create_defaults_validation_body_errors_and_success
  chat
    picker, URL; transcript sides, plain text                    chat_picker_transcript_plain_text_and_url
    send keys, optimistic bubble, no duplicate, failed send      chat_vault_turn_live_bubble_tool_chips_done_and_error,
                                                                 chat_http_ui_reply_events_and_failed_send
    vault: one turn-events stream, live bubble, chips, done, error  chat_vault_turn_live_bubble_tool_chips_done_and_error
    http-ui: /ui/events replies                                  chat_http_ui_reply_events_and_failed_send
    stream error → one re-mint, new ticket, back-off [ext],
      missed events caught up; switching closes the old stream   chat_stream_cut_re_mints_reconnects_and_switching_closes
  beyond the list: keyboard focus (keyboard_reaches_every_control_with_visible_focus), the
  one-time login link (one_time_login_link_signs_in_once), a phone's width, dark scheme and
  labelled controls (phone_width_and_dark_scheme). The terminal page's lines are
  tests/browser/terminal_page.py (tests/it/terminal/page.rs).
"""
import json
import os
import re
import subprocess
import sys
import time
import traceback
import urllib.request

from playwright.sync_api import expect, sync_playwright

sys.path.insert(0, os.path.dirname(__file__))
from fakehub import SESSION_COOKIE, FakeHub  # noqa: E402

CFG = json.loads(sys.argv[1])
BIN = CFG["binary"]
HUB_D = f"http://127.0.0.1:{CFG['hub']['port']}"
BARE_D = f"http://127.0.0.1:{CFG['bare']['port']}"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
T = 15_000  # ms: generous, the machine is shared
expect.set_options(timeout=T)
FIGURES = {}
HUB = {}  # "origin" of the fake hub, once it runs
PIN = "4242"


def mint(state_dir, ttl="1h"):
    return subprocess.run([BIN, "token", "mint", "--scope", "agent:read agent:send agent:admin",
                           "--ttl", ttl, "--state-dir", state_dir],
                          capture_output=True, text=True, check=True).stdout.strip()


ADMIN = mint(CFG["hub"]["state_dir"])


def call(method, path, body=None, headers=None, base=HUB_D, token=ADMIN):
    data = None if body is None else json.dumps(body).encode()
    h = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", **(headers or {})}
    req = urllib.request.Request(base + path, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def step_up_token():
    return call("POST", "/api/step-up", {"pin": PIN})[1]["stepUpToken"]


class Ctx:
    """One fresh browser context + page, with the requests it made."""

    def __init__(self, browser, signed_in=True, **kw):
        self.context = browser.new_context(viewport=kw.pop("viewport", {"width": 1280, "height": 900}), **kw)
        if signed_in:  # the hub's session cookie, which /admin/agent-token requires
            name, value = SESSION_COOKIE
            self.context.add_cookies([{"name": name, "value": value, "url": HUB["origin"]}])
        self.page = self.context.new_page()
        self.requests = []
        self.errors = []
        self.csp = []
        self.page.on("request", lambda r: self.requests.append(r))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", self._console)
        self.page.set_default_timeout(T)
        self.t0 = time.time()
        self.trace = []  # what the page did, printed when its check fails
        self.page.on("request", lambda r: self.trace.append(f"{time.time() - self.t0:6.2f} > {r.method} {r.url}"))
        self.page.on("response", lambda r: self.trace.append(f"{time.time() - self.t0:6.2f} < {r.status} {r.url}"))
        self.page.on("requestfailed", lambda r: self.trace.append(f"{time.time() - self.t0:6.2f} ! {r.url} {r.failure}"))
        self.page.on("console", lambda m: self.trace.append(f"{time.time() - self.t0:6.2f} console.{m.type}: {m.text}"))
        OPEN.append(self)

    def _console(self, m):
        # Chromium reports every blocked load or inline script on the console
        if m.type == "error" and ("Content Security Policy" in m.text or "Refused to" in m.text):
            self.csp.append(m.text)

    def urls(self, needle):
        return [r.url for r in self.requests if needle in r.url]

    def bodies(self, method, needle):
        return [json.loads(r.post_data or "null") for r in self.requests if r.method == method and needle in r.url]

    def tickets(self, path):
        """The tickets of this page's stream requests to `path`, oldest first."""
        return [m.group(1) for m in (re.search(r"ticket=([^&]+)", u) for u in self.urls(path)) if m]

    def close(self):
        OPEN.remove(self)
        assert not self.errors, f"page errors: {self.errors}"
        assert not self.csp, f"Content-Security-Policy violations: {self.csp}"
        self.context.close()


def wait(cond, what, timeout=T / 1000):
    """Polls `cond` until it holds (bounded). Playwright's sync API delivers page events
    (requests, console) only while Python is inside one of its calls, so the poll interval
    is spent in the open page's `wait_for_timeout`, never in `time.sleep`."""
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return
        if OPEN:
            OPEN[-1].page.wait_for_timeout(50)
        else:
            time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def hold_requests(p, pattern):
    """Holds the page's requests matching `pattern` until `release()`; later ones pass."""
    held, released = [], []

    def hold(route):
        if released:
            route.fallback()
        else:
            held.append(route)

    def release():
        released.append(True)
        for r in held:
            r.fallback()

    p.route(pattern, hold)
    return held, release


def agents_ready(p):
    expect(p.locator("table.agents")).to_be_visible()


def open_page(b, url):
    """A fresh context with its page at `url`."""
    c = Ctx(b)
    c.page.goto(url)
    return c, c.page


def agents_screen(b, hub):
    """A fresh context on the Agents screen behind the hub mount, its list drawn."""
    c, p = open_page(b, f"{hub.origin}/agent/app/")
    agents_ready(p)
    return c, p


def row(p, name):
    return p.locator(f"tr[data-agent='{name}']")


def open_detail(p, name):
    row(p, name).click()
    expect(p.locator("section.detail")).to_be_visible()
    return p.locator("section.detail")


def confirm_pin(p, pin=PIN):
    d = p.get_by_role("dialog", name="Confirm with your PIN")
    expect(d).to_be_visible()
    d.get_by_label("PIN").fill(pin)
    d.get_by_role("button", name="Confirm").click()
    expect(d).to_be_hidden()


CHECKS = []
OPEN = []  # the contexts of the running check


def check(fn):
    CHECKS.append(fn)
    return fn


# ---- shell and auth ---------------------------------------------------------------------
@check
def shell_hub_mount_deep_link_and_404(b, hub):
    c, p = open_page(b, f"{hub.origin}/agent/app/")
    expect(p.get_by_role("heading", name="Agents", level=1)).to_be_visible()
    agents_ready(p)
    # the CSP listener of every check works: an inline script the app did not ship is
    # refused by the shell's policy, and chromium reports it
    p.evaluate("document.head.append(Object.assign(document.createElement('script'), {textContent: 'window.__inline = 1'}))")
    wait(lambda: c.csp, "the report of a refused inline script")
    assert p.evaluate("window.__inline === undefined"), "the inline script ran"
    c.csp.clear()
    FIGURES["first_render_ms"] = p.evaluate("performance.getEntriesByName('pa:first-render')[0].startTime")
    FIGURES["agents_listed_ms"] = p.evaluate("performance.getEntriesByName('pa:agents-listed')[0].startTime")
    assert all("/agent/app/" in u or "/agent/api/" in u or "/admin/" in u for u in c.urls(hub.origin)), c.urls(hub.origin)
    p.goto(f"{hub.origin}/agent/app/chat/eng")
    expect(p.locator("#chat-channel")).to_have_value("eng")
    p.goto(f"{hub.origin}/agent/app/no/such/screen")
    expect(p.get_by_text("404 — back to Agents")).to_be_visible()
    p.get_by_role("link", name="back to Agents").click()
    expect(p.get_by_role("heading", name="Agents", level=1)).to_be_visible()
    assert p.url == f"{hub.origin}/agent/app/", p.url
    c.close()


@check
def retired_routes_land_on_the_spa(b, hub):
    c = Ctx(b)
    p = c.page
    for path in ["/agent/agents", "/agent/jobs", "/agent/home", "/agent/admin", "/agent/"]:
        p.goto(f"{hub.origin}{path}")
        expect(p.get_by_role("heading", name="Agents", level=1)).to_be_visible()
        assert p.url == f"{hub.origin}/agent/app/", (path, p.url)
    p.goto(f"{hub.origin}/agent/ui")
    expect(p.locator("#chat-channel")).to_be_visible()
    assert p.url.startswith(f"{hub.origin}/agent/app/chat"), p.url
    c.close()


@check
def daemon_direct_loads_assets_and_calls_api_without_the_hub_prefix(b, hub):
    c, p = open_page(b, f"{BARE_D}/app/")
    form = p.get_by_role("form", name="Sign in")
    expect(form).to_be_visible()
    expect(p.get_by_text("Not signed in — paste a token").first).to_be_visible()
    form.get_by_label("Bearer token").fill(mint(CFG["bare"]["state_dir"]))
    form.get_by_role("button", name="Use token").click()
    expect(form).to_be_hidden()
    expect(p.get_by_text("No agents yet.")).to_be_visible()
    urls = c.urls(BARE_D)
    assert any("/app/js/app.js" in u for u in urls) and any("/app/app.css" in u for u in urls), urls
    assert any(u.startswith(f"{BARE_D}/api/agents") for u in urls), urls
    assert not any("/agent/" in u for u in urls), urls
    assert not c.urls("/admin/"), "daemon-direct makes no hub calls"
    c.close()


@check
def token_minted_once_reused_and_a_401_re_mints_once(b, hub):
    before = hub.mints
    c, p = agents_screen(b, hub)
    expect(p.locator("section[aria-label='Def-vaults'] tr[data-vault]").first).to_be_visible()
    assert hub.mints - before == 1, f"{hub.mints - before} mints for one page load"
    n = len(hub.paths("/api/"))
    p.get_by_role("link", name="Chat", exact=True).click()
    expect(p.locator("#chat-channel")).to_be_visible()
    wait(lambda: len(hub.paths("/api/")) > n + 1, "more API calls")
    assert hub.mints - before == 1, "the cached token is reused across calls"
    c.close()
    # A rejected token: each call is retried exactly once after one re-mint, also the call
    # whose 401 arrives after that re-mint is done (it must not drop the fresh token).
    hub.bad_tokens = 1
    hub.delays = {"/api/agent-vaults": 1.0}
    before = hub.mints
    calls = len(hub.paths("/api/agents"))
    vcalls = len([x for x in hub.paths("/api/agent-vaults") if x == "/api/agent-vaults"])
    c, p = agents_screen(b, hub)
    expect(p.locator("section[aria-label='Def-vaults'] tr[data-vault]").first).to_be_visible()
    expect(p.get_by_role("region", name="Claude auth").locator(".pill").first).to_be_visible()
    assert len([x for x in hub.paths("/api/agents") if x == "/api/agents"]) - calls == 2, "one 401, one retry"
    hub.delays = {}
    assert len([x for x in hub.paths("/api/agent-vaults") if x == "/api/agent-vaults"]) - vcalls == 2, "one list per load"
    assert hub.mints - before == 2, f"the parallel 401s share one re-mint ({hub.mints - before} mints)"
    assert [u for u in c.urls("/admin/agent-token") if not u.startswith(f"{hub.origin}/admin/")] == []
    c.close()
    # No hub session cookie: the mint fails (401) and every screen says so, with Retry.
    c = Ctx(b, signed_in=False)
    p = c.page
    p.goto(f"{hub.origin}/agent/app/")
    alert = p.get_by_role("alert").filter(has_text="Not signed in to the hub — sign in to the portal, then reload.").first
    expect(alert).to_be_visible()
    expect(alert.get_by_role("button", name="Retry")).to_be_visible()
    assert c.urls("/admin/agent-token") and not any("Authorization" in r.headers or "authorization" in r.headers
                                                  for r in c.requests if "/agent/api/agents" in r.url), \
        "calls go out without Authorization after a failed mint"
    c.close()


@check
def nav_highlights_and_step_up_button_opens_settings(b, hub):
    c, p = open_page(b, f"{hub.origin}/agent/app/")
    nav = p.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Agents")).to_have_attribute("aria-current", "page")
    nav.get_by_role("link", name="New agent").click()
    expect(nav.get_by_role("link", name="New agent")).to_have_attribute("aria-current", "page")
    expect(nav.get_by_role("link", name="Agents")).not_to_have_attribute("aria-current", "page")
    nav.get_by_role("link", name="Chat").click()
    expect(nav.get_by_role("link", name="Chat")).to_have_attribute("aria-current", "page")
    expect(p.locator(".brand .subtitle")).to_have_text("chat")
    nav.get_by_role("button", name="Step-up PIN").click()
    d = p.get_by_role("dialog")
    expect(d).to_have_attribute("aria-modal", "true")
    expect(d.get_by_role("heading")).to_have_text(re.compile("^(Set|Change) step-up PIN$"))
    expect(d.get_by_label("New PIN (4–12 digits)")).to_be_focused()
    expect(d.locator(".banner")).to_be_hidden()  # no empty error box before an error
    p.keyboard.press("Escape")
    expect(d).to_be_hidden()
    c.close()


# ---- agents -----------------------------------------------------------------------------
@check
def loading_text_then_empty_state(b, hub):
    c = Ctx(b)
    p = c.page
    held, release = hold_requests(p, "**/api/agents")
    p.goto(f"{BARE_D}/app/")
    p.get_by_label("Bearer token").fill(mint(CFG["bare"]["state_dir"]))
    p.get_by_role("button", name="Use token").click()
    # the signed-in render's request is held: its screen stays on the loading text
    wait(lambda: any(r.request.headers.get("authorization") for r in held), "the signed-in agents request")
    expect(p.get_by_text("Loading agents…")).to_be_visible()
    release()
    expect(p.get_by_text("No agents yet.")).to_be_visible()
    expect(p.get_by_text("0 agents")).to_be_visible()
    c.close()


@check
def merged_sorted_list_backend_words_count_and_not_running(b, hub):
    c, p = agents_screen(b, hub)
    names = p.locator("table.agents tbody tr td.name").all_inner_texts()
    assert names == sorted(names, key=str.lower) and {"att", "eng", "solo"} <= set(names), names
    expect(row(p, "att").locator("td").nth(1)).to_have_text("channel")
    expect(row(p, "eng").locator("td").nth(1)).to_have_text("programmatic")
    expect(p.locator(".card-head .count").first).to_have_text(f"{len(names)} agents")
    c.close()
    # The same definitions with one live agent gone: its def becomes a not-running row.
    c = Ctx(b)
    p = c.page

    def edit(key, keep, change=lambda x: x):
        def handler(route):
            r = route.fetch()
            body = r.json()
            body[key] = [change(dict(x)) for x in body[key] if keep(x)]
            route.fulfill(response=r, json=body)
        return handler

    def no_status(d):
        d.pop("status", None)
        return d

    p.route("**/agent/api/agents", edit("agents", lambda a: a["name"] != "att"))
    p.route("**/agent/api/agent-defs", edit("defs", lambda d: True, no_status))
    p.goto(f"{hub.origin}/agent/app/")
    agents_ready(p)
    expect(row(p, "att").locator("td").nth(3)).to_have_text("not running")
    expect(row(p, "solo").locator("td").nth(3)).to_have_text("idle")
    d = open_detail(p, "att")
    expect(d.get_by_text("no (defined, not instantiated)")).to_be_visible()
    c.close()
    # one row: the singular count; a live row without any status reads "live"
    c = Ctx(b)
    p = c.page
    p.route("**/agent/api/agents", edit("agents", lambda a: a["name"] == "solo", no_status))
    p.route("**/agent/api/agent-defs", edit("defs", lambda d: False))
    p.goto(f"{hub.origin}/agent/app/")
    agents_ready(p)
    expect(p.locator(".card-head .count").first).to_have_text("1 agent")
    expect(row(p, "solo").locator("td").nth(3)).to_have_text("live")
    c.close()


@check
def row_click_opens_detail_above_table_and_closes(b, hub):
    c, p = agents_screen(b, hub)
    d = open_detail(p, "eng")
    above = p.evaluate("""() => {
        const d = document.querySelector('section.detail'), t = document.querySelector('table.agents');
        return !!(d.compareDocumentPosition(t) & Node.DOCUMENT_POSITION_FOLLOWING); }""")
    assert above, "detail above the table"
    expect(row(p, "eng")).to_have_class(re.compile("selected"))
    row(p, "eng").click()
    expect(d).to_be_hidden()
    d = open_detail(p, "solo")
    d.get_by_role("button", name="Close").click()
    expect(p.locator("section.detail")).to_be_hidden()
    c.close()


FOCUSED = """() => { const e = document.activeElement, s = getComputedStyle(e);
    return {tag: e.tagName, agent: e.dataset ? e.dataset.agent || null : null,
            text: (e.getAttribute('aria-label') || e.textContent || '').trim().slice(0, 40),
            visible: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0,
            inDialog: !!e.closest('[role=dialog]')}; }"""


@check
def keyboard_reaches_every_control_with_visible_focus(b, hub):
    c, p = agents_screen(b, hub)
    expect(p.locator("section[aria-label='Def-vaults'] tr[data-vault]").first).to_be_visible()
    seen = []
    for _ in range(40):
        p.keyboard.press("Tab")
        f = p.evaluate(FOCUSED)
        assert f["visible"], f"focus is not visible on {f}"
        seen.append(f)
        if f["agent"] == "eng":
            break
    texts = [f["text"] for f in seen]
    assert texts[0] == "Skip to content", texts
    for want in ["Agents", "New agent", "Chat", "Step-up PIN"]:
        assert want in texts, (want, texts)
    assert seen[-1]["agent"] == "eng", f"the rows are reachable by Tab: {texts}"
    # Enter opens the focused row's detail and keeps focus on the row; Enter again closes
    p.keyboard.press("Enter")
    expect(p.locator("section.detail")).to_be_visible()
    assert p.evaluate(FOCUSED)["agent"] == "eng", p.evaluate(FOCUSED)
    p.keyboard.press("Enter")
    expect(p.locator("section.detail")).to_have_count(0)
    # the dialog: opened from the keyboard, focus inside, Tab stays inside, Escape returns
    p.get_by_role("button", name="Step-up PIN").focus()
    p.keyboard.press("Enter")
    d = p.get_by_role("dialog")
    expect(d.get_by_label("New PIN (4–12 digits)")).to_be_focused()
    for _ in range(6):
        p.keyboard.press("Tab")
        f = p.evaluate(FOCUSED)
        assert f["inDialog"] and f["visible"], f
    p.keyboard.press("Escape")
    expect(d).to_have_count(0)
    expect(p.get_by_role("button", name="Step-up PIN")).to_be_focused()
    c.close()


@check
def detail_shows_mode_model_prompt_wants_and_the_no_def_note(b, hub):
    c, p = agents_screen(b, hub)
    d = open_detail(p, "eng")
    expect(d.locator("dl.grid")).to_contain_text("Single-threaded")
    expect(d.locator("dl.grid")).to_contain_text("Sonnet — balanced")
    prompt = d.locator("p.prompt").inner_text()
    assert prompt.startswith("You are the engineering agent.") and len(prompt) <= 210, prompt
    expect(d.locator(".tag", has_text="mcp:https://mcp.example.com/a")).to_be_visible()
    expect(d.get_by_role("button", name="Edit")).to_be_visible()
    expect(d.get_by_role("button", name="Delete")).to_be_visible()
    expect(d.get_by_role("link", name="Open a terminal on this agent")).to_have_attribute("href", "/agent/terminal/?agent=eng")
    d = open_detail(p, "solo")
    expect(d.get_by_text("isn't backed by a vault-native #agent/definition note")).to_be_visible()
    expect(d.get_by_role("button", name="Edit")).to_have_count(0)
    expect(d.get_by_role("button", name="Delete")).to_have_count(0)
    expect(d.get_by_role("region", name="Schedules")).to_have_count(0)
    d = open_detail(p, "att")
    expect(d.get_by_text("Own-vault only — no extra connections requested.")).to_be_visible()
    c.close()


@check
def edit_prefills_the_full_def_and_patches_all_three_keys(b, hub):
    c, p = agents_screen(b, hub)
    d = open_detail(p, "att")
    d.get_by_role("button", name="Edit").click()
    expect(d.get_by_role("heading", name="Edit att")).to_be_visible()
    ta = d.get_by_label("System prompt")
    full = ta.input_value()
    assert full.startswith("You are the attached agent.") and len(full) > 300, len(full)
    d.get_by_label("Model").select_option("haiku")
    d.get_by_label("Multi-threaded").check()
    d.get_by_label("Wants (connections)").fill("  vault:other:read  ")
    d.get_by_role("button", name="Save changes").click()
    expect(d.get_by_role("heading", name="att", exact=True)).to_be_visible()
    sent = c.bodies("PATCH", "/agent-defs/")[-1]
    assert sent == {"systemPrompt": full, "metadata": {"mode": "multi-threaded", "model": "haiku"}, "wants": "vault:other:read"}, sent
    d = p.locator("section.detail")
    expect(d.locator("dl.grid")).to_contain_text("Haiku — fastest")
    d.get_by_role("button", name="Edit").click()
    expect(d.get_by_label("Model")).to_have_value("haiku")
    d.get_by_label("Model").select_option("")
    d.get_by_label("Single-threaded").check()
    d.get_by_label("Wants (connections)").fill("")
    d.get_by_role("button", name="Save changes").click()
    expect(d.get_by_role("button", name="Edit")).to_be_visible()
    sent = c.bodies("PATCH", "/agent-defs/")[-1]
    assert sent["metadata"] == {"mode": "single-threaded", "model": ""} and sent["wants"] == "", sent
    c.close()


@check
def mcp_connected_banner_and_url_cleanup(b, hub):
    c, p = open_page(b, f"{hub.origin}/agent/app/?keep=1&mcp_connected=1#frag")
    banner = p.get_by_text("✓ MCP server connected — it'll be available to the agent on its next run.")
    expect(banner).to_be_visible()
    assert p.url == f"{hub.origin}/agent/app/?keep=1#frag", p.url
    p.get_by_role("button", name="Dismiss").click()
    expect(banner).to_be_hidden()
    c.close()


# ---- schedules / secrets / env / Claude auth / def-vaults -----------------------------------
@check
def schedules_list_create_preset_bad_cron_run_and_delete(b, hub):
    call("POST", "/api/jobs", {"id": "quiet", "channel": "eng", "message": "shh", "schedule": {"cron": "0 3 * * *"}, "enabled": False})
    call("POST", "/api/jobs", {"id": "other-agent", "channel": "att", "message": "x", "schedule": {"cron": "0 3 * * *"}})
    c, p = agents_screen(b, hub)
    d = open_detail(p, "eng")
    s = d.get_by_role("region", name="Schedules")
    expect(s.locator("tr[data-job='quiet']")).to_contain_text("quiet (disabled)")
    expect(s.locator("tr[data-job='other-agent']")).to_have_count(0)
    s.get_by_role("button", name="New schedule").click()
    s.get_by_label("Job id (slug)").fill("bad id")
    expect(s.get_by_text("Must be a slug")).to_be_visible()
    s.get_by_label("Job id (slug)").fill("morning")
    s.get_by_label("Message to send").fill("  standup time  ")
    s.get_by_role("button", name="hourly").click()
    expect(s.get_by_label("Cron (min hour dom mon dow)")).to_have_value("0 * * * *")
    s.get_by_label("Cron (min hour dom mon dow)").fill("61 * * * *")
    s.get_by_role("button", name="Create schedule").click()
    expect(s.get_by_role("alert").filter(has_text="invalid schedule.cron")).to_be_visible()
    s.get_by_role("button", name="weekdays 9am").click()
    expect(s.get_by_label("Cron (min hour dom mon dow)")).to_have_value("0 9 * * 1-5")
    s.get_by_label("Cron (min hour dom mon dow)").fill("  0 9 * * 1-5 ")
    s.get_by_label("Timezone (IANA, optional)").fill(" Europe/Berlin ")
    s.get_by_role("button", name="Create schedule").click()
    r = s.locator("tr[data-job='morning']")
    expect(r).to_contain_text("0 9 * * 1-5")
    expect(r).to_contain_text("Europe/Berlin")
    assert re.search(r"\d", r.locator("td").nth(2).inner_text()), "next run shown"
    sent = c.bodies("POST", "/api/jobs")[-1]
    assert sent == {"id": "morning", "channel": "eng", "message": "standup time",
                    "schedule": {"cron": "0 9 * * 1-5", "tz": "Europe/Berlin"}, "enabled": True}, sent
    r.get_by_role("button", name="Run now").click()
    expect(s.get_by_text(re.compile(r"^Ran morning \((ok|error.*)\)\.$"))).to_be_visible()
    expect(s.locator("tr[data-job='morning'] .pill")).to_be_visible()
    assert re.search(r"\d", s.locator("tr[data-job='morning'] td").nth(3).inner_text()), "last run time shown"
    s.locator("tr[data-job='morning']").get_by_role("button", name="Delete").click()
    s.locator("tr[data-job='morning']").get_by_role("button", name="Confirm delete").click()
    expect(s.locator("tr[data-job='morning']")).to_have_count(0)
    c.close()


@check
def secrets_validation_setup_dialog_retry_prompt_cancel_and_remove(b, hub):
    c, p = agents_screen(b, hub)
    d = open_detail(p, "eng")
    s = d.get_by_role("region", name="Secrets")
    s.get_by_role("button", name="Add secret").click()
    save = s.get_by_role("button", name="Save secret")
    s.get_by_label("Value", exact=True).fill("v")
    for bad, msg in [("ANTHROPIC_API_KEY", "Reserved — ANTHROPIC_API_KEY"), ("9LIVES", "A valid env var name")]:
        s.get_by_label("Name").fill(bad)
        expect(s.get_by_text(msg)).to_be_visible()
        expect(save).to_be_disabled()
    n_posts = len(c.bodies("POST", "/credentials/env"))
    s.get_by_label("Name").fill("anthropic_api_key")
    expect(save).to_be_enabled()
    s.get_by_label("Name").fill("GH_TOKEN")
    save.click()
    dlg = p.get_by_role("dialog", name="Set a step-up PIN")
    expect(dlg).to_be_visible()
    dlg.get_by_label("New PIN (4–12 digits)").fill("12ab34")
    expect(dlg.get_by_label("New PIN (4–12 digits)")).to_have_value("1234")
    dlg.get_by_label("New PIN (4–12 digits)").fill(PIN)
    dlg.get_by_label("Confirm PIN").fill("9999")
    dlg.get_by_role("button", name="Save PIN").click()
    expect(dlg.get_by_text("The PINs don't match.")).to_be_visible()
    dlg.get_by_label("Confirm PIN").fill(PIN)
    dlg.get_by_role("button", name="Save PIN").click()
    expect(dlg).to_be_hidden()
    expect(s.locator("tr[data-secret='GH_TOKEN']")).to_contain_text("••••••••")
    posts = c.bodies("POST", "/credentials/env")
    assert len(posts) - n_posts == 2 and posts[-1] == {"channel": "eng", "name": "GH_TOKEN", "value": "v"}, posts
    assert "v" not in s.inner_text().split(), "values are never displayed"
    # the step-up token rode the retried POST as a header, and nowhere else
    su = [r.headers.get("x-step-up-token") for r in c.requests if r.method == "POST" and "/credentials/env" in r.url]
    assert su[0] is None and su[-1], su
    assert not any(su[-1] in r.url for r in c.requests), "the step-up token is in no URL"
    assert p.evaluate("localStorage.length + sessionStorage.length") == 0
    c.close()
    # A fresh page holds no step-up token: the prompt dialog; cancelling surfaces the 403.
    c, p = agents_screen(b, hub)
    s = open_detail(p, "eng").get_by_role("region", name="Secrets")
    s.get_by_role("button", name="Add secret").click()
    s.get_by_label("Name").fill("OTHER")
    s.get_by_label("Value", exact=True).fill("x")
    s.get_by_role("button", name="Save secret").click()
    dlg = p.get_by_role("dialog", name="Confirm with your PIN")
    expect(dlg).to_be_visible()
    dlg.get_by_role("button", name="Cancel").click()
    expect(s.get_by_role("alert").filter(has_text="step_up_required")).to_be_visible()
    r = s.locator("tr[data-secret='GH_TOKEN']")
    r.get_by_role("button", name="Remove").click()
    r.get_by_role("button", name="Confirm remove").click()
    confirm_pin(p)
    expect(s.locator("tr[data-secret='GH_TOKEN']")).to_have_count(0)
    deletes = [x for x in c.requests if x.method == "DELETE" and "/credentials/env" in x.url]
    assert json.loads(deletes[-1].post_data) == {"channel": "eng", "name": "GH_TOKEN"}, deletes[-1].post_data
    c.close()


@check
def step_up_settings_changes_the_pin_and_shows_the_error_texts(b, hub):
    assert call("GET", "/api/step-up")[1]["configured"], "the secrets check set the PIN"
    c, p = open_page(b, f"{hub.origin}/agent/app/")
    p.get_by_role("button", name="Step-up PIN").click()
    d = p.get_by_role("dialog", name="Change step-up PIN")
    expect(d.get_by_label("Current PIN")).to_be_focused()
    save = d.get_by_role("button", name="Save PIN")
    for current, new, text in [("0000", "5678", "Incorrect PIN."), (PIN, "12", "PIN must be 4–12 digits.")]:
        d.get_by_label("Current PIN").fill(current)
        d.get_by_label("New PIN (4–12 digits)").fill(new)
        d.get_by_label("Confirm PIN").fill(new)
        save.click()
        expect(d.get_by_role("alert")).to_have_text(text)
        expect(d).to_be_visible()
    d.get_by_label("New PIN (4–12 digits)").fill("5678")
    d.get_by_label("Confirm PIN").fill("5678")
    save.click()
    expect(d).to_have_count(0)
    assert c.bodies("POST", "/step-up/pin")[-1] == {"newPin": "5678", "currentPin": PIN}
    assert call("POST", "/api/step-up", {"pin": "5678"})[0] == 200, "the new PIN exchanges"
    assert call("POST", "/api/step-up", {"pin": PIN})[0] == 401, "the old one does not"
    assert call("POST", "/api/step-up/pin", {"newPin": PIN, "currentPin": "5678"})[0] == 200
    # prompt mode: a wrong PIN keeps the dialog open with the error; Escape cancels and
    # the gated request surfaces its 403
    card = p.get_by_role("region", name="Claude auth")
    card.get_by_role("button", name="Set token").click()
    card.get_by_label("Token").fill("sk-ant-oat01-never")
    card.get_by_label("Channel (optional)").fill("probe")
    card.get_by_role("button", name="Save token").click()
    d = p.get_by_role("dialog", name="Confirm with your PIN")
    expect(d.get_by_label("PIN")).to_be_focused()
    d.get_by_label("PIN").fill("0000")
    d.get_by_role("button", name="Confirm").click()
    expect(d.get_by_role("alert")).to_have_text("Incorrect PIN.")
    p.keyboard.press("Escape")
    expect(d).to_have_count(0)
    expect(card.get_by_role("alert").filter(has_text="step_up_required")).to_be_visible()
    assert "probe" not in call("GET", "/api/credentials/claude")[1]["channels"]
    c.close()


@check
def effective_env_shows_sources_overridden_and_the_note(b, hub):
    su = {"X-Step-Up-Token": step_up_token()}
    call("POST", "/api/credentials/env", {"name": "SHARED", "value": "d"}, su)
    call("POST", "/api/credentials/env", {"channel": "eng", "name": "SHARED", "value": "c"}, su)
    c, p = agents_screen(b, hub)
    e = open_detail(p, "eng").get_by_role("region", name="Effective env")
    rows = e.locator("tr[data-env='SHARED']")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="channel").locator(".badge")).to_have_text("channel")
    expect(rows.filter(has_text="default")).to_contain_text("overridden")
    expect(rows.filter(has_text="default")).to_have_class(re.compile("dimmed"))
    assert "d" not in e.inner_text().split() and "c" not in e.inner_text().split()
    c.close()
    # The daemon adds a note for an agent without a live definition (solo has none, but no
    # channel either, so the section is not shown for it): the note of that real answer,
    # served for eng, is shown above the table; Refresh reloads.
    note = call("GET", "/api/agents/solo/env")[1]["note"]
    assert note, "the daemon explains a def-less env view"

    def with_note(route):
        r = route.fetch()
        route.fulfill(response=r, json={**r.json(), "note": note})

    c = Ctx(b)
    p = c.page
    p.route("**/agents/eng/env", with_note)
    p.goto(f"{hub.origin}/agent/app/")
    agents_ready(p)
    e = open_detail(p, "eng").get_by_role("region", name="Effective env")
    expect(e.locator("p.note")).to_have_text(note)
    call("DELETE", "/api/credentials/env", {"name": "SHARED"}, {"X-Step-Up-Token": step_up_token()})
    e.get_by_role("button", name="Refresh").click()
    expect(e.locator("tr[data-env='SHARED']")).to_have_count(1)
    c.close()


@check
def claude_auth_set_default_channel_override_cancel_and_remove(b, hub):
    c, p = open_page(b, f"{hub.origin}/agent/app/")
    card = p.get_by_role("region", name="Claude auth")
    expect(card.locator(".pill")).to_have_text("not configured")
    expect(card.locator("tr[data-override='eng']")).to_be_visible()
    card.get_by_role("button", name="Set token").click()
    expect(card.get_by_role("button", name="Save token")).to_be_disabled()
    card.get_by_label("Token").fill("half-typed")
    card.get_by_role("button", name="Cancel").click()
    card.get_by_role("button", name="Set token").click()
    expect(card.get_by_label("Token")).to_have_value("")
    card.get_by_label("Token").fill("sk-ant-oat01-default")
    card.get_by_role("button", name="Save token").click()
    confirm_pin(p)
    expect(card.get_by_text("Saved the default Claude token.")).to_be_visible()
    expect(card.locator(".pill").first).to_have_text("configured")
    expect(card.get_by_label("Token")).to_have_count(0)
    card.get_by_role("button", name="Set token").click()
    card.get_by_label("Token").fill("sk-ant-oat01-x")
    card.get_by_label("Channel (optional)").fill(" extra ")
    card.get_by_role("button", name="Save token").click()
    expect(card.get_by_text('Saved a Claude token override for "extra".')).to_be_visible()
    assert any(r.method == "POST" and r.url.endswith("/agent/api/credentials/claude/extra") for r in c.requests)
    r = card.locator("tr[data-override='extra']")
    r.get_by_role("button", name="Remove").click()
    r.get_by_role("button", name="Confirm remove").click()
    expect(card.locator("tr[data-override='extra']")).to_have_count(0)
    assert "sk-ant" not in card.inner_text()
    c.close()


@check
def def_vaults_add_validate_reactive_toggle_remove_and_unknown(b, hub):
    c, p = open_page(b, f"{hub.origin}/agent/app/")
    card = p.get_by_role("region", name="Def-vaults")
    expect(card.locator("tr[data-vault='default']")).to_contain_text("present")
    card.get_by_role("button", name="Add def-vault").click()
    card.get_by_label("Vault name").fill("no good")
    expect(card.get_by_text("Must be a slug")).to_be_visible()
    expect(card.get_by_role("button", name="Add", exact=True)).to_be_disabled()
    card.get_by_label("Vault name").fill("second")
    card.get_by_label("Vault URL (optional)").fill(f" {CFG['vault_url']} ")
    card.get_by_role("button", name="Add", exact=True).click()
    expect(card.get_by_text('Added "second" — reactive reload is on (def changes apply instantly).')).to_be_visible()
    assert c.bodies("POST", "/agent-vaults")[-1] == {"vault": "second", "url": CFG["vault_url"]}
    ids = sorted(x["id"] for x in hub.connections)
    assert ids == ["agentdefs-create-second", "agentdefs-edit-second"], ids
    r = card.locator("tr[data-vault='second']")
    expect(r.locator(".pill", has_text="on")).to_be_visible()
    r.get_by_role("button", name="Disable").click()
    expect(card.locator("tr[data-vault='second'] .pill", has_text="off")).to_be_visible()
    assert hub.connections == [], hub.connections
    card.locator("tr[data-vault='second']").get_by_role("button", name="Enable").click()
    expect(card.locator("tr[data-vault='second'] .pill", has_text="on")).to_be_visible()
    r = card.locator("tr[data-vault='second']")
    r.get_by_role("button", name="Remove").click()
    r.get_by_role("button", name="Confirm remove").click()
    expect(card.locator("tr[data-vault='second']")).to_have_count(0)
    wait(lambda: hub.connections == [], "reactive reload disabled after remove")
    # without a URL: the body carries the name only (the daemon defaults the loopback vault)
    card.get_by_role("button", name="Add def-vault").click()
    card.get_by_label("Vault name").fill("third")
    card.get_by_role("button", name="Add", exact=True).click()
    expect(card.get_by_text('Added "third"')).to_be_visible()
    assert c.bodies("POST", "/agent-vaults")[-1] == {"vault": "third"}, c.bodies("POST", "/agent-vaults")
    r = card.locator("tr[data-vault='third']")
    r.get_by_role("button", name="Remove").click()
    r.get_by_role("button", name="Confirm remove").click()
    expect(card.locator("tr[data-vault='third']")).to_have_count(0)
    wait(lambda: hub.connections == [], "reactive reload disabled after remove")
    # the last def-vault cannot be removed: the daemon's 400 shows
    r = card.locator("tr[data-vault='default']")
    r.get_by_role("button", name="Remove").click()
    r.get_by_role("button", name="Confirm remove").click()
    expect(card.get_by_role("alert")).to_be_visible()
    c.close()
    hub.fail_connections = True
    try:
        c = Ctx(b)
        p = c.page
        p.goto(f"{hub.origin}/agent/app/")
        cell = p.get_by_role("region", name="Def-vaults").locator("tr[data-vault='default'] td").nth(3)
        expect(cell).to_have_text("—")
        c.close()
    finally:
        hub.fail_connections = False


# ---- connections / MCP ------------------------------------------------------------------------
@check
def mcp_pills_connect_paste_token_add_and_daemon_direct(b, hub):
    c, p = agents_screen(b, hub)
    m = open_detail(p, "eng").get_by_role("region", name="Connections / MCP servers")
    pills = {u: m.locator(f"tr[data-mcp='{u}'] .pill").inner_text() for u in
             ["https://mcp.example.com/a", "https://mcp.example.com/b", "https://mcp.example.com/c", "https://mcp.example.com/d"]}
    assert pills == {"https://mcp.example.com/a": "Connected", "https://mcp.example.com/b": "Needs reconnect",
                     "https://mcp.example.com/c": "Revoked", "https://mcp.example.com/d": "Pending"}, pills
    expect(m.locator("tr[data-mcp='https://mcp.example.com/a'] td").nth(2)).to_have_text("—")
    expect(m.locator("tr[data-mcp='https://mcp.example.com/b']").get_by_role("button", name="Reconnect")).to_be_enabled()
    r = m.locator("tr[data-mcp='https://mcp.example.com/d']")
    r.get_by_role("button", name="Paste token").click()
    save = r.get_by_role("button", name="Save")
    expect(save).to_be_disabled()
    r.get_by_label("Token for https://mcp.example.com/d").fill(" tok-123 ")
    save.click()
    wait(lambda: any(b == {"token": "tok-123"} for _, b in hub.approvals), "paste-token approve")
    m = p.locator("section.detail").get_by_role("region", name="Connections / MCP servers")
    m.get_by_role("button", name="Add MCP server").click()
    m.get_by_label("MCP server URL").fill("ftp://nope")
    m.get_by_role("button", name="Add", exact=True).click()
    expect(m.get_by_text("Must be a full http(s) URL.")).to_be_visible()
    m.get_by_label("MCP server URL").fill("https://mcp.example.com/a")
    expect(m.get_by_text("This MCP server is already connected to the agent.")).to_be_visible()
    m.get_by_label("MCP server URL").fill("https://mcp.example.com/e")
    m.get_by_role("button", name="Add", exact=True).click()
    wait(lambda: c.bodies("PATCH", "/agent-defs/"), "wants PATCH")
    sent = c.bodies("PATCH", "/agent-defs/")[-1]
    assert sent == {"wants": "mcp:https://mcp.example.com/a, mcp:https://mcp.example.com/b, mcp:https://mcp.example.com/c, mcp:https://mcp.example.com/d, mcp:https://mcp.example.com/e"}, sent
    expect(p.locator("section.detail tr[data-mcp='https://mcp.example.com/e']")).to_be_visible()
    # Connect: the hub's authorizeUrl, and back with mcp_connected=1.
    m = p.locator("section.detail").get_by_role("region", name="Connections / MCP servers")
    m.locator("tr[data-mcp='https://mcp.example.com/b']").get_by_role("button", name="Reconnect").click()
    expect(p.get_by_text("✓ MCP server connected")).to_be_visible()
    assert any(b.get("returnTo") == "/agent/app/" for _, b in hub.approvals), hub.approvals
    assert "mcp_connected" not in p.url
    c.close()
    # Daemon-direct: the banner, Connect disabled (no hub origin for the cookie flow).
    c, p = open_page(b, f"{HUB_D}/app/")
    p.get_by_label("Bearer token").fill(ADMIN)
    p.get_by_role("button", name="Use token").click()
    agents_ready(p)
    m = open_detail(p, "eng").get_by_role("region", name="Connections / MCP servers")
    expect(m.get_by_text("Open this surface via your hub to connect MCP servers")).to_be_visible()
    expect(m.locator("tr[data-mcp='https://mcp.example.com/b']").get_by_role("button", name="Reconnect")).to_be_disabled()
    c.close()


# ---- create ---------------------------------------------------------------------------------
@check
def create_defaults_validation_body_errors_and_success(b, hub):
    c = Ctx(b)
    c.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=hub.origin)
    p = c.page
    p.goto(f"{hub.origin}/agent/app/create")
    expect(p.get_by_role("heading", name="New agent")).to_be_visible()
    expect(p.get_by_label("Single-threaded")).to_be_checked()
    expect(p.get_by_label("Programmatic")).to_be_checked()
    expect(p.get_by_label("Model")).to_have_value("")
    assert "interactive" not in p.locator("form").inner_text().lower()
    submit = p.get_by_role("button", name="Create agent")
    p.get_by_label("Name").fill("bad name")
    expect(p.get_by_text("Must be a slug — letters, numbers, dash, underscore only.")).to_be_visible()
    expect(submit).to_be_disabled()
    p.get_by_label("Name").fill("eng")
    p.get_by_role("button", name="Create agent").click()
    expect(p.get_by_role("alert").filter(has_text="eng")).to_be_visible()  # duplicate name (409)
    p.get_by_label("Name").fill("scribe")
    p.get_by_text("Advanced").click()
    p.get_by_label("Wants (connections)").fill(" vault:other:read ")
    p.get_by_label("Model").select_option("opus")
    p.get_by_label("System prompt").fill("Short-lived.")
    submit.click()
    expect(p.get_by_text("scribe · single-threaded · programmatic")).to_be_visible()
    sent = c.bodies("POST", "/agent-defs")[-1]
    assert sent == {"vault": "default", "name": "scribe", "backend": "programmatic", "systemPrompt": "Short-lived.",
                    "metadata": {"mode": "single-threaded", "model": "opus"}, "wants": "vault:other:read"}, sent
    p.goto(f"{hub.origin}/agent/app/create")
    p.get_by_label("Name").fill("helper")
    p.get_by_label("Channel").check()
    p.get_by_label("Multi-threaded").check()
    p.get_by_role("button", name="Create agent").click()
    expect(p.get_by_text("helper · multi-threaded · channel")).to_be_visible()
    sent = c.bodies("POST", "/agent-defs")[-1]
    assert sent == {"vault": "default", "name": "helper", "backend": "channel", "systemPrompt": "",
                    "metadata": {"mode": "multi-threaded"}}, sent
    expect(p.locator(".cmd code")).to_have_text(f"claude mcp add --transport http --scope user agent-helper {hub.origin}/agent/mcp/helper")
    p.get_by_role("button", name="Copy").click()
    expect(p.get_by_role("button", name="Copied")).to_be_visible()
    c.close()
    # No def-vault: banner, submit disabled.
    c, p = open_page(b, f"{BARE_D}/app/create")
    p.get_by_label("Bearer token").fill(mint(CFG["bare"]["state_dir"]))
    p.get_by_role("button", name="Use token").click()
    expect(p.get_by_text("A def-vault is required")).to_be_visible()
    p.get_by_label("Name").fill("x")
    expect(p.get_by_role("button", name="Create agent")).to_be_disabled()
    c.close()


@check
def delete_waits_for_the_exact_name_then_the_row_goes(b, hub):
    status, r = call("POST", "/api/agent-defs", {"vault": "default", "name": "doomed", "backend": "programmatic",
                                                 "systemPrompt": "Short-lived."})
    assert status == 201, (status, r)
    c, p = agents_screen(b, hub)
    expect(row(p, "doomed")).to_be_visible()
    d = open_detail(p, "doomed")
    d.get_by_role("button", name="Delete").click()
    go = d.get_by_role("button", name="Delete agent")
    expect(go).to_be_disabled()
    d.get_by_label("Type doomed to confirm").fill("doome")
    expect(go).to_be_disabled()
    d.get_by_label("Type doomed to confirm").fill("doomed")
    go.click()
    expect(row(p, "doomed")).to_have_count(0)
    expect(p.locator("section.detail")).to_have_count(0)
    assert [r.url for r in c.requests if r.method == "DELETE"] == [f"{hub.origin}/agent/api/agent-defs/{r['def']['noteId']}"]
    c.close()


# ---- chat -----------------------------------------------------------------------------------
def live_stream(c, hub, path):
    """Waits until one of this page's `path` streams is open through the hub (so the daemon
    has subscribed it: events from now on reach the page); returns the newest one's ticket."""
    def newest():
        live = [t for t in c.tickets(path) if hub.open_streams(t)]
        return live[-1] if live else None
    wait(newest, f"the page's {path} stream open at the daemon")
    return newest()


def chat(b, hub, channel):
    c, p = open_page(b, f"{hub.origin}/agent/app/chat/{channel}")
    expect(p.locator(".chat .status")).to_have_text(f"live - {channel}")
    live_stream(c, hub, "/ui/events" if channel == "web" else "/turn-events")
    return c, p


@check
def chat_picker_transcript_plain_text_and_url(b, hub):
    c, p = chat(b, hub, "eng")
    opts = p.locator("#chat-channel option").all_inner_texts()
    assert "eng (vault)" in opts and "web (http-ui)" in opts, opts
    you = p.locator(".bubble.you", has_text="<b>seeded</b> question")
    expect(you).to_be_visible()
    assert you.locator("b").count() == 0, "HTML is shown literally"
    expect(p.locator(".bubble.them", has_text="seeded answer")).to_be_visible()
    align = p.evaluate("[...document.querySelectorAll('.bubble')].map(b => getComputedStyle(b).alignSelf)")
    assert "flex-end" in align and "flex-start" in align, align
    p.locator("#chat-channel").select_option("web")
    wait(lambda: p.url.endswith("/agent/app/chat/web"), "URL follows the picker")
    c.close()


@check
def chat_vault_turn_live_bubble_tool_chips_done_and_error(b, hub):
    c, p = chat(b, hub, "eng")
    turn = [u for u in c.urls("/turn-events")]
    assert len(turn) == 1 and "ticket=" in turn[0], turn
    assert not c.urls("/ui/events"), "no /ui/events for a vault channel"
    box = p.get_by_label("Message")
    box.fill("first line")
    box.press("Shift+Enter")
    box.type("second line [fake:sleep:1500]")
    assert box.input_value() == "first line\nsecond line [fake:sleep:1500]"
    box.press("Enter")
    expect(box).to_have_value("")
    mine = p.locator(".bubble.you", has_text="second line")
    expect(mine).to_have_count(1)
    live = p.locator(".bubble.live")
    expect(live.locator(".chip", has_text="Bash")).to_be_visible()
    expect(live).to_contain_text("Working on it.")
    expect(live).to_have_count(0, timeout=30_000)
    expect(p.locator(".bubble.them", has_text="second line")).to_have_count(1)
    expect(mine).to_have_count(1)  # no duplicate after the transcript reload
    box.fill("[fake:fail] please")
    box.press("Enter")
    expect(p.locator(".bubble.live.errored")).to_contain_text("turn failed:", timeout=30_000)
    c.close()


@check
def chat_http_ui_reply_events_and_failed_send(b, hub):
    c, p = chat(b, hub, "web")
    ui = c.urls("/ui/events")
    assert len(ui) == 1 and "ticket=" in ui[0] and "channel=web" in ui[0], ui
    assert not c.urls("/turn-events")
    p.get_by_label("Message").fill("hello http-ui")
    p.get_by_role("button", name="Send").click()
    expect(p.locator(".bubble.them", has_text="echo: hello http-ui")).to_be_visible(timeout=30_000)
    # optimistic: the bubble is there and the input cleared while the POST is still held
    held, release = hold_requests(p, "**/channels/web/send")
    p.get_by_label("Message").fill("held message")
    p.get_by_label("Message").press("Enter")
    wait(lambda: held, "the held send")
    expect(p.locator(".bubble.you", has_text="held message")).to_be_visible()
    expect(p.get_by_label("Message")).to_have_value("")
    expect(p.get_by_role("button", name="Sending...")).to_be_disabled()
    release()
    expect(p.locator(".bubble.them", has_text="echo: held message")).to_be_visible()
    expect(p.locator(".bubble.you", has_text="held message")).to_have_count(1)
    p.route("**/channels/web/send", lambda r: r.abort())  # the newest handler runs first
    p.get_by_label("Message").fill("doomed message")
    p.get_by_label("Message").press("Enter")
    expect(p.locator(".system", has_text="send failed:")).to_be_visible()
    expect(p.locator(".bubble.you", has_text="doomed message")).to_be_visible()
    c.close()


@check
def chat_stream_cut_re_mints_reconnects_and_switching_closes(b, hub):
    c, p = chat(b, hub, "eng")
    first = live_stream(c, hub, "/turn-events")
    mints = hub.mints
    hub.cut_streams(first)
    # the first error re-mints the operator token and reconnects with a fresh ticket
    wait(lambda: len(c.urls("/turn-events")) >= 2, "a reconnect")
    second = live_stream(c, hub, "/turn-events")
    expect(p.locator(".chat .status")).to_have_text("live - eng")
    assert second != first, "a fresh ticket per connection"
    assert hub.mints == mints + 1, f"one re-mint on the first stream error ({hub.mints - mints})"
    # a turn is running when the stream goes down for longer: the stream is refused while
    # the "hub" is down, so the page backs off and keeps retrying with a fresh ticket each
    # time (no further re-mint) and comes back once it answers again
    box = p.get_by_label("Message")
    box.fill("[fake:sleep:2500] across the cut")
    box.press("Enter")
    expect(p.locator(".bubble.live .chip", has_text="Bash")).to_be_visible()
    hub.block_streams = True
    n = len(c.urls("/turn-events"))
    hub.cut_streams(second)
    expect(p.locator(".chat .status")).to_have_text("reconnecting...")
    wait(lambda: len(c.urls("/turn-events")) >= n + 3, "retries while refused", timeout=30)
    assert hub.mints == mints + 2, f"one re-mint per streak of errors ({hub.mints - mints})"
    times = [t for (t, path) in hub.refused if "/turn-events" in path]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert gaps and all(g2 > g1 * 1.3 for g1, g2 in zip(gaps, gaps[1:])), f"back-off grows: {gaps}"
    wait(lambda: any("across the cut" in (m.get("text") or "") and m["direction"] == "outbound"
                     for m in call("GET", "/api/channels/eng/messages")[1]["messages"]),
         "the turn to end while the stream is down", timeout=30)
    hub.block_streams = False
    live_stream(c, hub, "/turn-events")
    expect(p.locator(".chat .status")).to_have_text("live - eng")
    # the missed `done`: the transcript catches up once and the stale live bubble goes
    expect(p.locator(".bubble.them", has_text="across the cut")).to_have_count(1)
    expect(p.locator(".bubble.live")).to_have_count(0)
    tickets = [re.search(r"ticket=([^&]+)", u).group(1) for u in c.urls("/turn-events") if "ticket=" in u]
    assert len(set(tickets)) == len(tickets), f"a fresh ticket per connection: {tickets}"
    # a turn still arrives on the new stream
    p.get_by_label("Message").fill("after the cut")
    p.get_by_label("Message").press("Enter")
    expect(p.locator(".bubble.them", has_text="echo: after the cut")).to_be_visible(timeout=30_000)
    p.locator("#chat-channel").select_option("web")
    expect(p.locator(".chat .status")).to_have_text("live - web")
    wait(lambda: not any(hub.open_streams(t) for t in c.tickets("/turn-events")), "the old stream closed")
    c.close()


@check
def no_token_in_storage_or_stream_urls(b, hub):
    c, p = chat(b, hub, "eng")
    stored = p.evaluate("localStorage.length + sessionStorage.length")
    assert stored == 0, stored
    streams = hub.paths("/turn-events") + hub.paths("/ui/events")
    assert streams and all("ticket=" in u for u in streams), streams
    assert not any("token=" in u or "eyJ" in u for u in streams), streams
    assert not any("eyJ" in r.url for r in c.requests), "no JWT in any URL"
    c.close()


# ---- standalone sign-in, look ----------------------------------------------------------------
@check
def one_time_login_link_signs_in_once(b, hub):
    link = subprocess.run([BIN, "login-url", "--port", str(CFG["bare"]["port"]), "--state-dir", CFG["bare"]["state_dir"]],
                          capture_output=True, text=True, check=True).stdout.strip()
    c, p = open_page(b, link)
    expect(p.get_by_text("No agents yet.")).to_be_visible()
    expect(p.get_by_role("form", name="Sign in")).to_have_count(0)
    assert "#login" not in p.url and p.url == f"{BARE_D}/app/", p.url
    assert p.evaluate("localStorage.length + sessionStorage.length") == 0
    c.close()
    c, p = open_page(b, link)
    expect(p.get_by_text("This sign-in link is invalid, used or expired")).to_be_visible()
    expect(p.get_by_role("form", name="Sign in")).to_be_visible()
    c.close()


@check
def phone_width_and_dark_scheme(b, hub):
    c = Ctx(b, viewport={"width": 375, "height": 740}, color_scheme="dark")
    p = c.page
    p.goto(f"{hub.origin}/agent/app/")
    agents_ready(p)
    open_detail(p, "eng")
    wide = p.evaluate("document.documentElement.scrollWidth")
    assert wide <= 376, f"page is {wide}px wide on a 375px phone"
    # no list hides columns behind a sideways scroll: wide tables stack one block per row
    expect(p.locator("section[aria-label='Def-vaults'] tr[data-vault]").first).to_be_visible()
    clipped = p.evaluate("""[...document.querySelectorAll('.table-wrap')].filter(w => w.scrollWidth > w.clientWidth + 1)
        .map(w => w.closest('section').getAttribute('aria-label') + ': ' + w.scrollWidth + '>' + w.clientWidth)""")
    assert not clipped, clipped
    bg = p.evaluate("getComputedStyle(document.body).backgroundColor")
    nums = [int(x) for x in re.findall(r"\d+", bg)[:3]]
    assert sum(nums) < 150, f"dark background expected, got {bg}"
    unlabeled = p.evaluate("""[...document.querySelectorAll('input,select,textarea,button')].filter(e =>
        !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !(e.textContent || '').trim()).length""")
    assert unlabeled == 0, f"{unlabeled} unlabelled controls"
    c.close()


# ---- screenshots ------------------------------------------------------------------------------
def screenshots(b, hub, out):
    os.makedirs(out, exist_ok=True)
    c = Ctx(b)
    p = c.page
    shots = [("agents", "/agent/app/", None), ("agent-detail", "/agent/app/", "eng"), ("create", "/agent/app/create", None),
             ("not-found", "/agent/app/nope", None)]
    for name, path, detail in shots:
        p.goto(f"{hub.origin}{path}")
        p.wait_for_load_state("networkidle")
        if detail:
            open_detail(p, detail)
            p.wait_for_load_state("networkidle")
        p.screenshot(path=os.path.join(out, f"{name}.png"), full_page=True)
    c.close()
    # Chat: one answered message, then a turn caught while it works (text + a tool chip).
    c, p = chat(b, hub, "eng")
    box = p.get_by_label("Message")
    box.fill("Which notes changed since yesterday?")
    box.press("Enter")
    expect(p.locator(".bubble.them", has_text="Which notes changed")).to_be_visible(timeout=30_000)
    # the fake claude reads its knobs from the channel's env store: a slow next turn
    call("POST", "/api/step-up/pin", {"newPin": PIN})
    call("POST", "/api/credentials/env", {"channel": "eng", "name": "FAKE_CLAUDE_DELAY_MS", "value": "20000"},
         {"X-Step-Up-Token": step_up_token()})
    box.fill("Summarise them for the standup.")
    box.press("Enter")
    expect(p.locator(".bubble.live .chip", has_text="Bash")).to_be_visible()
    p.evaluate("document.activeElement.blur()")
    p.set_viewport_size({"width": 1280, "height": 760})
    p.screenshot(path=os.path.join(out, "chat.png"))
    c.close()
    c, p = open_page(b, f"{hub.origin}/agent/app/nope")
    p.get_by_role("button", name="Step-up PIN").click()
    expect(p.get_by_role("dialog")).to_be_visible()
    p.screenshot(path=os.path.join(out, "step-up.png"))
    c.close()
    c = Ctx(b, viewport={"width": 390, "height": 844}, color_scheme="dark")
    c.page.goto(f"{hub.origin}/agent/app/")
    agents_ready(c.page)
    c.page.screenshot(path=os.path.join(out, "agents-phone-dark.png"), full_page=True)
    c.close()
    print(f"screenshots in {out}")


def main():
    hub = FakeHub(CFG["hub"]["port"], BIN, CFG["hub"]["state_dir"])
    HUB["origin"] = hub.origin
    failed = []
    with sync_playwright() as pw:
        # launch() gives the browser a fresh temporary profile (user-data-dir) every run.
        b = pw.chromium.launch(executable_path=os.environ.get("PARACHUTE_TEST_CHROMIUM", "/usr/bin/chromium"),
                               args=ARGS, headless=True)
        try:
            if CFG.get("screenshots"):
                screenshots(b, hub, CFG["screenshots"])
                return 0
            only = os.environ.get("UI_TEST_ONLY")
            for fn in CHECKS:
                if only and only not in fn.__name__:
                    continue
                t0 = time.time()
                try:
                    fn(b, hub)
                    print(f"PASS {fn.__name__} ({time.time() - t0:.1f}s)", flush=True)
                except Exception:
                    failed.append(fn.__name__)
                    print(f"FAIL {fn.__name__}\n{traceback.format_exc()}", flush=True)
                    for ctx in OPEN:
                        print("  page trace (last 40):\n    " + "\n    ".join(ctx.trace[-40:]), flush=True)
                finally:
                    for ctx in OPEN[:]:
                        OPEN.remove(ctx)
                        ctx.context.close()
        finally:
            b.close()
            hub.close()
    print("FIGURES " + json.dumps(FIGURES), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
