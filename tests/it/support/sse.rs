//! An SSE test client: connects with ureq, parses `event:`/`data:` frames on a reader
//! thread and hands them over a channel, so tests can wait with a timeout.

use std::io::{BufRead, BufReader};
use std::time::Duration;

use crossbeam_channel::{unbounded, Receiver};
use serde_json::Value;

use super::http::Reply;

#[derive(Debug, Clone, PartialEq)]
pub enum SseItem {
    Comment(String),
    Event { name: String, data: String },
}

pub struct SseClient {
    pub status: u16,
    pub content_type: String,
    rx: Receiver<SseItem>,
}

/// Opens `url`. A non-200 answer comes back as `Err(Reply)` with its body.
pub fn connect(url: &str, token: Option<&str>) -> Result<SseClient, Reply> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut req = agent.get(url);
    if let Some(t) = token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    let mut resp = req.call().unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if status != 200 {
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    v.to_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let body = resp.body_mut().read_to_string().unwrap_or_default();
        return Err(Reply {
            status,
            headers,
            body,
        });
    }
    let (tx, rx) = unbounded();
    let reader = resp.into_body().into_reader();
    std::thread::spawn(move || {
        let mut name = String::new();
        let mut data = String::new();
        for line in BufReader::new(reader).lines() {
            let Ok(line) = line else { break };
            if let Some(c) = line.strip_prefix(':') {
                let _ = tx.send(SseItem::Comment(c.trim().to_string()));
            } else if let Some(n) = line.strip_prefix("event:") {
                name = n.trim().to_string();
            } else if let Some(d) = line.strip_prefix("data:") {
                data.push_str(d.trim_start());
            } else if line.is_empty() && !data.is_empty() {
                let ev = SseItem::Event {
                    name: std::mem::take(&mut name),
                    data: std::mem::take(&mut data),
                };
                if tx.send(ev).is_err() {
                    break;
                }
            }
        }
    });
    Ok(SseClient {
        status,
        content_type,
        rx,
    })
}

impl SseClient {
    /// The next item (comment or event) within `timeout`.
    pub fn next(&self, timeout: Duration) -> Option<SseItem> {
        self.rx.recv_timeout(timeout).ok()
    }

    /// The next event (comments skipped) within `timeout`, data parsed as JSON.
    pub fn next_event(&self, timeout: Duration) -> Option<(String, Value)> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(std::time::Instant::now())?;
            match self.rx.recv_timeout(left).ok()? {
                SseItem::Event { name, data } => {
                    return Some((
                        name,
                        serde_json::from_str(&data).unwrap_or(Value::String(data)),
                    ))
                }
                SseItem::Comment(_) => continue,
            }
        }
    }

    /// True once the server ended the stream.
    pub fn closed_within(&self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) else {
                return false;
            };
            match self.rx.recv_timeout(left) {
                Ok(_) => continue,
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return true,
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => return false,
            }
        }
    }
}
