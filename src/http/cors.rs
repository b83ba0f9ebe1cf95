//! CORS on every response (spec 01 §10, 06 §6: the reference after rc.10): any `OPTIONS`
//! request is answered `204` with these headers before routing, and every other response
//! carries them too. The allowed origins are a knob (`PARACHUTE_AGENT_CORS_ORIGINS`):
//! `*` (the default, as upstream) or a list, for which the request's `Origin` is echoed
//! when listed (with `Vary: Origin`) and nothing is sent otherwise.
//! `Access-Control-Allow-Credentials` is never sent: browsers never attach cookies, every
//! call carries its bearer explicitly.
//!
//! [ext] Beyond upstream's `GET, POST, OPTIONS` / `Authorization, Content-Type`, the lists
//! name what our routes really take (`PATCH`, `DELETE`, the step-up and MCP headers), and
//! `Mcp-Session-Id` is exposed so a browser MCP client can read it.

/// Which origins may read responses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    Any,
    List(Vec<String>),
}

impl CorsOrigins {
    /// From the configured list (already trimmed, no trailing `/`): empty, or a `*`
    /// anywhere, means any origin.
    pub fn from_list(list: &[String]) -> CorsOrigins {
        if list.is_empty() || list.iter().any(|o| o == "*") {
            CorsOrigins::Any
        } else {
            CorsOrigins::List(list.to_vec())
        }
    }
}

pub const ALLOW_METHODS: &str = "GET, POST, PATCH, DELETE, OPTIONS";
pub const ALLOW_HEADERS: &str =
    "Authorization, Content-Type, X-Step-Up-Token, Mcp-Session-Id, Mcp-Protocol-Version, Last-Event-ID";
pub const EXPOSE_HEADERS: &str = "Mcp-Session-Id";

/// The CORS headers of a response to a request with this `Origin` header.
pub fn headers(origins: &CorsOrigins, request_origin: Option<&str>) -> Vec<(String, String)> {
    let allow = match origins {
        CorsOrigins::Any => Some("*".to_string()),
        CorsOrigins::List(list) => request_origin
            .map(|o| o.trim_end_matches('/'))
            .filter(|o| list.iter().any(|l| l.eq_ignore_ascii_case(o)))
            .map(str::to_string),
    };
    let mut out = Vec::with_capacity(5);
    if let Some(a) = allow {
        out.push(("Access-Control-Allow-Origin".into(), a));
    }
    if matches!(origins, CorsOrigins::List(_)) {
        out.push(("Vary".into(), "Origin".into()));
    }
    out.push(("Access-Control-Allow-Methods".into(), ALLOW_METHODS.into()));
    out.push(("Access-Control-Allow-Headers".into(), ALLOW_HEADERS.into()));
    out.push((
        "Access-Control-Expose-Headers".into(),
        EXPOSE_HEADERS.into(),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(h: &'a [(String, String)], k: &str) -> Option<&'a str> {
        h.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }

    #[test]
    fn any_and_listed_origins() {
        assert_eq!(CorsOrigins::from_list(&[]), CorsOrigins::Any);
        let star = ["https://a.example".to_string(), "*".to_string()];
        assert_eq!(CorsOrigins::from_list(&star), CorsOrigins::Any);
        let list =
            CorsOrigins::from_list(&["https://a.example".into(), "https://b.example".into()]);
        let h = headers(&CorsOrigins::Any, Some("https://x"));
        assert_eq!(get(&h, "Access-Control-Allow-Origin"), Some("*"));
        assert_eq!(get(&h, "Vary"), None);
        let h = headers(&list, Some("https://b.example"));
        assert_eq!(
            get(&h, "Access-Control-Allow-Origin"),
            Some("https://b.example")
        );
        assert_eq!(get(&h, "Vary"), Some("Origin"));
        let h = headers(&list, Some("https://evil.example"));
        assert_eq!(get(&h, "Access-Control-Allow-Origin"), None);
        assert!(h
            .iter()
            .all(|(k, _)| k != "Access-Control-Allow-Credentials"));
    }
}
