//! The SOCKS5 protocol of a turn's `s.sock` (RFC 1928; no authentication, `CONNECT`
//! only), filtered by the turn's allowlist (spec 04 §1.6.4): refused → reply `0x02`
//! "connection not allowed by ruleset"; dial failure → `0x04` "host unreachable".

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::unix::net::UnixStream;

use super::{read_n, splice, Conn, HANDSHAKE_TIMEOUT};

const VERSION: u8 = 5;
const NO_AUTH: u8 = 0;
const NO_ACCEPTABLE: u8 = 0xFF;
const CMD_CONNECT: u8 = 1;

const REP_OK: u8 = 0x00;
const REP_NOT_ALLOWED: u8 = 0x02;
const REP_HOST_UNREACHABLE: u8 = 0x04;
const REP_CMD_UNSUPPORTED: u8 = 0x07;
const REP_ATYP_UNSUPPORTED: u8 = 0x08;

fn reply(w: &mut impl Write, code: u8) -> io::Result<()> {
    w.write_all(&[VERSION, code, 0, 1, 0, 0, 0, 0, 0, 0])
}

pub(super) fn handle(client: UnixStream, conn: &Conn<'_>) -> io::Result<()> {
    client.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
    let mut c = client;
    let hello = read_n(&mut c, 2)?;
    if hello[0] != VERSION {
        return Ok(());
    }
    let methods = read_n(&mut c, hello[1] as usize)?;
    if !methods.contains(&NO_AUTH) {
        return c.write_all(&[VERSION, NO_ACCEPTABLE]);
    }
    c.write_all(&[VERSION, NO_AUTH])?;

    let req = read_n(&mut c, 4)?;
    if req[0] != VERSION {
        return Ok(());
    }
    let host = match read_host(&mut c, req[3])? {
        Some(h) => h,
        None => return reply(&mut c, REP_ATYP_UNSUPPORTED),
    };
    let port_bytes = read_n(&mut c, 2)?;
    let port = u16::from_be_bytes([port_bytes[0], port_bytes[1]]);
    if req[1] != CMD_CONNECT {
        return reply(&mut c, REP_CMD_UNSUPPORTED);
    }
    let Some(allowed) = conn.allows(&host, port).filter(|_| port != 0) else {
        log::info!("sandbox proxy: blocked {host}:{port} (not in the allowlist)");
        return reply(&mut c, REP_NOT_ALLOWED);
    };
    let upstream = match conn.dial(&allowed, port) {
        Ok(u) => u,
        Err(e) => {
            log::debug!("sandbox proxy: dial {allowed}:{port} failed: {e}");
            return reply(&mut c, REP_HOST_UNREACHABLE);
        }
    };
    reply(&mut c, REP_OK)?;
    c.set_read_timeout(None)?;
    splice(c, upstream, &[])
}

/// The destination as host text: dotted IPv4, `[v6]`, or the domain name.
fn read_host(r: &mut impl Read, atyp: u8) -> io::Result<Option<String>> {
    Ok(match atyp {
        1 => {
            let b = read_n(r, 4)?;
            Some(Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string())
        }
        3 => {
            let len = read_n(r, 1)?[0] as usize;
            let name = read_n(r, len)?;
            // Invalid UTF-8 becomes U+FFFD, which no rule matches.
            Some(String::from_utf8_lossy(&name).into_owned())
        }
        4 => {
            let b: [u8; 16] = read_n(r, 16)?.try_into().expect("16 bytes");
            Some(format!("[{}]", Ipv6Addr::from(b)))
        }
        _ => None,
    })
}
