//! The integration tests of tracewire-ws: one binary, one module per area.

mod common;

mod capacity;
#[cfg(feature = "otlp")]
mod global_init;
mod negotiation;
mod spans;
mod tls;
mod vectors;
mod wire;
