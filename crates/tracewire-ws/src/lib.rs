//! tracewire-ws: trace context inside WebSocket messages.

pub mod envelope;
mod error;

pub use envelope::{EnvelopeKind, Format, Malformed};
pub use error::Error;
