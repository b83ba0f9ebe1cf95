#!/usr/bin/env python3
"""The terminal page (spec 06 §2.8, §4 "Terminal page") in a real browser: Debian's
chromium driven by Playwright. Driven by tests/it/terminal/browser.rs, which starts the
daemon and a tmux session `<agent>-agent` running `sh`.

A small hub stand-in sits in front of the daemon, as the hub does in production: it
serves `/admin/agent-token` (the operator token, as the hub's cookie route would), strips
the `/agent` mount prefix, and relays everything else, WebSocket upgrades included, to the
daemon. The page is loaded under both mounts (`/terminal/<agent>` and
`/agent/terminal?agent=<agent>`).

Checks: the three assets load under each mount; the PIN prompts (set + confirm on the
first visit, enter on the second); the socket URL carries cols/rows/token/step_up; typing
sends binary frames and the shell's answer is rendered; a window resize sends a resize
text frame; the session's end (close 1000) shows "session ended" and does not reconnect.

Usage: terminal_page.py --base http://127.0.0.1:<port> --token <admin jwt> --agent <name>
Exit 0 on success; a failed check prints what was seen and exits 1.
"""

import argparse
import json
import socket
import sys
import threading
import time
import urllib.parse

from playwright.sync_api import sync_playwright

PIN = "4821"


class HubStandIn(threading.Thread):
    """Relays to the daemon like the hub: `/agent/...` → `/...`; serves the token route."""

    def __init__(self, daemon_port, token):
        super().__init__(daemon=True)
        self.daemon_port = daemon_port
        self.token = token
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]

    def run(self):
        while True:
            conn, _ = self.listener.accept()
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn):
        try:
            buf = b""
            while b"\r\n\r\n" not in buf:
                chunk = conn.recv(65536)
                if not chunk:
                    conn.close()
                    return
                buf += chunk
            head, rest = buf.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            method, path, version = lines[0].split(" ", 2)
            if path.split("?")[0] == "/admin/agent-token":
                body = json.dumps({"token": self.token, "expires_at": "2999-01-01T00:00:00Z",
                                   "scopes": ["agent:read", "agent:send", "agent:admin"]}).encode()
                conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                             b"cache-control: no-store\r\nconnection: close\r\ncontent-length: "
                             + str(len(body)).encode() + b"\r\n\r\n" + body)
                conn.close()
                return
            if path == "/agent" or path.startswith("/agent/") or path.startswith("/agent?"):
                path = path[len("/agent"):] or "/"
                if path.startswith("?"):
                    path = "/" + path
            upgrade = any(l.lower().startswith("upgrade:") for l in lines[1:])
            headers = [l for l in lines[1:] if upgrade or not l.lower().startswith("connection:")]
            if not upgrade:
                headers.append("Connection: close")
            out = "\r\n".join([f"{method} {path} {version}"] + headers).encode("latin-1")
            upstream = socket.create_connection(("127.0.0.1", self.daemon_port))
            upstream.sendall(out + b"\r\n\r\n" + rest)
            pipe = threading.Thread(target=self.copy, args=(upstream, conn), daemon=True)
            pipe.start()
            self.copy(conn, upstream)
            pipe.join()
        except OSError:
            pass
        finally:
            conn.close()

    @staticmethod
    def copy(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def fail(msg, page=None):
    print("FAIL:", msg)
    if page is not None:
        try:
            print("status:", page.inner_text("#status"))
            print("notice:", page.inner_text("#notice"))
        except Exception as e:  # noqa: BLE001 (diagnostics only)
            print("page unreadable:", e)
    sys.exit(1)


def wait_for(cond, what, page, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        page.wait_for_timeout(100)
    fail(f"timed out waiting for {what}", page)


class Visit:
    """One page load: its dialogs, asset responses and sockets with their frames."""

    def __init__(self, context, url, answers):
        self.page = context.new_page()
        self.dialogs = []
        self.assets = {}
        self.sockets = []
        answers = list(answers)

        def on_dialog(d):
            self.dialogs.append(d.message)
            d.accept(answers.pop(0) if answers else "")

        def on_response(r):
            p = urllib.parse.urlparse(r.url).path
            if "/terminal/assets/" in p:
                self.assets[p] = r.status

        def on_socket(ws):
            rec = {"url": ws.url, "sent": [], "closed": False}
            ws.on("framesent", lambda payload: rec["sent"].append(payload))
            ws.on("close", lambda _ws: rec.update(closed=True))
            self.sockets.append(rec)

        self.page.on("dialog", on_dialog)
        self.page.on("response", on_response)
        self.page.on("websocket", on_socket)
        self.page.goto(url)

    def status(self):
        return self.page.inner_text("#status")

    def screen(self):
        return self.page.inner_text(".xterm-rows")


def check_visit(v, mount, agent, admin):
    page = v.page
    wait_for(lambda: v.status() == f"● attached · {agent}", "attached", page)
    for name in ("xterm.css", "xterm.js", "addon-fit.js"):
        path = f"{mount}/terminal/assets/{name}"
        if v.assets.get(path) != 200:
            fail(f"asset {path}: {v.assets}", page)
    if len(v.sockets) != 1:
        fail(f"expected one socket, got {[s['url'] for s in v.sockets]}", page)
    url = urllib.parse.urlparse(v.sockets[0]["url"])
    q = urllib.parse.parse_qs(url.query)
    if url.path != f"{mount}/terminal/{agent}":
        fail(f"socket path {url.path}", page)
    for key in ("cols", "rows", "token", "step_up"):
        if key not in q:
            fail(f"socket URL without {key}: {v.sockets[0]['url']}", page)
    if q["token"] != [admin] or not q["cols"][0].isdigit() or not q["rows"][0].isdigit():
        fail(f"socket URL query {q}", page)
    sent = v.sockets[0]["sent"]
    wait_for(lambda: any(isinstance(f, str) and '"resize"' in f for f in sent),
             "the resize frame sent on open", page)

    # Typing: binary frames, and the shell's answer on screen.
    before = len(sent)
    page.click("#term")
    page.keyboard.type("echo mount-$((40+2))")
    page.keyboard.press("Enter")
    wait_for(lambda: "mount-42" in v.screen(), "the shell's answer on screen", page)
    typed = sent[before:]
    if not typed or not all(isinstance(f, (bytes, bytearray)) for f in typed):
        fail(f"typing sent non-binary frames: {typed!r}", page)
    # xterm also answers tmux's terminal queries (e.g. device attributes) as input.
    if b"echo mount-$((40+2))\r" not in b"".join(typed):
        fail(f"typed bytes {b''.join(typed)!r}", page)

    # A window resize refits the terminal and sends a resize text frame.
    before = len(sent)
    page.set_viewport_size({"width": 1400, "height": 900})
    wait_for(lambda: any(isinstance(f, str) and json.loads(f).get("type") == "resize"
                         for f in sent[before:]), "a resize frame after the window resize", page)
    frame = json.loads([f for f in sent[before:] if isinstance(f, str)][-1])
    if not (isinstance(frame.get("cols"), int) and isinstance(frame.get("rows"), int)):
        fail(f"resize frame {frame}", page)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--agent", required=True)
    args = ap.parse_args()
    daemon_port = urllib.parse.urlparse(args.base).port
    hub = HubStandIn(daemon_port, args.token)
    hub.start()
    origin = f"http://127.0.0.1:{hub.port}"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium",
                                     args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1000, "height": 700})

        # Daemon-direct mount, agent from the path; first visit sets the PIN.
        v1 = Visit(context, f"{origin}/terminal/{args.agent}", [PIN, PIN])
        check_visit(v1, "", args.agent, args.token)
        if len(v1.dialogs) != 2 or not v1.dialogs[0].startswith("Set a step-up PIN"):
            fail(f"setup prompts: {v1.dialogs}", v1.page)
        v1.page.close()

        # Behind the hub, agent from the query; the PIN is now configured.
        v2 = Visit(context, f"{origin}/agent/terminal?agent={args.agent}", [PIN])
        check_visit(v2, "/agent", args.agent, args.token)
        if v2.dialogs != ["Enter your step-up PIN to open a terminal:"]:
            fail(f"PIN prompt: {v2.dialogs}", v2.page)

        # The session ends: close 1000 → "session ended", and no reconnect.
        v2.page.click("#term")
        v2.page.keyboard.type("exit")
        v2.page.keyboard.press("Enter")
        wait_for(lambda: v2.status() == "session ended", "session ended", v2.page)
        if "tmux session ended" not in v2.page.inner_text("#notice"):
            fail("no session-ended notice", v2.page)
        v2.page.wait_for_timeout(4000)
        if len(v2.sockets) != 1 or v2.status() != "session ended":
            fail(f"reconnected after 1000: {[s['url'] for s in v2.sockets]}", v2.page)
        browser.close()
    print("OK: terminal page checks passed under / and /agent")


if __name__ == "__main__":
    main()
