//! The Streamable-HTTP MCP endpoint `/mcp/<ch>`, black-box (spec 05 §1): route
//! order and auth, OAuth discovery, the scripted JSON-RPC client on both tool surfaces,
//! push streams, sessions across restarts, the attached queue through MCP, and the
//! official MCP Python SDK as a real client.

mod bench;
pub(crate) mod client;
mod discovery;
mod http_ui;
mod pull;
mod push;
mod rig;
mod streams;
