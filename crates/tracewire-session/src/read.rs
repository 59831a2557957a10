//! Reading session recordings: JSON Lines in PromptKit or native form, detected per line.
//!
//! Malformed lines are counted and skipped (the first ten are kept with their line number
//! and reason) unless [`ReadOptions::strict`] asks for an error. Reading never panics and
//! never buffers more than [`ReadOptions::max_line_bytes`] of a single line.

use std::io::{self, BufRead};

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::event::{payload_keys, RecordedTime, SessionEvent, SourceFormat, NATIVE_VERSION};

/// The longest line accepted by default (16 MiB).
pub const DEFAULT_MAX_LINE_BYTES: usize = 16 << 20;

/// How many malformed lines are remembered with their reason.
pub const KEPT_MALFORMED: usize = 10;

/// Options of [`read_jsonl`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReadOptions {
    /// Report malformed lines as errors instead of skipping them (they are counted either way).
    pub strict: bool,
    /// Lines longer than this are malformed (default 16 MiB).
    pub max_line_bytes: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            strict: false,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
        }
    }
}

impl ReadOptions {
    /// Options with strict mode on or off.
    #[must_use]
    pub fn with_strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// Options with a different line-length limit.
    #[must_use]
    pub fn with_max_line_bytes(mut self, max: usize) -> Self {
        self.max_line_bytes = max;
        self
    }
}

/// Why a line is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MalformedReason {
    /// The line is not valid UTF-8.
    #[error("not valid UTF-8")]
    InvalidUtf8,
    /// The line is longer than the limit.
    #[error("line longer than {limit} bytes")]
    TooLong {
        /// The limit in force.
        limit: usize,
    },
    /// The line is not JSON.
    #[error("not JSON: {0}")]
    NotJson(String),
    /// The line is JSON but not an object.
    #[error("not a JSON object")]
    NotObject,
    /// Neither an `event` object (PromptKit) nor `v` (native) at the top level.
    #[error("neither a PromptKit (\"event\") nor a native (\"v\") line")]
    UnknownFormat,
    /// A native line with a `v` other than 1.
    #[error("unsupported native version {0}")]
    UnsupportedVersion(String),
    /// No string `type`.
    #[error("missing or non-string \"type\"")]
    MissingType,
    /// A `timestamp` that is not RFC 3339 text.
    #[error("{0}")]
    BadTimestamp(String),
    /// The envelope could not be decoded (e.g. a duplicate key).
    #[error("invalid envelope: {0}")]
    InvalidEnvelope(String),
    /// An envelope key of the wrong JSON type.
    #[error("envelope key {0:?} has the wrong JSON type")]
    BadEnvelopeField(&'static str),
}

/// One malformed line, as remembered in [`ReadStats::first_malformed`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MalformedLine {
    /// 1-based line number.
    pub line: u64,
    /// Why it was rejected.
    pub reason: MalformedReason,
}

/// An error yielded by [`Reader`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LineError {
    /// Reading the input failed; the reader stops after this.
    #[error("line {line}: read error: {source}")]
    Io {
        /// 1-based line number being read.
        line: u64,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A malformed line (only yielded under [`ReadOptions::strict`]).
    #[error("line {line}: {reason}")]
    Malformed {
        /// 1-based line number.
        line: u64,
        /// Why it was rejected.
        reason: MalformedReason,
    },
}

/// What a [`Reader`] has seen so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReadStats {
    /// Lines read, blank and malformed ones included.
    pub lines: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Blank lines skipped.
    pub blank: u64,
    /// Events produced.
    pub events: u64,
    /// Events read from PromptKit lines.
    pub promptkit: u64,
    /// Events read from native lines.
    pub native: u64,
    /// Malformed lines (skipped, or yielded as errors under strict).
    pub malformed: u64,
    /// The first [`KEPT_MALFORMED`] malformed lines with their reasons.
    pub first_malformed: Vec<MalformedLine>,
}

/// Iterator over the events of a JSON Lines recording; see [`read_jsonl`].
#[derive(Debug)]
pub struct Reader<R> {
    input: R,
    options: ReadOptions,
    stats: ReadStats,
    buf: Vec<u8>,
    done: bool,
}

/// Reads a recording in either format (detected per line).
pub fn read_jsonl<R: BufRead>(input: R, options: ReadOptions) -> Reader<R> {
    Reader {
        input,
        options,
        stats: ReadStats::default(),
        buf: Vec::new(),
        done: false,
    }
}

impl<R> Reader<R> {
    /// Counts so far (final once the iterator is exhausted).
    pub fn stats(&self) -> &ReadStats {
        &self.stats
    }

    /// Consumes the reader, returning its counts.
    pub fn into_stats(self) -> ReadStats {
        self.stats
    }
}

impl<R: BufRead> Reader<R> {
    /// Reads one line into `self.buf` (without the newline), keeping at most
    /// `max_line_bytes + 1` bytes. Returns `Ok(None)` at end of input, else whether the
    /// line was over the limit.
    fn next_line(&mut self) -> io::Result<Option<bool>> {
        self.buf.clear();
        let limit = self.options.max_line_bytes;
        let mut seen_any = false;
        let mut too_long = false;
        loop {
            let chunk = match self.input.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                return Ok(seen_any.then_some(too_long));
            }
            seen_any = true;
            let (take, found) = match chunk.iter().position(|b| *b == b'\n') {
                Some(i) => (i, true),
                None => (chunk.len(), false),
            };
            if !too_long {
                let room = limit.saturating_sub(self.buf.len());
                if take > room {
                    too_long = true;
                    self.buf.clear();
                } else {
                    self.buf.extend_from_slice(&chunk[..take]);
                }
            }
            let consumed = if found { take + 1 } else { take };
            self.stats.bytes += consumed as u64;
            self.input.consume(consumed);
            if found {
                return Ok(Some(too_long));
            }
        }
    }

    fn malformed(&mut self, reason: MalformedReason) -> Option<Result<SessionEvent, LineError>> {
        let line = self.stats.lines;
        self.stats.malformed += 1;
        if self.stats.first_malformed.len() < KEPT_MALFORMED {
            self.stats.first_malformed.push(MalformedLine {
                line,
                reason: reason.clone(),
            });
        }
        self.options
            .strict
            .then_some(Err(LineError::Malformed { line, reason }))
    }
}

/// What one line turned out to be.
// Returned by value once per line and unpacked at once: boxing the event would cost an
// allocation per line for no gain.
#[allow(clippy::large_enum_variant)]
enum Outcome {
    Blank,
    Event(SessionEvent),
    Malformed(MalformedReason),
}

/// Classifies one line's bytes (without the newline); `line` is its 1-based number.
fn classify(mut bytes: &[u8], line: u64) -> Outcome {
    if line == 1 {
        bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Outcome::Blank;
    }
    let parsed = match std::str::from_utf8(bytes) {
        Ok(text) => parse_line(text, line),
        Err(_) => Err(MalformedReason::InvalidUtf8),
    };
    match parsed {
        Ok(event) => Outcome::Event(event),
        Err(reason) => Outcome::Malformed(reason),
    }
}

impl<R: BufRead> Reader<R> {
    /// The next line's outcome, or `None` at end of input.
    fn next_outcome(&mut self) -> Option<Result<Outcome, io::Error>> {
        // Fast path: the whole line is already in the input's buffer; parse it in place.
        match self.input.fill_buf() {
            Ok(chunk) => {
                if let Some(i) = chunk.iter().position(|b| *b == b'\n') {
                    if i <= self.options.max_line_bytes {
                        self.stats.lines += 1;
                        self.stats.bytes += i as u64 + 1;
                        let outcome = classify(&chunk[..i], self.stats.lines);
                        self.input.consume(i + 1);
                        return Some(Ok(outcome));
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Some(Err(e)),
        }
        let too_long = match self.next_line() {
            Ok(Some(t)) => t,
            Ok(None) => return None,
            Err(e) => return Some(Err(e)),
        };
        self.stats.lines += 1;
        if too_long {
            let limit = self.options.max_line_bytes;
            return Some(Ok(Outcome::Malformed(MalformedReason::TooLong { limit })));
        }
        Some(Ok(classify(&self.buf, self.stats.lines)))
    }
}

impl<R: BufRead> Iterator for Reader<R> {
    type Item = Result<SessionEvent, LineError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            match self.next_outcome() {
                None => self.done = true,
                Some(Err(source)) => {
                    self.done = true;
                    return Some(Err(LineError::Io {
                        line: self.stats.lines + 1,
                        source,
                    }));
                }
                Some(Ok(Outcome::Blank)) => self.stats.blank += 1,
                Some(Ok(Outcome::Event(event))) => {
                    self.stats.events += 1;
                    match event.format {
                        SourceFormat::PromptKit => self.stats.promptkit += 1,
                        _ => self.stats.native += 1,
                    }
                    return Some(Ok(event));
                }
                Some(Ok(Outcome::Malformed(reason))) => {
                    if let Some(err) = self.malformed(reason) {
                        return Some(err);
                    }
                }
            }
        }
        None
    }
}

/// Parses one non-blank line (either format). `line` is its 1-based number.
pub fn parse_line(text: &str, line: u64) -> Result<SessionEvent, MalformedReason> {
    // A struct deserializer would also accept a JSON array positionally: only objects here.
    if !text.trim_start().starts_with('{') {
        return Err(match serde_json::from_str::<de::IgnoredAny>(text) {
            Ok(_) => MalformedReason::NotObject,
            Err(e) => MalformedReason::NotJson(e.to_string()),
        });
    }
    let mut raw: Envelope = serde_json::from_str(text).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => MalformedReason::InvalidEnvelope(e.to_string()),
        _ => MalformedReason::NotJson(e.to_string()),
    })?;
    let seq = opt_seq(raw.seq.take())?;
    let parent_id = raw.parent_id.take();
    if let Some(EventField::Object(inner)) = raw.event.take() {
        return inner.finish(SourceFormat::PromptKit, line, seq, parent_id);
    }
    let Some(v) = raw.v.take() else {
        return Err(MalformedReason::UnknownFormat);
    };
    if v.as_u64() != Some(NATIVE_VERSION) {
        let mut text = v.to_string();
        text.truncate(32);
        return Err(MalformedReason::UnsupportedVersion(text));
    }
    if let (Some(Value::String(t)), Some(data)) = (&raw.event_type, raw.data.take()) {
        raw.data = Some(native_data_to_go(t, data));
    }
    raw.finish(SourceFormat::Native, line, seq, parent_id)
}

/// Keeps an explicit `null` as `Some(Value::Null)` (absent stays `None` via `default`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// The keys of a line's top level, and of PromptKit's inner `event`: both formats'
/// envelope keys plus PromptKit's outer ones, typed so that only the values are built as
/// generic JSON (a duplicate key fails decoding). Inside `event`, the outer keys (`v`,
/// `seq`, `parent_id`, `event`) are ignored, as are the envelope keys at the top level of
/// a PromptKit line.
#[derive(Deserialize)]
struct Envelope {
    #[serde(default, deserialize_with = "present")]
    v: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    seq: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    parent_id: Option<Value>,
    #[serde(default)]
    event: Option<EventField>,
    #[serde(rename = "type", default, deserialize_with = "present")]
    event_type: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    timestamp: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    run_id: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    execution_id: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    sequence: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    session_id: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    conversation_id: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    user_id: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    data_type: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    data: Option<Value>,
}

/// PromptKit's `event`: an object, or anything else (then the line is not PromptKit).
enum EventField {
    Object(Box<Envelope>),
    Other,
}

impl<'de> Deserialize<'de> for EventField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct FieldVisitor;
        impl<'de> Visitor<'de> for FieldVisitor {
            type Value = EventField;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<EventField, A::Error> {
                Envelope::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|e| EventField::Object(Box::new(e)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<EventField, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(EventField::Other)
            }
            fn visit_bool<E>(self, _: bool) -> Result<EventField, E> {
                Ok(EventField::Other)
            }
            fn visit_i64<E>(self, _: i64) -> Result<EventField, E> {
                Ok(EventField::Other)
            }
            fn visit_u64<E>(self, _: u64) -> Result<EventField, E> {
                Ok(EventField::Other)
            }
            fn visit_f64<E>(self, _: f64) -> Result<EventField, E> {
                Ok(EventField::Other)
            }
            fn visit_str<E>(self, _: &str) -> Result<EventField, E> {
                Ok(EventField::Other)
            }
            fn visit_unit<E>(self) -> Result<EventField, E> {
                Ok(EventField::Other)
            }
        }
        d.deserialize_any(FieldVisitor)
    }
}

impl Envelope {
    fn finish(
        self,
        format: SourceFormat,
        line: u64,
        seq: Option<u64>,
        parent_id: Option<Value>,
    ) -> Result<SessionEvent, MalformedReason> {
        let Some(Value::String(event_type)) = self.event_type else {
            return Err(MalformedReason::MissingType);
        };
        let timestamp = match self.timestamp {
            None | Some(Value::Null) => RecordedTime::missing(),
            Some(Value::String(text)) => RecordedTime::parse(&text)
                .map_err(|e| MalformedReason::BadTimestamp(e.to_string()))?,
            Some(_) => {
                return Err(MalformedReason::BadTimestamp(
                    "timestamp is not a string".into(),
                ))
            }
        };
        let sequence = match self.sequence {
            None => None,
            Some(v) => Some(
                v.as_i64()
                    .ok_or(MalformedReason::BadEnvelopeField("sequence"))?,
            ),
        };
        Ok(SessionEvent {
            format,
            line,
            seq,
            parent_id,
            event_type,
            timestamp,
            run_id: opt_string(self.run_id, "run_id")?,
            execution_id: opt_string(self.execution_id, "execution_id")?,
            sequence,
            session_id: opt_string(self.session_id, "session_id")?,
            conversation_id: opt_string(self.conversation_id, "conversation_id")?,
            user_id: opt_string(self.user_id, "user_id")?,
            data_type: opt_string(self.data_type, "data_type")?,
            data: self.data,
        })
    }
}

fn opt_string(v: Option<Value>, name: &'static str) -> Result<Option<String>, MalformedReason> {
    match v {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(MalformedReason::BadEnvelopeField(name)),
    }
}

fn opt_seq(v: Option<Value>) -> Result<Option<u64>, MalformedReason> {
    match v {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or(MalformedReason::BadEnvelopeField("seq")),
    }
}

/// Renames a native payload's snake-case keys back to Go names and unfolds `extra`.
fn native_data_to_go(event_type: &str, data: Value) -> Value {
    let Some(table) = payload_keys(event_type) else {
        return data;
    };
    let Value::Object(map) = data else {
        return data;
    };
    let mut out = Map::with_capacity(map.len());
    for (key, value) in map {
        if key == "extra" {
            if let Value::Object(extra) = value {
                out.extend(extra);
                continue;
            }
            out.insert(key, value);
            continue;
        }
        match table.iter().find(|(_, snake)| *snake == key) {
            Some((go, _)) => out.insert((*go).to_owned(), value),
            None => out.insert(key, value),
        };
    }
    Value::Object(out)
}

/// Reads every event of an input, returning them with the final counts.
///
/// Under [`ReadOptions::strict`] the first malformed line stops reading with its error.
pub fn read_all<R: BufRead>(
    input: R,
    options: ReadOptions,
) -> Result<(Vec<SessionEvent>, ReadStats), LineError> {
    let mut reader = read_jsonl(input, options);
    let mut events = Vec::new();
    for item in reader.by_ref() {
        events.push(item?);
    }
    Ok((events, reader.into_stats()))
}
