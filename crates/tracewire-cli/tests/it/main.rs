//! The integration tests of tracewire-cli: one binary, one module per area.

mod cli_collect;
mod cli_discovery;
mod cli_export;
mod cli_otel_env;
mod cli_show;
