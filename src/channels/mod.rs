//! Channels (spec 05 §0, §5): the live map of named channels, each bound to one
//! transport; inbound messages enter through [`ChannelRegistry::emit`], which applies the
//! routing fork (attached → programmatic → fan-out) of spec 05 §0.3; `channels.json` and
//! its reload are [`file::ChannelFile`].

pub mod factory;
pub mod file;
pub mod http_ui;
pub mod recent;
pub mod registry;
pub mod sse_hub;
pub mod store;
pub mod stream_guard;
pub mod telegram;
pub mod transport;
pub mod vault;

pub use registry::{
    Channel, ChannelRegistry, Emitted, FanoutEvent, FanoutSink, InboundRoute, OffsetStore, Refusal,
};
pub use sse_hub::SseHub;
pub use transport::{ChannelContext, InboundMessage, Transport, TransportError};
