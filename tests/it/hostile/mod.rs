//! Hostile-input tests (issue 11): each defect an attacker or a broken host could cause,
//! reproduced black-box, then proof that the daemon still serves and lost nothing.

mod state_common;
mod state_lock;
mod state_mounts;
