//! tracewire-collector (under construction).

pub mod lines;
pub mod assemble;
pub mod model;
pub mod stats;
pub mod render;
pub mod wire;
