//! The span model: what the converter produces and the exporter sends. How it is encoded
//! is [docs/wire-formats.md#otlp](https://github.com/tracewire/tracewire/blob/main/docs/wire-formats.md#otlp).
//!
//! It mirrors the OTLP `Span` message closely so that encoding is a direct mapping, while
//! keeping ids typed ([`TraceId`], [`SpanId`] from `tracewire-context`) and attributes
//! sorted by key so output is deterministic.

use std::fmt;

pub use tracewire_context::{SpanId, TraceId};

/// OTLP span flag bit 8: the `IS_REMOTE` bit (bit 9) carries information.
///
/// Always set on spans we produce, because we always know whether the parent is remote.
pub const HAS_IS_REMOTE: u32 = 0x100;

/// OTLP span flag bit 9 (`SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK` of the OTLP
/// [`trace.proto`](https://github.com/open-telemetry/opentelemetry-proto/blob/main/opentelemetry/proto/trace/v1/trace.proto)):
/// the parent span came from another process, as for the root of a session placed under a
/// caller's trace ([docs/sessions.md#parent-linking](https://github.com/tracewire/tracewire/blob/main/docs/sessions.md#parent-linking)).
pub const IS_REMOTE: u32 = 0x200;

/// Mask of the W3C trace-flags byte inside the OTLP `flags` field (bits 0–7).
pub const TRACE_FLAGS_MASK: u32 = 0xff;

/// One finished span, shaped like the OTLP `Span` message.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Span {
    /// Trace the span belongs to.
    pub trace_id: TraceId,
    /// The span's own id, unique within the trace.
    pub span_id: SpanId,
    /// Parent span id; `None` for a trace root.
    pub parent_span_id: Option<SpanId>,
    /// W3C `tracestate` header value (empty when none).
    pub trace_state: String,
    /// OTLP flags: W3C trace flags in bits 0–7, [`HAS_IS_REMOTE`] and [`IS_REMOTE`].
    pub flags: u32,
    /// Span name, e.g. `provider.openai`.
    pub name: String,
    /// What role the span plays (server, client, internal, …).
    pub kind: SpanKind,
    /// Start time in nanoseconds since the Unix epoch.
    pub start_time_unix_nano: u64,
    /// End time in nanoseconds since the Unix epoch.
    pub end_time_unix_nano: u64,
    /// Attributes, sorted by key with unique keys.
    pub attributes: Attributes,
    /// Timestamped events inside the span (e.g. messages), in time order.
    pub events: Vec<SpanEvent>,
    /// Outcome of the operation.
    pub status: Status,
}

impl Span {
    /// A span with the given identity and times, no parent, no attributes, sampled flags
    /// (`0x01 | HAS_IS_REMOTE`) and `Unset` status; fill the public fields afterwards.
    ///
    /// The struct is `#[non_exhaustive]`, so this is how code outside the crate builds one.
    pub fn new(
        trace_id: TraceId,
        span_id: SpanId,
        name: impl Into<String>,
        kind: SpanKind,
        start_time_unix_nano: u64,
        end_time_unix_nano: u64,
    ) -> Self {
        Self {
            trace_id,
            span_id,
            parent_span_id: None,
            trace_state: String::new(),
            flags: 0x01 | HAS_IS_REMOTE,
            name: name.into(),
            kind,
            start_time_unix_nano,
            end_time_unix_nano,
            attributes: Attributes::new(),
            events: Vec::new(),
            status: Status::unset(),
        }
    }

    /// The W3C trace-flags byte (bits 0–7 of [`Span::flags`]).
    pub fn trace_flags(&self) -> u8 {
        (self.flags & TRACE_FLAGS_MASK) as u8
    }

    /// Whether the parent span came from another process (bit 9 of [`Span::flags`]).
    pub fn parent_is_remote(&self) -> bool {
        self.flags & IS_REMOTE != 0
    }
}

/// The role of a span, with OTLP's numbering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[non_exhaustive]
#[repr(i32)]
pub enum SpanKind {
    /// Not specified; exported as-is in OTLP, mapped to `Internal` for the SDK.
    #[default]
    Unspecified = 0,
    /// An internal operation.
    Internal = 1,
    /// Handling of a remote request (the session root).
    Server = 2,
    /// A request to a remote service (provider calls).
    Client = 3,
    /// Sending a message to a broker.
    Producer = 4,
    /// Receiving a message from a broker.
    Consumer = 5,
}

impl SpanKind {
    /// The OTLP enum number.
    pub fn as_i32(self) -> i32 {
        self as i32
    }
}

/// An attribute value, mirroring OTLP's `AnyValue`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// A UTF-8 string.
    String(String),
    /// A boolean.
    Bool(bool),
    /// A signed 64-bit integer.
    Int(i64),
    /// A 64-bit float.
    Double(f64),
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// A list of values (possibly mixed types).
    Array(Vec<Value>),
    /// A nested list of key/value pairs.
    KvList(Vec<KeyValue>),
    /// OTLP's empty `AnyValue` (no field set).
    Empty,
}

impl Value {
    /// The string, if this is a `String` value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is an `Int` value.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The float, if this is a `Double` value.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Double(d) => Some(*d),
            _ => None,
        }
    }

    /// The boolean, if this is a `Bool` value.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

impl Value {
    /// The JSON form used inside compound values: strings quoted, bytes as a lowercase
    /// hex string, non-finite doubles as the strings `NaN`, `Infinity` and `-Infinity`,
    /// [`Value::Empty`] as `null`, key/value lists as objects.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::String(s) => J::String(s.clone()),
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Double(d) if d.is_finite() => J::from(*d),
            Value::Double(d) => J::String(non_finite_text(*d).to_owned()),
            Value::Bytes(b) => J::String(hex(b)),
            Value::Array(items) => J::Array(items.iter().map(Value::to_json).collect()),
            Value::KvList(kvs) => J::Object(
                kvs.iter()
                    .map(|kv| (kv.key.clone(), kv.value.to_json()))
                    .collect(),
            ),
            Value::Empty => J::Null,
        }
    }
}

/// The text of a non-finite double, as OTLP/JSON and our text forms write it.
pub(crate) fn non_finite_text(d: f64) -> &'static str {
    if d.is_nan() {
        "NaN"
    } else if d > 0.0 {
        "Infinity"
    } else {
        "-Infinity"
    }
}

fn hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
    out
}

impl fmt::Display for Value {
    /// The one text form of a value, used wherever tracewire shows or flattens one (the
    /// collector's attributes, `session show --attrs`, SDK attributes of compound values):
    /// scalars as themselves (strings unquoted), bytes as lowercase hex, an empty value as
    /// nothing, arrays and key/value lists as JSON (see [`Value::to_json`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::String(s) => f.write_str(s),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Double(d) if d.is_finite() => write!(f, "{d}"),
            Value::Double(d) => f.write_str(non_finite_text(*d)),
            Value::Bytes(b) => f.write_str(&hex(b)),
            Value::Empty => Ok(()),
            Value::Array(_) | Value::KvList(_) => write!(f, "{}", self.to_json()),
        }
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::String(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::String(v.to_owned())
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Double(v)
    }
}

impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Bytes(v)
    }
}

impl From<Vec<Value>> for Value {
    fn from(v: Vec<Value>) -> Self {
        Value::Array(v)
    }
}

/// One attribute: a key and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyValue {
    /// Attribute name, e.g. `gen_ai.usage.input_tokens`.
    pub key: String,
    /// Attribute value.
    pub value: Value,
}

impl KeyValue {
    /// Pairs a key with a value.
    pub fn new(key: impl Into<String>, value: impl Into<Value>) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// A set of attributes kept sorted by key (bytewise) with unique keys, so encodings are
/// deterministic and lookups are binary searches.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Attributes(Vec<KeyValue>);

impl Attributes {
    /// An empty set.
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// Sets `key` to `value`, replacing an existing value; returns the old one.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Value>) -> Option<Value> {
        let key = key.into();
        let value = value.into();
        match self.0.binary_search_by(|kv| kv.key.as_str().cmp(&key)) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].value, value)),
            Err(i) => {
                self.0.insert(i, KeyValue { key, value });
                None
            }
        }
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0
            .binary_search_by(|kv| kv.key.as_str().cmp(key))
            .ok()
            .map(|i| &self.0[i].value)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        match self.0.binary_search_by(|kv| kv.key.as_str().cmp(key)) {
            Ok(i) => Some(self.0.remove(i).value),
            Err(_) => None,
        }
    }

    /// Number of attributes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no attributes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The attributes in key order.
    pub fn iter(&self) -> std::slice::Iter<'_, KeyValue> {
        self.0.iter()
    }

    /// The attributes in key order, as a slice.
    pub fn as_slice(&self) -> &[KeyValue] {
        &self.0
    }

    /// The sorted vector.
    pub fn into_vec(self) -> Vec<KeyValue> {
        self.0
    }
}

impl FromIterator<KeyValue> for Attributes {
    /// Collects pairs; for a repeated key the later value wins.
    fn from_iter<I: IntoIterator<Item = KeyValue>>(iter: I) -> Self {
        let mut attrs = Attributes::new();
        attrs.extend(iter);
        attrs
    }
}

impl Extend<KeyValue> for Attributes {
    /// Inserts each pair; for a repeated key the later value wins.
    fn extend<I: IntoIterator<Item = KeyValue>>(&mut self, iter: I) {
        for kv in iter {
            self.insert(kv.key, kv.value);
        }
    }
}

impl<'a> IntoIterator for &'a Attributes {
    type Item = &'a KeyValue;
    type IntoIter = std::slice::Iter<'a, KeyValue>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl IntoIterator for Attributes {
    type Item = KeyValue;
    type IntoIter = std::vec::IntoIter<KeyValue>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// A timestamped event inside a span (e.g. `gen_ai.user.message`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SpanEvent {
    /// Event name.
    pub name: String,
    /// Time in nanoseconds since the Unix epoch.
    pub time_unix_nano: u64,
    /// Event attributes, sorted by key.
    pub attributes: Attributes,
}

impl SpanEvent {
    /// An event without attributes.
    pub fn new(name: impl Into<String>, time_unix_nano: u64) -> Self {
        Self {
            name: name.into(),
            time_unix_nano,
            attributes: Attributes::new(),
        }
    }

    /// Sets the event's attributes.
    #[must_use]
    pub fn with_attributes(mut self, attributes: impl IntoIterator<Item = KeyValue>) -> Self {
        self.attributes = attributes.into_iter().collect();
        self
    }
}

/// Status code of a span, with OTLP's numbering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
#[repr(i32)]
pub enum StatusCode {
    /// No status was set (encoded as an absent status).
    #[default]
    Unset = 0,
    /// The operation succeeded.
    Ok = 1,
    /// The operation failed; [`Status::message`] says why.
    Error = 2,
}

/// A span's outcome: a code and, for errors, a message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Status {
    /// The code.
    pub code: StatusCode,
    /// Description; only meaningful for `Error` (empty otherwise).
    pub message: String,
}

impl Status {
    /// `Unset`, the default.
    pub fn unset() -> Self {
        Self::default()
    }

    /// `Ok` with an empty message.
    pub fn ok() -> Self {
        Self {
            code: StatusCode::Ok,
            message: String::new(),
        }
    }

    /// `Error` with a message.
    pub fn error(message: impl Into<String>) -> Self {
        Self {
            code: StatusCode::Error,
            message: message.into(),
        }
    }

    /// Whether the code is `Error`.
    pub fn is_error(&self) -> bool {
        self.code == StatusCode::Error
    }
}

/// A client span with a remote parent, attributes, an event and an error status, for the
/// mapping tests of this crate.
#[cfg(test)]
pub(crate) fn sample_span() -> Span {
    let mut s = Span::new(
        TraceId::from_u128(0x0af7651916cd43dd8448eb211c80319c),
        SpanId::from_u64(0xb7ad6b7169203331),
        "provider.openai",
        SpanKind::Client,
        1_000,
        2_000,
    );
    s.parent_span_id = Some(SpanId::from_u64(1));
    s.flags = 0x01 | HAS_IS_REMOTE | IS_REMOTE;
    s.attributes.insert("gen_ai.usage.input_tokens", 100i64);
    s.attributes.insert("provider.cost", 0.5f64);
    s.events.push(SpanEvent::new("gen_ai.user.message", 1_500));
    s.status = Status::error("boom");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_stay_sorted_and_unique() {
        let mut a = Attributes::new();
        a.insert("b", 1i64);
        a.insert("a", "x");
        a.insert("c", true);
        assert_eq!(a.insert("b", 2i64), Some(Value::Int(1)));
        let keys: Vec<_> = a.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(keys, ["a", "b", "c"]);
        assert_eq!(a.get("b"), Some(&Value::Int(2)));
        assert_eq!(a.remove("a"), Some(Value::String("x".into())));
        assert_eq!(a.len(), 2);
        assert!(a.get("a").is_none());
    }

    #[test]
    fn from_iter_later_key_wins() {
        let a: Attributes = [KeyValue::new("k", 1i64), KeyValue::new("k", 2i64)]
            .into_iter()
            .collect();
        assert_eq!(a.len(), 1);
        assert_eq!(a.get("k"), Some(&Value::Int(2)));
    }

    #[test]
    fn new_span_has_has_is_remote_flag() {
        let s = Span::new(
            TraceId::from_u128(1),
            SpanId::from_u64(2),
            "x",
            SpanKind::Internal,
            1,
            2,
        );
        assert_eq!(s.flags & HAS_IS_REMOTE, HAS_IS_REMOTE);
        assert_eq!(s.trace_flags(), 1);
        assert!(!s.parent_is_remote());
    }
}
