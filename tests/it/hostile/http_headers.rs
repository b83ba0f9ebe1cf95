//! Oversized heads get 431 and close, and
//! nothing a client sends in `Host` / `X-Forwarded-Host` reaches a response header raw.

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use super::http_common::{daemon_with, raw, read_until_close, status_of, survives};

const WAIT: Duration = Duration::from_secs(10);

/// Streams `head` (never finished) and returns the daemon's answer.
fn send_big_head(
    d: &crate::support::daemon::Daemon,
    parts: impl Iterator<Item = Vec<u8>>,
) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", d.port)).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n").unwrap();
    for p in parts {
        // The daemon stops reading (431) long before the end: write errors are expected.
        if s.write_all(&p).is_err() {
            break;
        }
    }
    read_until_close(&mut s, WAIT).0
}

#[test]
fn oversized_heads_get_431() {
    let d = daemon_with(&[]);
    survives(&d, || {
        // A 16 MiB header line.
        let line =
            std::iter::once(b"X-Big: ".to_vec()).chain((0..256).map(|_| vec![b'a'; 64 * 1024]));
        let r = send_big_head(&d, line);
        assert_eq!(status_of(&r), 431, "{r}");
        assert!(r.contains("request header fields too large"), "{r}");
        // 100,000 small headers.
        let many = (0..1000).map(|i| {
            (0..100)
                .map(|j| format!("X-H{i}-{j}: v\r\n"))
                .collect::<String>()
                .into_bytes()
        });
        let r = send_big_head(&d, many);
        assert_eq!(status_of(&r), 431, "{r}");
        // 100 headers are fine; 101 are not (the default count limit).
        let head = |n: usize| {
            let mut h = String::from("GET /health HTTP/1.1\r\nConnection: close\r\n");
            for i in 1..n {
                h.push_str(&format!("X-H{i}: v\r\n"));
            }
            h + "\r\n"
        };
        assert_eq!(status_of(&raw(&d, head(100).as_bytes(), WAIT)), 200);
        assert_eq!(status_of(&raw(&d, head(101).as_bytes(), WAIT)), 431);
    });
}

#[test]
fn header_limits_are_knobs() {
    let d = daemon_with(&[
        ("PARACHUTE_AGENT_MAX_HEADER_BYTES", "2048"),
        ("PARACHUTE_AGENT_MAX_HEADERS", "10"),
    ]);
    let big = format!(
        "GET /health HTTP/1.1\r\nHost: x\r\nX-A: {}\r\n\r\n",
        "a".repeat(3000)
    );
    assert_eq!(status_of(&raw(&d, big.as_bytes(), WAIT)), 431);
    let many: String = (0..11).map(|i| format!("X-{i}: v\r\n")).collect();
    let req = format!("GET /health HTTP/1.1\r\n{many}\r\n");
    assert_eq!(status_of(&raw(&d, req.as_bytes(), WAIT)), 431);
    let ok = "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    assert_eq!(status_of(&raw(&d, ok.as_bytes(), WAIT)), 200);
}

/// The `WWW-Authenticate` header of a raw response, if any.
fn challenge(r: &str) -> Option<String> {
    r.split("\r\n")
        .find(|l| l.to_ascii_lowercase().starts_with("www-authenticate:"))
        .map(str::to_string)
}

#[test]
fn host_and_forwarded_host_never_reach_a_header_raw() {
    let d = daemon_with(&[]);
    survives(&d, || {
        // Control bytes in any header: 400 at the connection layer.
        for bad in [
            "Host: x\rInjected: 1",
            "Host: x\nInjected: 1",
            "Host: x\r\nX-Forwarded-Host: a\rInjected: 1",
            "Host: x\r\nX-Forwarded-Host: a\u{0}b",
        ] {
            let req = format!("POST /mcp/web HTTP/1.1\r\n{bad}\r\nContent-Length: 0\r\n\r\n");
            let r = raw(&d, req.as_bytes(), WAIT);
            assert_eq!(status_of(&r), 400, "{bad:?}: {r}");
            assert!(!r.contains("Injected"), "{bad:?}: {r}");
        }
        // A Host that is not an authority: 400 (RFC 9112 §3.2), as are two Hosts.
        for bad in ["Host: a\"b", "Host: a b", "Host: x\r\nHost: y", "Host: a/b"] {
            let req = format!("POST /mcp/web HTTP/1.1\r\n{bad}\r\nContent-Length: 0\r\n\r\n");
            let r = raw(&d, req.as_bytes(), WAIT);
            assert_eq!(status_of(&r), 400, "{bad:?}: {r}");
            assert!(challenge(&r).is_none(), "{bad:?}: {r}");
        }
        // An invalid X-Forwarded-Host (or -Proto) is ignored: the challenge is built
        // from the valid Host.
        let want = format!(
            "WWW-Authenticate: Bearer resource_metadata=\"http://127.0.0.1:{}/.well-known/oauth-protected-resource/mcp/web\"",
            d.port
        );
        for fwd in [
            "X-Forwarded-Host: evil\"x",
            "X-Forwarded-Host: a, b",
            "X-Forwarded-Host: a@b",
        ] {
            let req = format!(
                "POST /mcp/web HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n{fwd}\r\n\
                 Content-Length: 0\r\nConnection: close\r\n\r\n",
                d.port
            );
            let r = raw(&d, req.as_bytes(), WAIT);
            assert_eq!(status_of(&r), 401, "{fwd:?}: {r}");
            assert_eq!(
                challenge(&r).as_deref(),
                Some(want.as_str()),
                "{fwd:?}: {r}"
            );
        }
        let req = "POST /mcp/web HTTP/1.1\r\nHost: x\r\nX-Forwarded-Host: h.example\r\n\
                   X-Forwarded-Proto: javascript\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        let r = raw(&d, req.as_bytes(), WAIT);
        assert_eq!(
            challenge(&r).as_deref(),
            Some("WWW-Authenticate: Bearer resource_metadata=\"https://h.example/agent/.well-known/oauth-protected-resource/mcp/web\""),
            "{r}"
        );
    });
}
