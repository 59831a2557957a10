//! The integration tests of tracewire-context: one binary, one module per area.

#[cfg(feature = "reqwest")]
mod support;

mod differential_python;
mod otel_bridge;
mod properties;
mod reqwest_bridge;
mod tower_layer;
mod zero_alloc;
