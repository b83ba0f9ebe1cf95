//! End-to-end test of the bridge core against a tiny fake daemon on a loopback socket: an
//! event split across two TCP writes still becomes one notification, and a `reply` tool
//! call is proxied with the bridge's channel and bearer token.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde_json::{json, Value};

use super::*;

/// A `Read` fed line by line from the test; dropping the sender is EOF.
struct ChanReader {
    rx: crossbeam_channel::Receiver<Vec<u8>>,
    pending: Vec<u8>,
}

impl Read for ChanReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pending.is_empty() {
            match self.rx.recv() {
                Ok(v) => self.pending = v,
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        Ok(n)
    }
}

/// Requests the fake daemon saw: (request line, authorization header, body).
type Seen = Arc<Mutex<Vec<(String, String, String)>>>;

/// Reads one request; the third element is the body, or for a GET the `connection` header.
fn read_request(stream: &mut TcpStream) -> (String, String, String) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    let (mut auth, mut len, mut connection) = (String::new(), 0usize, String::new());
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).unwrap();
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':').unwrap();
        match k.to_ascii_lowercase().as_str() {
            "authorization" => auth = v.trim().to_string(),
            "content-length" => len = v.trim().parse().unwrap(),
            "connection" => connection = v.trim().to_string(),
            _ => {}
        }
    }
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body).unwrap();
    let third = if first.starts_with("GET ") {
        connection
    } else {
        String::from_utf8(body).unwrap()
    };
    (first.trim_end().to_string(), auth, third)
}

fn fake_daemon(seen: Seen) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let seen = Arc::clone(&seen);
            std::thread::spawn(move || {
                let req = read_request(&mut stream);
                let is_events = req.0.starts_with("GET /events?channel=eng ");
                seen.lock().push(req);
                if is_events {
                    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n: connected\n\nevent: mess";
                    stream.write_all(head.as_bytes()).unwrap();
                    stream.flush().unwrap();
                    std::thread::sleep(Duration::from_millis(100));
                    let rest = "age\ndata: {\"content\":\"hi\",\"meta\":{\"source\":\"http-ui\",\"ts\":\"t\"},\"source\":\"http-ui\"}\n\n";
                    stream.write_all(rest.as_bytes()).unwrap();
                    stream.flush().unwrap();
                    std::thread::sleep(Duration::from_secs(30));
                } else {
                    let body = r#"{"sent":["1","2"]}"#;
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    stream.write_all(resp.as_bytes()).unwrap();
                }
            });
        }
    });
    format!("http://{addr}")
}

#[test]
fn split_event_becomes_a_notification_and_reply_is_proxied() {
    let seen: Seen = Arc::default();
    let url = fake_daemon(Arc::clone(&seen));
    let config = BridgeConfig {
        url,
        token: Some("tok".into()),
        channel: "eng".into(),
        namespace: Namespace::Agent,
        retry_base: Duration::from_millis(50),
    };
    let (tx, rx) = crossbeam_channel::unbounded();
    let out = Arc::new(Output::memory());
    let bridge = {
        let out = Arc::clone(&out);
        std::thread::spawn(move || {
            run_io(
                config,
                BufReader::new(ChanReader {
                    rx,
                    pending: Vec::new(),
                }),
                out,
            )
        })
    };

    let deadline = Instant::now() + Duration::from_secs(10);
    while out.lines().is_empty() {
        assert!(Instant::now() < deadline, "no notification arrived");
        std::thread::sleep(Duration::from_millis(20));
    }
    let note = &out.lines()[0];
    assert_eq!(
        note,
        &json!({"jsonrpc":"2.0","method":"notifications/claude/agent",
                "params":{"content":"hi","meta":{"source":"http-ui","ts":"t"}}})
    );

    let call = r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"reply","arguments":{"text":"yo","channel":"other"}}}"#;
    tx.send(format!("{call}\n").into_bytes()).unwrap();
    drop(tx);
    assert_eq!(bridge.join().unwrap(), 0);

    let lines = out.lines();
    let reply = lines.iter().find(|l| l["id"] == 7).expect("tool result");
    assert_eq!(
        reply["result"]["content"][0]["text"],
        "sent 2 parts (ids: 1, 2)"
    );
    let seen = seen.lock();
    assert_eq!(seen[0].1, "Bearer tok");
    assert_eq!(
        seen[0].2, "close",
        "the /events request asks for Connection: close"
    );
    let post = seen
        .iter()
        .find(|r| r.0.starts_with("POST /api/reply "))
        .expect("reply posted");
    assert_eq!(post.1, "Bearer tok");
    let body: Value = serde_json::from_str(&post.2).unwrap();
    assert_eq!(body, json!({"channel":"eng","text":"yo"}));
}
