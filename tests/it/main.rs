//! The one integration-test binary: black-box tests of parachute-agent, one module per area.
mod support;
mod vault_client;
