//! Hostile-input tests: each defect an attacker or a broken host could cause,
//! reproduced black-box, then proof that the daemon still serves and lost nothing.

mod http_common;
mod http_connections;
mod http_framing;
mod http_headers;
mod http_slow;
mod state_common;
mod state_lock;
mod state_mcp;
mod state_mounts;
mod state_persist;
mod state_ring;
mod state_streams;
mod state_systemd;
