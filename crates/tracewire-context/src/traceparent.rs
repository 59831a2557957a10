//! The W3C `traceparent` header (Trace Context Level 2), parsed strictly and
//! formatted without allocating.

use std::fmt;

use crate::carrier::field_text;
use crate::ids::{decode8, decode_lower_hex, decode_pair, encode_hex, word_at};
use crate::{ParseError, SpanId, TraceFlags, TraceId};

/// Length of a version-00 traceparent.
pub(crate) const TRACEPARENT_LEN: usize = 55;

/// A parsed `traceparent`: version, trace id, parent id and flags.
///
/// [`Traceparent::parse`] applies every W3C rule (see the crate docs); formatting always
/// writes version `00` and only the sampled and random flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Traceparent {
    /// The version that was received (`0` when created here). Output is always `00`.
    pub version: u8,
    /// The trace id (never all-zero after parsing).
    pub trace_id: TraceId,
    /// The caller's span id (never all-zero after parsing).
    pub parent_id: SpanId,
    /// The flags as received (unknown bits kept until output).
    pub flags: TraceFlags,
}

impl Traceparent {
    /// A version-00 traceparent.
    pub const fn new(trace_id: TraceId, parent_id: SpanId, flags: TraceFlags) -> Self {
        Self {
            version: 0,
            trace_id,
            parent_id,
            flags,
        }
    }

    /// The context to send downstream: same trace, `parent_id` replaced, only the
    /// propagated flag bits kept.
    #[must_use]
    pub const fn child(&self, parent_id: SpanId) -> Self {
        Self::new(self.trace_id, parent_id, self.flags.propagated())
    }

    /// Parses one `traceparent` value strictly.
    ///
    /// Leading and trailing spaces and tabs are tolerated; everything else that W3C Level 2
    /// forbids is rejected: uppercase hex, version `ff`, wrong field lengths, data after the
    /// flags of a version-00 header, all-zero ids and comma-joined lists.
    pub fn parse(value: &str) -> Result<Self, ParseError> {
        Self::parse_bytes(value.as_bytes())
    }

    /// [`parse`](Self::parse) of an HTTP field value given as raw bytes (see
    /// [`Lookup::OneField`](crate::carrier::Lookup::OneField)): the same result as parsing
    /// the text `get_all` yields for it.
    pub(crate) fn parse_field(value: &[u8]) -> Result<Self, ParseError> {
        match Self::parse_bytes(value) {
            // Version 00 is exactly hex digits and dashes, with only spaces and tabs around
            // it: all visible, so the text is the bytes themselves.
            Ok(tp) if tp.version == 0 => Ok(tp),
            _ => Self::parse(field_text(value)),
        }
    }

    fn parse_bytes(value: &[u8]) -> Result<Self, ParseError> {
        match <&[u8; TRACEPARENT_LEN]>::try_from(value)
            .ok()
            .and_then(Self::parse_exact_v00)
        {
            Some(tp) => Ok(tp),
            None => Self::parse_general(value),
        }
    }

    /// Every rule, field by field, with the precise error.
    fn parse_general(value: &[u8]) -> Result<Self, ParseError> {
        let s = trim_ows(value);
        if s.is_empty() {
            return Err(ParseError::Empty);
        }
        // A comma-joined list is never 55 characters, so only other lengths (and the
        // free-form tail of future versions) need the scan for a comma.
        let list = || ParseError::MultipleHeaders {
            header: "traceparent",
        };
        if s.len() != TRACEPARENT_LEN && s.contains(&b',') {
            return Err(list());
        }
        if s.len() < TRACEPARENT_LEN {
            return Err(ParseError::WrongLength {
                field: "traceparent",
                expected: TRACEPARENT_LEN,
                found: s.len(),
            });
        }
        let [version] = decode_lower_hex::<1>(&s[0..2], "version")?;
        if version == 0xff {
            return Err(ParseError::ForbiddenVersion);
        }
        for offset in [2, 35, 52] {
            if s[offset] != b'-' {
                return Err(ParseError::BadDelimiter { offset });
            }
        }
        if s.len() > TRACEPARENT_LEN {
            if version == 0 {
                return Err(ParseError::TrailingData);
            }
            if s[TRACEPARENT_LEN] != b'-' {
                return Err(ParseError::BadDelimiter {
                    offset: TRACEPARENT_LEN,
                });
            }
        }
        let trace_id = TraceId::from_bytes(decode_lower_hex::<16>(&s[3..35], "trace-id")?);
        let parent_id = SpanId::from_bytes(decode_lower_hex::<8>(&s[36..52], "parent-id")?);
        let [flags] = decode_lower_hex::<1>(&s[53..55], "trace-flags")?;
        if !trace_id.is_valid() {
            return Err(ParseError::ZeroId { field: "trace-id" });
        }
        if !parent_id.is_valid() {
            return Err(ParseError::ZeroId { field: "parent-id" });
        }
        Ok(Self {
            version,
            trace_id,
            parent_id,
            flags: TraceFlags::from_bits(flags),
        })
    }

    /// The shape nearly every traceparent has: version `00`, no whitespace, valid ids, with
    /// all 48 id digits checked at once and one branch. `None` for anything else, which the
    /// general path then parses and reports precisely.
    #[inline]
    fn parse_exact_v00(s: &[u8; TRACEPARENT_LEN]) -> Option<Self> {
        if s[..3] != *b"00-" || s[35] != b'-' || s[52] != b'-' {
            return None;
        }
        let word = |at| decode8(word_at(s, at));
        let ((t0, b0), (t1, b1), (t2, b2), (t3, b3)) = (word(3), word(11), word(19), word(27));
        let ((p0, c0), (p1, c1)) = (word(36), word(44));
        let flags = decode_pair(s[53], s[54])?;
        if b0 | b1 | b2 | b3 | c0 | c1 != 0 {
            return None;
        }
        // Each word holds its bytes in wire order from the lowest up.
        let trace_id = (u128::from(t3) << 96)
            | (u128::from(t2) << 64)
            | (u128::from(t1) << 32)
            | u128::from(t0);
        let parent_id = (u64::from(p1) << 32) | u64::from(p0);
        (trace_id != 0 && parent_id != 0).then(|| {
            Self::new(
                TraceId::from_bytes(trace_id.to_le_bytes()),
                SpanId::from_bytes(parent_id.to_le_bytes()),
                TraceFlags::from_bits(flags),
            )
        })
    }

    /// The header value in a stack buffer (no heap allocation).
    pub fn encode(&self) -> TraceparentBuf {
        let mut b = [0u8; TRACEPARENT_LEN];
        self.encode_into(&mut b);
        TraceparentBuf(b)
    }

    /// Writes the header value into `b` (the caller's buffer: nothing is moved afterwards).
    pub(crate) fn encode_into(&self, b: &mut [u8; TRACEPARENT_LEN]) {
        b[0] = b'0';
        b[1] = b'0';
        b[2] = b'-';
        encode_hex(&self.trace_id.to_bytes(), &mut b[3..35]);
        b[35] = b'-';
        encode_hex(&self.parent_id.to_bytes(), &mut b[36..52]);
        b[52] = b'-';
        encode_hex(&[self.flags.propagated().bits()], &mut b[53..55]);
    }
}

/// `s` without leading and trailing spaces and tabs.
fn trim_ows(s: &[u8]) -> &[u8] {
    let ows = |c: &u8| *c == b' ' || *c == b'\t';
    let start = s.iter().position(|c| !ows(c)).unwrap_or(s.len());
    let end = s.iter().rposition(|c| !ows(c)).map_or(start, |i| i + 1);
    &s[start..end]
}

impl std::str::FromStr for Traceparent {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        Self::parse(s)
    }
}

impl fmt::Display for Traceparent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.encode().as_str())
    }
}

/// A formatted traceparent held on the stack; see [`Traceparent::encode`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TraceparentBuf([u8; TRACEPARENT_LEN]);

impl TraceparentBuf {
    /// The header value as ASCII bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The header value.
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever written into the buffer.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Debug for TraceparentBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 2048,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// The one-branch version-00 path accepts exactly what the field-by-field path
        /// accepts as version 00, with the same result; everything else is left to it.
        #[test]
        fn exact_v00_path_agrees_with_the_general_path(
            text in "0[0-9a-f]-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}",
            zero_trace in any::<bool>(),
            zero_parent in any::<bool>(),
            flip in (
                0usize..55,
                prop_oneof![Just(b'-'), Just(b'0'), Just(b'A'), Just(b'g'), Just(b' '), any::<u8>()],
            ),
        ) {
            let mut bytes: [u8; TRACEPARENT_LEN] = text.as_bytes().try_into().unwrap();
            if zero_trace {
                bytes[3..35].fill(b'0');
            }
            if zero_parent {
                bytes[36..52].fill(b'0');
            }
            for b in [bytes, { let mut f = bytes; f[flip.0] = flip.1; f }] {
                let general = Traceparent::parse_general(&b).ok().filter(|tp| tp.version == 0);
                prop_assert_eq!(Traceparent::parse_exact_v00(&b), general);
            }
        }
    }

    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn parses_and_formats() {
        let tp = Traceparent::parse(TP).unwrap();
        assert_eq!(tp.version, 0);
        assert_eq!(tp.trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(tp.parent_id.to_string(), "00f067aa0ba902b7");
        assert!(tp.flags.is_sampled());
        assert_eq!(tp.to_string(), TP);
        assert_eq!(tp.encode().as_str(), TP);
    }

    #[test]
    fn tolerates_surrounding_ows() {
        assert!(Traceparent::parse(&format!(" \t{TP}\t ")).is_ok());
    }

    #[test]
    fn rejects_w3c_violations() {
        let cases: &[(&str, ParseError)] = &[
            ("", ParseError::Empty),
            (
                "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                ParseError::UppercaseHex { field: "trace-id" },
            ),
            (
                "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                ParseError::ForbiddenVersion,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
                ParseError::TrailingData,
            ),
            (
                "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                ParseError::ZeroId { field: "trace-id" },
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                ParseError::ZeroId { field: "parent-id" },
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01,00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                ParseError::MultipleHeaders { header: "traceparent" },
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01,",
                ParseError::MultipleHeaders { header: "traceparent" },
            ),
            (
                "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x,00-1",
                ParseError::MultipleHeaders { header: "traceparent" },
            ),
            ("00-1-2-01", ParseError::WrongLength { field: "traceparent", expected: 55, found: 9 }),
            (
                "0-04bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                ParseError::InvalidHex { field: "version" },
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
                ParseError::BadDelimiter { offset: 35 },
            ),
            (
                "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                ParseError::InvalidHex { field: "trace-id" },
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1 ",
                ParseError::WrongLength { field: "traceparent", expected: 55, found: 54 },
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
                ParseError::InvalidHex { field: "trace-flags" },
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(Traceparent::parse(input).as_ref(), Err(expected), "{input}");
        }
    }

    #[test]
    fn future_versions() {
        let tp = Traceparent::parse(
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-what-the-future-holds",
        )
        .unwrap();
        assert_eq!(tp.version, 0xcc);
        assert_eq!(tp.flags.bits(), 0x09);
        // Re-emitted as version 00 with only the known bits.
        assert_eq!(tp.to_string(), TP);
        assert!(
            Traceparent::parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").is_ok()
        );
        assert_eq!(
            Traceparent::parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.x"),
            Err(ParseError::BadDelimiter { offset: 55 })
        );
    }

    #[test]
    fn flags_random_kept_and_unknown_zeroed() {
        let tp =
            Traceparent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff").unwrap();
        assert_eq!(tp.flags.bits(), 0xff);
        let child = tp.child(SpanId::from_u64(1));
        assert_eq!(child.flags.bits(), 0x03);
        assert!(child.to_string().ends_with("-0000000000000001-03"));
    }
}
