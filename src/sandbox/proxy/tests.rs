//! Proxy protocol tests against a loopback upstream (no sandbox needed).

use super::*;
use crate::sandbox::hosts::HostRule;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;

/// A tiny upstream HTTP server answering `ok` to every request; returns its port.
fn upstream() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    thread::spawn(move || {
        for s in l.incoming().flatten() {
            thread::spawn(move || {
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut line = String::new();
                while r.read_line(&mut line).unwrap_or(0) > 0 {
                    if line == "\r\n" {
                        let mut w = s;
                        let _ = w.write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                        );
                        return;
                    }
                    line.clear();
                }
            });
        }
    });
    port
}

fn allow(rules: &[(&str, Option<u16>)]) -> Allowlist {
    let mut a = Allowlist::default();
    for (h, p) in rules {
        a.push(HostRule::new(h, *p).unwrap());
    }
    a
}

fn read_all(mut s: UnixStream) -> String {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

fn http_via(p: &TurnProxies, request: &str) -> String {
    let mut s = UnixStream::connect(p.http_socket()).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    read_all(s)
}

#[test]
fn connect_and_plain_requests_filtered_by_host_and_port() {
    let port = upstream();
    let other = upstream();
    let tmp = tempfile::tempdir().unwrap();
    let p =
        TurnProxies::start(&tmp.path().join("rt"), allow(&[("127.0.0.1", Some(port))])).unwrap();

    let tunnel = http_via(
        &p,
        &format!("CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\n\r\n"),
    );
    assert!(
        tunnel.starts_with("HTTP/1.1 200 Connection Established\r\n\r\nHTTP/1.1 200 OK"),
        "{tunnel}"
    );
    assert!(tunnel.ends_with("ok"));

    let blocked = http_via(&p, &format!("CONNECT 127.0.0.1:{other} HTTP/1.1\r\n\r\n"));
    assert!(blocked.starts_with("HTTP/1.1 403 Forbidden"), "{blocked}");
    assert!(blocked.contains("X-Proxy-Error: blocked-by-allowlist"));
    assert!(blocked.ends_with("Connection blocked by network allowlist"));

    let plain = http_via(
        &p,
        &format!("GET http://127.0.0.1:{port}/x HTTP/1.1\r\nProxy-Connection: keep-alive\r\n\r\n"),
    );
    assert!(
        plain.starts_with("HTTP/1.1 200 OK") && plain.ends_with("ok"),
        "{plain}"
    );
    let by_name = http_via(
        &p,
        &format!("GET http://localhost:{port}/ HTTP/1.1\r\n\r\n"),
    );
    assert!(by_name.starts_with("HTTP/1.1 403"), "{by_name}");
    let shorthand = http_via(&p, &format!("GET http://127.1:{port}/ HTTP/1.1\r\n\r\n"));
    assert!(shorthand.starts_with("HTTP/1.1 200"), "{shorthand}");
    let bad = http_via(&p, "CONNECT 127.0.0.1:0 HTTP/1.1\r\n\r\n");
    assert!(bad.starts_with("HTTP/1.1 400"), "{bad}");
}

#[test]
fn dial_failure_is_502() {
    // Bind then drop: nothing listens on this port any more.
    let dead = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let tmp = tempfile::tempdir().unwrap();
    let p = TurnProxies::start(&tmp.path().join("rt"), allow(&[("127.0.0.1", None)])).unwrap();
    let r = http_via(&p, &format!("CONNECT 127.0.0.1:{dead} HTTP/1.1\r\n\r\n"));
    assert!(r.starts_with("HTTP/1.1 502 Bad Gateway"), "{r}");
}

fn socks_connect(p: &TurnProxies, host: &str, port: u16) -> (u8, UnixStream) {
    let mut s = UnixStream::connect(p.socks_socket()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&[5, 1, 0]).unwrap();
    assert_eq!(read_n(&mut s, 2).unwrap(), [5, 0]);
    let mut req = vec![5, 1, 0, 3, host.len() as u8];
    req.extend_from_slice(host.as_bytes());
    req.extend_from_slice(&port.to_be_bytes());
    s.write_all(&req).unwrap();
    let rep = read_n(&mut s, 10).unwrap();
    (rep[1], s)
}

#[test]
fn socks5_allows_and_refuses() {
    let port = upstream();
    let tmp = tempfile::tempdir().unwrap();
    let p =
        TurnProxies::start(&tmp.path().join("rt"), allow(&[("127.0.0.1", Some(port))])).unwrap();
    let (code, mut s) = socks_connect(&p, "127.0.0.1", port);
    assert_eq!(code, 0);
    s.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    assert!(read_all(s).ends_with("ok"));
    assert_eq!(socks_connect(&p, "127.0.0.1", port + 1).0, 2);
    assert_eq!(socks_connect(&p, "localhost", port).0, 2);
}

#[test]
fn turns_are_independent_and_drop_cuts_everything() {
    let port = upstream();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("rt");
    let a = TurnProxies::start(&root, allow(&[("127.0.0.1", Some(port))])).unwrap();
    let b = TurnProxies::start(&root, allow(&[("example.com", None)])).unwrap();
    assert_ne!(a.dir(), b.dir());
    assert_eq!(
        std::fs::metadata(a.dir()).unwrap().permissions().mode() & 0o777,
        0o700
    );
    // An open tunnel of turn `a`…
    let mut s = UnixStream::connect(a.http_socket()).unwrap();
    s.write_all(format!("CONNECT 127.0.0.1:{port} HTTP/1.1\r\n\r\n").as_bytes())
        .unwrap();
    let mut buf = [0u8; 39];
    s.read_exact(&mut buf).unwrap();
    assert!(buf.starts_with(b"HTTP/1.1 200"));
    // …is not affected by turn `b` ending, and `b` filters with its own list.
    assert!(http_via(&b, &format!("CONNECT 127.0.0.1:{port} HTTP/1.1\r\n\r\n")).contains("403"));
    let b_dir = b.dir().to_path_buf();
    drop(b);
    assert!(!b_dir.exists());
    s.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    let mut first = [0u8; 15];
    s.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200 OK");
    // Ending turn `a` cuts its connections and removes its sockets.
    let mut idle = UnixStream::connect(a.socks_socket()).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    thread::sleep(Duration::from_millis(50));
    let a_dir = a.dir().to_path_buf();
    drop(a);
    let mut rest = Vec::new();
    assert_eq!(idle.read_to_end(&mut rest).unwrap_or(0), 0);
    assert!(!a_dir.exists());
}

#[test]
fn runtime_root_must_be_ours_and_private() {
    let tmp = tempfile::tempdir().unwrap();
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink("/", &link).unwrap();
    assert!(ensure_runtime_root(&link).is_err());
    let loose = tmp.path().join("loose");
    std::fs::create_dir(&loose).unwrap();
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o777)).unwrap();
    ensure_runtime_root(&loose).unwrap();
    assert_eq!(std::fs::metadata(&loose).unwrap().mode() & 0o777, 0o700);
}
