//! The connection's tracer behind one small object-safe trait, so that spans of a concrete
//! provider (e.g. the SDK's) are started without the extra `BoxedSpan` allocation that
//! `BoxedTracer` adds to every span; and the no-op shortcut of [`ConnTracer`].

use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::global::{self, BoxedTracer};
use opentelemetry::trace::{Span, SpanBuilder, TraceContextExt, Tracer, TracerProvider};
use opentelemetry::{Context, InstrumentationScope};

/// A tracer provider as `Options` keeps it.
pub(crate) trait ProvideTracer: Send + Sync {
    /// The tracer of `scope`, resolved once per connection.
    fn conn_tracer(&self, scope: InstrumentationScope) -> Box<dyn StartSpan>;
}

impl<P, T, S> ProvideTracer for P
where
    S: Span + Send + Sync + 'static,
    T: Tracer<Span = S> + Send + Sync + 'static,
    P: TracerProvider<Tracer = T> + Send + Sync,
{
    fn conn_tracer(&self, scope: InstrumentationScope) -> Box<dyn StartSpan> {
        Box::new(self.tracer_with_scope(scope))
    }
}

/// Starts spans and makes them active in a context.
pub(crate) trait StartSpan: Send + Sync {
    /// Starts `builder` as a child of `parent` and returns `base` with the new span
    /// active (`base` differs from `parent` only for a new root with a link).
    fn start(&self, builder: SpanBuilder, parent: &Context, base: &Context) -> Context;
}

impl<T> StartSpan for T
where
    T: Tracer + Send + Sync,
    T::Span: Send + Sync + 'static,
{
    fn start(&self, builder: SpanBuilder, parent: &Context, base: &Context) -> Context {
        base.with_span(builder.start_with_context(self, parent))
    }
}

/// The tracer of `scope` from `provider`, else from the global provider (read once).
pub(crate) fn resolve(
    provider: Option<&dyn ProvideTracer>,
    scope: InstrumentationScope,
) -> ConnTracer {
    let tracer = match provider {
        Some(p) => p.conn_tracer(scope),
        None => Box::<BoxedTracer>::new(global::tracer_provider().tracer_with_scope(scope)),
    };
    ConnTracer {
        tracer,
        noop: AtomicBool::new(false),
    }
}

/// A connection's tracer. Without an SDK installed every span is a no-op, yet building its
/// attributes, links and boxed span would cost about as much as the envelope itself; so once
/// a span comes back as a no-op — not recording and carrying its parent's span context
/// unchanged, which no recording SDK does as it always gives a child a new span id — later
/// spans skip the tracer. The caller then gets `base` with a non-recording span of its own
/// span context: what the no-op span would have carried, except that a new root with a link
/// (`SpanPolicy::Link`) carries the remote span context rather than the no-op root's invalid
/// one: under the no-op provider the received context carries the sender's span context
/// (`docs/websocket.md#tracer`).
///
/// Only a span whose parent is sampled (or absent) counts as that evidence: a tracer may
/// pass an unsampled parent through and still record sampled traces. The tracer is fixed
/// for the connection, so this never flips back.
pub(crate) struct ConnTracer {
    tracer: Box<dyn StartSpan>,
    noop: AtomicBool,
}

impl ConnTracer {
    /// Starts the span `builder` makes as a child of `parent`, active in `base` (see
    /// [`StartSpan::start`]); `builder` is not called once the tracer is known to be a no-op.
    pub(crate) fn start(
        &self,
        builder: impl FnOnce() -> SpanBuilder,
        parent: &Context,
        base: &Context,
    ) -> Context {
        if self.noop.load(Ordering::Relaxed) {
            return noop_span_in(base);
        }
        let cx = self.tracer.start(builder(), parent, base);
        let (span, parent_span) = (cx.span(), parent.span());
        let parent_context = parent_span.span_context();
        let must_record = parent_context.is_sampled() || !parent_context.is_valid();
        if must_record && !span.is_recording() && span.span_context() == parent_context {
            self.noop.store(true, Ordering::Relaxed);
            return noop_span_in(base);
        }
        cx
    }
}

/// `base` with a non-recording span of its own span context active, as a no-op span would
/// be: ending it is harmless, where ending `base`'s own span (the caller's, on send) is not.
fn noop_span_in(base: &Context) -> Context {
    base.with_remote_span_context(base.span().span_context().clone())
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::noop::NoopTracerProvider;
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
    use opentelemetry_sdk::trace::{InMemorySpanExporter, Sampler, SdkTracerProvider};

    use super::*;

    fn remote_parent() -> Context {
        Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736),
            SpanId::from(0x00f0_67aa_0ba9_02b7),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        ))
    }

    fn builder() -> SpanBuilder {
        SpanBuilder::from_name("websocket.send")
    }

    #[test]
    fn a_noop_tracer_is_skipped_after_its_first_span_with_the_same_context() {
        let provider = NoopTracerProvider::new();
        let tracer = resolve(Some(&provider), InstrumentationScope::builder("t").build());
        let parent = remote_parent();
        let first = tracer.start(builder, &parent, &parent);
        assert!(tracer.noop.load(Ordering::Relaxed));
        let mut built = false;
        let second = tracer.start(
            || {
                built = true;
                builder()
            },
            &parent,
            &parent,
        );
        assert!(!built, "the builder of a known no-op tracer is not called");
        for cx in [&first, &second] {
            assert!(cx.has_active_span());
            assert!(!cx.span().is_recording());
            assert_eq!(cx.span().span_context(), parent.span().span_context());
        }
        // Without a parent both give the invalid span context.
        let root = tracer.start(builder, &Context::new(), &Context::new());
        assert!(!root.span().span_context().is_valid());
    }

    /// `SpanPolicy::Link` starts a new root (no parent) active in the extracted context.
    #[test]
    fn a_noop_root_with_a_link_returns_the_remote_span_context() {
        let provider = NoopTracerProvider::new();
        let tracer = resolve(Some(&provider), InstrumentationScope::builder("t").build());
        let remote = remote_parent();
        for _ in 0..2 {
            let cx = tracer.start(builder, &Context::new(), &remote);
            assert_eq!(cx.span().span_context(), remote.span().span_context());
        }
        assert!(tracer.noop.load(Ordering::Relaxed));
    }

    #[test]
    fn an_unsampled_parent_passed_through_is_no_evidence_of_a_noop_tracer() {
        let provider = NoopTracerProvider::new();
        let tracer = resolve(Some(&provider), InstrumentationScope::builder("t").build());
        let sampled = remote_parent();
        let unsampled = Context::new().with_remote_span_context(SpanContext::new(
            sampled.span().span_context().trace_id(),
            sampled.span().span_context().span_id(),
            TraceFlags::NOT_SAMPLED,
            true,
            TraceState::default(),
        ));
        tracer.start(builder, &unsampled, &unsampled);
        assert!(
            !tracer.noop.load(Ordering::Relaxed),
            "a tracer that records only sampled traces would look the same"
        );
        tracer.start(builder, &sampled, &sampled);
        assert!(tracer.noop.load(Ordering::Relaxed));
    }

    #[test]
    fn sdk_spans_are_never_taken_for_no_ops_even_when_dropped_by_the_sampler() {
        for sampler in [Sampler::AlwaysOff, Sampler::AlwaysOn] {
            let provider = SdkTracerProvider::builder()
                .with_sampler(sampler)
                .with_simple_exporter(InMemorySpanExporter::default())
                .build();
            let tracer = resolve(Some(&provider), InstrumentationScope::builder("t").build());
            let parent = remote_parent();
            for _ in 0..3 {
                let cx = tracer.start(builder, &parent, &parent);
                assert_ne!(
                    cx.span().span_context().span_id(),
                    SpanId::from(0x00f0_67aa_0ba9_02b7)
                );
                cx.span().end();
            }
            assert!(!tracer.noop.load(Ordering::Relaxed));
        }
    }
}
