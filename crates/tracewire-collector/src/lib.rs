//! A go-trace compatible local span collector.
//!
//! Apps send newline-delimited JSON span events (start and end halves) over a Unix socket;
//! the collector pairs them into spans, assembles trace trees and fans them out to viewers,
//! subscribers, a journal and OTLP — bounding memory and counting every loss.
//!
//! The core is sans-IO and always available, whatever the features:
//! - [`model`]: ids (`tracewire-context`'s, plus [`WireTraceId`] for go-trace's short trace
//!   ids), go-trace kinds ([`WireKind`]), RFC 3339 timestamps, ingest events
//!   ([`IngestEvent`]), completed spans and trees; statuses are `tracewire-otlp`'s;
//! - [`lines`]: a line splitter for byte streams (CRLF, blank lines, over-long lines);
//! - [`wire`]: the ingest and view line codecs, byte-compatible with go-trace;
//! - [`assemble`]: the [`Assembler`] state machine (pairing, grace, revisions, bounds);
//! - [`render`] and [`stats`]: go-trace's tree display and the percentile table.
//!
//! The `server` feature (default) adds the async collector, view server and client, the
//! `emitter` and `otel` features the app side, and `otlp` the OTLP receiver and forwarder.
//!
//! Decode two go-trace lines, assemble them with an injected clock and render the tree:
//!
//! ```
//! use std::time::{Duration, Instant};
//! use tracewire_collector::{decode_ingest_line, render_tree, Assembler, Limits, Output, RenderOptions};
//!
//! let lines = [
//!     r#"{"type":0,"span_id":"9f86d081884c7d65","trace_id":"3a7bd3e2360a3d29","name":"GET /hello","kind":1,"time":"2025-06-01T10:00:00+09:00"}"#,
//!     r#"{"type":0,"span_id":"00f067aa0ba902b7","trace_id":"3a7bd3e2360a3d29","parent_id":"9f86d081884c7d65","name":"Greet","kind":0,"time":"2025-06-01T10:00:00.00002+09:00"}"#,
//!     r#"{"type":1,"span_id":"00f067aa0ba902b7","trace_id":"3a7bd3e2360a3d29","name":"","kind":0,"time":"2025-06-01T10:00:00.00007+09:00"}"#,
//!     r#"{"type":1,"span_id":"9f86d081884c7d65","trace_id":"3a7bd3e2360a3d29","name":"","kind":0,"time":"2025-06-01T10:00:00.0001+09:00"}"#,
//! ];
//! let mut assembler = Assembler::new(Limits::default());
//! let now = Instant::now();
//! for line in lines {
//!     let event = decode_ingest_line(line.as_bytes()).expect("valid line");
//!     assembler.push_event(event, now);
//! }
//! assembler.tick(now + Limits::default().grace);
//! let trees: Vec<_> = assembler
//!     .drain_outputs()
//!     .filter_map(|out| match out {
//!         Output::Trace(trace) => Some(trace),
//!         Output::Span(_) => None,
//!     })
//!     .collect();
//! assert_eq!(
//!     render_tree(&trees[0], &RenderOptions::plain()),
//!     "GET /hello [http] 100µs\n└── Greet [function] 50µs\n\n"
//! );
//! assert!(assembler.stats().conservation_holds());
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(not(unix))]
compile_error!(
    "tracewire-collector runs on Unix only (Linux, macOS, the BSDs): the collector, its viewers and the app-side emitter talk over Unix-domain sockets"
);

pub mod assemble;
pub mod lines;
pub mod model;
pub mod paths;
pub mod render;
pub mod stats;
pub mod wire;
pub use paths::BindError;

pub use assemble::{Assembler, AssemblyStats, Limits, Output};
pub use lines::{LineEvent, LineSplitter};
pub use model::{
    CompletedSpan, IngestEvent, SpanEnd, SpanId, SpanNode, SpanStart, Status, StatusCode,
    Timestamp, Trace, WireKind, WireTraceId,
};
pub use render::{format_duration, render_tree, RenderOptions};
pub use stats::{SortKey, SpanStats};
pub use wire::{decode_ingest_line, encode_ingest_line, IngestCounts, LineRejection};

#[cfg(feature = "emitter")]
pub mod emitter;
#[cfg(feature = "otel")]
pub mod otel;
#[cfg(feature = "otlp")]
pub mod otlp;
#[cfg(feature = "server")]
pub mod server;

/// Internals reached by the fuzz targets in `fuzz/` and by the property and resolution
/// tests (feature `fuzzing`). Not a stable API: anything here may change or go away in any
/// release.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod __fuzz {
    use std::ffi::OsString;
    use std::path::{Path, PathBuf};

    #[cfg(feature = "otlp")]
    pub use crate::otlp::parse::{parse_export_request, ParsedRequest};

    /// The ingest path configured by `explicit`, `TRACEWIRE_SOCKET` or `GOTRACE_SOCKET`,
    /// with the variables read through `lookup` (the emitter's resolution).
    pub fn configured_socket_path_with(
        explicit: Option<&Path>,
        lookup: impl Fn(&str) -> Option<OsString>,
    ) -> Option<PathBuf> {
        crate::paths::configured_socket_path_with(explicit, lookup)
    }

    /// The runtime directory for these `XDG_RUNTIME_DIR` and `TMPDIR` values.
    pub fn runtime_dir_path_from(
        xdg_runtime_dir: Option<OsString>,
        tmpdir: Option<OsString>,
    ) -> PathBuf {
        crate::paths::runtime_dir_path_from(xdg_runtime_dir, tmpdir)
    }
}
