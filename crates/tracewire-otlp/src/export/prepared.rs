//! [`PreparedSpans`]: what an [`Export`](super::Export) transport receives.

use opentelemetry_proto::tonic::trace::v1::Span as ProtoSpan;

use crate::proto::to_proto_span;
use crate::span::Span;

/// A batch of spans on its way to an [`Export`](super::Export) transport, each already
/// converted to its OTLP wire message (once, at submit: the batch queue needs the encoded
/// size for its byte bound).
///
/// Opaque so that the export API does not name `opentelemetry-proto` types; the messages
/// are reached through [`proto::from_prepared`](crate::proto::from_prepared) and
/// [`proto::to_prepared`](crate::proto::to_prepared), the one module that does.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PreparedSpans {
    spans: Vec<ProtoSpan>,
}

impl PreparedSpans {
    /// Converts `spans`, in order.
    pub fn from_spans(spans: &[Span]) -> Self {
        Self::from_proto(spans.iter().map(to_proto_span).collect())
    }

    /// How many spans the batch holds.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether the batch holds no span.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    pub(crate) fn from_proto(spans: Vec<ProtoSpan>) -> Self {
        Self { spans }
    }

    pub(crate) fn into_proto(self) -> Vec<ProtoSpan> {
        self.spans
    }
}

impl FromIterator<Span> for PreparedSpans {
    fn from_iter<I: IntoIterator<Item = Span>>(spans: I) -> Self {
        Self::from_proto(
            spans
                .into_iter()
                .map(crate::proto::into_proto_span)
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::{SpanId, SpanKind, TraceId};

    #[test]
    fn prepared_spans_keep_order_and_count() {
        let span = |n: u64| {
            Span::new(
                TraceId::from_u128(1),
                SpanId::from_u64(n),
                format!("s{n}"),
                SpanKind::Internal,
                1,
                2,
            )
        };
        let spans = [span(1), span(2), span(3)];
        let prepared = PreparedSpans::from_spans(&spans);
        assert_eq!(prepared.len(), 3);
        assert!(!prepared.is_empty());
        assert_eq!(prepared, spans.iter().cloned().collect());
        let names: Vec<_> = crate::proto::from_prepared(prepared)
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(names, ["s1", "s2", "s3"]);
        assert!(PreparedSpans::default().is_empty());
    }
}
