//! [`TraceContext`]: the one value that travels between processes.

use crate::carrier::{field_text, Extractor, Injector, Lookup};
use crate::traceparent::TRACEPARENT_LEN;
use crate::{
    Baggage, ParseError, SpanId, TraceFlags, TraceId, TraceState, Traceparent, XRayHeader,
    XRaySampled,
};

/// Header names, lowercase.
pub mod header {
    /// W3C Trace Context.
    pub const TRACEPARENT: &str = "traceparent";
    /// W3C Trace Context vendor state.
    pub const TRACESTATE: &str = "tracestate";
    /// W3C Baggage.
    pub const BAGGAGE: &str = "baggage";
    /// AWS X-Ray.
    pub const X_AMZN_TRACE_ID: &str = "x-amzn-trace-id";
}

/// A header that was present but rejected by the strict parsers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rejection {
    /// The lowercase header name.
    pub header: &'static str,
    /// Why it was rejected.
    pub error: ParseError,
}

/// Everything that propagates a trace: W3C traceparent and tracestate, W3C Baggage and
/// AWS X-Ray.
///
/// `extract` never fails: headers that are present but invalid are left out and listed
/// in [`rejections`](Self::rejections), so callers can report them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceContext {
    /// The W3C traceparent, when a valid one was received or set.
    pub traceparent: Option<Traceparent>,
    /// W3C tracestate (always empty without a valid traceparent on extraction).
    pub tracestate: TraceState,
    /// W3C Baggage.
    pub baggage: Baggage,
    /// AWS X-Ray, when a valid header was received or set.
    pub xray: Option<XRayHeader>,
    /// Stand-in parent for an X-Ray header without `Parent`, so the W3C view has one.
    unknown_parent: Option<SpanId>,
    rejections: Vec<Rejection>,
}

/// The parsed value of a header that must appear once, or why there is none: `parse` for
/// text, `parse_field` for raw HTTP field bytes.
fn single<T>(
    lookup: Lookup<'_>,
    header: &'static str,
    parse: fn(&str) -> Result<T, ParseError>,
    parse_field: fn(&[u8]) -> Result<T, ParseError>,
) -> Option<Result<T, ParseError>> {
    match lookup {
        Lookup::Absent => None,
        Lookup::One(value) => Some(parse(value)),
        Lookup::OneField(value) => Some(parse_field(value)),
        Lookup::Several => Some(Err(ParseError::MultipleHeaders { header })),
    }
}

impl TraceContext {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// A context continuing `traceparent`.
    pub fn from_traceparent(traceparent: Traceparent) -> Self {
        Self {
            traceparent: Some(traceparent),
            ..Self::default()
        }
    }

    /// A context continuing an X-Ray trace. Without `Parent`, a random stand-in parent id
    /// gives the W3C view a parent, so the trace id is never lost.
    pub fn from_xray(xray: XRayHeader) -> Self {
        Self {
            unknown_parent: xray.parent.is_none().then(SpanId::random),
            xray: Some(xray),
            ..Self::default()
        }
    }

    /// Reads `traceparent`, `tracestate`, `baggage` and `x-amzn-trace-id` strictly.
    ///
    /// An invalid (or repeated) traceparent means no parent and discards tracestate
    /// unparsed; several tracestate or baggage headers are combined in order.
    pub fn extract<E: Extractor + ?Sized>(carrier: &E) -> Self {
        let [traceparent, tracestate, baggage, xray] = carrier.lookup([
            header::TRACEPARENT,
            header::TRACESTATE,
            header::BAGGAGE,
            header::X_AMZN_TRACE_ID,
        ]);
        // Each field is built in a local and the struct assembled once at the end, so the
        // result is written in place rather than copied out of a default.
        let mut rejections = Vec::new();
        let mut reject = |header, error| rejections.push(Rejection { header, error });
        let (traceparent, tracestate) = match single(
            traceparent,
            header::TRACEPARENT,
            Traceparent::parse,
            Traceparent::parse_field,
        ) {
            Some(Ok(tp)) => {
                let parsed = match tracestate {
                    Lookup::Absent => Ok(TraceState::new()),
                    Lookup::One(value) => TraceState::parse(value),
                    Lookup::OneField(value) => TraceState::parse_field(value),
                    Lookup::Several => {
                        TraceState::parse_headers(carrier.get_all(header::TRACESTATE))
                    }
                };
                let tracestate = parsed.unwrap_or_else(|error| {
                    reject(header::TRACESTATE, error);
                    TraceState::new()
                });
                (Some(tp), tracestate)
            }
            Some(Err(error)) => {
                reject(header::TRACEPARENT, error);
                (None, TraceState::new())
            }
            None => (None, TraceState::new()),
        };
        let parsed = match baggage {
            Lookup::Absent => None,
            Lookup::One(value) => Some(Baggage::parse_reporting([value])),
            Lookup::OneField(value) => Some(Baggage::parse_reporting([field_text(value)])),
            Lookup::Several => Some(Baggage::parse_reporting(carrier.get_all(header::BAGGAGE))),
        };
        let baggage = match parsed {
            Some((baggage, error)) => {
                if let Some(error) = error {
                    reject(header::BAGGAGE, error);
                }
                baggage
            }
            None => Baggage::default(),
        };
        let parse_field = |value: &[u8]| XRayHeader::parse(field_text(value));
        let xray = match single(
            xray,
            header::X_AMZN_TRACE_ID,
            XRayHeader::parse,
            parse_field,
        ) {
            Some(Ok(xray)) => Some(xray),
            Some(Err(error)) => {
                reject(header::X_AMZN_TRACE_ID, error);
                None
            }
            None => None,
        };
        Self {
            traceparent,
            tracestate,
            baggage,
            unknown_parent: xray
                .as_ref()
                .and_then(|x| x.parent.is_none().then(SpanId::random)),
            xray,
            rejections,
        }
    }

    /// Writes the headers that are present; never writes an empty header. When only X-Ray
    /// is known, a traceparent derived from it is written too, so W3C-only services join
    /// the trace; the X-Ray header is written with the W3C view's ids and sampled flag.
    pub fn inject<I: Injector + ?Sized>(&self, carrier: &mut I) {
        let effective = self.effective_traceparent();
        if let Some(tp) = &effective {
            let mut value = [0; TRACEPARENT_LEN];
            tp.encode_into(&mut value);
            carrier.set_ascii(header::TRACEPARENT, &value);
        }
        if effective.is_some() && !self.tracestate.is_empty() {
            match self.tracestate.untruncated_header() {
                Some(ts) => carrier.set_ascii(header::TRACESTATE, ts),
                None => {
                    let ts = self.tracestate.header();
                    if !ts.is_empty() {
                        carrier.set(header::TRACESTATE, ts);
                    }
                }
            }
        }
        if !self.baggage.is_empty() {
            let b = self.baggage.header();
            if !b.is_empty() {
                carrier.set(header::BAGGAGE, b);
            }
        }
        if let Some(xray) = &self.xray {
            let out = match &effective {
                Some(tp) => XRayHeader {
                    trace_id: tp.trace_id,
                    parent: Some(tp.parent_id),
                    sampled: if tp.flags.is_sampled() {
                        XRaySampled::Sampled
                    } else {
                        XRaySampled::NotSampled
                    },
                    fields: xray.fields.clone(),
                },
                None => xray.clone(),
            };
            carrier.set(header::X_AMZN_TRACE_ID, out.to_string());
        }
    }

    /// The W3C view: the traceparent, else one derived from X-Ray (trace id from `Root`,
    /// parent from `Parent` or the stand-in, sampled iff `Sampled=1`).
    pub fn effective_traceparent(&self) -> Option<Traceparent> {
        if let Some(tp) = self.traceparent {
            return Some(tp);
        }
        let xray = self.xray.as_ref()?;
        let parent = xray.parent.or(self.unknown_parent)?;
        let flags = TraceFlags::NONE.with_sampled(xray.sampled == XRaySampled::Sampled);
        Some(Traceparent::new(xray.trace_id, parent, flags))
    }

    /// The trace id of the W3C view, else of X-Ray.
    pub fn trace_id(&self) -> Option<TraceId> {
        self.effective_traceparent()
            .map(|tp| tp.trace_id)
            .or_else(|| self.xray.as_ref().map(|x| x.trace_id))
    }

    /// The parent span id of the W3C view.
    pub fn parent_id(&self) -> Option<SpanId> {
        self.effective_traceparent().map(|tp| tp.parent_id)
    }

    /// The trace flags of the W3C view (none without a trace).
    pub fn flags(&self) -> TraceFlags {
        self.effective_traceparent()
            .map_or(TraceFlags::NONE, |tp| tp.flags)
    }

    /// The context to send downstream from a span `span_id`: same trace, new parent id,
    /// tracestate, baggage and X-Ray fields unchanged. Without a trace, a plain copy.
    #[must_use]
    pub fn child(&self, span_id: SpanId) -> Self {
        Self {
            traceparent: self.effective_traceparent().map(|tp| tp.child(span_id)),
            tracestate: self.tracestate.clone(),
            baggage: self.baggage.clone(),
            xray: self.xray.clone(),
            unknown_parent: None,
            rejections: Vec::new(),
        }
    }

    /// [`child`](Self::child) with a new random span id (read it back with
    /// [`parent_id`](Self::parent_id)).
    #[must_use]
    pub fn child_random(&self) -> Self {
        self.child(SpanId::random())
    }

    /// `true` when nothing would be injected.
    pub fn is_empty(&self) -> bool {
        self.traceparent.is_none()
            && self.xray.is_none()
            && self.tracestate.is_empty()
            && self.baggage.is_empty()
    }

    /// Headers that were present on extraction but rejected.
    pub fn rejections(&self) -> &[Rejection] {
        &self.rejections
    }

    /// `true` when both traceparent and X-Ray were received and name different trace ids
    /// or parents. The traceparent wins; this makes the disagreement observable.
    pub fn xray_mismatch(&self) -> bool {
        match (&self.traceparent, &self.xray) {
            (Some(tp), Some(x)) => {
                tp.trace_id != x.trace_id || x.parent.is_some_and(|p| p != tp.parent_id)
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const XRAY: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

    fn map(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn extract_and_inject_round_trip() {
        let carrier = map(&[
            ("traceparent", TP),
            ("tracestate", "congo=t61rcWkgMzE"),
            ("baggage", "user.id=42"),
        ]);
        let cx = TraceContext::extract(&carrier);
        assert!(cx.rejections().is_empty());
        let mut out: HashMap<String, String> = HashMap::new();
        cx.inject(&mut out);
        assert_eq!(out["traceparent"], TP);
        assert_eq!(out["tracestate"], "congo=t61rcWkgMzE");
        assert_eq!(out["baggage"], "user.id=42");
        assert_eq!(out.len(), 3);
    }

    #[test]
    fn invalid_traceparent_discards_tracestate() {
        let cx = TraceContext::extract(&map(&[
            (
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
            ),
            ("tracestate", "a=1"),
        ]));
        assert!(cx.traceparent.is_none());
        assert!(cx.tracestate.is_empty());
        assert_eq!(cx.rejections().len(), 1);
        assert_eq!(cx.rejections()[0].header, "traceparent");
        let mut out = HashMap::<String, String>::new();
        cx.inject(&mut out);
        assert!(out.is_empty(), "never writes empty headers");
    }

    #[test]
    fn two_traceparents_are_invalid() {
        let cx = TraceContext::extract(&map(&[("traceparent", TP), ("Traceparent", TP)]));
        assert!(cx.traceparent.is_none());
        assert_eq!(
            cx.rejections()[0].error,
            ParseError::MultipleHeaders {
                header: "traceparent"
            }
        );
    }

    #[test]
    fn invalid_tracestate_keeps_traceparent() {
        let cx = TraceContext::extract(&map(&[("traceparent", TP), ("tracestate", "foo=,bar=3")]));
        assert!(cx.traceparent.is_some());
        assert!(cx.tracestate.is_empty());
        assert_eq!(cx.rejections()[0].header, "tracestate");
    }

    #[test]
    fn child_keeps_trace_and_state() {
        let cx = TraceContext::extract(&map(&[("traceparent", TP), ("tracestate", "a=1")]));
        let child = cx.child(SpanId::from_u64(0xabc));
        let tp = child.traceparent.unwrap();
        assert_eq!(tp.trace_id, cx.trace_id().unwrap());
        assert_eq!(tp.parent_id, SpanId::from_u64(0xabc));
        assert_eq!(child.tracestate, cx.tracestate);
        let random = cx.child_random();
        assert_ne!(random.parent_id(), cx.parent_id());
    }

    #[test]
    fn xray_only_derives_w3c_view() {
        let cx = TraceContext::extract(&map(&[("X-Amzn-Trace-Id", XRAY)]));
        let tp = cx.effective_traceparent().unwrap();
        assert_eq!(tp.trace_id.to_string(), "5759e988bd862e3fe1be46a994272793");
        assert_eq!(tp.parent_id.to_string(), "53995c3f42cd8ad8");
        assert!(tp.flags.is_sampled());
        let child = cx.child(SpanId::from_u64(1));
        let mut out = HashMap::<String, String>::new();
        child.inject(&mut out);
        assert_eq!(
            out["traceparent"],
            "00-5759e988bd862e3fe1be46a994272793-0000000000000001-01"
        );
        assert_eq!(
            out["x-amzn-trace-id"],
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=0000000000000001;Sampled=1"
        );
    }

    #[test]
    fn xray_root_only_keeps_trace_id() {
        let cx = TraceContext::extract(&map(&[(
            "x-amzn-trace-id",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Lineage=a87bd80c:1",
        )]));
        let tp = cx.effective_traceparent().expect("trace id never lost");
        assert_eq!(tp.trace_id.to_string(), "5759e988bd862e3fe1be46a994272793");
        assert!(tp.parent_id.is_valid());
        let mut out = HashMap::<String, String>::new();
        cx.child(SpanId::from_u64(7)).inject(&mut out);
        assert_eq!(
            out["x-amzn-trace-id"],
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=0000000000000007;Sampled=0;Lineage=a87bd80c:1"
        );
    }

    #[test]
    fn traceparent_wins_over_xray_and_mismatch_is_visible() {
        let cx = TraceContext::extract(&map(&[("traceparent", TP), ("x-amzn-trace-id", XRAY)]));
        assert_eq!(
            cx.trace_id().unwrap().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert!(cx.xray_mismatch());
        let mut out = HashMap::<String, String>::new();
        cx.inject(&mut out);
        assert!(out["x-amzn-trace-id"]
            .starts_with("Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=00f067aa0ba902b7"));
    }

    #[test]
    fn queue_metadata_hop() {
        // Producer: put the context on an event's metadata map.
        let producer = TraceContext::from_traceparent(Traceparent::parse(TP).unwrap());
        let mut metadata: HashMap<String, String> = HashMap::new();
        producer
            .child(SpanId::from_u64(0x1234))
            .inject(&mut metadata);
        // Worker: continue the trace.
        let worker = TraceContext::extract(&metadata);
        assert_eq!(worker.trace_id(), producer.trace_id());
        assert_eq!(worker.parent_id(), Some(SpanId::from_u64(0x1234)));
    }

    #[test]
    fn empty() {
        assert!(TraceContext::new().is_empty());
        assert!(TraceContext::extract(&map(&[])).is_empty());
    }
}
