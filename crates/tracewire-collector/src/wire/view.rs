//! The view line codec (`docs/wire-formats.md#collector-view-lines`): one flat completed
//! span per line, collector → viewers, byte-compatible with go-trace's view server (its
//! first nine keys, in its order) plus our additive keys `seq`, `duration_ns`, `kind_name`
//! and `status`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

use serde::de::{DeserializeSeed, Deserializer};
use serde::Deserialize;

use super::ingest::LineRejection;
use super::json::{self, Attrs, StatusSeed};
use crate::model::{
    parse_span_id, CompletedSpan, Status, StatusCode, Timestamp, WireKind, WireTraceId,
};

/// Appends the view line of `span`, terminated by `\n`.
///
/// Key order: `id`, `trace_id`, `parent_id` (omitted for roots), `name`, `kind` (int),
/// `start_time`, `end_time` (RFC3339Nano UTC), `attrs` (sorted, omitted when empty), then
/// `seq`, `duration_ns`, `kind_name` and `status` (omitted when unset). `children` is never
/// written: lines are flat.
pub fn encode_view_line(span: &CompletedSpan, out: &mut Vec<u8>) {
    use std::io::Write as _;
    let _ = write!(
        out,
        "{{\"id\":\"{}\",\"trace_id\":\"{}\"",
        span.span_id, span.trace_id
    );
    if let Some(p) = span.parent_id {
        let _ = write!(out, ",\"parent_id\":\"{p}\"");
    }
    json::write_key(out, false, "name");
    json::write_str(out, &span.name);
    json::write_key(out, false, "kind");
    json::write_u64(out, u64::from(span.kind.as_u8()));
    out.extend_from_slice(b",\"start_time\":\"");
    out.extend_from_slice(span.start.rfc3339_nano().as_str().as_bytes());
    out.extend_from_slice(b"\",\"end_time\":\"");
    out.extend_from_slice(span.end.rfc3339_nano().as_str().as_bytes());
    out.push(b'"');
    if !span.attrs.is_empty() {
        json::write_key(out, false, "attrs");
        json::write_attrs(out, &span.attrs);
    }
    json::write_key(out, false, "seq");
    json::write_u64(out, span.seq);
    json::write_key(out, false, "duration_ns");
    json::write_u64(
        out,
        u64::try_from(span.duration.as_nanos()).unwrap_or(u64::MAX),
    );
    let _ = write!(out, ",\"kind_name\":\"{}\"", span.kind.name());
    if span.status.code != StatusCode::Unset {
        json::write_key(out, false, "status");
        json::write_status_object(out, &span.status);
    }
    out.extend_from_slice(b"}\n");
}

/// The view line of `span` as an owned buffer (convenience over [`encode_view_line`]).
pub fn view_line(span: &CompletedSpan) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    encode_view_line(span, &mut out);
    out
}

fn attrs_field<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    Attrs.deserialize(d)
}

fn status_field<'de, D: Deserializer<'de>>(d: D) -> Result<Status, D::Error> {
    StatusSeed.deserialize(d)
}

/// The keys of a view line; unknown keys (and go-trace's `children`) are ignored.
#[derive(Deserialize)]
struct RawView<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow)]
    trace_id: Cow<'a, str>,
    #[serde(default, borrow)]
    parent_id: Option<Cow<'a, str>>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    kind: Option<u64>,
    #[serde(borrow)]
    start_time: Cow<'a, str>,
    #[serde(borrow)]
    end_time: Cow<'a, str>,
    #[serde(default, deserialize_with = "attrs_field")]
    attrs: BTreeMap<String, String>,
    #[serde(default)]
    seq: Option<u64>,
    #[serde(default)]
    duration_ns: Option<u64>,
    #[serde(default, deserialize_with = "status_field")]
    status: Status,
}

/// One event of a view-line stream, counted into `counts` (blank, rejected, or a good
/// line and span end): the decoded span, if the line was one. The journal replay and the
/// view client read view lines alike through this.
#[cfg(feature = "server")]
pub(crate) fn count_view_line(
    ev: crate::lines::LineEvent<'_>,
    counts: &mut super::ingest::IngestCounts,
) -> Option<CompletedSpan> {
    use crate::lines::LineEvent;
    match ev {
        LineEvent::Blank => counts.blank += 1,
        LineEvent::Oversize { .. } => counts.record_rejection(LineRejection::Oversize),
        LineEvent::Line(line) => match decode_view_line(line) {
            Ok(span) => {
                counts.lines += 1;
                counts.ends += 1;
                return Some(span);
            }
            Err(r) => counts.record_rejection(r),
        },
    }
    None
}

/// Decodes one view line (ours or go-trace's; a trailing `\r` is tolerated).
///
/// A go-trace line has no `seq` (0 here) and no `duration_ns` (then `end_time - start_time`,
/// clamped at 0). Errors use the ingest [`LineRejection`] classes: `Malformed` for JSON or type
/// errors and missing keys, `InvalidId`, `InvalidKind` (> 255) or `InvalidTime`.
pub fn decode_view_line(line: &[u8]) -> Result<CompletedSpan, LineRejection> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let raw: RawView<'_> = serde_json::from_slice(line).map_err(|_| LineRejection::Malformed)?;
    let span_id = parse_span_id(&raw.id).map_err(|_| LineRejection::InvalidId)?;
    let trace_id = WireTraceId::parse_hex(&raw.trace_id).map_err(|_| LineRejection::InvalidId)?;
    let parent_id = match raw.parent_id.as_deref() {
        None | Some("") => None,
        Some(p) => Some(parse_span_id(p).map_err(|_| LineRejection::InvalidId)?),
    };
    let kind = u8::try_from(raw.kind.unwrap_or(0))
        .map(WireKind::from_u8)
        .map_err(|_| LineRejection::InvalidKind)?;
    let start =
        Timestamp::parse_rfc3339(&raw.start_time).map_err(|_| LineRejection::InvalidTime)?;
    let end = Timestamp::parse_rfc3339(&raw.end_time).map_err(|_| LineRejection::InvalidTime)?;
    let duration = match raw.duration_ns {
        Some(d) => Duration::from_nanos(d),
        None => end.duration_since(start).unwrap_or(Duration::ZERO),
    };
    Ok(CompletedSpan {
        trace_id,
        span_id,
        parent_id,
        name: raw.name.unwrap_or_default(),
        kind,
        start,
        end,
        duration,
        attrs: raw.attrs,
        status: raw.status,
        seq: raw.seq.unwrap_or(0),
    })
}
