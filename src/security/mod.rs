//! Operator security (spec 01 §4, §5): one-time SSE tickets ([`tickets`]), the step-up PIN
//! and its tokens ([`stepup`]) and the PIN attempt limiter ([`limiter`]). The HTTP gates
//! built on them and the `/api/step-up*` routes live in `api::gate` and `api::security`.
//! Lifetimes come from `Config` (`PARACHUTE_AGENT_SSE_TICKET_TTL_SECS`,
//! `PARACHUTE_AGENT_STEP_UP_TTL_SECS`, spec 08: they may only shorten); the stores clamp
//! them again so no caller can lengthen them.

pub mod limiter;
pub mod stepup;
pub mod tickets;

pub use limiter::{RateLimiter, RetryAfter};
pub use stepup::{GateError, MintedStepUp, StepUpError, StepUpStore};
pub use tickets::{MintedTicket, TicketError, TicketStore};
