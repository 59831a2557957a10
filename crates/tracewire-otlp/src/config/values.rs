//! The enumerated settings: protocol, compression, sampler and propagators. Names are
//! matched case-insensitively, as the OpenTelemetry specification asks of enum values
//! (<https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/>).

use std::fmt;

/// OTLP transport and encoding (`OTEL_EXPORTER_OTLP_PROTOCOL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Protocol {
    /// `http/protobuf`: binary protobuf bodies over HTTP (the default).
    #[default]
    HttpProtobuf,
    /// `http/json`: OTLP/JSON bodies over HTTP.
    HttpJson,
    /// `grpc`: OTLP/gRPC; only `init_tracer` speaks it, with the `grpc` feature.
    Grpc,
}

impl Protocol {
    /// The `OTEL_EXPORTER_OTLP_PROTOCOL` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::HttpProtobuf => "http/protobuf",
            Protocol::HttpJson => "http/json",
            Protocol::Grpc => "grpc",
        }
    }

    /// Parses the `OTEL_EXPORTER_OTLP_PROTOCOL` spelling (case-insensitive, trimmed).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        [Protocol::HttpProtobuf, Protocol::HttpJson, Protocol::Grpc]
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
    }

    /// The request `Content-Type` of the HTTP protocols.
    pub fn content_type(self) -> &'static str {
        match self {
            Protocol::HttpJson => "application/json",
            _ => "application/x-protobuf",
        }
    }

    /// Whether this is one of the OTLP/HTTP protocols.
    pub fn is_http(self) -> bool {
        matches!(self, Protocol::HttpProtobuf | Protocol::HttpJson)
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Request body compression (`OTEL_EXPORTER_OTLP_COMPRESSION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Compression {
    /// Uncompressed (the default).
    #[default]
    None,
    /// gzip (`Content-Encoding: gzip`); needs the `gzip` feature.
    Gzip,
}

impl Compression {
    /// The `OTEL_EXPORTER_OTLP_COMPRESSION` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
        }
    }

    /// Parses `gzip` / `none` (case-insensitive, trimmed).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        [Compression::None, Compression::Gzip]
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which root spans are sampled (`OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[non_exhaustive]
pub enum Sampler {
    /// `always_on`: every span.
    AlwaysOn,
    /// `always_off`: no span.
    AlwaysOff,
    /// `traceidratio`: this fraction of traces, by trace id.
    TraceIdRatio(f64),
    /// `parentbased_always_on` (the default): follow the parent, sample roots.
    #[default]
    ParentBasedAlwaysOn,
    /// `parentbased_always_off`: follow the parent, drop roots.
    ParentBasedAlwaysOff,
    /// `parentbased_traceidratio`: follow the parent, sample this fraction of roots.
    ParentBasedTraceIdRatio(f64),
}

/// What a sampler name means to tracewire.
pub(crate) enum SamplerName {
    /// A sampler without an argument.
    Plain(Sampler),
    /// A ratio sampler; the argument fills in the ratio.
    Ratio(fn(f64) -> Sampler),
    /// Named by the specification, not implemented here.
    Unsupported,
}

impl Sampler {
    /// The `OTEL_TRACES_SAMPLER` spelling.
    pub fn name(&self) -> &'static str {
        match self {
            Sampler::AlwaysOn => "always_on",
            Sampler::AlwaysOff => "always_off",
            Sampler::TraceIdRatio(_) => "traceidratio",
            Sampler::ParentBasedAlwaysOn => "parentbased_always_on",
            Sampler::ParentBasedAlwaysOff => "parentbased_always_off",
            Sampler::ParentBasedTraceIdRatio(_) => "parentbased_traceidratio",
        }
    }

    /// The ratio of the ratio samplers.
    pub fn ratio(&self) -> Option<f64> {
        match self {
            Sampler::TraceIdRatio(r) | Sampler::ParentBasedTraceIdRatio(r) => Some(*r),
            _ => None,
        }
    }

    pub(crate) fn lookup(name: &str) -> Option<SamplerName> {
        let name = name.trim().to_ascii_lowercase();
        Some(match name.as_str() {
            "always_on" => SamplerName::Plain(Sampler::AlwaysOn),
            "always_off" => SamplerName::Plain(Sampler::AlwaysOff),
            "traceidratio" => SamplerName::Ratio(Sampler::TraceIdRatio),
            "parentbased_always_on" => SamplerName::Plain(Sampler::ParentBasedAlwaysOn),
            "parentbased_always_off" => SamplerName::Plain(Sampler::ParentBasedAlwaysOff),
            "parentbased_traceidratio" => SamplerName::Ratio(Sampler::ParentBasedTraceIdRatio),
            "jaeger_remote" | "parentbased_jaeger_remote" | "xray" => SamplerName::Unsupported,
            _ => return None,
        })
    }
}

impl fmt::Display for Sampler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ratio() {
            Some(r) => write!(f, "{}({r})", self.name()),
            None => f.write_str(self.name()),
        }
    }
}

/// A context propagator named in `OTEL_PROPAGATORS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Propagator {
    /// `tracecontext`: W3C Trace Context (`traceparent`, `tracestate`).
    TraceContext,
    /// `baggage`: W3C Baggage.
    Baggage,
    /// `xray`: AWS X-Ray (`X-Amzn-Trace-Id`).
    XRay,
}

impl Propagator {
    /// The default list: `tracecontext,baggage`.
    pub const DEFAULT: [Propagator; 2] = [Propagator::TraceContext, Propagator::Baggage];

    /// The `OTEL_PROPAGATORS` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Propagator::TraceContext => "tracecontext",
            Propagator::Baggage => "baggage",
            Propagator::XRay => "xray",
        }
    }

    /// Parses one `OTEL_PROPAGATORS` member (case-insensitive, trimmed); `none` is not a
    /// propagator and gives `None`.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        [
            Propagator::TraceContext,
            Propagator::Baggage,
            Propagator::XRay,
        ]
        .into_iter()
        .find(|p| p.as_str().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for Propagator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Writes a propagator list the way `OTEL_PROPAGATORS` spells it (`none` when empty).
pub(crate) fn propagators_text(list: &[Propagator]) -> String {
    if list.is_empty() {
        return "none".to_owned();
    }
    list.iter()
        .map(|p| p.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_names_are_case_insensitive() {
        assert_eq!(Protocol::parse(" HTTP/JSON "), Some(Protocol::HttpJson));
        assert_eq!(Protocol::parse("gRPC"), Some(Protocol::Grpc));
        assert_eq!(Protocol::parse("http"), None);
        assert_eq!(Compression::parse("GZIP"), Some(Compression::Gzip));
        assert_eq!(Compression::parse("brotli"), None);
        assert_eq!(Propagator::parse("XRay"), Some(Propagator::XRay));
        assert_eq!(Propagator::parse("none"), None);
        assert!(matches!(
            Sampler::lookup("ParentBased_TraceIdRatio"),
            Some(SamplerName::Ratio(_))
        ));
        assert!(matches!(
            Sampler::lookup("xray"),
            Some(SamplerName::Unsupported)
        ));
        assert!(Sampler::lookup("sometimes").is_none());
    }

    #[test]
    fn display_spellings() {
        assert_eq!(
            Sampler::TraceIdRatio(0.25).to_string(),
            "traceidratio(0.25)"
        );
        assert_eq!(Sampler::default().to_string(), "parentbased_always_on");
        assert_eq!(
            propagators_text(&Propagator::DEFAULT),
            "tracecontext,baggage"
        );
        assert_eq!(propagators_text(&[]), "none");
    }
}
