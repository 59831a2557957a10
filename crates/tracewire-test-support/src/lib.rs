//! Helpers shared by tracewire's integration tests and benchmarks (not published).
//!
//! - [`child`]: one test of the current binary in a child process with its own
//!   environment (for code that reads the process environment);
//! - [`env`](mod@env): tests that change the process environment, one at a time;
//! - [`otlp_receiver`]: a real OTLP/HTTP receiver on 127.0.0.1 that decodes every request
//!   with `opentelemetry-proto` and answers as a test scripts it;
//! - [`otel_env`]: the one table of `OTEL_*` environment cases that the exporter,
//!   `init_tracer` and `tracewire collect --forward` are all driven through;
//! - [`spans`]: deterministic test spans;
//! - [`tls_probe`]: tells whether a client spoke TLS, without certificates.

pub mod child;
pub mod env;
pub mod otel_env;
pub mod otlp_receiver;
pub mod spans;
pub mod tls_probe;

pub use env::EnvGuard;
pub use otlp_receiver::{Receiver, Recorded, Reply};
