//! Wire codecs: ingest lines (app → collector,
//! [docs/wire-formats.md#collector-ingest-lines](https://github.com/tracewire/tracewire/blob/main/docs/wire-formats.md#collector-ingest-lines))
//! and view lines (collector → viewers,
//! [docs/wire-formats.md#collector-view-lines](https://github.com/tracewire/tracewire/blob/main/docs/wire-formats.md#collector-view-lines)).
//! Pure functions over byte slices, no I/O; split a byte stream into lines with
//! [`crate::lines::LineSplitter`] first.
//!
//! ```
//! use tracewire_collector::model::IngestEvent;
//! use tracewire_collector::wire::{decode_ingest_line, LineRejection};
//!
//! let line = br#"{"type":0,"span_id":"9f86d081884c7d65","trace_id":"3a7bd3e2360a3d29","name":"GET /users","kind":1,"time":"2025-06-01T10:00:00.123456789+09:00"}"#;
//! let IngestEvent::Start(start) = decode_ingest_line(line).unwrap() else { unreachable!() };
//! assert_eq!(start.name, "GET /users");
//! assert_eq!(start.time.to_rfc3339_nano(), "2025-06-01T01:00:00.123456789Z");
//!
//! assert_eq!(decode_ingest_line(br#"{"span_id":"9f86d081884c7d65"}"#), Err(LineRejection::MissingType));
//! ```

mod fast;
mod ingest;
mod json;
mod view;

pub use ingest::{decode_ingest_line, encode_ingest_line, is_blank, IngestCounts, LineRejection};
#[cfg(feature = "server")]
pub(crate) use view::count_view_line;
pub use view::{decode_view_line, encode_view_line, view_line};
