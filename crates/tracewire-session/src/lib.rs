//! tracewire-session (under construction).

pub mod event;
pub mod read;
pub mod write;
pub mod convert;
pub mod span;
pub mod otlp;
pub mod resource;
pub mod export;
pub mod batch;
