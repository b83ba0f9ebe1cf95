//! The HTTP proxy protocol of a turn's `h.sock` (spec 04 §1.6.4): `CONNECT host:port`
//! tunnels and plain absolute-URI requests, both filtered by the turn's allowlist.
//! Refusal: `403` + `X-Proxy-Error: blocked-by-allowlist`; dial failure: `502`; a
//! malformed request or port: `400`.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;

use super::{splice, Conn, HANDSHAKE_TIMEOUT};
use crate::sandbox::hosts::Origin;

const MAX_HEAD: usize = 64 * 1024;

const BLOCKED: &str = "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\n\
X-Proxy-Error: blocked-by-allowlist\r\nContent-Length: 39\r\nConnection: close\r\n\r\n\
Connection blocked by network allowlist";
const BAD_REQUEST: &str =
    "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
const BAD_GATEWAY: &str = "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\n\
Content-Length: 11\r\nConnection: close\r\n\r\nBad Gateway";
const ESTABLISHED: &str = "HTTP/1.1 200 Connection Established\r\n\r\n";

/// Hop-by-hop headers never forwarded on a plain request.
const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "proxy-connection",
    "keep-alive",
    "proxy-authorization",
    "te",
    "trailer",
    "upgrade",
];

pub(super) fn handle(client: UnixStream, conn: &Conn<'_>) -> io::Result<()> {
    client.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
    let mut reader = BufReader::new(client.try_clone()?);
    let mut client = client;
    let Some(head) = read_head(&mut reader)? else {
        return client.write_all(BAD_REQUEST.as_bytes());
    };
    let pending = reader.buffer().to_vec();
    let mut parts = head[0].split_whitespace();
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return client.write_all(BAD_REQUEST.as_bytes());
    };
    let (host, port, request) = if method.eq_ignore_ascii_case("CONNECT") {
        let Some((host, port)) = split_host_port(target) else {
            return client.write_all(BAD_REQUEST.as_bytes());
        };
        (host.to_string(), port, None)
    } else {
        let Some((origin, path)) = absolute_uri(target) else {
            return client.write_all(BAD_REQUEST.as_bytes());
        };
        let Some(port) = origin.effective_port() else {
            return client.write_all(BAD_REQUEST.as_bytes());
        };
        let req = rewrite_head(method, &path, version, &head[1..], &origin.host);
        (origin.host, port, Some(req))
    };
    let Some(allowed) = conn.allows(&host, port) else {
        log::info!("sandbox proxy: blocked {host}:{port} (not in the allowlist)");
        return client.write_all(BLOCKED.as_bytes());
    };
    let mut upstream = match conn.dial(&allowed, port) {
        Ok(u) => u,
        Err(e) => {
            log::debug!("sandbox proxy: dial {allowed}:{port} failed: {e}");
            return client.write_all(BAD_GATEWAY.as_bytes());
        }
    };
    client.set_read_timeout(None)?;
    match request {
        None => client.write_all(ESTABLISHED.as_bytes())?,
        Some(req) => upstream.write_all(req.as_bytes())?,
    }
    splice(client, upstream, &pending)
}

/// The request line and header lines (without CR/LF); `None` when malformed or too big.
fn read_head(r: &mut impl BufRead) -> io::Result<Option<Vec<String>>> {
    let mut lines = Vec::new();
    let mut total = 0;
    loop {
        let mut buf = Vec::new();
        let n = r.read_until(b'\n', &mut buf)?;
        total += n;
        if n == 0 || total > MAX_HEAD {
            return Ok(None);
        }
        let line = String::from_utf8_lossy(&buf)
            .trim_end_matches(['\r', '\n'])
            .to_string();
        if line.is_empty() {
            return Ok((!lines.is_empty()).then_some(lines));
        }
        lines.push(line);
    }
}

/// `host:port` or `[v6]:port`, port 1..=65535.
pub(crate) fn split_host_port(target: &str) -> Option<(&str, u16)> {
    let (host, port) = target.rsplit_once(':')?;
    let port = port.parse::<u16>().ok().filter(|p| *p != 0)?;
    if host.is_empty() || (host.contains(':') && !host.starts_with('[')) {
        return None;
    }
    Some((host, port))
}

/// `http://host[:port]/path?q` → (origin, `/path?q`).
fn absolute_uri(target: &str) -> Option<(Origin, String)> {
    let (scheme, rest) = target.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    let origin = Origin::parse(target)?;
    let path = match rest.find(['/', '?']) {
        Some(i) if rest[i..].starts_with('?') => format!("/{}", &rest[i..]),
        Some(i) => rest[i..].to_string(),
        None => "/".to_string(),
    };
    Some((origin, path))
}

/// The request head sent upstream: origin-form target, hop-by-hop headers (and those
/// named by `Connection`) removed, `Host` ensured, `Connection: close`.
fn rewrite_head(method: &str, path: &str, version: &str, headers: &[String], host: &str) -> String {
    let named: Vec<String> = headers
        .iter()
        .filter_map(|h| h.split_once(':'))
        .filter(|(n, _)| n.trim().eq_ignore_ascii_case("connection"))
        .flat_map(|(_, v)| v.split(',').map(|t| t.trim().to_ascii_lowercase()))
        .collect();
    let mut out = format!("{method} {path} {version}\r\n");
    let mut has_host = false;
    for h in headers {
        let name = h
            .split(':')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if HOP_BY_HOP.contains(&name.as_str()) || named.contains(&name) {
            continue;
        }
        has_host |= name == "host";
        out.push_str(h);
        out.push_str("\r\n");
    }
    if !has_host {
        out.push_str(&format!("Host: {host}\r\n"));
    }
    out.push_str("Connection: close\r\n\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_forms() {
        assert_eq!(split_host_port("a.com:443"), Some(("a.com", 443)));
        assert_eq!(split_host_port("[::1]:80"), Some(("[::1]", 80)));
        assert_eq!(split_host_port("a.com:0"), None);
        assert_eq!(split_host_port("a.com:70000"), None);
        assert_eq!(split_host_port("a.com"), None);
        assert_eq!(split_host_port("::1:80"), None);
    }

    #[test]
    fn absolute_uri_and_head_rewrite() {
        let (o, p) = absolute_uri("http://127.0.0.1:8080/x?y=1").unwrap();
        assert_eq!(
            (o.host.as_str(), o.effective_port(), p.as_str()),
            ("127.0.0.1", Some(8080), "/x?y=1")
        );
        let (o, p) = absolute_uri("http://Example.com?q").unwrap();
        assert_eq!(
            (o.host.as_str(), o.effective_port(), p.as_str()),
            ("example.com", Some(80), "/?q")
        );
        assert!(absolute_uri("/relative").is_none());
        assert!(absolute_uri("ftp://x/").is_none());
        let head = rewrite_head(
            "GET",
            "/x",
            "HTTP/1.1",
            &[
                "Proxy-Connection: keep-alive".into(),
                "Connection: X-Secret".into(),
                "X-Secret: 1".into(),
                "Accept: */*".into(),
            ],
            "example.com",
        );
        assert_eq!(
            head,
            "GET /x HTTP/1.1\r\nAccept: */*\r\nHost: example.com\r\nConnection: close\r\n\r\n"
        );
    }
}
