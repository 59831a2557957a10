//! [`ActiveSpan`]: a span opened by [`Emitter::enter`], ended explicitly or on drop.

use std::collections::BTreeMap;
use std::time::Instant;

use super::{Emitter, IdWidth};
use crate::model::{
    IngestEvent, SpanEnd, SpanId, SpanStart, Status, Timestamp, TraceId, WireKind, WireTraceId,
};

/// The ids of an emitted span (its trace and its own), passed as the parent of its
/// children. Plain ids, not an OpenTelemetry `SpanContext`: no flags and no state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpanIds {
    /// The trace the span belongs to.
    pub trace_id: WireTraceId,
    /// The span itself.
    pub span_id: SpanId,
}

/// A started span. [`end`](Self::end) (or dropping it) sends the end line, with
/// `duration_ns` measured by a monotonic `Instant`.
#[derive(Debug)]
#[must_use = "dropping an ActiveSpan ends it at once"]
pub struct ActiveSpan<'a> {
    emitter: &'a Emitter,
    ids: SpanIds,
    started: Instant,
    start_time: Timestamp,
    ended: bool,
}

/// A fresh random trace id of the given width (never zero: `random` ids are valid).
fn random_trace_id(width: IdWidth) -> WireTraceId {
    match width {
        IdWidth::Short => WireTraceId::Short(SpanId::random().to_u64()),
        IdWidth::W3c => WireTraceId::W3c(TraceId::random()),
    }
}

impl Emitter {
    /// Starts a span: generates its ids (a new trace when `parent` is `None`) and sends the
    /// start line.
    pub fn enter(
        &self,
        name: impl Into<String>,
        kind: WireKind,
        parent: Option<&SpanIds>,
    ) -> ActiveSpan<'_> {
        let trace_id = parent
            .map(|p| p.trace_id)
            .unwrap_or_else(|| random_trace_id(self.id_width));
        let span_id = SpanId::random();
        let start_time = Timestamp::now();
        self.emit(&IngestEvent::Start(SpanStart {
            trace_id,
            span_id,
            parent_id: parent.map(|p| p.span_id),
            name: name.into(),
            kind,
            time: start_time,
            attrs: BTreeMap::new(),
        }));
        ActiveSpan {
            emitter: self,
            ids: SpanIds { trace_id, span_id },
            started: Instant::now(),
            start_time,
            ended: false,
        }
    }
}

impl ActiveSpan<'_> {
    /// The parent context for children of this span.
    pub fn ids(&self) -> SpanIds {
        self.ids
    }

    /// Ends the span with attributes and an optional status.
    pub fn end<K, V>(mut self, attrs: impl IntoIterator<Item = (K, V)>, status: Option<Status>)
    where
        K: Into<String>,
        V: Into<String>,
    {
        let attrs = attrs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        self.send_end(attrs, status.unwrap_or_default());
    }

    fn send_end(&mut self, attrs: BTreeMap<String, String>, status: Status) {
        if self.ended {
            return;
        }
        self.ended = true;
        let elapsed = self.started.elapsed();
        let duration_ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.emitter.emit(&IngestEvent::End(SpanEnd {
            trace_id: self.ids.trace_id,
            span_id: self.ids.span_id,
            name: String::new(),
            time: self.start_time.saturating_add(elapsed),
            attrs,
            duration_ns: Some(duration_ns),
            status,
        }));
    }
}

impl Drop for ActiveSpan<'_> {
    fn drop(&mut self) {
        self.send_end(BTreeMap::new(), Status::default());
    }
}
