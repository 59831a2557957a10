//! tracewire-collector (under construction).

pub mod model;
