//! The integration tests of tracewire-collector: one binary, one module per area.

mod assemble_common;
mod common;

mod assemble_pairing;
mod assemble_props;
mod assemble_trees;
mod emitter_props;
mod emitter_reconnect;
mod journal_replay;
mod load_emitters;
mod otel_exporter;
mod otlp_parse_props;
mod otlp_receiver;
mod paths_bind;
// Needs the internal resolution functions (`__fuzz`, feature `fuzzing`; CI tests with
// `--all-features`).
#[cfg(feature = "fuzzing")]
mod paths_resolution;
mod render_tree;
mod server_subscriptions;
mod stats_percentiles;
mod view_server;
mod wire_ingest;
mod wire_lines;
mod wire_view;
