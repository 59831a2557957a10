//! tracewire-session (under construction).
