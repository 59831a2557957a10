//! The data model shared by every part of the collector: identifiers, go-trace kinds,
//! timestamps, statuses, ingest events, completed spans and assembled trees.
//!
//! Ids are `tracewire-context`'s [`TraceId`] and [`SpanId`]; [`WireTraceId`] only adds
//! go-trace's 64-bit trace ids. Statuses are `tracewire-otlp`'s [`Status`].
//!
//! Everything here is plain data with no I/O, so the decoder, the [`Assembler`], the
//! renderer, the server and the emitter all speak the same types.
//!
//! [`Assembler`]: crate::assemble::Assembler

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tracewire_context::ParseError;
pub use tracewire_context::{SpanId, TraceId};
use tracewire_otlp::rfc3339::{rfc3339_nano, Rfc3339Buf};

/// The span id of a synthetic root: all zeros, which is invalid on the wire, so it never
/// collides with a real span.
pub const SYNTHETIC_SPAN_ID: SpanId = SpanId::INVALID;

/// Why an identifier could not be parsed from hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// The text has a length the id kind does not allow (16 for span ids, 16 or 32 for trace ids).
    #[error("id has {0} characters, expected {1}")]
    Length(usize, &'static str),
    /// A character is not a hex digit.
    #[error("id contains a non-hex character")]
    NotHex,
    /// All digits are zero, which W3C (and go-trace) treat as invalid.
    #[error("id is all zeros")]
    Zero,
}

/// Decodes hex of either case with `tracewire-context`'s decoder, which takes lowercase
/// only (as W3C requires). Lowercase text, what apps send, goes straight through; text
/// with capitals (which go-trace's collector accepts, so ours does too) is lowercased on
/// the stack and decoded again. `expected` names the allowed lengths in the error.
#[inline]
fn decode_any_case<T>(
    s: &str,
    expected: &'static str,
    decode: impl Fn(&str) -> Result<T, ParseError>,
) -> Result<T, IdError> {
    match decode(s) {
        Ok(v) => Ok(v),
        Err(e) => retry_lowercase(s, expected, e, decode),
    }
}

/// The rare path of [`decode_any_case`]: capitals, or not an id at all.
#[cold]
fn retry_lowercase<T>(
    s: &str,
    expected: &'static str,
    error: ParseError,
    decode: impl Fn(&str) -> Result<T, ParseError>,
) -> Result<T, IdError> {
    let ParseError::UppercaseHex { .. } = error else {
        return Err(id_error(error, expected));
    };
    let mut buf = [0u8; 32];
    let lower = buf
        .get_mut(..s.len())
        .ok_or(IdError::Length(s.len(), expected))?;
    lower.copy_from_slice(s.as_bytes());
    lower.make_ascii_lowercase();
    // Lowercasing ASCII letters keeps the text UTF-8.
    let lower = std::str::from_utf8(lower).map_err(|_| IdError::NotHex)?;
    decode(lower).map_err(|e| id_error(e, expected))
}

fn id_error(e: ParseError, expected: &'static str) -> IdError {
    match e {
        ParseError::WrongLength { found, .. } => IdError::Length(found, expected),
        ParseError::ZeroId { .. } => IdError::Zero,
        _ => IdError::NotHex,
    }
}

/// Parses a span id: exactly 16 hex digits of either case; all-zero ids are rejected.
pub fn parse_span_id(s: &str) -> Result<SpanId, IdError> {
    let id = decode_any_case(s, "16", SpanId::from_hex)?;
    if id.is_valid() {
        Ok(id)
    } else {
        Err(IdError::Zero)
    }
}

/// A trace id as it arrived on the wire, keeping its width so 16-hex (go-trace) ids are
/// echoed as 16 hex. A 128-bit id is `tracewire-context`'s [`TraceId`]; only go-trace's
/// short ids need a type of their own.
///
/// Ordering and hashing distinguish the widths: `Short(1)` and a `W3c` id of value 1 are
/// different traces, because on the wire they are different strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WireTraceId {
    /// A 64-bit id, written as 16 lowercase hex digits (what go-trace generates).
    Short(u64),
    /// A 128-bit W3C id, written as 32 lowercase hex digits.
    W3c(TraceId),
}

impl WireTraceId {
    /// Parses 16 or 32 hex digits (any case); all-zero ids are rejected.
    pub fn parse_hex(s: &str) -> Result<Self, IdError> {
        const EXPECTED: &str = "16 or 32";
        let id = match s.len() {
            // Sixteen digits are eight bytes, the size of a span id: its decoder reads them.
            16 => WireTraceId::Short(decode_any_case(s, EXPECTED, SpanId::from_hex)?.to_u64()),
            32 => WireTraceId::W3c(decode_any_case(s, EXPECTED, TraceId::from_hex)?),
            n => return Err(IdError::Length(n, EXPECTED)),
        };
        if id.to_u128() == 0 {
            return Err(IdError::Zero);
        }
        Ok(id)
    }

    /// A 128-bit id from its number.
    pub const fn w3c(v: u128) -> Self {
        WireTraceId::W3c(TraceId::from_u128(v))
    }

    /// The id as a 128-bit number; a short id is zero-extended (what OTLP forwarding sends).
    pub fn to_u128(self) -> u128 {
        match self {
            WireTraceId::Short(v) => u128::from(v),
            WireTraceId::W3c(id) => id.to_u128(),
        }
    }

    /// The id at 128 bits (a short id zero-extended), as OTLP and W3C carry it.
    pub fn to_trace_id(self) -> TraceId {
        TraceId::from_u128(self.to_u128())
    }

    /// True when the id is 64-bit (go-trace width).
    pub fn is_short(self) -> bool {
        matches!(self, WireTraceId::Short(_))
    }
}

impl fmt::Display for WireTraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireTraceId::Short(v) => f.write_str(SpanId::from_u64(*v).to_hex().as_str()),
            WireTraceId::W3c(id) => f.write_str(id.to_hex().as_str()),
        }
    }
}

impl FromStr for WireTraceId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_hex(s)
    }
}

/// What a span represents, numbered as on the go-trace wire: ints 0..=2 are go-trace's,
/// 3..=7 the OpenTelemetry kinds. Not OTLP's `SpanKind`, which numbers them differently
/// and has no function, http or sql.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum WireKind {
    /// `0`: an in-process function (go-trace's default).
    #[default]
    Function,
    /// `1`: an HTTP request.
    Http,
    /// `2`: a SQL query.
    Sql,
    /// `3`: OpenTelemetry INTERNAL.
    Internal,
    /// `4`: OpenTelemetry SERVER.
    Server,
    /// `5`: OpenTelemetry CLIENT.
    Client,
    /// `6`: OpenTelemetry PRODUCER.
    Producer,
    /// `7`: OpenTelemetry CONSUMER.
    Consumer,
    /// Any other int 8..=255, kept so it round-trips; shown as `unknown`.
    Other(u8),
}

impl WireKind {
    /// Maps the wire int; 8..=255 become `Other`.
    pub fn from_u8(n: u8) -> Self {
        match n {
            0 => WireKind::Function,
            1 => WireKind::Http,
            2 => WireKind::Sql,
            3 => WireKind::Internal,
            4 => WireKind::Server,
            5 => WireKind::Client,
            6 => WireKind::Producer,
            7 => WireKind::Consumer,
            n => WireKind::Other(n),
        }
    }

    /// The wire int.
    pub fn as_u8(self) -> u8 {
        match self {
            WireKind::Function => 0,
            WireKind::Http => 1,
            WireKind::Sql => 2,
            WireKind::Internal => 3,
            WireKind::Server => 4,
            WireKind::Client => 5,
            WireKind::Producer => 6,
            WireKind::Consumer => 7,
            WireKind::Other(n) => n,
        }
    }

    /// The lowercase name (`function` … `consumer`), or `unknown` for `Other`.
    pub fn name(self) -> &'static str {
        match self {
            WireKind::Function => "function",
            WireKind::Http => "http",
            WireKind::Sql => "sql",
            WireKind::Internal => "internal",
            WireKind::Server => "server",
            WireKind::Client => "client",
            WireKind::Producer => "producer",
            WireKind::Consumer => "consumer",
            WireKind::Other(_) => "unknown",
        }
    }

    /// Parses one of the eight names (exact lowercase); `unknown` is not accepted.
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "function" => WireKind::Function,
            "http" => WireKind::Http,
            "sql" => WireKind::Sql,
            "internal" => WireKind::Internal,
            "server" => WireKind::Server,
            "client" => WireKind::Client,
            "producer" => WireKind::Producer,
            "consumer" => WireKind::Consumer,
            _ => return None,
        })
    }
}

impl fmt::Display for WireKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why an RFC 3339 timestamp was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimeError {
    /// The text does not have the `YYYY-MM-DDTHH:MM:SS[.F](Z|±HH:MM)` shape.
    #[error("not an RFC 3339 timestamp")]
    Syntax,
    /// A field is out of its range (month 13, day 31 in April, second 60, offset 24:00, …).
    #[error("RFC 3339 field out of range")]
    Field,
    /// The instant does not fit in i64 nanoseconds since the epoch (years 1677..2262).
    #[error("timestamp out of the representable range")]
    Range,
}

/// An instant as nanoseconds since the Unix epoch, UTC (the collector's lossless time unit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Timestamp = Timestamp(0);

    /// Builds a timestamp from nanoseconds since the epoch.
    pub fn from_unix_nanos(ns: i64) -> Self {
        Timestamp(ns)
    }

    /// Nanoseconds since the epoch.
    pub fn as_unix_nanos(self) -> i64 {
        self.0
    }

    /// The current wall-clock time (saturating outside the representable range).
    pub fn now() -> Self {
        match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => Timestamp(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)),
            Err(e) => Timestamp(i64::try_from(e.duration().as_nanos()).map_or(i64::MIN, |n| -n)),
        }
    }

    /// `self + d`, saturating at the end of the range.
    #[must_use]
    pub fn saturating_add(self, d: Duration) -> Self {
        let ns = i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
        Timestamp(self.0.saturating_add(ns))
    }

    /// `self - earlier` when non-negative, else `None` (clock skew).
    pub fn duration_since(self, earlier: Timestamp) -> Option<Duration> {
        let diff = i128::from(self.0) - i128::from(earlier.0);
        u64::try_from(diff).ok().map(Duration::from_nanos)
    }

    /// Strict RFC 3339 parse: `YYYY-MM-DDTHH:MM:SS[.F]` then `Z` or `±HH:MM`, `F` of 1–9
    /// digits, `T` and `Z` in either case. No leap seconds, no other forms.
    ///
    /// The `time` crate parses; three checks first narrow its RFC 3339 (which allows any
    /// separator, any number of fraction digits and a leap second at the end of a month)
    /// to the strict form above, which go-trace's collector also accepts. It costs no more
    /// than the hand-written parser it replaced (527 against 536 instructions per ingest
    /// event; see `docs/benchmarks.md`).
    pub fn parse_rfc3339(s: &str) -> Result<Self, TimeError> {
        let b = s.as_bytes();
        if !matches!(b.get(10), Some(b'T' | b't')) {
            return Err(TimeError::Syntax);
        }
        if b.get(17..19) == Some(b"60") {
            return Err(TimeError::Field);
        }
        if b.get(19) == Some(&b'.') {
            let digits = b.iter().skip(20).take_while(|c| c.is_ascii_digit()).count();
            if digits > 9 {
                return Err(TimeError::Syntax);
            }
        }
        let parsed = OffsetDateTime::parse(s, &Rfc3339).map_err(|e| match e {
            time::error::Parse::TryFromParsed(_) => TimeError::Field,
            _ => TimeError::Syntax,
        })?;
        i64::try_from(parsed.unix_timestamp_nanos())
            .map(Timestamp)
            .map_err(|_| TimeError::Range)
    }

    /// Go's RFC3339Nano text in UTC (`Z`, trailing fraction zeros removed, no fraction
    /// when it is zero), on the stack: the workspace's one formatter,
    /// [`tracewire_otlp::rfc3339::rfc3339_nano`].
    pub fn rfc3339_nano(self) -> Rfc3339Buf {
        rfc3339_nano(i128::from(self.0))
    }

    /// Appends Go's RFC3339Nano form in UTC to `out` (see [`Timestamp::rfc3339_nano`]).
    pub fn write_rfc3339_nano(self, out: &mut String) {
        out.push_str(self.rfc3339_nano().as_str());
    }

    /// Go's RFC3339Nano form in UTC, e.g. `2025-06-01T01:00:00.123456789Z`.
    pub fn to_rfc3339_nano(self) -> String {
        self.rfc3339_nano().as_str().to_owned()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.rfc3339_nano().as_str())
    }
}

impl FromStr for Timestamp {
    type Err = TimeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_rfc3339(s)
    }
}

/// A span's outcome. The collector's statuses mean exactly OTLP's, so they are OTLP's
/// types: an unset code (every go-trace span), `Ok`, or `Error` with a message (an empty
/// message means none). The ingest and view lines write the code as `unset`, `ok` or
/// `error` (see [`crate::wire`]).
pub use tracewire_otlp::span::{Status, StatusCode};

/// The start half of a span as sent by an app (`type` 0 / `"span_start"`). Built with
/// [`SpanStart::new`] (fields may be added).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpanStart {
    /// The trace this span belongs to.
    pub trace_id: WireTraceId,
    /// The span's own id.
    pub span_id: SpanId,
    /// The parent span; `None` marks a root.
    pub parent_id: Option<SpanId>,
    /// The operation name.
    pub name: String,
    /// What the span represents.
    pub kind: WireKind,
    /// Wall-clock start time.
    pub time: Timestamp,
    /// Attributes known at start (merged under the end's).
    pub attrs: BTreeMap<String, String>,
}

/// The end half of a span (`type` 1 / `"span_end"`). Built with [`SpanEnd::new`] (fields
/// may be added).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpanEnd {
    /// The trace this span belongs to.
    pub trace_id: WireTraceId,
    /// The span's own id.
    pub span_id: SpanId,
    /// A non-empty name replaces the start's (go-trace sends `""`).
    pub name: String,
    /// Wall-clock end time (not used for timing when `duration_ns` is present).
    pub time: Timestamp,
    /// Attributes known at end (they win over the start's per key).
    pub attrs: BTreeMap<String, String>,
    /// Monotonic duration measured by the app; end = start + this when present.
    pub duration_ns: Option<u64>,
    /// The span's outcome.
    pub status: Status,
}

/// The attribute map of a `with_attrs` setter.
fn attr_map(
    attrs: impl IntoIterator<Item = (impl Into<String>, impl Into<String>)>,
) -> BTreeMap<String, String> {
    attrs
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect()
}

impl SpanStart {
    /// A root span's start without attributes.
    pub fn new(
        trace_id: WireTraceId,
        span_id: SpanId,
        name: impl Into<String>,
        kind: WireKind,
        time: Timestamp,
    ) -> Self {
        Self {
            trace_id,
            span_id,
            parent_id: None,
            name: name.into(),
            kind,
            time,
            attrs: BTreeMap::new(),
        }
    }

    /// Sets the parent span (`None`: a root).
    #[must_use]
    pub fn with_parent(mut self, parent_id: Option<SpanId>) -> Self {
        self.parent_id = parent_id;
        self
    }

    /// Sets the attributes known at start.
    #[must_use]
    pub fn with_attrs(
        mut self,
        attrs: impl IntoIterator<Item = (impl Into<String>, impl Into<String>)>,
    ) -> Self {
        self.attrs = attr_map(attrs);
        self
    }
}

impl SpanEnd {
    /// An end without a name, attributes or monotonic duration, with an unset status.
    pub fn new(trace_id: WireTraceId, span_id: SpanId, time: Timestamp) -> Self {
        Self {
            trace_id,
            span_id,
            name: String::new(),
            time,
            attrs: BTreeMap::new(),
            duration_ns: None,
            status: Status::default(),
        }
    }

    /// Sets the name that replaces the start's (empty: keep the start's).
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets the attributes known at end.
    #[must_use]
    pub fn with_attrs(
        mut self,
        attrs: impl IntoIterator<Item = (impl Into<String>, impl Into<String>)>,
    ) -> Self {
        self.attrs = attr_map(attrs);
        self
    }

    /// Sets the monotonic duration measured by the app.
    #[must_use]
    pub fn with_duration_ns(mut self, duration_ns: Option<u64>) -> Self {
        self.duration_ns = duration_ns;
        self
    }

    /// Sets the span's outcome.
    #[must_use]
    pub fn with_status(mut self, status: Status) -> Self {
        self.status = status;
        self
    }
}

/// One decoded ingest line: a span start or a span end (the halves apps send; a timed
/// event inside a span is OTLP's `SpanEvent`, another thing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestEvent {
    /// A span started.
    Start(SpanStart),
    /// A span ended.
    End(SpanEnd),
}

impl IngestEvent {
    /// The event's trace id.
    pub fn trace_id(&self) -> WireTraceId {
        match self {
            IngestEvent::Start(s) => s.trace_id,
            IngestEvent::End(e) => e.trace_id,
        }
    }

    /// The event's span id.
    pub fn span_id(&self) -> SpanId {
        match self {
            IngestEvent::Start(s) => s.span_id,
            IngestEvent::End(e) => e.span_id,
        }
    }

    /// The event's wall-clock time.
    pub fn time(&self) -> Timestamp {
        match self {
            IngestEvent::Start(s) => s.time,
            IngestEvent::End(e) => e.time,
        }
    }
}

/// A finished span: a start paired with its end, or a span that arrived complete (OTLP).
/// Built with [`CompletedSpan::new`] (fields may be added).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CompletedSpan {
    /// The trace this span belongs to.
    pub trace_id: WireTraceId,
    /// The span's own id ([`SYNTHETIC_SPAN_ID`] only for synthetic roots).
    pub span_id: SpanId,
    /// The parent span; `None` marks a root.
    pub parent_id: Option<SpanId>,
    /// The operation name.
    pub name: String,
    /// What the span represents.
    pub kind: WireKind,
    /// Start time.
    pub start: Timestamp,
    /// End time (never before `start`).
    pub end: Timestamp,
    /// `end - start`.
    pub duration: Duration,
    /// Start attributes merged under end attributes.
    pub attrs: BTreeMap<String, String>,
    /// The outcome.
    pub status: Status,
    /// Collector-wide completion order, from 1 and gapless (0 for synthetic roots).
    pub seq: u64,
}

impl CompletedSpan {
    /// The error-span rule of
    /// [docs/wire-formats.md#collector-ingest-lines](https://github.com/tracewire/tracewire/blob/main/docs/wire-formats.md#collector-ingest-lines):
    /// status error, or a non-empty `error` attr (go-trace SQL), or an http
    /// span whose `status` attr is an integer ≥ 500.
    pub fn is_error(&self) -> bool {
        if self.status.code == StatusCode::Error {
            return true;
        }
        if self.attrs.get("error").is_some_and(|e| !e.is_empty()) {
            return true;
        }
        self.kind == WireKind::Http
            && self
                .attrs
                .get("status")
                .and_then(|s| s.trim().parse::<i64>().ok())
                .is_some_and(|code| code >= 500)
    }

    /// The message shown for an error span: the status message, else the `error` attr.
    pub fn error_message(&self) -> Option<&str> {
        if self.status.code == StatusCode::Error && !self.status.message.is_empty() {
            return Some(&self.status.message);
        }
        self.attrs
            .get("error")
            .map(String::as_str)
            .filter(|e| !e.is_empty())
    }

    /// True for the all-zero id of a synthetic root.
    pub fn is_synthetic(&self) -> bool {
        self.span_id == SYNTHETIC_SPAN_ID
    }
}

impl CompletedSpan {
    /// A root span from `start` to `end` (an `end` before `start` is taken as `start`),
    /// with its duration, no attributes, an unset status and `seq` 0.
    pub fn new(
        trace_id: WireTraceId,
        span_id: SpanId,
        name: impl Into<String>,
        kind: WireKind,
        start: Timestamp,
        end: Timestamp,
    ) -> Self {
        let end = end.max(start);
        Self {
            trace_id,
            span_id,
            parent_id: None,
            name: name.into(),
            kind,
            start,
            end,
            duration: end.duration_since(start).unwrap_or(Duration::ZERO),
            attrs: BTreeMap::new(),
            status: Status::default(),
            seq: 0,
        }
    }

    /// Sets the parent span (`None`: a root).
    #[must_use]
    pub fn with_parent(mut self, parent_id: Option<SpanId>) -> Self {
        self.parent_id = parent_id;
        self
    }

    /// Sets the attributes.
    #[must_use]
    pub fn with_attrs(
        mut self,
        attrs: impl IntoIterator<Item = (impl Into<String>, impl Into<String>)>,
    ) -> Self {
        self.attrs = attr_map(attrs);
        self
    }

    /// Sets the outcome.
    #[must_use]
    pub fn with_status(mut self, status: Status) -> Self {
        self.status = status;
        self
    }

    /// Sets the completion order number.
    #[must_use]
    pub fn with_seq(mut self, seq: u64) -> Self {
        self.seq = seq;
        self
    }
}

/// A node of an assembled tree.
///
/// `Clone` and `Drop` are iterative, so chains thousands of spans deep cannot overflow the
/// stack. Because of the `Drop` impl, take fields out with [`std::mem::take`] rather than by
/// destructuring.
#[derive(Debug)]
pub struct SpanNode {
    /// This node's span, shared with the flat output and with every later revision of the
    /// tree (so emitting a tree copies no span; use [`Arc::make_mut`] to edit a copy).
    pub span: Arc<CompletedSpan>,
    /// Children sorted by (start, end, span id).
    pub children: Vec<SpanNode>,
}

impl SpanNode {
    /// A leaf node (takes a `CompletedSpan` or an already shared `Arc<CompletedSpan>`).
    pub fn new(span: impl Into<Arc<CompletedSpan>>) -> Self {
        SpanNode {
            span: span.into(),
            children: Vec::new(),
        }
    }

    /// True for the synthetic root of a partial trace.
    pub fn is_synthetic(&self) -> bool {
        self.span.is_synthetic()
    }

    /// Pre-order walk yielding `(depth, node)`; the node itself has depth 0.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &SpanNode)> + '_ {
        let mut stack = vec![(0usize, self)];
        std::iter::from_fn(move || {
            let (depth, node) = stack.pop()?;
            for child in node.children.iter().rev() {
                stack.push((depth + 1, child));
            }
            Some((depth, node))
        })
    }

    /// Number of nodes in this subtree, including this one.
    pub fn node_count(&self) -> usize {
        self.iter().count()
    }
}

impl Clone for SpanNode {
    fn clone(&self) -> Self {
        SpanNode {
            span: Arc::clone(&self.span),
            children: clone_forest(&self.children),
        }
    }
}

/// Deep-copies sibling subtrees with an explicit stack (post-order rebuild).
fn clone_forest(nodes: &[SpanNode]) -> Vec<SpanNode> {
    type Frame<'a> = (
        std::slice::Iter<'a, SpanNode>,
        Vec<SpanNode>,
        &'a Arc<CompletedSpan>,
    );
    let mut top_level = Vec::with_capacity(nodes.len());
    let mut top_iter = nodes.iter();
    let mut stack: Vec<Frame<'_>> = Vec::new();
    loop {
        let next = match stack.last_mut() {
            Some((iter, _, _)) => iter.next(),
            None => top_iter.next(),
        };
        if let Some(child) = next {
            let built = Vec::with_capacity(child.children.len());
            stack.push((child.children.iter(), built, &child.span));
            continue;
        }
        let Some((_, built, span)) = stack.pop() else {
            return top_level;
        };
        let node = SpanNode {
            span: Arc::clone(span),
            children: built,
        };
        match stack.last_mut() {
            Some((_, siblings, _)) => siblings.push(node),
            None => top_level.push(node),
        }
    }
}

impl Drop for SpanNode {
    fn drop(&mut self) {
        let mut stack = std::mem::take(&mut self.children);
        while let Some(mut node) = stack.pop() {
            stack.append(&mut node.children);
        }
    }
}

/// An assembled trace as emitted by the [`Assembler`](crate::assemble::Assembler). Built
/// with [`Trace::new`] (fields may be added).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Trace {
    /// The trace id (at its received width).
    pub trace_id: WireTraceId,
    /// 1 for the first emission, +1 for each re-emission; consumers keep the latest per id.
    pub revision: u32,
    /// True when the root is synthetic (missing root, orphans or several parentless spans).
    pub partial: bool,
    /// The root: the real root span, or a synthetic one holding all top-level nodes.
    pub root: SpanNode,
}

impl Trace {
    /// The first revision of a trace with this root; it is partial when the root is
    /// synthetic.
    pub fn new(trace_id: WireTraceId, root: SpanNode) -> Self {
        Self {
            trace_id,
            revision: 1,
            partial: root.is_synthetic(),
            root,
        }
    }

    /// Sets the revision (1 for the first emission).
    #[must_use]
    pub fn with_revision(mut self, revision: u32) -> Self {
        self.revision = revision;
        self
    }

    /// Number of real (non-synthetic) spans in the tree.
    pub fn span_count(&self) -> usize {
        self.root.iter().filter(|(_, n)| !n.is_synthetic()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_id_keeps_width_and_lowercases() {
        let short = WireTraceId::parse_hex("3A7BD3E2360A3D29").unwrap();
        assert_eq!(short.to_string(), "3a7bd3e2360a3d29");
        let long = WireTraceId::parse_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
        assert_eq!(long.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        let small = WireTraceId::parse_hex("00000000000000000000000000000001").unwrap();
        assert_eq!(small.to_string(), "00000000000000000000000000000001");
        for bad in [
            "",
            "0000000000000000",
            "3a7bd3e2360a3d2",
            "3a7bd3e2360a3d29a",
            "3a7bd3e2360a3d2g",
        ] {
            assert!(WireTraceId::parse_hex(bad).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        /// Any mix of cases parses to the id of the lowercase text, and prints lowercase.
        #[test]
        fn ids_parse_case_insensitively(hex in "[0-9a-fA-F]{16}|[0-9a-fA-F]{32}") {
            let lower = hex.to_ascii_lowercase();
            let got = WireTraceId::parse_hex(&hex);
            proptest::prop_assert_eq!(got, WireTraceId::parse_hex(&lower));
            if let Ok(id) = got {
                proptest::prop_assert_eq!(id.to_string(), lower.clone());
            }
            if hex.len() == 16 {
                let span = parse_span_id(&hex);
                proptest::prop_assert_eq!(span, parse_span_id(&lower));
                proptest::prop_assert_eq!(span.map(|s| s.to_string()).ok(), got.ok().map(|t| t.to_string()));
            }
        }
    }

    #[test]
    fn ids_accept_any_case_and_classify_errors() {
        let lower = parse_span_id("00f067aa0ba902b7").unwrap();
        assert_eq!(parse_span_id("00F067AA0BA902B7"), Ok(lower));
        assert_eq!(
            parse_span_id("00f067AA0ba902b7").unwrap().to_string(),
            "00f067aa0ba902b7"
        );
        let mixed = WireTraceId::parse_hex("4BF92f3577b34da6A3CE929D0E0E4736").unwrap();
        assert_eq!(
            mixed,
            WireTraceId::w3c(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736)
        );
        assert_eq!(parse_span_id("0000000000000000"), Err(IdError::Zero));
        assert_eq!(parse_span_id("00F067AA0BA902G7"), Err(IdError::NotHex));
        assert_eq!(parse_span_id("g0F067AA0BA902B7"), Err(IdError::NotHex));
        assert_eq!(
            parse_span_id("00f067aa0ba902b"),
            Err(IdError::Length(15, "16"))
        );
        assert_eq!(
            WireTraceId::parse_hex(&"A".repeat(40)),
            Err(IdError::Length(40, "16 or 32"))
        );
        assert_eq!(parse_span_id("é0f067aa0ba902b"), Err(IdError::NotHex));
        assert_eq!(
            WireTraceId::parse_hex("00000000000000000000000000000000"),
            Err(IdError::Zero)
        );
    }

    #[test]
    fn timestamp_round_trips_rfc3339_nano() {
        let t = Timestamp::parse_rfc3339("2025-06-01T10:00:00.123456789+09:00").unwrap();
        assert_eq!(t.to_rfc3339_nano(), "2025-06-01T01:00:00.123456789Z");
        let t = Timestamp::parse_rfc3339("2025-06-01T10:00:00.13+09:00").unwrap();
        assert_eq!(t.to_rfc3339_nano(), "2025-06-01T01:00:00.13Z");
        let t = Timestamp::parse_rfc3339("1970-01-01t00:00:00z").unwrap();
        assert_eq!(t, Timestamp::EPOCH);
        assert_eq!(t.to_rfc3339_nano(), "1970-01-01T00:00:00Z");
        let t = Timestamp::parse_rfc3339("1969-12-31T23:59:59.5Z").unwrap();
        assert_eq!(t.0, -500_000_000);
        assert_eq!(t.to_rfc3339_nano(), "1969-12-31T23:59:59.5Z");
    }

    #[test]
    fn timestamp_rejects_bad_forms() {
        for bad in [
            "2025-06-01T10:00:00",
            "2025-06-01T10:00:00.1234567891Z",
            "2025-06-01T10:00:00.Z",
            "2025-06-01T10:00:60Z",
            "2016-12-31T23:59:60Z",
            "2025-06-01x10:00:00Z",
            "2025-02-29T10:00:00Z",
            "2025-06-01 10:00:00Z",
            "2025-06-01T10:00:00+0900",
            "2025-06-01T10:00:00+24:00",
            "2262-04-12T00:00:00Z",
            "1677-09-21T00:00:00Z",
            "2025-06-01T10:00:00ZZ",
        ] {
            assert!(Timestamp::parse_rfc3339(bad).is_err(), "{bad}");
        }
        assert!(Timestamp::parse_rfc3339("2024-02-29T10:00:00Z").is_ok());
    }

    #[test]
    fn kind_ints_and_names_round_trip() {
        for n in 0..=255u8 {
            assert_eq!(WireKind::from_u8(n).as_u8(), n);
        }
        assert_eq!(WireKind::from_name("sql"), Some(WireKind::Sql));
        assert_eq!(WireKind::Other(9).name(), "unknown");
    }

    #[test]
    fn deep_chains_clone_and_drop_without_recursion() {
        let span = CompletedSpan {
            trace_id: WireTraceId::Short(1),
            span_id: SpanId::from_u64(1),
            parent_id: None,
            name: "n".into(),
            kind: WireKind::Function,
            start: Timestamp(0),
            end: Timestamp(0),
            duration: Duration::ZERO,
            attrs: BTreeMap::new(),
            status: Status::default(),
            seq: 1,
        };
        let mut node = SpanNode::new(span.clone());
        for _ in 0..200_000 {
            let mut parent = SpanNode::new(span.clone());
            parent.children.push(node);
            node = parent;
        }
        let copy = node.clone();
        assert_eq!(copy.node_count(), 200_001);
        let mut wide = SpanNode::new(span.clone());
        for i in 0..3u64 {
            let mut child = SpanNode::new(CompletedSpan {
                span_id: SpanId::from_u64(10 + i),
                ..span.clone()
            });
            child.children.push(SpanNode::new(CompletedSpan {
                span_id: SpanId::from_u64(20 + i),
                ..span.clone()
            }));
            wide.children.push(child);
        }
        let ids = |n: &SpanNode| {
            n.iter()
                .map(|(d, n)| (d, n.span.span_id.to_u64()))
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&wide.clone()), ids(&wide));
        assert_eq!(
            ids(&wide),
            [(0, 1), (1, 10), (2, 20), (1, 11), (2, 21), (1, 12), (2, 22)]
        );
        drop(copy);
        drop(node);
    }
}
