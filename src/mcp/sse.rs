//! SSE framing for the MCP endpoint (spec 05 §1.3, §1.7, §2.1): `event: message` frames of
//! JSON-RPC messages, and the pump that drains a push stream's queue into the raw response
//! writer with a flush per event and a keepalive comment when idle ([ext], spec 08:
//! `PARACHUTE_AGENT_SSE_KEEPALIVE_SECS`, default 25) so dead sockets are noticed.

use std::io;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use serde_json::Value;

use crate::channels::stream_guard::{self, StreamGuard};

/// The keepalive comment (ignored by SSE parsers).
pub const KEEPALIVE: &[u8] = b":\n\n";

/// `event: message\ndata: <compact JSON>\n\n`. Compact JSON never contains a raw newline.
pub fn message_frame(msg: &Value) -> Vec<u8> {
    format!("event: message\ndata: {msg}\n\n").into_bytes()
}

/// The body of an SSE-framed POST response: one frame per JSON-RPC response.
pub fn frames(msgs: &[Value]) -> Vec<u8> {
    msgs.iter().flat_map(message_frame).collect()
}

/// Hand frames from `rx` to `send` (which writes and flushes one chunk) until the sender
/// side is gone (session closed) or a write fails (client gone). Sends `KEEPALIVE` after
/// `keepalive` of silence.
///
/// [ext] With a `guard`, the stream ends with `event: error` once the token that opened it
/// no longer validates.
pub fn pump(
    rx: &Receiver<Vec<u8>>,
    send: &mut dyn FnMut(&[u8]) -> io::Result<()>,
    keepalive: Duration,
    mut guard: Option<StreamGuard>,
) -> io::Result<()> {
    let mut keepalive_at = Instant::now() + keepalive;
    loop {
        if let Err(why) = stream_guard::check(&mut guard) {
            log::info!("MCP push stream closed: {why}");
            return send(&stream_guard::error_frame(&why));
        }
        let wait = stream_guard::wait(
            &guard,
            keepalive_at.saturating_duration_since(Instant::now()),
        );
        match rx.recv_timeout(wait) {
            Ok(frame) => send(&frame)?,
            Err(RecvTimeoutError::Timeout) if Instant::now() >= keepalive_at => {
                keepalive_at = Instant::now() + keepalive;
                send(KEEPALIVE)?
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn frame_format() {
        let f = message_frame(&json!({"jsonrpc":"2.0","id":1,"result":{}}));
        assert_eq!(
            String::from_utf8(f).unwrap(),
            "event: message\ndata: {\"id\":1,\"jsonrpc\":\"2.0\",\"result\":{}}\n\n"
        );
        let multi = frames(&[json!({"a":"x\ny"}), json!(2)]);
        let text = String::from_utf8(multi).unwrap();
        assert_eq!(
            text,
            "event: message\ndata: {\"a\":\"x\\ny\"}\n\nevent: message\ndata: 2\n\n"
        );
    }

    #[test]
    fn pump_writes_frames_and_keepalives_until_closed() {
        let (tx, rx) = crossbeam_channel::unbounded();
        let h = std::thread::spawn(move || {
            let mut out = Vec::new();
            let mut send = |b: &[u8]| -> io::Result<()> {
                out.extend_from_slice(b);
                Ok(())
            };
            pump(&rx, &mut send, Duration::from_millis(20), None).unwrap();
            out
        });
        tx.send(b"A".to_vec()).unwrap();
        std::thread::sleep(Duration::from_millis(70));
        tx.send(b"B".to_vec()).unwrap();
        drop(tx);
        let out = String::from_utf8(h.join().unwrap()).unwrap();
        assert!(out.starts_with('A') && out.ends_with('B'), "{out:?}");
        assert!(out.contains(":\n\n"), "{out:?}");
    }

    #[test]
    fn pump_stops_on_write_error() {
        let (tx, rx) = crossbeam_channel::unbounded();
        tx.send(b"A".to_vec()).unwrap();
        let mut broken = |_: &[u8]| -> io::Result<()> { Err(io::ErrorKind::BrokenPipe.into()) };
        assert!(pump(&rx, &mut broken, Duration::from_secs(5), None).is_err());
    }
}
