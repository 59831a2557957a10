//! tracewire-ws (under construction).
