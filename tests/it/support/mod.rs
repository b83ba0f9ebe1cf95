//! Test support: the daemon harness, an HTTP client, and fakes of the outside world.

#![allow(dead_code)]

pub mod browser;
pub mod daemon;
pub mod fake_anthropic;
pub mod fake_telegram;
pub mod fake_vault;
pub mod http;
pub mod hub;
pub mod sse;

/// A free TCP port on 127.0.0.1 (bound then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
