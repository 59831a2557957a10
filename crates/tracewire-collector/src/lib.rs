//! tracewire-collector (under construction).

pub mod lines;
pub mod assemble;
pub mod model;
pub mod stats;
pub mod render;
pub mod wire;
pub mod paths;
pub use paths::BindError;

#[cfg(feature = "emitter")]
pub mod emitter;
#[cfg(feature = "server")]
pub mod server;
