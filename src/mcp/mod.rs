//! The Streamable-HTTP MCP endpoint `/mcp/<channel>` (spec 05 §1): JSON-RPC messages,
//! protocol negotiation, tool surfaces, sessions, SSE framing and OAuth discovery. The HTTP
//! route glue lives in `route`; everything else here is independent of the HTTP server.

pub mod discovery;
pub mod endpoint;
pub mod jsonrpc;
pub mod protocol;
pub mod service;
pub mod session;
pub mod sse;
pub mod tools;

pub use endpoint::{handle, McpHost, McpHttpRequest, McpHttpResponse};
pub use session::{McpSessionStore, SessionInfo};
pub use tools::{Surface, ToolResult};
