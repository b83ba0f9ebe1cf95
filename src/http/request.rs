//! Incoming requests: method, the raw and the decoded path, query parameters, headers,
//! and a size-limited body (spec 01 §0, spec 08 body limit). Path decoding happens once,
//! here: a bad percent escape or a `..`/`.` segment is rejected before any routing.

use std::io::Read;

use percent_encoding::percent_decode_str;
use serde_json::Value;

use super::error::ApiError;

/// Why a request line cannot be routed.
#[derive(Debug, PartialEq)]
pub enum PathError {
    Encoding,
    DotSegment,
}

/// A decoded request path: raw segments (still percent-encoded) and decoded ones.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedPath {
    pub raw: String,
    pub raw_segments: Vec<String>,
    pub segments: Vec<String>,
    pub query: Vec<(String, String)>,
}

/// Splits `url` (path + optional query) and decodes every path segment.
pub fn parse_url(url: &str) -> Result<ParsedPath, PathError> {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let path = if path.is_empty() { "/" } else { path };
    let raw_segments: Vec<String> = path.split('/').skip(1).map(str::to_string).collect();
    let mut segments = Vec::with_capacity(raw_segments.len());
    for raw in &raw_segments {
        let decoded = percent_decode_str(raw)
            .decode_utf8()
            .map_err(|_| PathError::Encoding)?;
        if !is_valid_escapes(raw) {
            return Err(PathError::Encoding);
        }
        if decoded == ".." || decoded == "." || raw == ".." || raw == "." {
            return Err(PathError::DotSegment);
        }
        // A decoded segment that itself contains a `..` path component (`a%2F..%2Fb`)
        // is equally a traversal attempt.
        if decoded.split('/').any(|c| c == "..") {
            return Err(PathError::DotSegment);
        }
        segments.push(decoded.into_owned());
    }
    let query = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    Ok(ParsedPath {
        raw: path.to_string(),
        raw_segments,
        segments,
        query,
    })
}

/// `%` must be followed by two hex digits (`percent_decode` silently keeps bad escapes).
fn is_valid_escapes(raw: &str) -> bool {
    let b = raw.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = |j: usize| b.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return false;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    true
}

pub struct Req {
    inner: tiny_http::Request,
    pub method: String,
    pub path: ParsedPath,
    max_body: u64,
    body: Option<Vec<u8>>,
}

impl Req {
    pub(crate) fn new(inner: tiny_http::Request, path: ParsedPath, max_body: u64) -> Req {
        let method = inner.method().as_str().to_ascii_uppercase();
        Req {
            inner,
            method,
            path,
            max_body,
            body: None,
        }
    }

    pub(crate) fn into_inner(self) -> tiny_http::Request {
        self.inner
    }

    pub fn is(&self, method: &str) -> bool {
        self.method == method
    }

    /// The decoded path segments (`/api/channels/a%20b` → `["api","channels","a b"]`).
    pub fn segs(&self) -> Vec<&str> {
        self.path.segments.iter().map(String::as_str).collect()
    }

    /// The raw (undecoded) path, without the query.
    pub fn raw_path(&self) -> &str {
        &self.path.raw
    }

    /// Decoded remainder of the path from segment `i` on, joined with `/` (note ids).
    pub fn rest_from(&self, i: usize) -> Option<String> {
        let rest = self.path.segments.get(i..)?;
        if rest.is_empty() || rest.iter().all(String::is_empty) {
            return None;
        }
        Some(rest.join("/"))
    }

    /// First value of a query parameter.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.path
            .query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The client's address (`None` on a Unix socket).
    pub fn remote_addr(&self) -> Option<std::net::SocketAddr> {
        self.inner.remote_addr().copied()
    }

    /// First value of a header (case-insensitive name). The headers that build URLs are
    /// validated here, once, for every handler: `Host` already by the connection layer
    /// (400 when invalid), `X-Forwarded-Host` must be an authority and
    /// `X-Forwarded-Proto` `http` or `https`, or they count as absent.
    pub fn header(&self, name: &str) -> Option<&str> {
        let value = self
            .inner
            .headers()
            .iter()
            .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())?;
        let valid = if name.eq_ignore_ascii_case("x-forwarded-host") {
            tiny_http::is_valid_authority(value)
        } else if name.eq_ignore_ascii_case("x-forwarded-proto") {
            value.eq_ignore_ascii_case("http") || value.eq_ignore_ascii_case("https")
        } else {
            true
        };
        valid.then_some(value)
    }

    /// The body bytes, read once and capped at the configured limit (413 beyond it,
    /// decided from `Content-Length` before reading when the client sent one).
    pub fn body(&mut self) -> Result<&[u8], ApiError> {
        if self.body.is_none() {
            // A body over the limit was never read by the connection layer.
            if self.inner.body_too_large()
                || self
                    .inner
                    .body_length()
                    .is_some_and(|n| n as u64 > self.max_body)
            {
                return Err(ApiError::PayloadTooLarge);
            }
            let mut buf = Vec::new();
            let limit = self.max_body + 1;
            self.inner
                .as_reader()
                .take(limit)
                .read_to_end(&mut buf)
                .map_err(|_| ApiError::bad_request("could not read request body"))?;
            if buf.len() as u64 > self.max_body {
                return Err(ApiError::PayloadTooLarge);
            }
            self.body = Some(buf);
        }
        Ok(self.body.as_deref().unwrap_or_default())
    }

    /// The body parsed as JSON; empty or invalid → 400 `invalid JSON body`.
    pub fn json(&mut self) -> Result<Value, ApiError> {
        let body = self.body()?;
        serde_json::from_slice(body).map_err(|_| ApiError::InvalidJson)
    }

    /// The body parsed as a JSON object; any other JSON value (null, scalar, array)
    /// is treated like an object with no fields (spec 01 §0).
    pub fn json_object(&mut self) -> Result<serde_json::Map<String, Value>, ApiError> {
        match self.json()? {
            Value::Object(map) => Ok(map),
            _ => Ok(serde_json::Map::new()),
        }
    }

    /// The TCP peer is a loopback address (a proxy on this host counts as loopback too:
    /// check forwarding headers where that matters).
    pub fn peer_is_loopback(&self) -> bool {
        self.inner
            .remote_addr()
            .is_some_and(|a| a.ip().is_loopback())
    }

    /// `http://<Host>`, the origin of this request as the client addressed it.
    pub fn origin(&self) -> String {
        let host = self
            .header("host")
            .filter(|h| tiny_http::is_valid_authority(h));
        format!("http://{}", host.unwrap_or("127.0.0.1"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_segments_and_query() {
        let p = parse_url("/api/channels/a%20b/send?channel=x+y&t=1").unwrap();
        assert_eq!(p.segments, vec!["api", "channels", "a b", "send"]);
        assert_eq!(p.raw_segments[2], "a%20b");
        assert_eq!(
            p.query,
            vec![("channel".into(), "x y".into()), ("t".into(), "1".into())]
        );
        assert_eq!(parse_url("/").unwrap().segments, vec![""]);
        assert_eq!(parse_url("/a/b%2Fc").unwrap().segments, vec!["a", "b/c"]);
    }

    #[test]
    fn rejects_traversal_and_bad_escapes() {
        assert_eq!(parse_url("/a/../b"), Err(PathError::DotSegment));
        assert_eq!(parse_url("/a/%2e%2e/b"), Err(PathError::DotSegment));
        assert_eq!(parse_url("/a/x%2F..%2Fy"), Err(PathError::DotSegment));
        assert_eq!(parse_url("/a/./b"), Err(PathError::DotSegment));
        assert_eq!(parse_url("/a/%E0%A4"), Err(PathError::Encoding));
        assert_eq!(parse_url("/a/%zz"), Err(PathError::Encoding));
        assert_eq!(parse_url("/a/%4"), Err(PathError::Encoding));
    }
}
