//! The one error type of every parser in this crate.

use thiserror::Error;

/// Why a header (or an id) was rejected.
///
/// Each variant names the precise rule that failed, so a rejected header can be
/// reported to a user instead of silently starting a new trace.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The value was empty (or only whitespace).
    #[error("empty value")]
    Empty,
    /// A value or field had the wrong length.
    #[error("{field} has length {found}, expected {expected}")]
    WrongLength {
        /// Which field or header.
        field: &'static str,
        /// The required length (or minimum, for future traceparent versions).
        expected: usize,
        /// The length that was found.
        found: usize,
    },
    /// Hex digits must be lowercase here.
    #[error("{field} contains uppercase hex")]
    UppercaseHex {
        /// Which field.
        field: &'static str,
    },
    /// A character that is not a hex digit.
    #[error("{field} contains a non-hex character")]
    InvalidHex {
        /// Which field.
        field: &'static str,
    },
    /// An all-zero trace id or span id, which W3C defines as invalid.
    #[error("{field} is all zeros")]
    ZeroId {
        /// Which field.
        field: &'static str,
    },
    /// traceparent version `ff` is forbidden.
    #[error("traceparent version ff is invalid")]
    ForbiddenVersion,
    /// A `-` delimiter was expected at this byte offset.
    #[error("expected '-' at offset {offset}")]
    BadDelimiter {
        /// Byte offset in the trimmed value.
        offset: usize,
    },
    /// Version `00` allows nothing after the flags.
    #[error("version 00 traceparent has data after the flags")]
    TrailingData,
    /// A header that must appear once appeared several times (or as a comma-joined list).
    #[error("several {header} values")]
    MultipleHeaders {
        /// The header name.
        header: &'static str,
    },
    /// A list header had more members than allowed.
    #[error("{header} has {count} members, at most {max} allowed")]
    TooManyMembers {
        /// The header name.
        header: &'static str,
        /// Members found.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// Baggage beyond 64 members or 8192 bytes: the first members were kept and the rest
    /// dropped from the end.
    #[error("baggage over 64 members or 8192 bytes: kept {kept} members, dropped {dropped}")]
    BaggageLimit {
        /// Members kept.
        kept: usize,
        /// Valid members dropped from the end.
        dropped: usize,
    },
    /// A list member has no `=`.
    #[error("{header} member {index} has no '='")]
    MissingEquals {
        /// The header name.
        header: &'static str,
        /// Zero-based index among the non-empty members.
        index: usize,
    },
    /// A list member's key breaks the key grammar.
    #[error("{header} member {index} has an invalid key")]
    InvalidKey {
        /// The header name.
        header: &'static str,
        /// Zero-based index among the non-empty members.
        index: usize,
    },
    /// A list member's value breaks the value grammar.
    #[error("{header} member {index} has an invalid value")]
    InvalidValue {
        /// The header name.
        header: &'static str,
        /// Zero-based index among the non-empty members.
        index: usize,
    },
    /// A baggage property breaks the grammar.
    #[error("baggage member {index} has an invalid property")]
    InvalidProperty {
        /// Zero-based index among the non-empty members.
        index: usize,
    },
    /// The X-Ray header has no `Root` field.
    #[error("X-Ray header has no Root")]
    MissingRoot,
    /// The X-Ray `Root` is not `1-<8 hex>-<24 hex>`.
    #[error("X-Ray Root is not 1-<8 hex>-<24 hex>")]
    BadRoot,
    /// The X-Ray `Root` version is not `1`.
    #[error("X-Ray Root version is not 1")]
    BadRootVersion,
    /// The X-Ray `Sampled` field is not `0`, `1` or `?`.
    #[error("X-Ray Sampled is not 0, 1 or ?")]
    BadSampled,
    /// An X-Ray field is not `Key=Value`.
    #[error("X-Ray field {index} is not Key=Value")]
    MalformedField {
        /// Zero-based index of the field.
        index: usize,
    },
    /// A field that may appear once appeared twice.
    #[error("duplicate field {field}")]
    DuplicateField {
        /// The field name.
        field: &'static str,
    },
}
