#!/usr/bin/env python3
"""Client of scripts/bench-hostile.sh: /health latency while hostile clients run at once.

Attackers (all on loopback, all bounded in count and time, all stop with the run):
  * slowloris: N connections that send a partial request head and one more header byte
    per second (reconnecting when the daemon cuts them);
  * idle: M connections that never send a byte (reconnecting when closed);
  * flood: F threads posting 100 MiB bodies back to back, half with Content-Length and half
    chunked, as fast as the daemon takes them.
A probe measures GET /health (fresh connection each time) every 50 ms throughout.
Prints p50/p99/max of the probe, its failures, and the daemon's RSS before, at its peak
during the attack, and after the attackers left.
"""
import argparse
import selectors
import socket
import threading
import time

MIB = 1024 * 1024


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def connect(port, timeout=2.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setblocking(False)
    return s


def health(port, timeout=5.0):
    t = time.monotonic()
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        s.settimeout(timeout)
        s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
        s.close()
        ok = data.startswith(b"HTTP/1.1 200")
    except OSError:
        ok = False
    return time.monotonic() - t, ok


class Holders:
    """Slowloris and idle connections on one selector thread."""

    def __init__(self, port, slow, idle):
        self.port, self.slow_n, self.idle_n = port, slow, idle
        self.sel = selectors.DefaultSelector()
        self.slow, self.reconnects, self.connect_errors = [], 0, 0
        self.stop = threading.Event()

    def open(self, kind):
        try:
            s = connect(self.port)
        except OSError:
            self.connect_errors += 1
            return
        if kind == "slow":
            try:
                s.send(b"GET /health HTTP/1.1\r\nHost: x\r\n")
            except OSError:
                pass
            self.slow.append(s)
        self.sel.register(s, selectors.EVENT_READ, kind)

    def close(self, s, kind):
        self.sel.unregister(s)
        if kind == "slow" and s in self.slow:
            self.slow.remove(s)
        s.close()
        self.reconnects += 1
        if not self.stop.is_set():
            self.open(kind)

    def run(self):
        for i in range(max(self.slow_n, self.idle_n)):
            if i < self.slow_n:
                self.open("slow")
            if i < self.idle_n:
                self.open("idle")
        next_byte = time.monotonic() + 1
        while not self.stop.is_set():
            for key, _ in self.sel.select(timeout=0.2):
                try:
                    gone = key.fileobj.recv(65536) == b""
                except BlockingIOError:
                    gone = False
                except OSError:
                    gone = True
                if gone:
                    self.close(key.fileobj, key.data)
            if time.monotonic() >= next_byte:
                next_byte += 1
                for s in list(self.slow):
                    try:
                        s.send(b"X")
                    except OSError:
                        pass
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()

    def open_count(self):
        return len(self.sel.get_map())


def flood(port, chunked, stop, stats):
    chunk = b"a" * MIB
    while not stop.is_set():
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.settimeout(5)
            if chunked:
                head = b"Transfer-Encoding: chunked\r\n"
            else:
                head = b"Content-Length: %d\r\n" % (100 * MIB)
            s.sendall(b"POST /api/vault/inbound HTTP/1.1\r\nHost: x\r\n" + head + b"\r\n")
            for _ in range(100):
                if stop.is_set():
                    break
                s.sendall(b"100000\r\n" + chunk + b"\r\n" if chunked else chunk)
                stats["sent"] += MIB
            if chunked:
                s.sendall(b"0\r\n\r\n")
            status = s.recv(64)[9:12]
        except OSError:
            status = b"cut"
        stats[status] = stats.get(status, 0) + 1
        try:
            s.close()
        except Exception:
            pass


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))] if xs else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--slowloris", type=int, default=1000)
    ap.add_argument("--idle", type=int, default=2000)
    ap.add_argument("--flooders", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=15)
    a = ap.parse_args()

    baseline = [health(a.port)[0] for _ in range(20)]
    rss_before = rss_kib(a.pid)
    holders = Holders(a.port, a.slowloris, a.idle)
    stop = threading.Event()
    stats = {"sent": 0}
    threads = [threading.Thread(target=holders.run, daemon=True)]
    threads += [
        threading.Thread(target=flood, args=(a.port, i % 2 == 1, stop, stats), daemon=True)
        for i in range(a.flooders)
    ]
    for t in threads:
        t.start()
    lat, fails, peak = [], 0, rss_before
    end = time.monotonic() + a.seconds
    while time.monotonic() < end:
        dt, ok = health(a.port)
        if ok:
            lat.append(dt)
        else:
            fails += 1
        peak = max(peak, rss_kib(a.pid))
        time.sleep(0.05)
    held = holders.open_count()
    stop.set()
    holders.stop.set()
    for t in threads:
        t.join(timeout=10)
    time.sleep(7)  # idle connection threads retire after 5 s
    after = [health(a.port) for _ in range(20)]
    rss_after = rss_kib(a.pid)
    ms = lambda x: f"{x * 1000:.1f} ms"
    print(f"attack: {a.slowloris} slowloris + {a.idle} idle + {a.flooders} x 100 MiB-body flooders, {a.seconds:.0f} s")
    print(f"/health before attack: p50 {ms(pct(baseline, 0.5))}  p99 {ms(pct(baseline, 0.99))}")
    print(f"/health under attack:  p50 {ms(pct(lat, 0.5))}  p99 {ms(pct(lat, 0.99))}  max {ms(max(lat) if lat else float('nan'))}  ok {len(lat)}  failed {fails}")
    print(f"/health after attack:  p50 {ms(pct([d for d, _ in after], 0.5))}  ok {sum(ok for _, ok in after)}/20")
    print(f"attackers: {held} holder connections open at the end, {holders.reconnects} cut and reopened, {holders.connect_errors} connects refused")
    flood_status = {k.decode() if isinstance(k, bytes) else k: v for k, v in stats.items() if k != "sent"}
    print(f"flood: {stats['sent'] // MIB} MiB sent, answers {flood_status}")
    print(f"RSS: before {rss_before // 1024} MiB, peak {peak // 1024} MiB, after {rss_after // 1024} MiB")


if __name__ == "__main__":
    main()
