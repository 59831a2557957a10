//! Request bodies: grouping spans into requests, splitting batches that exceed the size
//! limit (in halves, recursively, keeping order), encoding and compression.

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope as ProtoScope;
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span as ProtoSpan};
use prost::Message;

use super::config::{Compression, Protocol};
use super::error::ExportError;

/// Spans to export, each tagged with the index of its scope in `scopes`.
#[derive(Debug, Clone, Default)]
pub(crate) struct SpanBatch {
    pub(crate) scopes: Vec<ProtoScope>,
    pub(crate) spans: Vec<(u32, ProtoSpan)>,
}

impl SpanBatch {
    /// A batch where every span has the same scope.
    pub(crate) fn single_scope(scope: ProtoScope, spans: Vec<ProtoSpan>) -> Self {
        Self {
            scopes: vec![scope],
            spans: spans.into_iter().map(|s| (0, s)).collect(),
        }
    }

    /// Flattens grouped `ResourceSpans` (from the SDK path) into a batch, keeping order.
    pub(crate) fn from_resource_spans(resource_spans: Vec<ResourceSpans>) -> Self {
        let mut batch = SpanBatch::default();
        for rs in resource_spans {
            for ss in rs.scope_spans {
                let scope = ss.scope.unwrap_or_default();
                let idx = match batch.scopes.iter().position(|s| *s == scope) {
                    Some(i) => i,
                    None => {
                        batch.scopes.push(scope);
                        batch.scopes.len() - 1
                    }
                };
                let idx = u32::try_from(idx).unwrap_or(u32::MAX);
                batch.spans.extend(ss.spans.into_iter().map(|s| (idx, s)));
            }
        }
        batch
    }

    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }
}

/// One request ready to send, or the reason a part could not be sent.
#[derive(Debug)]
pub(crate) enum Part {
    Ready { body: Bytes, spans: usize },
    TooLarge { bytes: usize, limit: usize },
    Failed { error: ExportError, spans: usize },
}

/// Builds a request from spans, grouping consecutive spans of the same scope; returns the
/// scope index of each group so the spans can be taken back out.
fn build(
    resource: &ProtoResource,
    scopes: &[ProtoScope],
    spans: Vec<(u32, ProtoSpan)>,
) -> (ExportTraceServiceRequest, Vec<u32>) {
    let mut groups: Vec<ScopeSpans> = Vec::new();
    let mut group_scopes: Vec<u32> = Vec::new();
    for (idx, span) in spans {
        match (groups.last_mut(), group_scopes.last()) {
            (Some(g), Some(&last)) if last == idx => g.spans.push(span),
            _ => {
                groups.push(ScopeSpans {
                    scope: scopes.get(idx as usize).cloned(),
                    spans: vec![span],
                    schema_url: String::new(),
                });
                group_scopes.push(idx);
            }
        }
    }
    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource.clone()),
            scope_spans: groups,
            schema_url: String::new(),
        }],
    };
    (req, group_scopes)
}

fn unbuild(req: ExportTraceServiceRequest, group_scopes: &[u32]) -> Vec<(u32, ProtoSpan)> {
    let mut out = Vec::new();
    for rs in req.resource_spans {
        for (ss, idx) in rs.scope_spans.into_iter().zip(group_scopes.iter().copied()) {
            out.extend(ss.spans.into_iter().map(|s| (idx, s)));
        }
    }
    out
}

/// Settings that shape bodies.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyFormat {
    pub(crate) protocol: Protocol,
    pub(crate) compression: Compression,
    pub(crate) limit: usize,
}

/// Splits `batch` into parts whose uncompressed bodies fit `format.limit`, in order.
pub(crate) fn plan(resource: &ProtoResource, batch: SpanBatch, format: BodyFormat) -> Vec<Part> {
    let mut out = Vec::new();
    if batch.spans.is_empty() {
        return out;
    }
    split(resource, &batch.scopes, batch.spans, format, &mut out);
    out
}

fn split(
    resource: &ProtoResource,
    scopes: &[ProtoScope],
    spans: Vec<(u32, ProtoSpan)>,
    format: BodyFormat,
    out: &mut Vec<Part>,
) {
    let n = spans.len();
    let (req, group_scopes) = build(resource, scopes, spans);
    let encoded = match format.protocol {
        Protocol::HttpJson => match serde_json::to_vec(&req) {
            Ok(body) => Ok((body.len(), Some(body))),
            Err(e) => Err(ExportError::Encode(e.to_string())),
        },
        _ => Ok((req.encoded_len(), None)),
    };
    let (size, json_body) = match encoded {
        Ok(v) => v,
        Err(error) => {
            out.push(Part::Failed { error, spans: n });
            return;
        }
    };
    if size <= format.limit {
        let raw = json_body.unwrap_or_else(|| req.encode_to_vec());
        match compress(raw, format.compression) {
            Ok(body) => out.push(Part::Ready {
                body: Bytes::from(body),
                spans: n,
            }),
            Err(error) => out.push(Part::Failed { error, spans: n }),
        }
        return;
    }
    if n <= 1 {
        out.push(Part::TooLarge {
            bytes: size,
            limit: format.limit,
        });
        return;
    }
    let mut left = unbuild(req, &group_scopes);
    let right = left.split_off(n / 2);
    split(resource, scopes, left, format, out);
    split(resource, scopes, right, format, out);
}

fn compress(raw: Vec<u8>, compression: Compression) -> Result<Vec<u8>, ExportError> {
    match compression {
        Compression::None => Ok(raw),
        Compression::Gzip => gzip(&raw),
    }
}

#[cfg(feature = "gzip")]
fn gzip(raw: &[u8]) -> Result<Vec<u8>, ExportError> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(raw.len() / 4 + 64),
        flate2::Compression::fast(),
    );
    enc.write_all(raw)
        .map_err(|e| ExportError::Encode(format!("gzip: {e}")))?;
    enc.finish()
        .map_err(|e| ExportError::Encode(format!("gzip: {e}")))
}

#[cfg(not(feature = "gzip"))]
fn gzip(_raw: &[u8]) -> Result<Vec<u8>, ExportError> {
    Err(ExportError::Encode(
        "gzip compression needs the `gzip` feature".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(i: u64, pad: usize) -> ProtoSpan {
        ProtoSpan {
            trace_id: vec![1; 16],
            span_id: i.to_be_bytes().to_vec(),
            name: "x".repeat(pad),
            ..Default::default()
        }
    }

    #[test]
    fn split_keeps_order_and_limit() {
        let spans: Vec<_> = (0..100).map(|i| span(i, 100)).collect();
        let batch = SpanBatch::single_scope(ProtoScope::default(), spans);
        let format = BodyFormat {
            protocol: Protocol::HttpProtobuf,
            compression: Compression::None,
            limit: 1500,
        };
        let parts = plan(&ProtoResource::default(), batch, format);
        let mut ids = Vec::new();
        for p in parts {
            match p {
                Part::Ready { body, .. } => {
                    assert!(body.len() <= 1500);
                    let req = ExportTraceServiceRequest::decode(body).unwrap_or_default();
                    for rs in req.resource_spans {
                        for ss in rs.scope_spans {
                            ids.extend(ss.spans.into_iter().map(|s| s.span_id));
                        }
                    }
                }
                other => panic!("unexpected part {other:?}"),
            }
        }
        let want: Vec<_> = (0..100u64).map(|i| i.to_be_bytes().to_vec()).collect();
        assert_eq!(ids, want);
    }

    #[test]
    fn single_oversize_span_is_too_large() {
        let batch = SpanBatch::single_scope(
            ProtoScope::default(),
            vec![span(1, 10), span(2, 5000), span(3, 10)],
        );
        let format = BodyFormat {
            protocol: Protocol::HttpJson,
            compression: Compression::None,
            limit: 1000,
        };
        let parts = plan(&ProtoResource::default(), batch, format);
        let too_large = parts
            .iter()
            .filter(|p| matches!(p, Part::TooLarge { .. }))
            .count();
        let ready: usize = parts
            .iter()
            .map(|p| {
                if let Part::Ready { spans, .. } = p {
                    *spans
                } else {
                    0
                }
            })
            .sum();
        assert_eq!((too_large, ready), (1, 2));
    }
}
