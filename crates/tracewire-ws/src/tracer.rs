//! The connection's tracer behind one small object-safe trait, so that spans of a concrete
//! provider (e.g. the SDK's) are started without the extra `BoxedSpan` allocation that
//! `BoxedTracer` adds to every span.

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
) -> Box<dyn StartSpan> {
    match provider {
        Some(p) => p.conn_tracer(scope),
        None => Box::<BoxedTracer>::new(global::tracer_provider().tracer_with_scope(scope)),
    }
}
