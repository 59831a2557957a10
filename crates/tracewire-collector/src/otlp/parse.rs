//! Parsing one OTLP/HTTP export request body into completed spans (the receiver's parser;
//! the fuzz targets reach it through `__fuzz`, feature `fuzzing`). Decoding and the OTLP mapping are
//! `tracewire-otlp`'s; this adds the collector's view of a span.

use tracewire_otlp::proto::{decode_request, spans_from_request, DecodeError, Encoding};

use super::convert::completed_spans;
use super::receiver::MAX_BODY_BYTES;
use crate::model::CompletedSpan;

/// The spans of one request: the valid ones (`seq` 0, `service.name` copied from the
/// resource into attrs) and how many were rejected.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
#[cfg_attr(not(feature = "fuzzing"), allow(unreachable_pub))]
pub struct ParsedRequest {
    /// Valid spans.
    pub spans: Vec<CompletedSpan>,
    /// Invalid spans (bad ids or times), as reported in `partial_success.rejected_spans`.
    pub rejected: u64,
    /// Why a rejected span was rejected (the first reason found).
    pub first_error: Option<&'static str>,
}

/// Decodes a (possibly gzip-compressed) OTLP/HTTP traces body of at most
/// [`MAX_BODY_BYTES`] once decompressed. Never panics.
#[cfg_attr(not(feature = "fuzzing"), allow(unreachable_pub))]
pub fn parse_export_request(
    encoding: Encoding,
    body: &[u8],
    gzip: bool,
) -> Result<ParsedRequest, DecodeError> {
    let request = decode_request(body, encoding, gzip, MAX_BODY_BYTES)?;
    let (spans, rejected, first_error) = completed_spans(spans_from_request(request));
    Ok(ParsedRequest {
        spans,
        rejected,
        first_error,
    })
}
