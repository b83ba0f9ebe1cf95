"""Shared by the daemon benchmarks: a client of one http-ui channel as a page sees it —
POSTs with a bearer, the channel's /ui/events stream (one-time ticket), the next `reply`."""
import http.client
import json
import urllib.parse


class Page:
    def __init__(self, base, token, channel, timeout=120):
        self.u = urllib.parse.urlparse(base)
        self.token = token
        self.channel = channel
        ticket = self.post("/api/ui/sse-ticket", {})["ticket"]
        sse = http.client.HTTPConnection(self.u.hostname, self.u.port, timeout=timeout)
        sse.request("GET", "/ui/events?channel=%s&ticket=%s" % (channel, ticket))
        self.stream = sse.getresponse()
        assert self.stream.status == 200, self.stream.status

    def post(self, path, body):
        c = http.client.HTTPConnection(self.u.hostname, self.u.port, timeout=30)
        c.request("POST", path, json.dumps(body),
                  {"Authorization": "Bearer " + self.token, "Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        c.close()
        if r.status != 200:
            raise SystemExit("POST %s -> %d %s" % (path, r.status, data))
        return json.loads(data)

    def send(self, text):
        return self.post("/api/channels/%s/send" % self.channel, {"text": text})

    def next_reply(self):
        event = None
        while True:
            line = self.stream.fp.readline().decode()
            if not line:
                raise SystemExit("stream closed")
            line = line.rstrip("\r\n")
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event == "reply":
                return json.loads(line[5:])


def pct(v, p):
    v = sorted(v)
    return v[int(round(p / 100 * (len(v) - 1)))]
