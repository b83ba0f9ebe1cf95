//! One setting every outbound ureq agent of the daemon shares: small I/O buffers. ureq
//! gives each connection a 128 KiB input and a 128 KiB output buffer, zero-filled when
//! the connection first carries a call and kept while it idles in the agent's pool — so
//! the two pooled hub connections of the first hub-token request alone left 512 KiB
//! resident. Our calls send and receive small heads (bodies stream through the buffers),
//! so 16 KiB each does; the response head must fit the input buffer, hence the same
//! bound on it (ureq's default limit is 64 KiB).

use ureq::config::ConfigBuilder;
use ureq::typestate::AgentScope;

/// Size of each connection's input and output buffer, and the largest response head.
pub const IO_BUFFER: usize = 16 * 1024;

/// `builder` with the daemon's buffer sizes.
pub fn lean_buffers(builder: ConfigBuilder<AgentScope>) -> ConfigBuilder<AgentScope> {
    builder
        .input_buffer_size(IO_BUFFER)
        .output_buffer_size(IO_BUFFER)
        .max_response_header_size(IO_BUFFER)
}
