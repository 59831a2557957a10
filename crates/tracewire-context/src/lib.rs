//! tracewire-context (under construction).
