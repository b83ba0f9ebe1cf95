use ascii::AsciiString;

use std::io::Error as IoError;
use std::io::Result as IoResult;
use std::io::{BufRead, BufReader, BufWriter, Cursor, ErrorKind, Read, Write};

use std::net::SocketAddr;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::{HTTPVersion, Header, Method};
use crate::limits::{is_valid_authority, ReadClock, Shared};
use crate::request::PreparedBody;
use crate::util::body::{self, BodyError, Buffered, Framing};
use crate::util::RefinedTcpStream;
use crate::util::{SequentialReader, SequentialReaderBuilder, SequentialWriterBuilder};
use crate::{Request, Response, StatusCode};

/// Longest time spent draining an unread body before closing (parachute-agent patch).
const DRAIN_TIME: Duration = Duration::from_secs(2);

/// A ClientConnection is an object that will store a socket to a client
/// and return Request objects.
///
/// parachute-agent patch (see PATCHED.md): heads are read against the connection's
/// [`Limits`](crate::Limits) (bytes, count, deadline), parsed strictly (no bare CR/LF, no
/// control bytes, no obs-fold, a valid `Host`), framed strictly, and the body is buffered
/// here, so request handlers only ever see complete requests. The next request is read only
/// once the previous response is written.
pub struct ClientConnection {
    // address of the client
    remote_addr: IoResult<Option<SocketAddr>>,

    // sequence of Readers to the stream, so that the data is not read in
    //  the wrong order
    source: SequentialReaderBuilder<BufReader<RefinedTcpStream>>,

    // sequence of Writers to the stream, to avoid writing response #2 before
    //  response #1
    sink: SequentialWriterBuilder<BufWriter<RefinedTcpStream>>,

    // Reader to read the next header from
    next_header_source: SequentialReader<BufReader<RefinedTcpStream>>,

    // set to true if we know that the previous request is the last one
    no_more_requests: bool,

    // true if the connection goes through SSL
    secure: bool,

    // limits and budgets shared with the server
    shared: Arc<Shared>,

    // the read timeouts of this connection's socket
    clock: Arc<ReadClock>,

    // disconnected once the previous request's response writer is gone
    previous_done: Option<Receiver<()>>,

    // the previous request's body was not read: drain a little, then close
    drain_then_close: bool,
}

/// Error that can happen when reading a request.
#[derive(Debug)]
enum ReadError {
    WrongRequestLine,
    WrongHeader(HTTPVersion),
    /// the client sent an unrecognized `Expect` header
    ExpectationFailed(HTTPVersion),
    /// more header bytes or lines than the limits allow
    HeadTooLarge,
    /// ambiguous or invalid framing (RFC 9112 §6.3)
    BadFraming(HTTPVersion, &'static str),
    /// the head deadline passed; `partial` when some of a head had arrived
    HeadTimeout { partial: bool },
    /// an error response was already written
    Answered,
    ReadIoError(IoError),
}

impl ClientConnection {
    /// Creates a new `ClientConnection` that takes ownership of the `TcpStream`.
    pub(crate) fn new(
        write_socket: RefinedTcpStream,
        mut read_socket: RefinedTcpStream,
        shared: Arc<Shared>,
        clock: Arc<ReadClock>,
    ) -> ClientConnection {
        let remote_addr = read_socket.peer_addr();
        let secure = read_socket.secure();

        let mut source = SequentialReaderBuilder::new(BufReader::with_capacity(1024, read_socket));
        let first_header = source.next().unwrap();

        ClientConnection {
            source,
            sink: SequentialWriterBuilder::new(BufWriter::with_capacity(1024, write_socket)),
            remote_addr,
            next_header_source: first_header,
            no_more_requests: false,
            secure,
            shared,
            clock,
            previous_done: None,
            drain_then_close: false,
        }
    }

    /// true if the connection is HTTPS
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// Waits until the previous response has been written (or its writer handed off).
    fn wait_previous_response(&mut self) {
        if let Some(done) = self.previous_done.take() {
            let _ = done.recv();
        }
    }

    /// Reads one CRLF-terminated line of the head, counting it against `left`. A bare CR
    /// or LF, or a non-ASCII byte, makes the head invalid. Scans the buffered bytes in
    /// place (upstream read the head one byte per `read` call through two layers).
    fn read_head_line(&mut self, left: &mut usize, got_any: &mut bool) -> Result<Vec<u8>, ReadError> {
        // Most lines fit without growing (upstream grew from empty, a realloc per doubling).
        let mut line = Vec::with_capacity(64);
        loop {
            let buf = match self.next_header_source.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == ErrorKind::TimedOut => {
                    return Err(ReadError::HeadTimeout { partial: *got_any })
                }
                Err(e) => return Err(ReadError::ReadIoError(e)),
            };
            if buf.is_empty() {
                let e = IoError::new(ErrorKind::ConnectionAborted, "Unexpected EOF");
                return Err(ReadError::ReadIoError(e));
            }
            *got_any = true;
            let (used, done) = scan_head_line(buf, &mut line, left);
            self.next_header_source.consume(used);
            match done {
                Some(Ok(())) => return Ok(line),
                Some(Err(e)) => return Err(e),
                None => {}
            }
        }
    }

    /// Reads the request line and the header lines within the limits and the deadline.
    fn read_head(&mut self) -> Result<(Method, String, HTTPVersion, Vec<Header>), ReadError> {
        let limits = &self.shared.limits;
        let (max_headers, mut left) = (limits.max_headers, limits.max_header_bytes);
        self.clock
            .set_deadline(Some(Instant::now() + limits.header_timeout));
        let mut got_any = false;
        let line = self.read_head_line(&mut left, &mut got_any)?;
        let line = std::str::from_utf8(&line).map_err(|_| ReadError::WrongRequestLine)?;
        if line.bytes().any(|b| b < 0x20 || b == 0x7f) {
            return Err(ReadError::WrongRequestLine);
        }
        let (method, path, version) = parse_request_line(line)?;
        let mut headers = Vec::new();
        loop {
            let line = self
                .read_head_line(&mut left, &mut got_any)
                .map_err(|e| match e {
                    ReadError::WrongRequestLine => ReadError::WrongHeader(version.clone()),
                    e => e,
                })?;
            if line.is_empty() {
                break;
            }
            if headers.len() == max_headers {
                return Err(ReadError::HeadTooLarge);
            }
            let header = parse_header_line(&line).ok_or(ReadError::WrongHeader(version.clone()))?;
            headers.push(header);
        }
        self.clock.set_deadline(None);
        Ok((method, path, version, headers))
    }

    /// Reads a request from the stream.
    /// Blocks until the header has been read.
    fn read(&mut self) -> Result<Request, ReadError> {
        self.wait_previous_response();
        let (method, path, version, headers) = self.read_head()?;

        let mut hosts = headers.iter().filter(|h| h.field.equiv("Host"));
        let host_ok = match (hosts.next(), hosts.next()) {
            (None, _) => true,
            (Some(h), None) => is_valid_authority(h.value.as_str()),
            (Some(_), Some(_)) => false,
        };
        if !host_ok {
            return Err(ReadError::WrongHeader(version));
        }
        let framing = body::framing(&headers, &version)
            .map_err(|why| ReadError::BadFraming(version.clone(), why))?;
        let expects_continue = match headers
            .iter()
            .find(|h| h.field.equiv("Expect"))
            .map(|h| h.value.as_str())
        {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("100-continue") => true,
            Some(_) => return Err(ReadError::ExpectationFailed(version)),
        };
        let upgrade = headers.iter().any(|h| {
            h.field.equiv("Connection") && h.value.as_str().to_ascii_lowercase().contains("upgrade")
        });

        // building the writer for the request
        let mut writer = self.sink.next().unwrap();

        // follow-up for next potential request
        let mut data_source = self.source.next().unwrap();
        std::mem::swap(&mut self.next_header_source, &mut data_source);

        let mut body = match self.read_body(&mut data_source, framing, expects_continue, &mut writer) {
            Ok(body) => body,
            Err(response) => {
                response.raw_print(&mut writer, version, &[], false, None).ok();
                writer.flush().ok();
                return Err(ReadError::Answered);
            }
        };
        if body.too_large {
            self.drain_then_close = true;
        }
        if upgrade {
            body.upgrade = Some(Box::new(data_source));
        } else {
            drop(data_source);
        }

        // the next head is read once this request's writer is dropped
        let (done_tx, done_rx) = channel();
        self.previous_done = Some(done_rx);
        let writer = DoneOnDrop {
            inner: writer,
            _done: done_tx,
        };

        Ok(crate::request::new_request(
            self.secure,
            method,
            path,
            version,
            headers,
            *self.remote_addr.as_ref().unwrap(),
            body,
            writer,
            Some(self.clock.clone()),
        ))
    }

    /// Buffers the body the framing declares, or returns the error response to send.
    fn read_body<R: Read, W: Write>(
        &self,
        src: &mut R,
        framing: Framing,
        expects_continue: bool,
        writer: &mut W,
    ) -> Result<PreparedBody, Response<Cursor<Vec<u8>>>> {
        let max = self.shared.limits.max_body_bytes;
        let declared_length = match framing {
            Framing::Empty => return Ok(PreparedBody::empty()),
            Framing::Length(n) if n > max as u64 => {
                return Ok(PreparedBody {
                    declared_length: Some(std::convert::TryFrom::try_from(n).unwrap_or(usize::MAX)),
                    too_large: true,
                    ..PreparedBody::empty()
                })
            }
            Framing::Length(n) => Some(n as usize),
            Framing::Chunked => None,
        };
        if expects_continue {
            writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").ok();
            writer.flush().ok();
        }
        let mut budget = self.shared.budget();
        let read = match declared_length {
            Some(n) => body::read_length(src, n, &mut budget),
            None => body::read_chunked(src, max, &mut budget),
        };
        match read {
            Ok(data) => Ok(PreparedBody {
                reader: Box::new(Buffered::new(data, budget)),
                declared_length,
                ..PreparedBody::empty()
            }),
            Err(BodyError::TooLarge) => Ok(PreparedBody {
                too_large: true,
                ..PreparedBody::empty()
            }),
            Err(BodyError::Invalid(why)) => Err(error_response(400, "invalid framing", why)),
            Err(BodyError::Busy) => Err(error_response(503, "server busy", "request bodies buffered at once exceed the limit")
                .with_header(Header::from_bytes(&b"Retry-After"[..], &b"1"[..]).unwrap())),
            Err(BodyError::Io(e)) if e.kind() == ErrorKind::TimedOut => {
                Err(error_response(408, "request timeout", "the request body stalled"))
            }
            Err(BodyError::Io(e)) => Err(error_response(400, "incomplete body", &e.to_string())),
        }
    }

    /// Reads and drops up to the drain limit of what the client still sends, so that
    /// closing does not reset the connection under the response it has not read yet.
    fn drain(&mut self) {
        self.wait_previous_response();
        // The response is complete: end our side first so the client sees it at once.
        if let Some(stream) = self.next_header_source.get_ref() {
            stream.get_ref().shutdown_write();
        }
        self.clock
            .set_deadline(Some(Instant::now() + DRAIN_TIME));
        let mut left = self.shared.limits.drain_bytes;
        let mut buf = [0u8; 8192];
        while left > 0 {
            let want = left.min(buf.len());
            match self.next_header_source.read(&mut buf[..want]) {
                Ok(0) | Err(_) => break,
                Ok(n) => left -= n,
            }
        }
    }

    /// Writes a connection-level error response, drains a little and closes.
    fn answer(&mut self, status: u16, error: &str, message: &str, version: HTTPVersion) {
        let (done_tx, done_rx) = channel::<()>();
        self.previous_done = Some(done_rx);
        let mut writer = DoneOnDrop {
            inner: self.sink.next().unwrap(),
            _done: done_tx,
        };
        error_response(status, error, message)
            .raw_print(&mut writer, version, &[], false, None)
            .ok();
        writer.flush().ok();
        drop(writer);
        self.drain();
    }
}

/// Moves the bytes of `buf` up to the end of the current head line into `line`, each
/// counted against `left`: returns how many bytes were used and, once the line ended or
/// broke a rule, the outcome (`line` then holds it without its CRLF). The rules are those
/// of one byte at a time — a CR must be followed by LF, a LF must follow a CR, no byte is
/// non-ASCII, no byte beyond `left` — but runs of plain bytes are copied at once.
fn scan_head_line(
    buf: &[u8],
    line: &mut Vec<u8>,
    left: &mut usize,
) -> (usize, Option<Result<(), ReadError>>) {
    let mut i = 0;
    while i < buf.len() {
        if line.last() == Some(&b'\r') {
            if *left == 0 {
                return (i + 1, Some(Err(ReadError::HeadTooLarge)));
            }
            *left -= 1;
            if buf[i] == b'\n' {
                line.pop();
                return (i + 1, Some(Ok(())));
            }
            return (i + 1, Some(Err(ReadError::WrongRequestLine)));
        }
        let room = (*left).min(buf.len() - i);
        let chunk = &buf[i..i + room];
        let plain = chunk
            .iter()
            .position(|&b| b == b'\r' || b == b'\n' || b >= 0x80)
            .unwrap_or(room);
        line.extend_from_slice(&chunk[..plain]);
        *left -= plain;
        i += plain;
        if i == buf.len() {
            break;
        }
        if *left == 0 {
            return (i + 1, Some(Err(ReadError::HeadTooLarge)));
        }
        *left -= 1;
        match buf[i] {
            b'\r' => {
                line.push(b'\r');
                i += 1;
            }
            _ => return (i + 1, Some(Err(ReadError::WrongRequestLine))),
        }
    }
    (buf.len(), None)
}

/// A JSON error response that closes the connection (`{"error":…,"message":…}`).
fn error_response(status: u16, error: &str, message: &str) -> Response<Cursor<Vec<u8>>> {
    let escape = |s: &str| {
        s.chars()
            .filter(|c| !c.is_control())
            .map(|c| if c == '"' || c == '\\' { ' ' } else { c })
            .collect::<String>()
    };
    let body = format!(
        "{{\"error\":\"{}\",\"message\":\"{}\"}}",
        escape(error),
        escape(message)
    );
    Response::from_data(body.into_bytes())
        .with_status_code(StatusCode(status))
        .with_header(Header::from_bytes(&b"Content-Type"[..], &b"application/json"[..]).unwrap())
        .with_connection_close()
}

/// A response writer that disconnects `_done` when dropped.
struct DoneOnDrop<W> {
    inner: W,
    _done: Sender<()>,
}

impl<W: Write> Write for DoneOnDrop<W> {
    fn write(&mut self, buf: &[u8]) -> IoResult<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> IoResult<()> {
        self.inner.flush()
    }
}

impl Iterator for ClientConnection {
    type Item = Request;

    /// Blocks until the next Request is available.
    /// Returns None when no new Requests will come from the client.
    fn next(&mut self) -> Option<Request> {
        if self.drain_then_close {
            self.drain();
            return None;
        }

        // the client sent a "connection: close" header in this previous request
        //  or is using HTTP 1.0, meaning that no new request will come
        if self.no_more_requests {
            return None;
        }

        loop {
            let v11 = HTTPVersion(1, 1);
            let rq = match self.read() {
                Err(ReadError::WrongRequestLine) => {
                    self.answer(400, "bad request", "malformed request line", v11);
                    return None; // we don't know where the next request would start,
                                 // se we have to close
                }

                Err(ReadError::WrongHeader(ver)) => {
                    self.answer(400, "bad request", "malformed header field", ver);
                    return None; // we don't know where the next request would start,
                                 // se we have to close
                }

                Err(ReadError::HeadTooLarge) => {
                    let msg = format!(
                        "the request head exceeds {} bytes or {} header fields",
                        self.shared.limits.max_header_bytes, self.shared.limits.max_headers
                    );
                    self.answer(431, "request header fields too large", &msg, v11);
                    return None;
                }

                Err(ReadError::BadFraming(ver, why)) => {
                    self.answer(400, "invalid framing", why, ver);
                    return None;
                }

                Err(ReadError::HeadTimeout { partial: true }) => {
                    self.answer(408, "request timeout", "the request head was not received in time", v11);
                    return None; // closing the connection
                }

                // an idle keep-alive connection: close quietly
                Err(ReadError::HeadTimeout { partial: false }) => return None,

                Err(ReadError::ExpectationFailed(ver)) => {
                    self.answer(417, "expectation failed", "only 100-continue is supported", ver);
                    return None; // TODO: should be recoverable, but needs handling in case of body
                }

                Err(ReadError::Answered) | Err(ReadError::ReadIoError(_)) => return None,

                Ok(rq) => rq,
            };

            // checking HTTP version
            if *rq.http_version() > (1, 1) {
                let response = Response::from_string(
                    "This server only supports HTTP versions 1.0 and 1.1".to_owned(),
                )
                .with_status_code(StatusCode(505));
                let _ = rq.respond(response);
                continue;
            }

            // updating the status of the connection
            let connection_header = rq
                .headers()
                .iter()
                .find(|h| h.field.equiv("Connection"))
                .map(|h| h.value.as_str());

            let lowercase = connection_header.map(|h| h.to_ascii_lowercase());

            match lowercase {
                Some(ref val) if val.contains("close") => self.no_more_requests = true,
                Some(ref val) if val.contains("upgrade") => self.no_more_requests = true,
                Some(ref val)
                    if !val.contains("keep-alive") && *rq.http_version() == HTTPVersion(1, 0) =>
                {
                    self.no_more_requests = true
                }
                None if *rq.http_version() == HTTPVersion(1, 0) => self.no_more_requests = true,
                _ => (),
            };

            // returning the request
            return Some(rq);
        }
    }
}

/// One `name: value` header line (RFC 9110 §5): the name a token with no whitespace
/// before the colon, the value without control bytes (HTAB aside), trimmed of SP/HTAB.
/// A line that starts with whitespace (obs-fold) is refused.
fn parse_header_line(line: &[u8]) -> Option<Header> {
    let colon = line.iter().position(|b| *b == b':')?;
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    if name.is_empty() || !name.iter().all(|b| is_tchar(*b)) {
        return None;
    }
    let value = trim_ows(value);
    if value.iter().any(|b| (*b < 0x20 && *b != b'\t') || *b == 0x7f) {
        return None;
    }
    Header::from_bytes(name, value).ok()
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Parses a "HTTP/1.1" string.
fn parse_http_version(version: &str) -> Result<HTTPVersion, ReadError> {
    let (major, minor) = match version {
        "HTTP/0.9" => (0, 9),
        "HTTP/1.0" => (1, 0),
        "HTTP/1.1" => (1, 1),
        "HTTP/2.0" => (2, 0),
        "HTTP/3.0" => (3, 0),
        _ => return Err(ReadError::WrongRequestLine),
    };

    Ok(HTTPVersion(major, minor))
}

/// Parses the request line of the request.
/// eg. GET / HTTP/1.1
fn parse_request_line(line: &str) -> Result<(Method, String, HTTPVersion), ReadError> {
    let mut parts = line.split(' ');

    let method = parts.next().and_then(|w| w.parse().ok());
    let path = parts.next().map(ToOwned::to_owned);
    let version = parts.next().and_then(|w| parse_http_version(w).ok());
    if parts.next().is_some() {
        return Err(ReadError::WrongRequestLine);
    }

    method
        .and_then(|method| Some((method, path?, version?)))
        .ok_or(ReadError::WrongRequestLine)
}

#[cfg(test)]
mod test {
    #[test]
    fn test_parse_request_line() {
        let (method, path, ver) = super::parse_request_line("GET /hello HTTP/1.1").unwrap();

        assert!(method == crate::Method::Get);
        assert!(path == "/hello");
        assert!(ver == crate::common::HTTPVersion(1, 1));

        assert!(super::parse_request_line("GET /hello").is_err());
        assert!(super::parse_request_line("qsd qsd qsd").is_err());
        assert!(super::parse_request_line("GET / HTTP/1.1 x").is_err());
    }

    #[test]
    fn head_lines_are_scanned_across_buffer_refills() {
        use super::{scan_head_line, ReadError};
        let mut line = Vec::new();
        let mut left = 100;
        let (used, done) = scan_head_line(b"GET / HTTP/1.1\r", &mut line, &mut left);
        assert_eq!((used, done.is_none()), (15, true));
        let (used, done) = scan_head_line(b"\nHost: x\r\n", &mut line, &mut left);
        assert_eq!(used, 1);
        assert!(matches!(done, Some(Ok(()))));
        assert_eq!(line, b"GET / HTTP/1.1");
        assert_eq!(left, 100 - 16);
        let bad = |bytes: &[u8], left: usize| {
            let (mut line, mut left) = (Vec::new(), left);
            scan_head_line(bytes, &mut line, &mut left).1
        };
        assert!(matches!(bad(b"a\nb", 100), Some(Err(ReadError::WrongRequestLine))));
        assert!(matches!(bad(b"a\rb", 100), Some(Err(ReadError::WrongRequestLine))));
        assert!(matches!(bad(b"a\xc3\xa9\r\n", 100), Some(Err(ReadError::WrongRequestLine))));
        assert!(matches!(bad(b"abc\r\n", 4), Some(Err(ReadError::HeadTooLarge))));
        assert!(matches!(bad(b"abc\r\n", 5), Some(Ok(()))));
        assert!(matches!(bad(b"abc\r\r\n", 100), Some(Err(ReadError::WrongRequestLine))));
        assert!(matches!(bad(b"abc", 2), Some(Err(ReadError::HeadTooLarge))));
        assert!(matches!(bad(b"abc", 3), None));
        // A CR at the end of one buffer, then something other than LF in the next.
        let (mut line, mut left) = (Vec::new(), 100);
        assert!(scan_head_line(b"ab\r", &mut line, &mut left).1.is_none());
        let (used, done) = scan_head_line(b"x\n", &mut line, &mut left);
        assert_eq!(used, 1);
        assert!(matches!(done, Some(Err(ReadError::WrongRequestLine))));
        // The byte budget runs out exactly at a CR split across buffers.
        let (mut line, mut left) = (Vec::new(), 3);
        assert!(scan_head_line(b"ab\r", &mut line, &mut left).1.is_none());
        assert!(matches!(scan_head_line(b"\n", &mut line, &mut left).1, Some(Err(ReadError::HeadTooLarge))));
    }

    /// The chunked scanner decides exactly like the byte-at-a-time rules, whatever the
    /// bytes, the buffer boundaries and the budget (pseudo-random cases, fixed seed).
    #[test]
    fn head_line_scanner_matches_the_per_byte_rules() {
        use super::{scan_head_line, ReadError};
        fn per_byte(bytes: &[u8], mut left: usize) -> (usize, Option<Result<Vec<u8>, String>>) {
            let mut line = Vec::new();
            for (i, &b) in bytes.iter().enumerate() {
                if left == 0 {
                    return (i + 1, Some(Err("large".into())));
                }
                left -= 1;
                match b {
                    b'\n' if line.last() == Some(&b'\r') => {
                        line.pop();
                        return (i + 1, Some(Ok(line)));
                    }
                    b'\n' => return (i + 1, Some(Err("bad".into()))),
                    _ if line.last() == Some(&b'\r') => return (i + 1, Some(Err("bad".into()))),
                    b if b >= 0x80 => return (i + 1, Some(Err("bad".into()))),
                    b => line.push(b),
                }
            }
            (bytes.len(), None)
        }
        let mut seed: u64 = 0x9e3779b97f4a7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let alphabet = [b'a', b'b', b' ', b'\r', b'\n', 0x80, b':'];
        for _ in 0..20_000 {
            let len = (next() % 12) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| alphabet[(next() % 7) as usize]).collect();
            let budget = (next() % 14) as usize;
            let expected = per_byte(&bytes, budget);
            // Feed the same bytes in random pieces.
            let (mut line, mut left, mut at, mut got) = (Vec::new(), budget, 0, None);
            while at < bytes.len() {
                let piece = 1 + (next() % 4) as usize;
                let end = (at + piece).min(bytes.len());
                let (used, done) = scan_head_line(&bytes[at..end], &mut line, &mut left);
                at += used;
                if let Some(done) = done {
                    got = Some(match done {
                        Ok(()) => Ok(line.clone()),
                        Err(ReadError::HeadTooLarge) => Err("large".to_string()),
                        Err(_) => Err("bad".to_string()),
                    });
                    break;
                }
            }
            assert_eq!((at, got), expected, "{bytes:?} budget {budget}");
        }
    }

    #[test]
    fn header_lines_are_strict() {
        let ok = |l: &str| super::parse_header_line(l.as_bytes()).is_some();
        assert!(ok("Host: x"));
        assert!(ok("X-A:\tv  "));
        assert!(ok("X-Empty:"));
        assert!(!ok("Host : x"));
        assert!(!ok(" Host: x"));
        assert!(!ok("Bad Name: x"));
        assert!(!ok("X: a\u{0}b"));
        assert!(!ok("X: a\u{7f}b"));
        assert!(!ok("no colon"));
        let h = super::parse_header_line(b"X-A:  v w \t").unwrap();
        assert_eq!(h.value.as_str(), "v w");
    }
}
