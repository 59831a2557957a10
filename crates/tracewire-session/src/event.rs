//! The session event model shared by both recording formats (PromptKit and native).
//!
//! A [`SessionEvent`] keeps everything a recording line carried — including the original
//! timestamp text, `parent_id`, `data_type` and payload keys nobody reads — so that
//! writing it back (in either format) loses nothing. The payload is stored under
//! PromptKit's **Go field names** (`Provider`, `CallID`, `Duration` in nanoseconds);
//! the native writer renames them to snake case on the way out.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The version number a native (`v`) line must carry.
pub const NATIVE_VERSION: u64 = 1;

/// Which on-disk format a line was read from, so tools can report the mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum SourceFormat {
    /// PromptKit `FileEventStore`: `{"seq", "parent_id", "event": {...}}`.
    PromptKit,
    /// Native flat snake-case form with `"v": 1`.
    Native,
    /// Built in code rather than read.
    Code,
}

/// An event time that remembers its original text, so round trips are byte-faithful.
///
/// `unix_nanos` is `None` when the time is missing, Go's zero time or before 1970: the
/// converter then infers it from neighbouring lines.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecordedTime {
    text: Option<String>,
    unix_nanos: Option<u64>,
}

/// Why a timestamp text could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid RFC 3339 timestamp {text:?}: {reason}")]
#[non_exhaustive]
pub struct RecordedTimeError {
    /// The offending text (truncated to 64 characters).
    pub text: String,
    /// The parser's explanation.
    pub reason: String,
}

impl RecordedTime {
    /// Parses RFC 3339 text (any offset, 0–9 fraction digits). A zero Go time or a
    /// pre-1970 time parses, but counts as missing ([`RecordedTime::unix_nanos`] is `None`).
    pub fn parse(text: &str) -> Result<Self, RecordedTimeError> {
        let parsed = OffsetDateTime::parse(text, &Rfc3339).map_err(|e| RecordedTimeError {
            text: text.chars().take(64).collect(),
            reason: e.to_string(),
        })?;
        let nanos = parsed.unix_timestamp_nanos();
        let unix_nanos = u64::try_from(nanos).ok().filter(|n| *n > 0);
        Ok(Self {
            text: Some(text.to_owned()),
            unix_nanos,
        })
    }

    /// A time created in code; it is written as RFC3339Nano in UTC.
    pub fn from_unix_nanos(unix_nanos: u64) -> Self {
        Self {
            text: Some(format_rfc3339_nano(unix_nanos)),
            unix_nanos: Some(unix_nanos),
        }
    }

    /// A missing time (the key is left out when written).
    pub fn missing() -> Self {
        Self::default()
    }

    /// The text as recorded (or as generated), if any.
    pub fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }

    /// Nanoseconds since the Unix epoch, or `None` when missing, zero or pre-1970.
    pub fn unix_nanos(&self) -> Option<u64> {
        self.unix_nanos
    }
}

impl fmt::Display for RecordedTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text.as_deref().unwrap_or(""))
    }
}

/// Formats Unix nanoseconds the way Go's `time.RFC3339Nano` does in UTC, through the
/// workspace's one formatter ([`tracewire_otlp::rfc3339::rfc3339_nano`]).
pub(crate) fn format_rfc3339_nano(unix_nanos: u64) -> String {
    tracewire_otlp::rfc3339::rfc3339_nano(i128::from(unix_nanos))
        .as_str()
        .to_owned()
}

/// One recorded session event, independent of the format it came from.
///
/// Absent envelope keys are `None` and stay absent when written; `parent_id` keeps any
/// JSON value verbatim (`Some(Value::Null)` is an explicit `null`) and is never used.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SessionEvent {
    /// The format of the line this event was read from.
    pub format: SourceFormat,
    /// 1-based line number in the input (0 for events built in code).
    pub line: u64,
    /// PromptKit's outer `seq`, the primary tie-breaker when sorting.
    pub seq: Option<u64>,
    /// PromptKit's outer `parent_id`, kept verbatim.
    pub parent_id: Option<Value>,
    /// The event type, e.g. `provider.call.started`: the only dispatch key.
    pub event_type: String,
    /// When the event happened.
    pub timestamp: RecordedTime,
    /// Run id of older recordings.
    pub run_id: Option<String>,
    /// Run id of newer recordings (replaces `run_id`).
    pub execution_id: Option<String>,
    /// Per-execution sequence number of newer recordings.
    pub sequence: Option<i64>,
    /// The session this event belongs to.
    pub session_id: Option<String>,
    /// The conversation id.
    pub conversation_id: Option<String>,
    /// The user id of newer recordings.
    pub user_id: Option<String>,
    /// The Go type name of the payload; kept, never used for dispatch.
    pub data_type: Option<String>,
    /// The payload under Go field names (`None` = absent).
    pub data: Option<Value>,
}

impl SessionEvent {
    /// A new event built in code: everything but the type and time is absent.
    pub fn new(event_type: impl Into<String>, timestamp: RecordedTime) -> Self {
        Self {
            format: SourceFormat::Code,
            line: 0,
            seq: None,
            parent_id: None,
            event_type: event_type.into(),
            timestamp,
            run_id: None,
            execution_id: None,
            sequence: None,
            session_id: None,
            conversation_id: None,
            user_id: None,
            data_type: None,
            data: None,
        }
    }

    /// The run this event belongs to: `run_id` if non-empty, else `execution_id`, else `""`.
    pub fn run_key(&self) -> &str {
        match (&self.run_id, &self.execution_id) {
            (Some(r), _) if !r.is_empty() => r,
            (_, Some(e)) => e,
            _ => "",
        }
    }

    /// The session id, `""` when absent.
    pub fn session(&self) -> &str {
        self.session_id.as_deref().unwrap_or("")
    }

    /// The payload as an object, if it is one.
    pub fn data_object(&self) -> Option<&Map<String, Value>> {
        self.data.as_ref().and_then(Value::as_object)
    }
}

/// Groups events by `session_id` (absent = `""`), keeping their order within a session.
pub fn group_by_session(
    events: impl IntoIterator<Item = SessionEvent>,
) -> BTreeMap<String, Vec<SessionEvent>> {
    let mut out: BTreeMap<String, Vec<SessionEvent>> = BTreeMap::new();
    for event in events {
        match out.get_mut(event.session()) {
            Some(list) => list.push(event),
            None => {
                out.insert(event.session().to_owned(), vec![event]);
            }
        }
    }
    out
}

/// Go field name → native snake-case name, per event family: the Go name in snake_case
/// with acronyms as one word, except `Duration` → `duration_ns`
/// (`docs/wire-formats.md#native-session-lines`). Keys PromptKit already writes in
/// lowercase map to themselves.
pub(crate) fn payload_keys(event_type: &str) -> Option<&'static [(&'static str, &'static str)]> {
    const PIPELINE: &[(&str, &str)] = &[
        ("Duration", "duration_ns"),
        ("TotalCost", "total_cost"),
        ("InputTokens", "input_tokens"),
        ("OutputTokens", "output_tokens"),
        ("MessageCount", "message_count"),
        ("Error", "error"),
    ];
    const PROVIDER: &[(&str, &str)] = &[
        ("Provider", "provider"),
        ("Model", "model"),
        ("MessageCount", "message_count"),
        ("ToolCount", "tool_count"),
        ("Source", "source"),
        ("Labels", "labels"),
        ("Duration", "duration_ns"),
        ("InputTokens", "input_tokens"),
        ("OutputTokens", "output_tokens"),
        ("CachedTokens", "cached_tokens"),
        ("Cost", "cost"),
        ("FinishReason", "finish_reason"),
        ("ToolCallCount", "tool_call_count"),
        ("Error", "error"),
    ];
    const TOOL: &[(&str, &str)] = &[
        ("ToolName", "tool_name"),
        ("CallID", "call_id"),
        ("Args", "args"),
        ("Labels", "labels"),
        ("Duration", "duration_ns"),
        ("Status", "status"),
        ("Error", "error"),
    ];
    const MIDDLEWARE: &[(&str, &str)] = &[
        ("Name", "name"),
        ("Index", "index"),
        ("Duration", "duration_ns"),
        ("Error", "error"),
    ];
    const MESSAGE: &[(&str, &str)] = &[
        ("Role", "role"),
        ("Content", "content"),
        ("Index", "index"),
        ("Parts", "parts"),
        ("ToolCalls", "tool_calls"),
        ("ToolResult", "tool_result"),
    ];
    const WORKFLOW: &[(&str, &str)] = &[
        ("from_state", "from_state"),
        ("to_state", "to_state"),
        ("event", "event"),
        ("prompt_task", "prompt_task"),
        ("final_state", "final_state"),
        ("transition_count", "transition_count"),
    ];
    const VALIDATION: &[(&str, &str)] = &[
        ("ValidatorName", "validator_name"),
        ("ValidatorType", "validator_type"),
        ("Direction", "direction"),
        ("Duration", "duration_ns"),
        ("Error", "error"),
        ("Violations", "violations"),
        ("Enforced", "enforced"),
        ("Score", "score"),
    ];
    const EVAL: &[(&str, &str)] = &[
        ("eval_id", "eval_id"),
        ("eval_type", "eval_type"),
        ("trigger", "trigger"),
        ("explanation", "explanation"),
        ("error", "error"),
        ("passed", "passed"),
        ("score", "score"),
        ("duration_ms", "duration_ms"),
    ];
    const COMPOSITION: &[(&str, &str)] = &[
        ("composition", "composition"),
        ("error", "error"),
        ("duration_ms", "duration_ms"),
        ("step_id", "step_id"),
        ("kind", "kind"),
        ("attempt", "attempt"),
    ];
    Some(match event_type {
        "pipeline.started" | "pipeline.completed" | "pipeline.failed" => PIPELINE,
        "provider.call.started" | "provider.call.completed" | "provider.call.failed" => PROVIDER,
        "tool.call.started" | "tool.call.completed" | "tool.call.failed" => TOOL,
        "middleware.started" | "middleware.completed" | "middleware.failed" => MIDDLEWARE,
        "message.created" => MESSAGE,
        "workflow.transitioned" | "workflow.completed" => WORKFLOW,
        "validation.started" | "validation.passed" | "validation.failed" => VALIDATION,
        "eval.completed" | "eval.failed" => EVAL,
        "composition.started"
        | "composition.completed"
        | "composition.step.started"
        | "composition.step.completed" => COMPOSITION,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_nano_trims_fraction() {
        assert_eq!(format_rfc3339_nano(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            format_rfc3339_nano(1_771_755_330_123_456_789),
            "2026-02-22T10:15:30.123456789Z"
        );
        assert_eq!(
            format_rfc3339_nano(1_771_755_330_500_000_000),
            "2026-02-22T10:15:30.5Z"
        );
    }

    #[test]
    fn zero_go_time_and_pre_1970_count_as_missing() {
        let zero = RecordedTime::parse("0001-01-01T00:00:00Z").unwrap();
        assert_eq!(zero.unix_nanos(), None);
        assert_eq!(zero.text(), Some("0001-01-01T00:00:00Z"));
        let old = RecordedTime::parse("1969-12-31T23:59:59Z").unwrap();
        assert_eq!(old.unix_nanos(), None);
        assert!(RecordedTime::parse("yesterday").is_err());
    }

    #[test]
    fn offsets_and_fraction_lengths_parse() {
        let a = RecordedTime::parse("2026-08-21T09:00:02.5+02:00").unwrap();
        let b = RecordedTime::parse("2026-08-21T07:00:02.500000000Z").unwrap();
        assert_eq!(a.unix_nanos(), b.unix_nanos());
        assert!(RecordedTime::parse("2026-08-21T07:00:02Z").is_ok());
    }

    #[test]
    fn run_key_prefers_non_empty_run_id() {
        let mut e = SessionEvent::new("x", RecordedTime::missing());
        assert_eq!(e.run_key(), "");
        e.execution_id = Some("exec".into());
        assert_eq!(e.run_key(), "exec");
        e.run_id = Some(String::new());
        assert_eq!(e.run_key(), "exec");
        e.run_id = Some("run".into());
        assert_eq!(e.run_key(), "run");
    }
}
