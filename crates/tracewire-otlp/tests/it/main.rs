//! The integration tests of tracewire-otlp: one binary, one module per area.

mod batch_events;
mod batch_lifecycle;
mod batch_outage;
mod export_env;
mod export_http;
mod export_retry;
mod export_sdk;
mod export_tls;
#[cfg(feature = "init")]
mod init_env;
mod resource_env;
