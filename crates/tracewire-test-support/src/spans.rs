//! Deterministic test spans in tracewire-otlp's model.

/// `n` distinct test spans of one trace.
pub fn spans(n: usize) -> Vec<tracewire_otlp::span::Span> {
    use tracewire_otlp::span::{Span, SpanKind, Status};
    use tracewire_otlp::span::{SpanId, TraceId};
    (0..n)
        .map(|i| {
            let mut s = Span::new(
                TraceId::from_u128(0x0af7651916cd43dd8448eb211c80319c),
                SpanId::from_u64(i as u64 + 1),
                format!("span-{i}"),
                SpanKind::Internal,
                1_700_000_000_000_000_000 + i as u64,
                1_700_000_000_000_001_000 + i as u64,
            );
            s.attributes.insert("index", i as i64);
            s.attributes.insert("text", "some attribute text");
            s.status = Status::ok();
            s
        })
        .collect()
}

/// The span id bytes of `spans(..)[i]`.
pub fn id_of(i: usize) -> Vec<u8> {
    (i as u64 + 1).to_be_bytes().to_vec()
}
