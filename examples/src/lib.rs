//! Runnable examples of the tracewire workspace; see the `[[example]]` targets.
