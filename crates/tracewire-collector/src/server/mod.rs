//! The collector server (feature `server`): ingest over a Unix socket, one assembler task,
//! subscriptions and callbacks, the view server, [`ViewClient`] and the journal. What it
//! guarantees is [docs/collector.md](https://github.com/tracewire/tracewire/blob/main/docs/collector.md).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use tracewire_collector::server::Collector;
//!
//! let bound = Collector::builder().with_socket_path("/tmp/tracewire-demo.sock").bind().await?;
//! let collector = bound.handle();
//! let mut traces = collector.subscribe_traces();
//! let server = tokio::spawn(bound.serve(async { let _ = tokio::signal::ctrl_c().await; }));
//! while let Ok(trace) = traces.recv().await {
//!     println!("{} (rev {})", trace.trace_id, trace.revision);
//! }
//! server.await??;
//! # Ok(()) }
//! ```

pub(crate) mod accept;
mod assembler_task;
mod batch_pool;
mod collector;
mod ingest;
mod journal;
mod stats;
mod subscribe;
mod view_client;
mod view_server;

pub use collector::{BoundCollector, Collector, CollectorBuilder, ServeError, ServeReport};
pub use journal::JournalReader;
pub use stats::{ConnStats, Gauges, IngestTotals, OutputStats, Stats};
pub use subscribe::{CallbackHandle, RecvError, SpanSubscription, TraceSubscription};
pub use view_client::{
    ConnectError, ViewClient, ViewEnd, ViewError, ViewSummary, VIEW_CONNECT_TIMEOUT,
};
pub use view_server::VIEW_WRITE_DEADLINE;

#[cfg(feature = "otlp")]
pub(crate) use collector::SHUTDOWN_DEADLINE;
