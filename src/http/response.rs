//! Responses: a status, headers and either a byte body or a stream handed to its own
//! thread (spec 07 §1: tiny_http's chunked encoder buffers, so streams write and flush
//! every event themselves through [`StreamWriter`]).

use std::io::{self, Write};

use serde::Serialize;

/// A function that owns a streaming response once its headers are sent. It runs on the
/// connection's thread without a request permit, so a long-lived stream never holds one.
pub type StreamFn = Box<dyn FnOnce(StreamWriter) + Send + 'static>;

/// A function that owns a connection after a `101 Switching Protocols` (the upgraded
/// tiny_http stream; dropping it shuts the connection down). Runs on its own thread.
pub type UpgradeFn = Box<dyn FnOnce(Box<dyn tiny_http::ReadWrite + Send>) + Send + 'static>;

pub enum Body {
    Bytes(Vec<u8>),
    Stream(StreamFn),
    /// `101` with `Upgrade: <protocol>`; `run` gets the connection on a thread named `thread`.
    Upgrade {
        protocol: &'static str,
        thread: String,
        run: UpgradeFn,
    },
}

pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

impl Resp {
    pub fn new(status: u16, content_type: &str, body: Vec<u8>) -> Resp {
        Resp {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: Body::Bytes(body),
        }
    }

    /// JSON body with `content-type: application/json` (exactly, spec 01 §0).
    pub fn json<T: Serialize + ?Sized>(status: u16, value: &T) -> Resp {
        let body = serde_json::to_vec(value)
            .unwrap_or_else(|_| b"{\"error\":\"internal error\"}".to_vec());
        Resp::new(status, "application/json", body)
    }

    pub fn ok<T: Serialize + ?Sized>(value: &T) -> Resp {
        Resp::json(200, value)
    }

    pub fn text(status: u16, content_type: &str, text: impl Into<String>) -> Resp {
        Resp::new(status, content_type, text.into().into_bytes())
    }

    /// An empty-bodied response (e.g. 202, 204).
    pub fn empty(status: u16) -> Resp {
        Resp {
            status,
            headers: Vec::new(),
            body: Body::Bytes(Vec::new()),
        }
    }

    /// A relative redirect (works both direct and behind the hub's `/agent` prefix).
    pub fn redirect(location: &str) -> Resp {
        Resp::empty(302).header("Location", location)
    }

    /// A streaming response; `run` gets the writer after the headers went out.
    pub fn stream(status: u16, content_type: &str, run: StreamFn) -> Resp {
        Resp {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: Body::Stream(run),
        }
    }

    /// A protocol upgrade (`101`, `Upgrade: <protocol>`, `Connection: upgrade`, plus the
    /// given headers); `run` owns the connection afterwards on a thread of its own.
    pub fn upgrade(protocol: &'static str, thread: String, run: UpgradeFn) -> Resp {
        Resp {
            status: 101,
            headers: Vec::new(),
            body: Body::Upgrade {
                protocol,
                thread,
                run,
            },
        }
    }

    /// An SSE stream with the common headers of spec 05 §2.1 (+ `X-Accel-Buffering: no`).
    pub fn sse(run: StreamFn) -> Resp {
        Resp::stream(200, "text/event-stream", run)
            .header("Cache-Control", "no-cache")
            .header("Connection", "keep-alive")
            .header("X-Accel-Buffering", "no")
    }

    pub fn header(mut self, name: &str, value: &str) -> Resp {
        if let Some(slot) = self
            .headers
            .iter_mut()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
        {
            slot.1 = value.to_string();
        } else {
            self.headers.push((name.to_string(), value.to_string()));
        }
        self
    }

    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The raw connection of a streaming response, writing HTTP/1.1 chunked encoding by hand
/// and flushing after every write so each event reaches the client at once.
pub struct StreamWriter {
    inner: Box<dyn Write + Send>,
    finished: bool,
}

impl StreamWriter {
    pub(crate) fn new(inner: Box<dyn Write + Send>) -> StreamWriter {
        StreamWriter {
            inner,
            finished: false,
        }
    }

    /// Writes one chunk and flushes it.
    pub fn send(&mut self, data: &[u8]) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        write!(self.inner, "{:x}\r\n", data.len())?;
        self.inner.write_all(data)?;
        self.inner.write_all(b"\r\n")?;
        self.inner.flush()
    }

    /// An SSE frame `event: <name>\ndata: <json>\n\n`.
    pub fn event(&mut self, name: &str, data: &serde_json::Value) -> io::Result<()> {
        self.send(sse_frame(name, data).as_bytes())
    }

    /// An SSE comment line (`: <text>\n\n`), used for `: connected` and keepalives.
    pub fn comment(&mut self, text: &str) -> io::Result<()> {
        self.send(format!(": {text}\n\n").as_bytes())
    }

    /// Ends the chunked body so the client sees a clean end of stream.
    pub fn finish(mut self) -> io::Result<()> {
        self.finished = true;
        self.inner.write_all(b"0\r\n\r\n")?;
        self.inner.flush()
    }
}

impl Drop for StreamWriter {
    fn drop(&mut self) {
        if !self.finished {
            let _ = self.inner.write_all(b"0\r\n\r\n");
            let _ = self.inner.flush();
        }
    }
}

/// Formats one SSE frame; compact JSON never contains raw newlines, so one `data:` line.
pub fn sse_frame(name: &str, data: &serde_json::Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}
