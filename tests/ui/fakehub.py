"""A fake hub *origin* for the web UI tests (spec 06 §4 "Setup"): what the browser sees as
the hub. It serves the hub routes the SPA calls with the session cookie —
`GET /admin/agent-token` (a real local token minted by `parachute-agent token mint`),
`GET/POST/DELETE /admin/connections`, `POST /admin/grants/<id>/approve`, each 401 without
the cookie `SESSION_COOKIE` (a browser not signed in to the hub) — and proxies
`/agent/*` to the daemon with the prefix stripped (as the hub does, `stripPrefix: true`),
streaming SSE responses chunk by chunk. Tests steer it through attributes (`bad_tokens`,
`delays`, `fail_connections`, `block_streams`) and `cut_streams()`, and read what it
saw in `log`, `mints`, `approvals`, `refused`.
"""
import http.client
import json
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

SESSION_COOKIE = ("hub_session", "operator-signed-in")
HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host", "content-length"}


class FakeHub:
    def __init__(self, daemon_port, binary, state_dir):
        self.daemon_port = daemon_port
        self.binary = binary
        self.state_dir = state_dir
        self.lock = threading.Lock()
        self.log = []  # (method, path-with-query) of every proxied /agent request
        self.mints = 0
        self.bad_tokens = 0  # the next N mints hand out a token the daemon rejects
        self.fail_connections = False
        self.delays = {}  # daemon path -> seconds the proxy waits before forwarding it
        self.block_streams = False  # refuse SSE requests with 503 (a hub that is down)
        self.connections = []
        self.approvals = []
        self.streams = []  # (upstream connection, client socket, target) of open SSE proxies
        self.refused = []  # (monotonic time, target) of stream requests refused by block_streams
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *a):
                pass

            def do_GET(self):
                hub.handle(self)

            do_POST = do_DELETE = do_PATCH = do_PUT = do_GET

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.cut_streams()
        self.server.shutdown()

    # ---- helpers ------------------------------------------------------------------------
    def mint_token(self, ttl="10m"):
        out = subprocess.run(
            [self.binary, "token", "mint", "--scope", "agent:read agent:send agent:admin",
             "--ttl", ttl, "--state-dir", self.state_dir],
            capture_output=True, text=True, check=True)
        return out.stdout.strip()

    def paths(self, needle):
        with self.lock:
            return [p for (_, p) in self.log if needle in p]

    def open_streams(self, needle=""):
        with self.lock:
            return [s for s in self.streams if needle in s[2]]

    def cut_streams(self, needle=""):
        """Cuts the open SSE proxies whose target contains `needle` (all by default)."""
        with self.lock:
            streams = [s for s in self.streams if needle in s[2]]
            self.streams = [s for s in self.streams if needle not in s[2]]
        for conn, sock, _ in streams:
            for s in (getattr(conn, "sock", None), sock):
                try:
                    s.shutdown(2)
                except Exception:
                    pass
                try:
                    s.close()
                except Exception:
                    pass

    # ---- routing ------------------------------------------------------------------------
    def handle(self, h):
        url = urlsplit(h.path)
        n = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(n) if n else b""
        if url.path == "/agent" or url.path.startswith("/agent/"):
            return self.proxy(h, h.path[len("/agent"):] or "/", body)
        if url.path.startswith("/admin/") and not self.signed_in(h):
            return self.json(h, 401, {"error": "unauthorized", "error_description": "sign in to the hub"})
        if url.path == "/admin/agent-token" and h.command == "GET":
            return self.agent_token(h)
        if url.path.startswith("/admin/connections"):
            return self.conns(h, url.path, body)
        if url.path.startswith("/admin/grants/") and url.path.endswith("/approve") and h.command == "POST":
            gid = url.path[len("/admin/grants/"):-len("/approve")]
            b = json.loads(body or b"{}")
            with self.lock:
                self.approvals.append((gid, b))
            if "returnTo" in b:
                return self.json(h, 200, {"authorizeUrl": f"{self.origin}/__oauth?return={b['returnTo']}"})
            return self.json(h, 200, {"ok": True, "status": "approved"})
        if url.path == "/__oauth":
            back = parse_qs(url.query).get("return", ["/agent/app/"])[0]
            back, _, frag = back.partition("#")
            sep = "&" if "?" in back else "?"
            h.send_response(302)
            h.send_header("Location", f"{back}{sep}mcp_connected=1" + (f"#{frag}" if frag else ""))
            h.end_headers()
            return None
        return self.json(h, 404, {"error": "not found"})

    @staticmethod
    def signed_in(h):
        name, value = SESSION_COOKIE
        cookies = [c.strip() for c in (h.headers.get("Cookie") or "").split(";")]
        return f"{name}={value}" in cookies

    def json(self, h, status, value):
        data = json.dumps(value).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def agent_token(self, h):
        with self.lock:
            self.mints += 1
            bad = self.bad_tokens > 0
            if bad:
                self.bad_tokens -= 1
        token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.bad" if bad else self.mint_token()
        expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 600))
        return self.json(h, 200, {"token": token, "expires_at": expires,
                                  "scopes": "agent:read agent:send agent:admin"})

    def conns(self, h, path, body):
        if self.fail_connections:
            return self.json(h, 500, {"error": "connections unavailable"})
        with self.lock:
            if h.command == "GET":
                return self.json(h, 200, {"connections": list(self.connections)})
            if h.command == "POST":
                c = json.loads(body or b"{}")
                self.connections = [x for x in self.connections if x.get("id") != c.get("id")] + [c]
                return self.json(h, 201, {"ok": True, "connection": c})
            if h.command == "DELETE":
                cid = path[len("/admin/connections/"):]
                before = len(self.connections)
                self.connections = [x for x in self.connections if x.get("id") != cid]
                if len(self.connections) == before:
                    return self.json(h, 404, {"error": "not_found"})
                return self.json(h, 200, {"ok": True})
        return self.json(h, 405, {"error": "method"})

    def proxy(self, h, target, body):
        with self.lock:
            self.log.append((h.command, target))
        delay = self.delays.get(urlsplit(target).path)
        if delay:
            time.sleep(delay)  # a slow upstream answer, as a loaded daemon gives
        if self.block_streams and ("/turn-events" in target or "/ui/events" in target):
            with self.lock:
                self.refused.append((time.monotonic(), target))
            return self.json(h, 503, {"error": "hub says no"})
        conn = http.client.HTTPConnection("127.0.0.1", self.daemon_port, timeout=120)
        headers = {k: v for k, v in h.headers.items() if k.lower() not in HOP}
        headers["X-Forwarded-Host"] = h.headers.get("Host", "")
        headers["X-Forwarded-Proto"] = "http"
        conn.request(h.command, target, body=body or None, headers=headers)
        resp = conn.getresponse()
        h.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in HOP:
                h.send_header(k, v)
        sse = (resp.getheader("Content-Type") or "").startswith("text/event-stream")
        if not sse:
            data = resp.read()
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
            conn.close()
            return
        h.end_headers()
        entry = (conn, h.connection, target)
        with self.lock:
            self.streams.append(entry)
        try:
            while True:
                chunk = resp.read1(65536)
                if not chunk:
                    break
                h.wfile.write(chunk)
                h.wfile.flush()
        except Exception:
            pass
        finally:
            with self.lock:
                if entry in self.streams:
                    self.streams.remove(entry)
            conn.close()
