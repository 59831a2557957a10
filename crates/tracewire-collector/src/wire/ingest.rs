//! The ingest line codec (`docs/wire-formats.md#collector-ingest-lines`): app → collector
//! events, go-trace's format plus our extensions. Decoding is strict and classifies every
//! rejection; encoding writes what go-trace writes (int `type` and `kind`) so a go-trace
//! collector can read our emitter too.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde::Serialize;

use super::json::{self, Attrs, Scalar, StatusSeed};
use crate::model::{
    parse_span_id, IngestEvent, SpanEnd, SpanStart, Status, Timestamp, WireKind, WireTraceId,
};

/// Why an ingest (or view) line was rejected. Each variant is one counter of
/// [`IngestCounts`]; when several apply, the decoder reports the first in declaration order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum LineRejection {
    /// The line is longer than `max_line_bytes` (reported by the line splitter, not the decoder).
    #[error("line longer than max_line_bytes")]
    Oversize,
    /// Not UTF-8, not JSON, not an object, a duplicate key or a wrong JSON type for a known key.
    #[error("malformed line")]
    Malformed,
    /// The required `type` key is absent.
    #[error("missing type")]
    MissingType,
    /// `type` is neither 0/1 nor `"span_start"`/`"span_end"`.
    #[error("invalid type")]
    InvalidType,
    /// `span_id`, `trace_id` or `parent_id` is absent (when required), of the wrong length,
    /// not hex, or all zeros.
    #[error("invalid id")]
    InvalidId,
    /// `kind` is not an int 0..=255 or one of the eight names.
    #[error("invalid kind")]
    InvalidKind,
    /// `time` is absent or not strict RFC 3339 in range.
    #[error("invalid time")]
    InvalidTime,
}

impl LineRejection {
    /// The counter name used in stats (`oversize`, `malformed`, …).
    pub fn counter_name(self) -> &'static str {
        match self {
            LineRejection::Oversize => "oversize",
            LineRejection::Malformed => "malformed",
            LineRejection::MissingType => "missing_type",
            LineRejection::InvalidType => "invalid_type",
            LineRejection::InvalidId => "invalid_id",
            LineRejection::InvalidKind => "invalid_kind",
            LineRejection::InvalidTime => "invalid_time",
        }
    }
}

/// Per-connection (or global) ingest line counters, one per rejection reason of
/// [docs/wire-formats.md#collector-ingest-lines](https://github.com/tracewire/tracewire/blob/main/docs/wire-formats.md#collector-ingest-lines)
/// under the same name.
///
/// `lines` counts every non-blank line seen (accepted or rejected, oversize included);
/// `lines = starts + ends + sum of rejections`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct IngestCounts {
    /// Non-blank lines seen.
    pub lines: u64,
    /// Bytes received, terminators included.
    pub bytes: u64,
    /// Accepted start events.
    pub starts: u64,
    /// Accepted end events.
    pub ends: u64,
    /// Blank lines ignored.
    pub blank: u64,
    /// Lines over `max_line_bytes`, discarded.
    pub oversize: u64,
    /// Lines that are not a well-typed JSON object.
    pub malformed: u64,
    /// Lines without `type`.
    pub missing_type: u64,
    /// Lines with an unknown `type`.
    pub invalid_type: u64,
    /// Lines with a bad id.
    pub invalid_id: u64,
    /// Lines with a bad `kind`.
    pub invalid_kind: u64,
    /// Lines with a bad or missing `time`.
    pub invalid_time: u64,
}

impl IngestCounts {
    /// Counts one rejected line (and the line itself).
    pub fn record_rejection(&mut self, r: LineRejection) {
        self.lines += 1;
        let c = match r {
            LineRejection::Oversize => &mut self.oversize,
            LineRejection::Malformed => &mut self.malformed,
            LineRejection::MissingType => &mut self.missing_type,
            LineRejection::InvalidType => &mut self.invalid_type,
            LineRejection::InvalidId => &mut self.invalid_id,
            LineRejection::InvalidKind => &mut self.invalid_kind,
            LineRejection::InvalidTime => &mut self.invalid_time,
        };
        *c += 1;
    }

    /// Counts one accepted event (and the line itself).
    pub fn record_event(&mut self, ev: &IngestEvent) {
        self.lines += 1;
        match ev {
            IngestEvent::Start(_) => self.starts += 1,
            IngestEvent::End(_) => self.ends += 1,
        }
    }

    /// Counts the outcome of [`decode_ingest_line`].
    pub fn record(&mut self, outcome: &Result<IngestEvent, LineRejection>) {
        match outcome {
            Ok(ev) => self.record_event(ev),
            Err(r) => self.record_rejection(*r),
        }
    }

    /// Total rejected lines.
    pub fn rejected(&self) -> u64 {
        self.oversize
            + self.malformed
            + self.missing_type
            + self.invalid_type
            + self.invalid_id
            + self.invalid_kind
            + self.invalid_time
    }

    /// Adds another set of counters into this one (folding a closed connection into totals).
    pub fn add(&mut self, o: &IngestCounts) {
        self.lines += o.lines;
        self.bytes += o.bytes;
        self.starts += o.starts;
        self.ends += o.ends;
        self.blank += o.blank;
        self.oversize += o.oversize;
        self.malformed += o.malformed;
        self.missing_type += o.missing_type;
        self.invalid_type += o.invalid_type;
        self.invalid_id += o.invalid_id;
        self.invalid_kind += o.invalid_kind;
        self.invalid_time += o.invalid_time;
    }
}

/// The top-level keys we understand.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    Type,
    SpanId,
    WireTraceId,
    ParentId,
    Name,
    Kind,
    Time,
    Attrs,
    DurationNs,
    Status,
}

/// The raw, type-checked fields of one line (phase 1: anything wrong here is `Malformed`).
/// Produced by the serde path below or by the fast scanner (`super::fast`).
#[derive(Default)]
pub(super) struct RawLine<'a> {
    pub(super) ty: Option<Scalar<'a>>,
    pub(super) span_id: Option<Cow<'a, str>>,
    pub(super) trace_id: Option<Cow<'a, str>>,
    /// `Some(None)` for an explicit `null`.
    pub(super) parent_id: Option<Option<Cow<'a, str>>>,
    pub(super) name: Option<String>,
    pub(super) kind: Option<Scalar<'a>>,
    pub(super) time: Option<Cow<'a, str>>,
    pub(super) attrs: Option<BTreeMap<String, String>>,
    pub(super) duration_ns: Option<u64>,
    pub(super) status: Option<Status>,
}

/// A key that is either known or remembered (for duplicate detection) as unknown.
enum KeyOrUnknown {
    Known(Key),
    Unknown(String),
}

struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = KeyOrUnknown;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = KeyOrUnknown;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(KeyOrUnknown::Known(match v {
                    "type" => Key::Type,
                    "span_id" => Key::SpanId,
                    "trace_id" => Key::WireTraceId,
                    "parent_id" => Key::ParentId,
                    "name" => Key::Name,
                    "kind" => Key::Kind,
                    "time" => Key::Time,
                    "attrs" => Key::Attrs,
                    "duration_ns" => Key::DurationNs,
                    "status" => Key::Status,
                    other => return Ok(KeyOrUnknown::Unknown(other.to_owned())),
                }))
            }
        }
        d.deserialize_str(V)
    }
}

/// A string-typed field (null or any other type is malformed).
struct StrSeed;
impl<'de> DeserializeSeed<'de> for StrSeed {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        match Scalar::deserialize(d)? {
            Scalar::Str(s) => Ok(s),
            _ => Err(de::Error::custom("expected a string")),
        }
    }
}

use serde::Deserialize as _;

fn dup<E: de::Error>() -> E {
    E::custom("duplicate key")
}

fn set_once<T, E: de::Error>(slot: &mut Option<T>, v: T) -> Result<(), E> {
    if slot.is_some() {
        return Err(dup());
    }
    *slot = Some(v);
    Ok(())
}

struct LineVisitor;

impl<'de> Visitor<'de> for LineVisitor {
    type Value = RawLine<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a span event object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut raw = RawLine::default();
        let mut unknown: Vec<String> = Vec::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let key = match key {
                KeyOrUnknown::Known(k) => k,
                KeyOrUnknown::Unknown(name) => {
                    if unknown.contains(&name) {
                        return Err(dup());
                    }
                    unknown.push(name);
                    map.next_value::<de::IgnoredAny>()?;
                    continue;
                }
            };
            match key {
                Key::Type => {
                    let v: Scalar<'de> = map.next_value()?;
                    if matches!(v, Scalar::Null | Scalar::Bool(_)) {
                        return Err(de::Error::custom("type must be an int or a string"));
                    }
                    set_once(&mut raw.ty, v)?;
                }
                Key::SpanId => set_once(&mut raw.span_id, map.next_value_seed(StrSeed)?)?,
                Key::WireTraceId => set_once(&mut raw.trace_id, map.next_value_seed(StrSeed)?)?,
                Key::ParentId => {
                    let v = match map.next_value::<Scalar<'de>>()? {
                        Scalar::Null => None,
                        Scalar::Str(s) => Some(s),
                        _ => return Err(de::Error::custom("parent_id must be a string")),
                    };
                    set_once(&mut raw.parent_id, v)?;
                }
                Key::Name => {
                    let v = map.next_value_seed(StrSeed)?.into_owned();
                    set_once(&mut raw.name, v)?;
                }
                Key::Kind => {
                    let v: Scalar<'de> = map.next_value()?;
                    if matches!(v, Scalar::Null | Scalar::Bool(_)) {
                        return Err(de::Error::custom("kind must be an int or a string"));
                    }
                    set_once(&mut raw.kind, v)?;
                }
                Key::Time => set_once(&mut raw.time, map.next_value_seed(StrSeed)?)?,
                Key::Attrs => set_once(&mut raw.attrs, map.next_value_seed(Attrs)?)?,
                Key::DurationNs => {
                    let Scalar::U64(v) = map.next_value::<Scalar<'de>>()? else {
                        return Err(de::Error::custom("duration_ns must be a u64"));
                    };
                    set_once(&mut raw.duration_ns, v)?;
                }
                Key::Status => set_once(&mut raw.status, map.next_value_seed(StatusSeed)?)?,
            }
        }
        Ok(raw)
    }
}

/// True when the line contains only spaces, tabs and carriage returns (ignored, not counted
/// as malformed).
pub fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r'))
}

fn parse_kind(v: Option<Scalar<'_>>) -> Result<WireKind, LineRejection> {
    match v {
        None => Ok(WireKind::Function),
        Some(Scalar::U64(n)) => u8::try_from(n)
            .map(WireKind::from_u8)
            .map_err(|_| LineRejection::InvalidKind),
        Some(Scalar::Str(s)) => WireKind::from_name(&s).ok_or(LineRejection::InvalidKind),
        Some(_) => Err(LineRejection::InvalidKind),
    }
}

/// Decodes one ingest line (without its `\n` / `\r\n`; a trailing `\r` is tolerated).
///
/// Returns the first [`LineRejection`] that applies, in its declaration order. Never
/// panics. Blank lines should be filtered with [`is_blank`] first; passed here they are
/// `Malformed`.
pub fn decode_ingest_line(line: &[u8]) -> Result<IngestEvent, LineRejection> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    // Validate UTF-8 once for the whole line (invalid bytes anywhere make it malformed),
    // so the JSON reader need not re-check every string.
    let line = std::str::from_utf8(line).map_err(|_| LineRejection::Malformed)?;
    // The scanner takes the plain shape apps send; anything else goes through serde_json,
    // which alone decides what is malformed.
    let raw = match super::fast::scan_line(line) {
        Ok(raw) => raw,
        Err(_) => decode_raw_serde(line)?,
    };
    classify(raw)
}

/// Phase 1 with serde_json: any JSON or type error is `Malformed`.
pub(super) fn decode_raw_serde(line: &str) -> Result<RawLine<'_>, LineRejection> {
    let mut de = serde_json::Deserializer::from_str(line);
    let raw = de
        .deserialize_map(LineVisitor)
        .map_err(|_| LineRejection::Malformed)?;
    de.end().map_err(|_| LineRejection::Malformed)?;
    Ok(raw)
}

/// Phase 2: the semantic rejections in [`LineRejection`]'s order (`missing_type`,
/// `invalid_type`, `invalid_id`, `invalid_kind`, `invalid_time`), then the event.
pub(super) fn classify(raw: RawLine<'_>) -> Result<IngestEvent, LineRejection> {
    let is_start = match raw.ty {
        None => return Err(LineRejection::MissingType),
        Some(Scalar::U64(0)) => true,
        Some(Scalar::U64(1)) => false,
        Some(Scalar::Str(ref s)) if s == "span_start" => true,
        Some(Scalar::Str(ref s)) if s == "span_end" => false,
        Some(_) => return Err(LineRejection::InvalidType),
    };
    let span_id = raw
        .span_id
        .as_deref()
        .ok_or(LineRejection::InvalidId)
        .and_then(|s| parse_span_id(s).map_err(|_| LineRejection::InvalidId))?;
    let trace_id = raw
        .trace_id
        .as_deref()
        .ok_or(LineRejection::InvalidId)
        .and_then(|s| WireTraceId::parse_hex(s).map_err(|_| LineRejection::InvalidId))?;
    let parent_id = match raw.parent_id.flatten() {
        None => None,
        Some(s) if s.is_empty() => None,
        Some(s) => Some(parse_span_id(&s).map_err(|_| LineRejection::InvalidId)?),
    };
    let kind = parse_kind(raw.kind)?;
    let time = raw
        .time
        .as_deref()
        .ok_or(LineRejection::InvalidTime)
        .and_then(|s| Timestamp::parse_rfc3339(s).map_err(|_| LineRejection::InvalidTime))?;
    let name = raw.name.unwrap_or_default();
    let attrs = raw.attrs.unwrap_or_default();
    Ok(if is_start {
        IngestEvent::Start(SpanStart {
            trace_id,
            span_id,
            parent_id,
            name,
            kind,
            time,
            attrs,
        })
    } else {
        IngestEvent::End(SpanEnd {
            trace_id,
            span_id,
            name,
            time,
            attrs,
            duration_ns: raw.duration_ns,
            status: raw.status.unwrap_or_default(),
        })
    })
}

/// Appends one ingest line for `event`, terminated by `\n`, in go-trace's key order with int
/// `type` and `kind` (an end carries `kind` 0, as go-trace sends). Extensions
/// (`duration_ns`, `status`) are written only when present. The output always decodes back
/// to an equal event with [`decode_ingest_line`].
pub fn encode_ingest_line(event: &IngestEvent, out: &mut Vec<u8>) {
    let (ty, trace_id, span_id, parent_id, name, kind, time, attrs) = match event {
        IngestEvent::Start(s) => (
            0u64,
            s.trace_id,
            s.span_id,
            s.parent_id,
            s.name.as_str(),
            s.kind.as_u8(),
            s.time,
            &s.attrs,
        ),
        IngestEvent::End(e) => (
            1u64,
            e.trace_id,
            e.span_id,
            None,
            e.name.as_str(),
            0,
            e.time,
            &e.attrs,
        ),
    };
    out.push(b'{');
    json::write_key(out, true, "type");
    json::write_u64(out, ty);
    json::write_key(out, false, "span_id");
    write_display_str(out, span_id);
    json::write_key(out, false, "trace_id");
    write_display_str(out, trace_id);
    if let Some(p) = parent_id {
        json::write_key(out, false, "parent_id");
        write_display_str(out, p);
    }
    json::write_key(out, false, "name");
    json::write_str(out, name);
    json::write_key(out, false, "kind");
    json::write_u64(out, u64::from(kind));
    json::write_key(out, false, "time");
    json::write_str(out, time.rfc3339_nano().as_str());
    if !attrs.is_empty() {
        json::write_key(out, false, "attrs");
        json::write_attrs(out, attrs);
    }
    if let IngestEvent::End(e) = event {
        if let Some(d) = e.duration_ns {
            json::write_key(out, false, "duration_ns");
            json::write_u64(out, d);
        }
        if json::status_is_written(&e.status) {
            json::write_key(out, false, "status");
            json::write_status_object(out, &e.status);
        }
    }
    out.extend_from_slice(b"}\n");
}

/// Writes an id's `Display` (hex, no escaping needed) as a JSON string.
fn write_display_str(out: &mut Vec<u8>, v: impl fmt::Display) {
    use std::io::Write as _;
    let _ = write!(out, "\"{v}\"");
}
