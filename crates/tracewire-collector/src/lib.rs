//! tracewire-collector (under construction).
