//! Parent linking (`docs/sessions.md#parent-linking`): placing a converted session under a
//! caller's trace.

use tracewire_context::{header, Rejection, SpanId, TraceContext, TraceId, XRaySampled};

/// What became of the parent context passed to
/// [`Converter::convert_session_with_parent`](crate::convert::Converter::convert_session_with_parent).
///
/// Anything but `W3c`/`NoParent` without a rejection was also logged once with
/// `tracing::warn!` (target `tracewire_session::parent`): a parent is never lost silently.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ParentOutcome {
    /// No parent was given (or the context was empty): ids derive from the session.
    #[default]
    NoParent,
    /// A valid W3C traceparent was used.
    W3c,
    /// No valid traceparent, but a valid X-Ray header was used.
    XRay {
        /// Why a present traceparent was rejected, if one was.
        rejected_traceparent: Option<Rejection>,
    },
    /// Headers were present but none was valid; the session-derived trace is used.
    Fallback(Rejection),
}

/// The trace placement every span of a session shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Placement {
    pub(crate) trace_id: TraceId,
    /// The root's remote parent.
    pub(crate) remote_parent: Option<SpanId>,
    /// W3C trace flags (bits 0–7).
    pub(crate) trace_flags: u8,
    pub(crate) trace_state: String,
    pub(crate) outcome: ParentOutcome,
}

impl Placement {
    /// The placement without a parent: session-derived trace id, sampled.
    pub(crate) fn session(trace_id: TraceId) -> Self {
        Self {
            trace_id,
            remote_parent: None,
            trace_flags: 0x01,
            trace_state: String::new(),
            outcome: ParentOutcome::NoParent,
        }
    }

    /// Applies the first matching row of the table in `docs/sessions.md#parent-linking`:
    /// a valid traceparent, else a valid X-Ray header, else a reported fallback.
    pub(crate) fn from_context(session_trace: TraceId, cx: &TraceContext) -> Self {
        let rejection_of = |name: &str| cx.rejections().iter().find(|r| r.header == name).cloned();
        if let Some(tp) = cx.traceparent {
            let trace_state = if cx.tracestate.is_empty() {
                String::new()
            } else {
                cx.tracestate.header()
            };
            return Self {
                trace_id: tp.trace_id,
                remote_parent: Some(tp.parent_id),
                trace_flags: tp.flags.bits() & 0x03,
                trace_state,
                outcome: ParentOutcome::W3c,
            };
        }
        if let Some(xray) = &cx.xray {
            let rejected_traceparent = rejection_of(header::TRACEPARENT);
            if let Some(r) = &rejected_traceparent {
                tracing::warn!(
                    target: "tracewire_session::parent",
                    header = r.header,
                    error = %r.error,
                    "invalid traceparent ignored; parenting the session on the X-Ray header"
                );
            }
            return Self {
                trace_id: xray.trace_id,
                remote_parent: xray.parent,
                trace_flags: u8::from(xray.sampled == XRaySampled::Sampled),
                trace_state: String::new(),
                outcome: ParentOutcome::XRay {
                    rejected_traceparent,
                },
            };
        }
        let rejected = rejection_of(header::TRACEPARENT)
            .or_else(|| rejection_of(header::X_AMZN_TRACE_ID))
            .or_else(|| rejection_of(header::TRACESTATE));
        match rejected {
            Some(rejection) => {
                tracing::warn!(
                    target: "tracewire_session::parent",
                    header = rejection.header,
                    error = %rejection.error,
                    "no valid parent context; the session keeps its own trace id"
                );
                Self {
                    outcome: ParentOutcome::Fallback(rejection),
                    ..Self::session(session_trace)
                }
            }
            None => Self::session(session_trace),
        }
    }
}
