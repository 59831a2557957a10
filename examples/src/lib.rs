//! Runnable examples of the tracewire workspace; see the `[[example]]` targets.

pub mod w3c;
