//! Strict W3C Trace Context, W3C Baggage and AWS X-Ray propagation.
//!
//! `tracewire-context` owns the [`TraceContext`] that travels between processes: through
//! HTTP headers, and through the string maps of queue and event metadata. Its parsers
//! follow the standards to the letter where the ecosystem's are lenient (version `ff`,
//! uppercase hex, short ids and extra fields are rejected; an invalid tracestate member
//! drops the whole header; an X-Ray header without `Parent` keeps its trace id), and
//! every rejected header is reported through [`TraceContext::rejections`].
//!
//! ```
//! use std::collections::HashMap;
//! use tracewire_context::{SpanId, TraceContext};
//!
//! // A queue producer puts its context on an event's metadata…
//! let incoming: HashMap<String, String> = HashMap::from([(
//!     "traceparent".to_owned(),
//!     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
//! )]);
//! let cx = TraceContext::extract(&incoming);
//! let mut metadata: HashMap<String, String> = HashMap::new();
//! cx.child(SpanId::from_u64(0x1234)).inject(&mut metadata);
//!
//! // …and a worker continues the same trace.
//! let worker = TraceContext::extract(&metadata);
//! assert_eq!(worker.trace_id(), cx.trace_id());
//! assert_eq!(metadata["traceparent"], "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000001234-01");
//! ```
//!
//! # Features
//!
//! - `otel` (default): conversions to and from OpenTelemetry `SpanContext` and `Context`,
//!   and strict `TextMapPropagator`s ([`otel`]).
//! - `http` (default): [`carrier`] implementations for `http::HeaderMap`.
//! - `tower`: `TraceContextLayer` middleware.
//! - `reqwest`: inject a context into a `reqwest::RequestBuilder`.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod ascii_buf;
mod baggage;
pub mod carrier;
mod context;
mod error;
mod flags;
mod ids;
mod traceparent;
mod tracestate;
mod xray;

#[cfg(feature = "otel")]
pub mod otel;
#[cfg(feature = "reqwest")]
pub mod reqwest;
#[cfg(feature = "tower")]
pub mod tower;

pub use baggage::{Baggage, BaggageMember, BaggageProperty};
pub use context::{header, Rejection, TraceContext};
pub use error::ParseError;
pub use flags::TraceFlags;
pub use ids::{HexBuf, SpanId, TraceId};
pub use traceparent::{Traceparent, TraceparentBuf};
pub use tracestate::TraceState;
pub use xray::{XRayField, XRayHeader, XRaySampled};

/// Limits applied by the parsers and formatters.
pub mod limits {
    pub use crate::baggage::{MAX_BYTES as BAGGAGE_MAX_BYTES, MAX_MEMBERS as BAGGAGE_MAX_MEMBERS};
    pub use crate::tracestate::{
        MAX_HEADER_LEN as TRACESTATE_MAX_HEADER_LEN, MAX_MEMBERS as TRACESTATE_MAX_MEMBERS,
    };
}

/// The README's examples, compiled and run as doctests.
#[cfg(all(doctest, feature = "http"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
