"""Driver of scripts/bench-ui.sh: page-load figures of the web UI in Debian's chromium.

Each run is a fresh browser context (empty cache, no token): navigation to `/app/`, then
the app's own performance marks — `pa:first-render` (the shell, nav and the screen's
frame rendered, before any data) and, for the runs that sign in with a one-time link from
`parachute-agent login-url`, `pa:agents-listed` (the Agents list drawn from the API) — and
the paint timing's first contentful paint. The exchange is rate-limited (10 a minute), so
at most 8 runs sign in. Prints medians and maxima, and the JS + CSS bytes fetched.
"""
import argparse
import statistics
import subprocess

from playwright.sync_api import TimeoutError as PwTimeout, sync_playwright

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
MARKS = """() => {
  const m = (n) => { const e = performance.getEntriesByName(n)[0]; return e ? e.startTime : null; };
  const fcp = performance.getEntriesByType('paint').find((p) => p.name === 'first-contentful-paint');
  const code = performance.getEntriesByType('resource').filter((r) => /\\.(js|css)$/.test(new URL(r.name).pathname));
  return { fcp: fcp ? fcp.startTime : null, first: m('pa:first-render'), listed: m('pa:agents-listed'),
           dcl: performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd,
           files: code.length, bytes: code.reduce((n, r) => n + r.decodedBodySize, 0) };
}"""


def login_link(args):
    port = args.base.rsplit(":", 1)[1]
    return subprocess.run([args.bin, "login-url", "--port", port, "--state-dir", args.state_dir],
                          capture_output=True, text=True, check=True).stdout.strip()


def summary(name, values):
    values = [v for v in values if v is not None]
    if not values:
        return f"{name:<34} —"
    return f"{name:<34} median {statistics.median(values):6.1f} ms   max {max(values):6.1f} ms   (n={len(values)})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()
    rows = []
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=args.chromium, args=ARGS, headless=True)
        warm = b.new_context()  # the first navigation of a browser pays its process start-up
        warm.new_page().goto(f"{args.base}/app/")
        warm.close()
        for i in range(args.runs):
            signed = i < min(8, args.runs)
            ctx = b.new_context()
            page = ctx.new_page()
            page.goto(login_link(args) if signed else f"{args.base}/app/")
            page.wait_for_function("() => performance.getEntriesByName('pa:first-render').length > 0")
            if signed:
                try:  # an app without the mark (an older build under --static-dir) reports —
                    page.wait_for_function("() => performance.getEntriesByName('pa:agents-listed').length > 0",
                                           timeout=10_000)
                except PwTimeout:
                    pass
            page.wait_for_load_state("networkidle")
            rows.append((signed, page.evaluate(MARKS)))
            ctx.close()
        b.close()
    print(summary("first contentful paint", [r["fcp"] for _, r in rows]))
    print(summary("first render (pa:first-render)", [r["first"] for _, r in rows]))
    print(summary("DOMContentLoaded", [r["dcl"] for _, r in rows]))
    print(summary("agents listed, signed in by link", [r["listed"] for s, r in rows if s]))
    files, size = rows[-1][1]["files"], rows[-1][1]["bytes"]
    print(f"page weight: {files} JS/CSS files, {size} bytes ({size / 1024:.1f} KiB) uncompressed")


if __name__ == "__main__":
    main()
