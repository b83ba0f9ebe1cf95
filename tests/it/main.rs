//! The one integration-test binary: black-box tests of parachute-agent, one module per area.
mod attached_queue;
mod support;
mod vault_client;
