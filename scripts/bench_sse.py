#!/usr/bin/env python3
"""SSE broadcast benchmark client for parachute-agent (run by scripts/bench-sse.sh).

Opens N `/events?channel=<ch>` subscribers on one epoll loop, checks `/health` counts them
and still answers, then sends R messages with `POST /api/channels/<ch>/send` and measures,
for every subscriber, the time from the start of the POST to the arrival of the frame
(the POST's own round trip is reported too: the frames are queued while it is handled).
Reports p50/p99/max over all deliveries, the per-round time until the last subscriber got
the frame, and the daemon's RSS (VmRSS) before and with the subscribers.

Latencies include this client's own loop (one Python thread reading N sockets), so they
are an upper bound of the daemon's share.
"""

import argparse
import http.client
import json
import resource
import selectors
import socket
import sys
import time
import urllib.parse


def rss_kib(pid):
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def threads_of(pid):
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def request(host, port, method, path, token=None, body=None, timeout=30):
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    headers = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=headers)
    resp = conn.getresponse()
    text = resp.read()
    conn.close()
    return resp.status, text


def percentile(sorted_vals, p):
    if not sorted_vals:
        return float("nan")
    k = min(len(sorted_vals) - 1, max(0, int(round(p / 100.0 * (len(sorted_vals) - 1)))))
    return sorted_vals[k]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True, help="http://127.0.0.1:PORT")
    ap.add_argument("--token", required=True, help="bearer with agent:read and agent:send")
    ap.add_argument("--channel", default="bench")
    ap.add_argument("--subscribers", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--pid", type=int, default=0, help="daemon pid for RSS")
    ap.add_argument("--burst", type=int, default=1, help="connections opened at once")
    ap.add_argument("--connect-timeout", type=float, default=60.0)
    ap.add_argument("--connection-close", action="store_true",
                    help="send `Connection: close` (frees tiny_http's per-connection thread)")
    args = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.subscribers + 256
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))

    u = urllib.parse.urlparse(args.base)
    host, port = u.hostname, u.port or 80
    rss_before = rss_kib(args.pid)
    threads_before = threads_of(args.pid)

    sel = selectors.DefaultSelector()
    socks = []
    t_open = time.perf_counter()
    req = (
        f"GET /events?channel={urllib.parse.quote(args.channel)} HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\nAuthorization: Bearer {args.token}\r\n"
        "Accept: text/event-stream\r\n"
        + ("Connection: close\r\n" if args.connection_close else "")
        + "\r\n"
    ).encode()
    bufs = [b""] * args.subscribers
    connected = [False] * args.subscribers
    pending = 0

    def pump(deadline):
        nonlocal pending
        while pending and time.time() < deadline:
            for key, _ in sel.select(timeout=1):
                i = key.data
                chunk = key.fileobj.recv(65536)
                if not chunk:
                    sys.exit(f"subscriber {i} closed before connecting: {bufs[i][:200]!r}")
                bufs[i] += chunk
                if not connected[i] and b": connected" in bufs[i]:
                    if not bufs[i].startswith(b"HTTP/1.1 200"):
                        sys.exit(f"subscriber {i} refused: {bufs[i][:200]!r}")
                    connected[i] = True
                    bufs[i] = b""
                    pending -= 1

    # Open in batches of --burst connections, each batch fully connected before the next.
    # (--burst 1 is a steady ramp; a large burst exercises simultaneous connects.)
    for start in range(0, args.subscribers, args.burst):
        for i in range(start, min(start + args.burst, args.subscribers)):
            s = socket.create_connection((host, port))
            s.sendall(req)
            s.setblocking(False)
            socks.append(s)
            sel.register(s, selectors.EVENT_READ, i)
            pending += 1
        pump(time.time() + args.connect_timeout)
        if pending:
            sys.exit(f"{pending} subscribers never connected (burst {args.burst})")
    open_secs = time.perf_counter() - t_open

    t = time.perf_counter()
    status, body = request(host, port, "GET", "/health")
    health_ms = (time.perf_counter() - t) * 1000
    health = json.loads(body)
    if status != 200 or health.get("total_clients") != args.subscribers:
        sys.exit(f"/health did not count the subscribers: {status} {body[:300]!r}")
    rss_with = rss_kib(args.pid)
    threads_with = threads_of(args.pid)

    samples = []
    round_max = []
    post_secs = []
    for r in range(args.rounds):
        marker = f"bench-{r}-{time.time_ns()}".encode()
        got = [None] * len(socks)
        left = len(socks)
        t0 = time.perf_counter()
        status, body = request(
            host, port, "POST", f"/api/channels/{urllib.parse.quote(args.channel)}/send",
            token=args.token, body={"text": marker.decode()},
        )
        post_secs.append(time.perf_counter() - t0)
        if status != 200:
            sys.exit(f"send failed: {status} {body[:300]!r}")
        deadline = time.time() + 30
        while left and time.time() < deadline:
            for key, _ in sel.select(timeout=1):
                i = key.data
                chunk = key.fileobj.recv(65536)
                now = time.perf_counter()
                if not chunk:
                    sys.exit(f"subscriber {i} dropped during round {r}")
                bufs[i] += chunk
                if got[i] is None and marker in bufs[i]:
                    got[i] = now - t0
                    bufs[i] = b""
                    left -= 1
        if left:
            sys.exit(f"round {r}: {left} subscribers never got the broadcast")
        samples.extend(got)
        round_max.append(max(got))

    samples.sort()
    round_max.sort()
    ms = lambda v: round(v * 1000, 2)  # noqa: E731
    result = {
        "subscribers": args.subscribers,
        "rounds": args.rounds,
        "burst": args.burst,
        "connection_close": args.connection_close,
        "connect_all_secs": round(open_secs, 2),
        "health_ms_with_subscribers": round(health_ms, 2),
        "latency_ms": {
            "p50": ms(percentile(samples, 50)),
            "p99": ms(percentile(samples, 99)),
            "max": ms(samples[-1]),
        },
        "send_request_ms": {
            "p50": ms(percentile(sorted(post_secs), 50)),
            "max": ms(max(post_secs)),
        },
        "last_subscriber_ms": {
            "p50": ms(percentile(round_max, 50)),
            "p99": ms(percentile(round_max, 99)),
        },
        "daemon_rss_kib": {"before": rss_before, "with_subscribers": rss_with},
        "daemon_threads": {"before": threads_before, "with_subscribers": threads_with},
    }
    print(json.dumps(result, indent=2))
    for s in socks:
        s.close()


if __name__ == "__main__":
    main()
