//! The receiving side: an OTLP/HTTP traces body (protobuf or OTLP/JSON, optionally gzip)
//! into an `ExportTraceServiceRequest`, and its spans into our model, each invalid span
//! counted with its reason.

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue as ProtoKeyValue};
use opentelemetry_proto::tonic::trace::v1::{span, status, Span as ProtoSpan};
use prost::Message;
use tracewire_context::{SpanId, TraceId};

use crate::resource::{Resource, Scope};
use crate::span::{Attributes, KeyValue, Span, SpanEvent, SpanKind, Status, Value};

/// The encoding of an OTLP/HTTP body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Encoding {
    /// `application/x-protobuf`.
    Protobuf,
    /// `application/json`: OTLP/JSON (hex ids, 64-bit integers as strings or numbers,
    /// enums as names or integers).
    Json,
}

impl Encoding {
    /// The encoding a `Content-Type` names (parameters and case ignored), if OTLP has one.
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let mime = content_type.split(';').next()?.trim();
        if mime.eq_ignore_ascii_case("application/x-protobuf")
            || mime.eq_ignore_ascii_case("application/protobuf")
        {
            Some(Encoding::Protobuf)
        } else if mime.eq_ignore_ascii_case("application/json") {
            Some(Encoding::Json)
        } else {
            None
        }
    }

    /// The `Content-Type` this encoding is sent with.
    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

/// Why a body is not an export request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The gzip stream is corrupt (or gzip support was not built: feature `gzip`).
    #[error("invalid gzip body")]
    Gzip,
    /// The decompressed body is over the limit.
    #[error("decompressed body over {limit} bytes")]
    TooLarge {
        /// The limit that was passed.
        limit: usize,
    },
    /// Not a protobuf `ExportTraceServiceRequest`.
    #[error("invalid protobuf ExportTraceServiceRequest")]
    Protobuf,
    /// Not JSON.
    #[error("invalid JSON")]
    Json,
    /// JSON, but not an OTLP/JSON `ExportTraceServiceRequest`.
    #[error("invalid OTLP/JSON ExportTraceServiceRequest")]
    OtlpJson,
}

/// Decodes a (possibly gzip-compressed) OTLP/HTTP traces body; a body that decompresses
/// to more than `max_bytes` is refused. Never panics.
pub fn decode_request(
    body: &[u8],
    encoding: Encoding,
    gzip: bool,
    max_bytes: usize,
) -> Result<ExportTraceServiceRequest, DecodeError> {
    let unzipped;
    let body = if gzip {
        unzipped = gunzip(body, max_bytes)?;
        unzipped.as_slice()
    } else {
        body
    };
    match encoding {
        Encoding::Protobuf => {
            ExportTraceServiceRequest::decode(body).map_err(|_| DecodeError::Protobuf)
        }
        Encoding::Json => {
            let mut v: serde_json::Value =
                serde_json::from_slice(body).map_err(|_| DecodeError::Json)?;
            normalise_json_enums(&mut v);
            serde_json::from_value(v).map_err(|_| DecodeError::OtlpJson)
        }
    }
}

/// The body of a receiver's success answer in `encoding`: empty when nothing was
/// rejected, else a `partial_success` with the count and the message.
pub fn encode_response(encoding: Encoding, rejected: u64, message: &str) -> Vec<u8> {
    let response = ExportTraceServiceResponse {
        partial_success: (rejected > 0).then(|| ExportTracePartialSuccess {
            rejected_spans: i64::try_from(rejected).unwrap_or(i64::MAX),
            error_message: message.to_owned(),
        }),
    };
    match encoding {
        Encoding::Protobuf => response.encode_to_vec(),
        // Serialising these plain messages cannot fail.
        Encoding::Json => serde_json::to_vec(&response).unwrap_or_else(|_| b"{}".to_vec()),
    }
}

#[cfg(feature = "gzip")]
fn gunzip(body: &[u8], max_bytes: usize) -> Result<Vec<u8>, DecodeError> {
    use std::io::Read as _;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body)
        .take(max_bytes as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| DecodeError::Gzip)?;
    if out.len() > max_bytes {
        return Err(DecodeError::TooLarge { limit: max_bytes });
    }
    Ok(out)
}

#[cfg(not(feature = "gzip"))]
fn gunzip(_body: &[u8], _max_bytes: usize) -> Result<Vec<u8>, DecodeError> {
    Err(DecodeError::Gzip)
}

/// Rewrites OTLP/JSON enum names (`"SPAN_KIND_SERVER"`, `"STATUS_CODE_ERROR"`) into the
/// integers the proto types deserialize.
fn normalise_json_enums(v: &mut serde_json::Value) {
    use serde_json::Value as J;
    match v {
        J::Object(map) => {
            if let Some(J::String(name)) = map.get("kind") {
                if let Some(k) = span::SpanKind::from_str_name(name) {
                    map.insert("kind".into(), J::from(k as i32));
                }
            }
            if let Some(J::String(name)) = map.get("code") {
                if let Some(c) = status::StatusCode::from_str_name(name) {
                    map.insert("code".into(), J::from(c as i32));
                }
            }
            for (_, child) in map.iter_mut() {
                normalise_json_enums(child);
            }
        }
        J::Array(items) => items.iter_mut().for_each(normalise_json_enums),
        _ => {}
    }
}

/// Why one received span was not taken into the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SpanRejection {
    /// The trace id is not 16 bytes, or all zeros.
    TraceId,
    /// The span id is not 8 bytes, or all zeros.
    SpanId,
    /// The parent span id is neither empty nor 8 bytes.
    ParentId,
}

impl SpanRejection {
    /// The reason as a receiver reports it in `partial_success.error_message`.
    pub fn as_str(self) -> &'static str {
        match self {
            SpanRejection::TraceId => "trace_id must be 16 non-zero bytes",
            SpanRejection::SpanId => "span_id must be 8 non-zero bytes",
            SpanRejection::ParentId => "parent_span_id must be empty or 8 bytes",
        }
    }
}

impl std::fmt::Display for SpanRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for SpanRejection {}

/// The spans of one `ScopeSpans`, with the resource and scope they were sent under.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SpanGroup {
    /// The resource of the enclosing `ResourceSpans`.
    pub resource: Resource,
    /// The instrumentation scope.
    pub scope: Scope,
    /// The valid spans, in request order.
    pub spans: Vec<Span>,
}

/// Every span of a request in our model: the valid ones grouped as they were sent, and
/// the invalid ones counted.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ReceivedSpans {
    /// One group per `ScopeSpans` that held a valid span.
    pub groups: Vec<SpanGroup>,
    /// Spans left out, as reported in `partial_success.rejected_spans`.
    pub rejected: u64,
    /// Why the first of them was left out.
    pub first_rejection: Option<SpanRejection>,
}

impl ReceivedSpans {
    /// The number of valid spans.
    pub fn span_count(&self) -> usize {
        self.groups.iter().map(|g| g.spans.len()).sum()
    }
}

/// Takes a request's spans into our model, moving its strings. Ids must be valid (see
/// [`SpanRejection`]); a zero parent id means no parent; attributes whose value is unset
/// are left out; links, dropped counts and schema URLs are not part of the model.
pub fn spans_from_request(request: ExportTraceServiceRequest) -> ReceivedSpans {
    let mut out = ReceivedSpans::default();
    for rs in request.resource_spans {
        let resource = Resource::empty().with_attributes(
            rs.resource
                .map(|r| attributes(r.attributes))
                .unwrap_or_default(),
        );
        for ss in rs.scope_spans {
            let scope = ss
                .scope
                .map(|s| Scope::new(s.name, s.version))
                .unwrap_or_else(|| Scope::new("", ""));
            let mut spans = Vec::with_capacity(ss.spans.len());
            for s in ss.spans {
                match span_from_proto(s) {
                    Ok(span) => spans.push(span),
                    Err(reason) => {
                        out.rejected += 1;
                        out.first_rejection.get_or_insert(reason);
                    }
                }
            }
            if !spans.is_empty() {
                out.groups.push(SpanGroup {
                    resource: resource.clone(),
                    scope,
                    spans,
                });
            }
        }
    }
    out
}

/// Converts one proto span, moving its strings.
pub fn span_from_proto(s: ProtoSpan) -> Result<Span, SpanRejection> {
    let trace_id = <[u8; 16]>::try_from(s.trace_id.as_slice())
        .ok()
        .map(TraceId::from_bytes)
        .filter(|id| id.is_valid())
        .ok_or(SpanRejection::TraceId)?;
    let span_id = <[u8; 8]>::try_from(s.span_id.as_slice())
        .ok()
        .map(SpanId::from_bytes)
        .filter(|id| id.is_valid())
        .ok_or(SpanRejection::SpanId)?;
    let parent_span_id = match s.parent_span_id.len() {
        0 => None,
        8 => <[u8; 8]>::try_from(s.parent_span_id.as_slice())
            .ok()
            .map(SpanId::from_bytes)
            .filter(|id| id.is_valid()),
        _ => return Err(SpanRejection::ParentId),
    };
    let mut span = Span::new(
        trace_id,
        span_id,
        s.name,
        kind(s.kind),
        s.start_time_unix_nano,
        s.end_time_unix_nano,
    );
    span.parent_span_id = parent_span_id;
    span.trace_state = s.trace_state;
    span.flags = s.flags;
    span.attributes = attributes(s.attributes);
    span.events = s
        .events
        .into_iter()
        .map(|e| {
            let mut event = SpanEvent::new(e.name, e.time_unix_nano);
            event.attributes = attributes(e.attributes);
            event
        })
        .collect();
    span.status = match s.status {
        Some(st) => match status::StatusCode::try_from(st.code) {
            Ok(status::StatusCode::Error) => Status::error(st.message),
            Ok(status::StatusCode::Ok) => Status::ok(),
            _ => Status::unset(),
        },
        None => Status::unset(),
    };
    Ok(span)
}

fn kind(k: i32) -> SpanKind {
    match span::SpanKind::try_from(k) {
        Ok(span::SpanKind::Internal) => SpanKind::Internal,
        Ok(span::SpanKind::Server) => SpanKind::Server,
        Ok(span::SpanKind::Client) => SpanKind::Client,
        Ok(span::SpanKind::Producer) => SpanKind::Producer,
        Ok(span::SpanKind::Consumer) => SpanKind::Consumer,
        _ => SpanKind::Unspecified,
    }
}

fn attributes(kvs: Vec<ProtoKeyValue>) -> Attributes {
    kvs.into_iter()
        .filter_map(|kv| {
            let value = kv.value.and_then(|v| v.value.is_some().then_some(v))?;
            Some(KeyValue {
                key: kv.key,
                value: from_any_value(value),
            })
        })
        .collect()
}

/// Converts an OTLP `AnyValue`, moving its strings; an unset one is [`Value::Empty`].
pub fn from_any_value(value: AnyValue) -> Value {
    match value.value {
        Some(any_value::Value::StringValue(s)) => Value::String(s),
        Some(any_value::Value::BoolValue(b)) => Value::Bool(b),
        Some(any_value::Value::IntValue(i)) => Value::Int(i),
        Some(any_value::Value::DoubleValue(d)) => Value::Double(d),
        Some(any_value::Value::BytesValue(b)) => Value::Bytes(b),
        Some(any_value::Value::ArrayValue(a)) => {
            Value::Array(a.values.into_iter().map(from_any_value).collect())
        }
        Some(any_value::Value::KvlistValue(kvs)) => Value::KvList(
            kvs.values
                .into_iter()
                .map(|kv| KeyValue {
                    key: kv.key,
                    value: kv.value.map_or(Value::Empty, from_any_value),
                })
                .collect(),
        ),
        // Dictionary-encoded strings (profiles only) and variants added later.
        Some(_) | None => Value::Empty,
    }
}
