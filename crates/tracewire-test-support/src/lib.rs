//! Helpers shared by tracewire's integration tests and benchmarks (not published).
//!
//! - [`env`](mod@env): tests that change the process environment, one at a time;
//! - [`otlp_receiver`]: a real OTLP/HTTP receiver on 127.0.0.1 that decodes every request
//!   with `opentelemetry-proto` and answers as a test scripts it;
//! - [`spans`]: deterministic test spans.

pub mod env;
pub mod otlp_receiver;
pub mod spans;

pub use env::EnvGuard;
pub use otlp_receiver::{Receiver, Recorded, Reply};
