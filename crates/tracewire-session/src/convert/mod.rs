//! The converter: session events → spans. Every rule is stated in
//! [docs/sessions.md](https://github.com/tracewire/tracewire/blob/main/docs/sessions.md).
//!
//! Conversion is infallible and deterministic: events are sorted by `(timestamp, seq)`,
//! starts and completions are paired FIFO per key (early completions are buffered),
//! unmatched starts are emitted as `incomplete`, and ids are PromptKit's SHA-256 ids,
//! made unique with `key#n` when a key repeats.
//!
//! ```
//! use tracewire_session::convert::{ConvertOptions, Converter};
//! use tracewire_session::read::{read_jsonl, ReadOptions};
//!
//! let jsonl = r#"{"seq":1,"event":{"type":"provider.call.started","timestamp":"2026-02-22T10:15:30Z","run_id":"run-1","session_id":"session-1","data":{"Provider":"openai","Model":"gpt-4o"}}}
//! {"seq":2,"event":{"type":"provider.call.completed","timestamp":"2026-02-22T10:15:31Z","run_id":"run-1","session_id":"session-1","data":{"Provider":"openai","InputTokens":100}}}"#;
//! let events: Vec<_> = read_jsonl(jsonl.as_bytes(), ReadOptions::default())
//!     .collect::<Result<_, _>>()
//!     .unwrap();
//! let out = Converter::new(ConvertOptions::default()).convert_session("session-1", &events);
//! assert_eq!(out.spans[0].name, "session");
//! assert_eq!(out.spans[1].name, "provider.openai");
//! assert_eq!(out.spans[1].span_id.to_string(), "f70379eea6bb3625");
//! ```

mod attrs;
mod engine;
mod fields;
mod gojson;
mod ids;
mod parent;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use tracewire_context::TraceContext;

pub use ids::{key_span_id, session_trace_id};
pub use parent::ParentOutcome;

use crate::event::SessionEvent;
use parent::Placement;
use tracewire_otlp::Span;

/// Which semantic conventions name the attributes. Span names and kinds never depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Naming {
    /// PromptKit's attribute keys (byte-for-byte PK output).
    #[default]
    PromptKit,
    /// OpenTelemetry GenAI semantic conventions.
    GenAi,
    /// The union of both.
    Both,
}

/// How the root span's status is derived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum RootStatus {
    /// `Error("{n} child span(s) failed")` when children failed, else `Ok`.
    #[default]
    FromChildren,
    /// Always `Ok`, as PromptKit does.
    AlwaysOk,
}

/// What to do with a completion whose start never arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Orphans {
    /// Emit it as a span marked `tracewire.orphan=true`.
    #[default]
    Emit,
    /// Count it in [`ConvertStats::orphans`] and leave it out.
    Drop,
}

/// Rewrites or removes content attributes (message text, tool arguments) before they
/// leave the process.
pub trait Redactor: Send + Sync {
    /// Called once per content attribute; `None` or `Some("")` drops the attribute.
    fn redact(&self, key: &str, value: &str) -> Option<String>;
}

impl<F> Redactor for F
where
    F: Fn(&str, &str) -> Option<String> + Send + Sync,
{
    fn redact(&self, key: &str, value: &str) -> Option<String> {
        self(key, value)
    }
}

/// Options of the [`Converter`]; the defaults reproduce PromptKit except where PromptKit
/// loses or leaks data: the root status comes from the children, and content capture is off.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct ConvertOptions {
    /// Attribute naming.
    pub naming: Naming,
    /// Capture message text and tool arguments (off by default: they may hold secrets).
    pub capture_content: bool,
    /// Runs on every content attribute when capture is on.
    pub redactor: Option<Arc<dyn Redactor>>,
    /// Root status policy.
    pub root_status: RootStatus,
    /// Orphan completion policy.
    pub orphans: Orphans,
}

impl fmt::Debug for ConvertOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConvertOptions")
            .field("naming", &self.naming)
            .field("capture_content", &self.capture_content)
            .field("redactor", &self.redactor.as_ref().map(|_| "<redactor>"))
            .field("root_status", &self.root_status)
            .field("orphans", &self.orphans)
            .finish()
    }
}

impl ConvertOptions {
    /// Sets the naming mode.
    #[must_use]
    pub fn with_naming(mut self, naming: Naming) -> Self {
        self.naming = naming;
        self
    }

    /// Turns content capture on or off.
    #[must_use]
    pub fn with_capture_content(mut self, capture: bool) -> Self {
        self.capture_content = capture;
        self
    }

    /// Installs a redactor (used only when capture is on).
    #[must_use]
    pub fn with_redactor(mut self, redactor: Arc<dyn Redactor>) -> Self {
        self.redactor = Some(redactor);
        self
    }

    /// Sets the root status policy.
    #[must_use]
    pub fn with_root_status(mut self, root_status: RootStatus) -> Self {
        self.root_status = root_status;
        self
    }

    /// Sets the orphan policy.
    #[must_use]
    pub fn with_orphans(mut self, orphans: Orphans) -> Self {
        self.orphans = orphans;
        self
    }
}

/// Counts describing one conversion, so nothing is dropped silently.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConvertStats {
    /// Events given to the converter.
    pub events: u64,
    /// Events of types the converter does not map, per type.
    pub skipped_by_type: BTreeMap<String, u64>,
    /// Payload fields of the wrong JSON type (treated as absent).
    pub bad_fields: u64,
    /// Events whose missing, zero or pre-1970 time was inferred from a neighbour.
    pub timestamps_inferred: u64,
    /// Starts that never completed (emitted with `Error("incomplete")`).
    pub incomplete: u64,
    /// Completions whose start never arrived.
    pub orphans: u64,
    /// Spans whose key repeated and got a `#n` suffix.
    pub disambiguated: u64,
    /// Messages attached to the root because no provider call was open.
    pub messages_on_root: u64,
}

impl ConvertStats {
    /// Total skipped events over all types.
    pub fn skipped(&self) -> u64 {
        self.skipped_by_type.values().sum()
    }

    /// Adds another session's counts to these.
    pub fn merge(&mut self, other: &ConvertStats) {
        self.events += other.events;
        for (k, v) in &other.skipped_by_type {
            *self.skipped_by_type.entry(k.clone()).or_insert(0) += v;
        }
        self.bad_fields += other.bad_fields;
        self.timestamps_inferred += other.timestamps_inferred;
        self.incomplete += other.incomplete;
        self.orphans += other.orphans;
        self.disambiguated += other.disambiguated;
        self.messages_on_root += other.messages_on_root;
    }
}

/// The result of converting one session.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Conversion {
    /// The root first, then the other spans in the sorted order of their start events
    /// (orphans last).
    pub spans: Vec<Span>,
    /// What happened along the way.
    pub stats: ConvertStats,
    /// What became of the parent context.
    pub parent: ParentOutcome,
}

/// Converts session events into spans.
#[derive(Debug, Clone, Default)]
pub struct Converter {
    options: ConvertOptions,
}

impl Converter {
    /// A converter with these options.
    pub fn new(options: ConvertOptions) -> Self {
        Self { options }
    }

    /// The options in use.
    pub fn options(&self) -> &ConvertOptions {
        &self.options
    }

    /// Converts one session's events (any order) into spans under the session's own trace.
    pub fn convert_session(&self, session_id: &str, events: &[SessionEvent]) -> Conversion {
        let placement = Placement::session(session_trace_id(session_id));
        engine::run(&self.options, session_id, events, placement)
    }

    /// Converts one session under a caller's trace context
    /// ([docs/sessions.md#parent-linking](https://github.com/tracewire/tracewire/blob/main/docs/sessions.md#parent-linking)). An invalid context
    /// falls back to the session's own trace, reported in [`Conversion::parent`] and
    /// logged once.
    pub fn convert_session_with_parent(
        &self,
        session_id: &str,
        events: &[SessionEvent],
        parent: &TraceContext,
    ) -> Conversion {
        let placement = Placement::from_context(session_trace_id(session_id), parent);
        engine::run(&self.options, session_id, events, placement)
    }
}
