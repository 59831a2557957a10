//! The integration tests of tracewire-session: one binary, one module per area.

mod convert_support;

mod convert_fixes;
mod convert_goldens;
mod convert_parent;
mod convert_promptkit;
mod convert_props;
mod read_formats;
mod read_roundtrip_props;
