//! parachute-agent patch (see PATCHED.md): request framing and body buffering.
//!
//! The framing of a request is decided strictly (RFC 9112 §6.3): one `Content-Length`
//! value (repeats must agree, every value all digits), `Transfer-Encoding` only `chunked`
//! and only on HTTP/1.1, never both. Anything else is ambiguous — a proxy in front may
//! frame it differently — and gets 400 and close.
//!
//! The body is then read in full by the connection's own thread, before any request worker
//! sees the request, so a slow body pins only the peer's own connection. Reads happen in
//! bounded chunks against a global byte budget; no allocation is sized by a number the
//! client sent (a declared length only decides whether to read at all).

use std::io::{Cursor, Error as IoError, ErrorKind, Read, Result as IoResult};

use crate::common::{HTTPVersion, Header};
use crate::limits::Budget;

/// Bytes read per step (and the budget taken per step).
const STEP: usize = 8 * 1024;
/// Longest chunk-size line (size plus extensions) and trailer line.
const MAX_CHUNK_LINE: usize = 4 * 1024;
/// Most trailer fields after the last chunk.
const MAX_TRAILERS: usize = 100;

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    Empty,
    Length(u64),
    Chunked,
}

#[derive(Debug)]
pub(crate) enum BodyError {
    /// Larger than the body limit: not read (further).
    TooLarge,
    /// Malformed chunked coding.
    Invalid(&'static str),
    /// The body buffer budget is exhausted.
    Busy,
    /// A read timed out, the peer closed early, or another socket error.
    Io(IoError),
}

impl From<IoError> for BodyError {
    fn from(e: IoError) -> BodyError {
        BodyError::Io(e)
    }
}

/// The framing the headers declare, or why it is ambiguous.
pub(crate) fn framing(headers: &[Header], version: &HTTPVersion) -> Result<Framing, &'static str> {
    let mut length: Option<u64> = None;
    for h in headers.iter().filter(|h| h.field.equiv("Content-Length")) {
        for part in h.value.as_str().split(',') {
            let part = part.trim_matches(|c| c == ' ' || c == '\t');
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err("invalid Content-Length");
            }
            let n: u64 = part.parse().map_err(|_| "invalid Content-Length")?;
            if length.is_some_and(|l| l != n) {
                return Err("conflicting Content-Length values");
            }
            length = Some(n);
        }
    }
    let codings: Vec<String> = headers
        .iter()
        .filter(|h| h.field.equiv("Transfer-Encoding"))
        .flat_map(|h| {
            h.value
                .as_str()
                .split(',')
                .map(|c| c.trim_matches(|c| c == ' ' || c == '\t').to_ascii_lowercase())
                .collect::<Vec<_>>()
        })
        .collect();
    if codings.is_empty() {
        return Ok(match length {
            None | Some(0) => Framing::Empty,
            Some(n) => Framing::Length(n),
        });
    }
    if length.is_some() {
        return Err("both Transfer-Encoding and Content-Length");
    }
    if *version < HTTPVersion(1, 1) {
        return Err("Transfer-Encoding on HTTP/1.0");
    }
    if codings != ["chunked"] {
        return Err("unsupported Transfer-Encoding");
    }
    Ok(Framing::Chunked)
}

/// A body held in memory, with its share of the budget.
pub(crate) struct Buffered {
    data: Cursor<Vec<u8>>,
    _budget: Budget,
}

impl Buffered {
    pub(crate) fn new(data: Vec<u8>, budget: Budget) -> Buffered {
        Buffered {
            data: Cursor::new(data),
            _budget: budget,
        }
    }
}

impl Read for Buffered {
    fn read(&mut self, buf: &mut [u8]) -> IoResult<usize> {
        self.data.read(buf)
    }
}

/// Reads exactly `n` bytes (`n` ≤ the body limit, checked by the caller).
pub(crate) fn read_length<R: Read>(
    src: &mut R,
    n: usize,
    budget: &mut Budget,
) -> Result<Vec<u8>, BodyError> {
    let mut out = Vec::new();
    append(src, &mut out, n, budget)?;
    Ok(out)
}

/// Appends exactly `n` bytes from `src` to `out`, step by step.
fn append<R: Read>(
    src: &mut R,
    out: &mut Vec<u8>,
    mut n: usize,
    budget: &mut Budget,
) -> Result<(), BodyError> {
    let mut buf = [0u8; STEP];
    while n > 0 {
        let want = n.min(STEP);
        // The budget covers the buffer's capacity (what is really allocated), grown by
        // doubling as bytes arrive.
        if out.len() + want > out.capacity() {
            let new_cap = (out.capacity() * 2).max(out.len() + want);
            if !budget.grow(new_cap - out.capacity()) {
                return Err(BodyError::Busy);
            }
            out.reserve_exact(new_cap - out.len());
        }
        let got = src.read(&mut buf[..want])?;
        if got == 0 {
            return Err(BodyError::Io(IoError::new(
                ErrorKind::UnexpectedEof,
                "body ended early",
            )));
        }
        out.extend_from_slice(&buf[..got]);
        n -= got;
    }
    Ok(())
}

/// Decodes a chunked body of at most `max` bytes (RFC 9112 §7.1); trailers are read and
/// dropped.
pub(crate) fn read_chunked<R: Read>(
    src: &mut R,
    max: usize,
    budget: &mut Budget,
) -> Result<Vec<u8>, BodyError> {
    let mut out = Vec::new();
    loop {
        let line = read_line(src, MAX_CHUNK_LINE)?;
        let size = line.split(|b| *b == b';').next().unwrap_or_default();
        let size = trim_ws(size);
        if size.is_empty() || size.len() > 15 || !size.iter().all(u8::is_ascii_hexdigit) {
            return Err(BodyError::Invalid("invalid chunk size"));
        }
        let size = usize::from_str_radix(std::str::from_utf8(size).unwrap_or("x"), 16)
            .map_err(|_| BodyError::Invalid("invalid chunk size"))?;
        if size == 0 {
            for _ in 0..=MAX_TRAILERS {
                if read_line(src, MAX_CHUNK_LINE)?.is_empty() {
                    return Ok(out);
                }
            }
            return Err(BodyError::Invalid("too many trailer fields"));
        }
        if out.len().saturating_add(size) > max {
            return Err(BodyError::TooLarge);
        }
        append(src, &mut out, size, budget)?;
        if !read_line(src, 0)?.is_empty() {
            return Err(BodyError::Invalid("chunk not followed by CRLF"));
        }
    }
}

/// One CRLF-terminated line of at most `max` bytes (bare CR or LF is invalid).
fn read_line<R: Read>(src: &mut R, max: usize) -> Result<Vec<u8>, BodyError> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        if src.read(&mut byte)? == 0 {
            return Err(BodyError::Io(IoError::new(
                ErrorKind::UnexpectedEof,
                "body ended early",
            )));
        }
        match byte[0] {
            b'\r' => {
                if src.read(&mut byte)? == 1 && byte[0] == b'\n' {
                    return Ok(line);
                }
                return Err(BodyError::Invalid("bare CR in chunked coding"));
            }
            b'\n' => return Err(BodyError::Invalid("bare LF in chunked coding")),
            b if line.len() < max => line.push(b),
            _ => return Err(BodyError::Invalid("chunk line too long")),
        }
    }
}

fn trim_ws(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::{Limits, Shared};
    use std::str::FromStr;

    fn headers(lines: &[&str]) -> Vec<Header> {
        lines.iter().map(|l| Header::from_str(l).unwrap()).collect()
    }

    fn frame(lines: &[&str]) -> Result<Framing, &'static str> {
        framing(&headers(lines), &HTTPVersion(1, 1))
    }

    #[test]
    fn framing_is_strict() {
        assert_eq!(frame(&[]), Ok(Framing::Empty));
        assert_eq!(frame(&["Content-Length: 0"]), Ok(Framing::Empty));
        assert_eq!(frame(&["Content-Length: 12"]), Ok(Framing::Length(12)));
        assert_eq!(
            frame(&["Content-Length: 12", "Content-Length: 12"]),
            Ok(Framing::Length(12))
        );
        assert_eq!(frame(&["Content-Length: 5, 5"]), Ok(Framing::Length(5)));
        assert_eq!(
            frame(&["Transfer-Encoding: Chunked"]),
            Ok(Framing::Chunked)
        );
        for bad in [
            &["Content-Length: 1", "Content-Length: 2"][..],
            &["Content-Length: 0, 5"],
            &["Content-Length: 5x"],
            &["Content-Length: -1"],
            &["Content-Length: +1"],
            &["Content-Length: "],
            &["Content-Length: 99999999999999999999999"],
            &["Transfer-Encoding: gzip"],
            &["Transfer-Encoding: gzip, chunked"],
            &["Transfer-Encoding: chunked", "Transfer-Encoding: chunked"],
            &["Transfer-Encoding: chunked", "Content-Length: 3"],
        ] {
            assert!(frame(bad).is_err(), "{bad:?}");
        }
        let te = headers(&["Transfer-Encoding: chunked"]);
        assert!(framing(&te, &HTTPVersion(1, 0)).is_err());
    }

    fn decode(wire: &[u8], max: usize) -> Result<Vec<u8>, BodyError> {
        let shared = Shared::new(Limits::default());
        read_chunked(&mut &wire[..], max, &mut shared.budget())
    }

    #[test]
    fn chunked_decoding() {
        let body = decode(b"3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-T: 1\r\n\r\n", 100).unwrap();
        assert_eq!(body, b"abcde");
        assert!(matches!(
            decode(b"5\r\nabcde\r\n0\r\n\r\n", 4),
            Err(BodyError::TooLarge)
        ));
        assert!(matches!(
            decode(b"zz\r\n", 100),
            Err(BodyError::Invalid(_))
        ));
        assert!(matches!(
            decode(b"3\nabc\r\n0\r\n\r\n", 100),
            Err(BodyError::Invalid(_))
        ));
        assert!(matches!(
            decode(b"3\r\nabcX0\r\n\r\n", 100),
            Err(BodyError::Invalid(_))
        ));
        // The peer stopping early is an error, never a short body.
        assert!(matches!(decode(b"5\r\nab", 100), Err(BodyError::Io(_))));
        assert!(matches!(
            decode(b"ffffffffffffffff\r\n", 100),
            Err(BodyError::Invalid(_))
        ));
    }

    #[test]
    fn budget_exhaustion_is_busy() {
        let shared = Shared::new(Limits {
            body_buffer_bytes: 10,
            ..Limits::default()
        });
        let wire = [b'a'; 20];
        let err = read_length(&mut &wire[..], 20, &mut shared.budget());
        assert!(matches!(err, Err(BodyError::Busy)));
        let ok = read_length(&mut &wire[..], 10, &mut shared.budget()).unwrap();
        assert_eq!(ok.len(), 10);
    }
}
