//! Recorded LLM-agent sessions (PromptKit recordings) → OpenTelemetry spans.
//!
//! ## Converting
//!
//! [`read::read_jsonl`] reads PromptKit `FileEventStore` recordings and this crate's
//! native form (detected per line; malformed lines are counted, not fatal).
//! [`Converter`] turns one session's events into spans with PromptKit's deterministic
//! SHA-256 ids (unique on repeats via `key#n`), nested under their run's pipeline,
//! independent of input order. Message text and tool arguments are left out unless
//! [`ConvertOptions::capture_content`] is set.
//!
//! ```
//! use tracewire_session::event::group_by_session;
//! use tracewire_session::read::{read_jsonl, ReadOptions};
//! use tracewire_session::{ConvertOptions, Converter};
//!
//! let recording = r#"{"seq":1,"parent_id":null,"event":{"type":"pipeline.started","timestamp":"2026-02-22T10:15:30Z","run_id":"run-1","session_id":"session-1","data":{}}}
//! {"seq":2,"parent_id":null,"event":{"type":"tool.call.started","timestamp":"2026-02-22T10:15:30.5Z","run_id":"run-1","session_id":"session-1","data":{"ToolName":"search","CallID":"call-123"}}}
//! {"seq":3,"parent_id":null,"event":{"type":"tool.call.completed","timestamp":"2026-02-22T10:15:31Z","run_id":"run-1","session_id":"session-1","data":{"ToolName":"search","CallID":"call-123","Status":"success"}}}
//! not a JSON line
//! {"seq":4,"parent_id":null,"event":{"type":"pipeline.completed","timestamp":"2026-02-22T10:15:32Z","run_id":"run-1","session_id":"session-1","data":{"Duration":2000000000}}}"#;
//!
//! let mut reader = read_jsonl(recording.as_bytes(), ReadOptions::default());
//! let events: Vec<_> = reader.by_ref().filter_map(Result::ok).collect();
//! assert_eq!(reader.stats().malformed, 1);
//!
//! let converter = Converter::new(ConvertOptions::default());
//! for (session_id, events) in group_by_session(events) {
//!     let out = converter.convert_session(&session_id, &events);
//!     let names: Vec<_> = out.spans.iter().map(|s| s.name.as_str()).collect();
//!     assert_eq!(names, ["session", "pipeline", "tool.search"]);
//!     assert_eq!(out.spans[2].span_id.to_string(), "01ed8855e439eb80"); // = PromptKit
//!     assert_eq!(out.spans[2].parent_span_id, Some(out.spans[1].span_id));
//! }
//! ```
//!
//! [`Converter::convert_session_with_parent`] places the session under a caller's
//! [`tracewire_context::TraceContext`] (W3C or X-Ray); an invalid one is reported in
//! [`Conversion::parent`] and logged once, never silently dropped.
//!
//! ## Exporting
//!
//! The spans are `tracewire-otlp` [`Span`]s: send them with its `OtlpHttpExporter` or
//! `BatchExporter`, or hand them to an OpenTelemetry SDK exporter through
//! `tracewire_otlp::sdk::to_span_data`.

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod convert;
pub mod event;
pub mod identity;
pub mod read;
pub mod write;

pub use convert::{
    Conversion, ConvertOptions, ConvertStats, Converter, Naming, ParentOutcome, Redactor,
};
pub use event::SessionEvent;
pub use tracewire_otlp::Span;

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
