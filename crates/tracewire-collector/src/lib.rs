//! tracewire-collector (under construction).

pub mod lines;
pub mod model;
pub mod wire;
