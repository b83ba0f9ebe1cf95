//! Host names and the egress allowlist of `network: restricted` (spec 04 §1.4).
//!
//! Owns: reducing an origin or host text to a host (+ port), canonicalising the host a
//! sandboxed client asks for (IPv4 shorthand, IPv6 brackets, trailing dot, case), and
//! matching it against the turn's rules. Pure.
//!
//! [ext] Ports are honoured (gaps G4/G5 of spec 04 §1.9): the base hub/vault entries
//! allow only their own port (explicit, or 80/443 by scheme), the Anthropic entries only
//! 443, and an `egress` entry written with a port allows only that port. An entry without
//! a port allows every port of that host, as in the reference.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A canonical host: a lower-case DNS name or an IP address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Name(String),
    Ip(IpAddr),
}

impl Host {
    /// Canonicalise what a client asked for. `None` = refused (bad characters, `%`, control
    /// characters, malformed numbers): such a host never matches any rule.
    pub fn parse(text: &str) -> Option<Host> {
        let t = text.strip_suffix('.').unwrap_or(text);
        if t.is_empty() || t.chars().any(|c| c.is_control() || c == '%') {
            return None;
        }
        if let Some(inner) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            return inner
                .parse::<Ipv6Addr>()
                .ok()
                .map(|a| Host::Ip(IpAddr::V6(a)));
        }
        if t.contains(':') {
            return t.parse::<Ipv6Addr>().ok().map(|a| Host::Ip(IpAddr::V6(a)));
        }
        let lower = t.to_ascii_lowercase();
        let last = lower.rsplit('.').next().unwrap_or("");
        if parse_ipv4_part(last).is_some() {
            // A host ending in a number is an IPv4 literal or nothing (WHATWG URL rule).
            return parse_ipv4(&lower).map(|a| Host::Ip(IpAddr::V4(a)));
        }
        is_dns_name(&lower).then_some(Host::Name(lower))
    }

    pub fn is_ip(&self) -> bool {
        matches!(self, Host::Ip(_))
    }

    /// The host as a dialer wants it (IPv6 without brackets).
    pub fn dial_name(&self) -> String {
        match self {
            Host::Name(n) => n.clone(),
            Host::Ip(ip) => ip.to_string(),
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(n) => f.write_str(n),
            Host::Ip(IpAddr::V4(a)) => write!(f, "{a}"),
            Host::Ip(IpAddr::V6(a)) => write!(f, "[{a}]"),
        }
    }
}

fn is_dns_name(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|l| !l.is_empty())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
}

/// One part of an IPv4 literal in `inet_aton` syntax: decimal, `0x` hex or leading-0 octal.
fn parse_ipv4_part(p: &str) -> Option<u64> {
    if p.is_empty() {
        return None;
    }
    let (digits, radix) = if let Some(h) = p.strip_prefix("0x").or(p.strip_prefix("0X")) {
        (h, 16)
    } else if p.len() > 1 && p.starts_with('0') {
        (&p[1..], 8)
    } else {
        (p, 10)
    };
    if digits.is_empty() {
        return (radix == 16).then_some(0);
    }
    u64::from_str_radix(digits, radix)
        .ok()
        .filter(|v| *v <= u32::MAX as u64)
}

/// `127.1`, `2130706433`, `0x7f.0.0.1` … → the dotted address (as URL parsers do).
fn parse_ipv4(s: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let nums: Vec<u64> = parts
        .iter()
        .map(|p| parse_ipv4_part(p))
        .collect::<Option<_>>()?;
    let (last, head) = nums.split_last()?;
    if head.iter().any(|n| *n > 255) {
        return None;
    }
    let last_bits = 8 * (4 - head.len() as u32);
    if last_bits < 32 && *last >= (1u64 << last_bits) {
        return None;
    }
    let mut v: u64 = *last;
    for (i, n) in head.iter().enumerate() {
        v |= n << (24 - 8 * i as u32);
    }
    Some(Ipv4Addr::from(v as u32))
}

/// What an origin or host text (`https://hub.example.com:1939/x`, `127.0.0.1:1939`,
/// `registry.npmjs.org`, `*.example.com`) names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Lower-case host text (IPv6 keeps its brackets, `*.` survives).
    pub host: String,
    /// The port written in the text, if any.
    pub port: Option<u16>,
    /// The scheme written in the text, if any (lower-case).
    pub scheme: Option<String>,
}

impl Origin {
    /// `hostFromOrigin` of spec 04 §1.4, keeping the port. Empty/whitespace → `None`.
    pub fn parse(text: &str) -> Option<Origin> {
        let t = text.trim();
        if t.is_empty() {
            return None;
        }
        let (scheme, rest) = match t.find("://") {
            Some(i) => (Some(t[..i].to_ascii_lowercase()), &t[i + 3..]),
            None => (None, t),
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let authority = authority.rsplit('@').next().unwrap_or("");
        let (host, port_text) = if authority.starts_with('[') {
            let end = authority.find(']')?;
            let after = &authority[end + 1..];
            (&authority[..=end], after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        let port = match port_text {
            None | Some("") => None,
            Some(p) => Some(p.parse::<u16>().ok().filter(|p| *p != 0)?),
        };
        if host.is_empty() {
            return None;
        }
        Some(Origin {
            host: host.to_ascii_lowercase(),
            port,
            scheme,
        })
    }

    /// The port written, else the scheme's default (http 80, https 443).
    pub fn effective_port(&self) -> Option<u16> {
        self.port.or(match self.scheme.as_deref() {
            Some("http") | Some("ws") => Some(80),
            Some("https") | Some("wss") => Some(443),
            _ => None,
        })
    }
}

/// The host part of a rule: an exact host or `*.suffix` (any sub-domain, never the
/// suffix itself, never an IP literal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    Exact(Host),
    Wildcard(String),
}

/// One allowlist entry: a host pattern and, optionally, the only port it allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRule {
    pub pattern: HostPattern,
    pub port: Option<u16>,
}

impl HostRule {
    /// A rule from host text and an optional port; `None` when the host is not usable.
    pub fn new(host: &str, port: Option<u16>) -> Option<HostRule> {
        let pattern = match host.strip_prefix("*.") {
            Some(sfx) => {
                let sfx = sfx.to_ascii_lowercase();
                is_dns_name(&sfx).then_some(HostPattern::Wildcard(sfx))?
            }
            None => HostPattern::Exact(Host::parse(host)?),
        };
        Some(HostRule { pattern, port })
    }

    /// The host text alone (the reference's `allowedDomains` entry).
    pub fn host_text(&self) -> String {
        match &self.pattern {
            HostPattern::Exact(h) => h.to_string(),
            HostPattern::Wildcard(s) => format!("*.{s}"),
        }
    }

    pub fn matches(&self, host: &Host, port: u16) -> bool {
        if self.port.is_some_and(|p| p != port) {
            return false;
        }
        match (&self.pattern, host) {
            (HostPattern::Exact(h), _) => h == host,
            (HostPattern::Wildcard(sfx), Host::Name(n)) => n
                .strip_suffix(sfx.as_str())
                .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
            (HostPattern::Wildcard(_), Host::Ip(_)) => false,
        }
    }
}

impl fmt::Display for HostRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(p) => write!(f, "{}:{p}", self.host_text()),
            None => f.write_str(&self.host_text()),
        }
    }
}

/// The immutable allowlist of one restricted turn.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Allowlist {
    pub rules: Vec<HostRule>,
}

impl Allowlist {
    /// Adds a rule unless an identical one is present (first occurrence wins).
    pub fn push(&mut self, rule: HostRule) {
        if !self.rules.contains(&rule) {
            self.rules.push(rule);
        }
    }

    /// Whether a client may connect to `host:port`. `host` is the raw text it asked for.
    pub fn allows(&self, host: &str, port: u16) -> Option<Host> {
        let h = Host::parse(host)?;
        self.rules.iter().any(|r| r.matches(&h, port)).then_some(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(t: &str) -> Option<(String, Option<u16>)> {
        Origin::parse(t).map(|o| (o.host, o.port))
    }

    #[test]
    fn origin_reduction_matches_spec_examples() {
        assert_eq!(
            o("https://hub.example.com:1939/admin"),
            Some(("hub.example.com".into(), Some(1939)))
        );
        assert_eq!(o("127.0.0.1:1939"), Some(("127.0.0.1".into(), Some(1939))));
        assert_eq!(
            o("http://127.0.0.1:1939"),
            Some(("127.0.0.1".into(), Some(1939)))
        );
        assert_eq!(o("https://registry.npmjs.org"), o("registry.npmjs.org"));
        assert_eq!(o("  "), None);
        assert_eq!(o(""), None);
        assert_eq!(o("http://[::1]:8080/x"), Some(("[::1]".into(), Some(8080))));
        assert_eq!(o("*.Example.com"), Some(("*.example.com".into(), None)));
        assert_eq!(o("https://u:p@Host.io/"), Some(("host.io".into(), None)));
        assert_eq!(o("host:notaport"), None);
        let hub = Origin::parse("https://hub.example.com").unwrap();
        assert_eq!(hub.effective_port(), Some(443));
        assert_eq!(
            Origin::parse("http://127.0.0.1").unwrap().effective_port(),
            Some(80)
        );
        assert_eq!(Origin::parse("example.com").unwrap().effective_port(), None);
    }

    #[test]
    fn host_canonicalisation() {
        let ip = |s: &str| Host::parse(s).map(|h| h.to_string());
        assert_eq!(ip("2852039166").as_deref(), Some("169.254.169.254"));
        assert_eq!(ip("127.1").as_deref(), Some("127.0.0.1"));
        assert_eq!(ip("0x7f.0.0.1").as_deref(), Some("127.0.0.1"));
        assert_eq!(ip("0177.0.0.1").as_deref(), Some("127.0.0.1"));
        assert_eq!(ip("Example.COM.").as_deref(), Some("example.com"));
        assert_eq!(ip("[::1]").as_deref(), Some("[::1]"));
        assert_eq!(ip("0:0::1").as_deref(), Some("[::1]"));
        assert_eq!(ip("256.0.0.1"), None);
        assert_eq!(ip("1.2.3.4.5"), None);
        assert_eq!(ip("evil%2ecom"), None);
        assert_eq!(ip("a b.com"), None);
        assert_eq!(ip("x\n.com"), None);
        assert_eq!(ip(""), None);
        assert_eq!(ip("foo.123"), None); // ends in a number but is no IPv4 literal
    }

    #[test]
    fn rule_matching_wildcards_and_ports() {
        let w = HostRule::new("*.anthropic.com", Some(443)).unwrap();
        let h = |s: &str| Host::parse(s).unwrap();
        assert!(w.matches(&h("api.anthropic.com"), 443));
        assert!(w.matches(&h("a.b.ANTHROPIC.com"), 443));
        assert!(!w.matches(&h("anthropic.com"), 443));
        assert!(!w.matches(&h("api.anthropic.com"), 80));
        assert!(!w.matches(&h("evilanthropic.com"), 443));
        assert!(!w.matches(&h("api.anthropic.com.evil.example.com"), 443));
        let any = HostRule::new("*.0.1", None);
        assert!(any.is_none() || !any.unwrap().matches(&h("127.0.0.1"), 1));
        let lo = HostRule::new("127.0.0.1", Some(1939)).unwrap();
        assert!(lo.matches(&h("127.1"), 1939));
        assert!(!lo.matches(&h("127.0.0.1"), 1941));
        assert!(!lo.matches(&h("localhost"), 1939));
        let free = HostRule::new("registry.npmjs.org", None).unwrap();
        assert!(free.matches(&h("registry.npmjs.org"), 8443));
        assert_eq!(lo.to_string(), "127.0.0.1:1939");
        assert_eq!(free.to_string(), "registry.npmjs.org");
        let mut list = Allowlist::default();
        list.push(lo.clone());
        list.push(lo);
        assert_eq!(list.rules.len(), 1);
        assert!(list.allows("127.0.0.1", 1939).is_some());
        assert!(list.allows("127.0.0.1", 22).is_none());
        assert!(list.allows("bad host", 1939).is_none());
    }
}
