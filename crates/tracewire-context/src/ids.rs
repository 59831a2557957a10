//! `TraceId` and `SpanId`: fixed-size ids with strict lowercase-hex parsing and
//! allocation-free formatting.

use std::fmt;

use crate::ParseError;

const HEX: &[u8; 16] = b"0123456789abcdef";

// Word-at-a-time ("SWAR") hex decoding: eight digits per `u64`, in safe code. `ONES` has
// 0x01 in every byte, `HIGH` the top bit of every byte; the digits of a word are in
// little-endian order (the first digit in the lowest byte).
const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The four bytes that eight lowercase hex digits encode, as a little-endian word (the
/// first byte lowest), and a mask that is nonzero iff a digit is not lowercase hex. Callers
/// combine the masks of several words and branch once.
#[inline]
pub(crate) fn decode8(digits: u64) -> (u32, u64) {
    let x = digits;
    // For bytes below 0x80, adding 0x80 - n sets the top bit iff the byte is >= n and never
    // carries into the next byte; a byte of 0x80 or more is flagged by `x & HIGH` itself.
    let at_least = |n: u64| x.wrapping_add((0x80 - n) * ONES);
    let digit = at_least(0x30) & !at_least(0x3a);
    let letter = at_least(0x61) & !at_least(0x67);
    let bad = (x | !(digit | letter)) & HIGH;
    // Nibble values: the low four bits, plus 9 for letters (bit 6 set).
    let v = (x & (0x0f * ONES)) + ((x >> 6) & ONES) * 9;
    // Byte 2i gets (v[2i] << 4) | v[2i+1]; then bytes 0, 2, 4, 6 are packed together.
    let t = ((v << 4) | (v >> 8)) & 0x00ff_00ff_00ff_00ff;
    let t = (t | (t >> 8)) & 0x0000_ffff_0000_ffff;
    ((t | (t >> 16)) as u32, bad)
}

/// Eight digits from `digits` at `at`, as a little-endian word.
#[inline]
pub(crate) fn word_at(digits: &[u8], at: usize) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(&digits[at..at + 8]);
    u64::from_le_bytes(word)
}

/// The two lowercase hex digits of every byte.
const HEX_PAIRS: [[u8; 2]; 256] = {
    let mut table = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = [HEX[i >> 4], HEX[i & 0x0f]];
        i += 1;
    }
    table
};

/// Writes `bytes` as lowercase hex into `out` (which must be twice as long).
#[inline]
pub(crate) fn encode_hex(bytes: &[u8], out: &mut [u8]) {
    for (pair, &b) in out.chunks_exact_mut(2).zip(bytes) {
        pair.copy_from_slice(&HEX_PAIRS[b as usize]);
    }
}

/// The value of each lowercase hex digit; `0xff` for every other byte.
const LOWER_HEX_VALUE: [u8; 256] = {
    let mut table = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

/// Two lowercase hex digits as a byte, or `None`.
#[inline]
pub(crate) fn decode_pair(high: u8, low: u8) -> Option<u8> {
    let (h, l) = (
        LOWER_HEX_VALUE[usize::from(high)],
        LOWER_HEX_VALUE[usize::from(low)],
    );
    ((h | l) <= 0x0f).then_some((h << 4) | l)
}

/// Decodes exactly `N * 2` lowercase hex digits; uppercase is rejected with its own error.
#[inline]
pub(crate) fn decode_lower_hex<const N: usize>(
    s: &[u8],
    field: &'static str,
) -> Result<[u8; N], ParseError> {
    if s.len() != N * 2 {
        return Err(ParseError::WrongLength {
            field,
            expected: N * 2,
            found: s.len(),
        });
    }
    let mut out = [0u8; N];
    if N.is_multiple_of(4) && decode_words(s, &mut out) {
        return Ok(out);
    }
    // Byte pairs: ids of other sizes, and finding the precise error.
    for (byte, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        *byte = decode_pair(pair[0], pair[1]).ok_or_else(|| hex_error(pair, field))?;
    }
    Ok(out)
}

/// Decodes `digits` (a multiple of 8 lowercase hex digits, twice as many as `out` holds)
/// into `out`, sixteen at a time with one check each; `false` if a digit is not lowercase
/// hex.
#[inline]
fn decode_words(digits: &[u8], out: &mut [u8]) -> bool {
    let mut chunks = out.chunks_exact_mut(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let (first, bad_first) = decode8(word_at(digits, at));
        let (second, bad_second) = decode8(word_at(digits, at + 8));
        if bad_first | bad_second != 0 {
            return false;
        }
        chunk.copy_from_slice(&((u64::from(second) << 32) | u64::from(first)).to_le_bytes());
        at += 16;
    }
    let rest = chunks.into_remainder();
    if rest.len() == 4 {
        let (value, bad) = decode8(word_at(digits, at));
        if bad != 0 {
            return false;
        }
        rest.copy_from_slice(&value.to_le_bytes());
    }
    true
}

/// Decodes exactly `N * 2` hex digits of either case (X-Ray accepts both).
pub(crate) fn decode_any_hex<const N: usize>(
    s: &[u8],
    field: &'static str,
) -> Result<[u8; N], ParseError> {
    let mut lower = [0u8; 64];
    if s.len() > lower.len() {
        return Err(ParseError::WrongLength {
            field,
            expected: N * 2,
            found: s.len(),
        });
    }
    for (d, c) in lower.iter_mut().zip(s) {
        *d = c.to_ascii_lowercase();
    }
    decode_lower_hex::<N>(&lower[..s.len()], field)
}

fn hex_error(pair: &[u8], field: &'static str) -> ParseError {
    if pair.iter().any(|c| matches!(c, b'A'..=b'F')) {
        ParseError::UppercaseHex { field }
    } else {
        ParseError::InvalidHex { field }
    }
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $len:expr, $field:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name([u8; $len]);

        impl $name {
            /// The all-zero id, which W3C defines as invalid.
            pub const INVALID: Self = Self([0; $len]);

            /// Wraps raw bytes (big-endian, as on the wire).
            pub const fn from_bytes(bytes: [u8; $len]) -> Self {
                Self(bytes)
            }

            /// The raw bytes.
            pub const fn to_bytes(self) -> [u8; $len] {
                self.0
            }

            /// Parses exactly the right number of lowercase hex digits; an all-zero value
            /// parses to [`Self::INVALID`] (check [`Self::is_valid`]).
            #[inline]
            pub fn from_hex(s: &str) -> Result<Self, ParseError> {
                decode_lower_hex::<$len>(s.as_bytes(), $field).map(Self)
            }

            /// `false` for the all-zero id.
            pub fn is_valid(&self) -> bool {
                self.0 != [0; $len]
            }

            /// A random, valid id.
            pub fn random() -> Self {
                loop {
                    let id = Self(rand::random());
                    if id.is_valid() {
                        return id;
                    }
                }
            }

            /// Lowercase hex in a stack buffer, without allocating.
            pub fn to_hex(&self) -> HexBuf<{ $len * 2 }> {
                let mut buf = [0u8; $len * 2];
                encode_hex(&self.0, &mut buf);
                HexBuf(buf)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.to_hex().as_str())
            }
        }

        impl fmt::LowerHex for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.to_hex().as_str())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self)
            }
        }

        impl std::str::FromStr for $name {
            type Err = ParseError;
            fn from_str(s: &str) -> Result<Self, ParseError> {
                Self::from_hex(s)
            }
        }
    };
}

id_type!(
    /// A 128-bit W3C trace id.
    TraceId, 16, "trace-id"
);
id_type!(
    /// A 64-bit W3C span id (the `parent-id` of a traceparent).
    SpanId, 8, "parent-id"
);

impl TraceId {
    /// From a `u128` (big-endian byte order, as on the wire).
    pub const fn from_u128(v: u128) -> Self {
        Self(v.to_be_bytes())
    }

    /// As a `u128`.
    pub const fn to_u128(self) -> u128 {
        u128::from_be_bytes(self.0)
    }
}

impl SpanId {
    /// From a `u64` (big-endian byte order, as on the wire).
    pub const fn from_u64(v: u64) -> Self {
        Self(v.to_be_bytes())
    }

    /// As a `u64`.
    pub const fn to_u64(self) -> u64 {
        u64::from_be_bytes(self.0)
    }
}

/// Lowercase hex digits held on the stack; see [`TraceId::to_hex`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HexBuf<const N: usize>([u8; N]);

impl<const N: usize> HexBuf<N> {
    /// The digits as a string slice.
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever written into the buffer.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl<const N: usize> fmt::Debug for HexBuf<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The byte-pair decoder alone, as the reference for the word-at-a-time one.
    fn decode_pairs<const N: usize>(s: &[u8]) -> Option<[u8; N]> {
        let mut out = [0u8; N];
        for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
            let (h, l) = (
                LOWER_HEX_VALUE[pair[0] as usize],
                LOWER_HEX_VALUE[pair[1] as usize],
            );
            if (h | l) > 0x0f {
                return None;
            }
            *o = (h << 4) | l;
        }
        Some(out)
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 1024,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// Word-at-a-time decoding accepts exactly the lowercase hex digits, decodes them
        /// like the byte-pair table, and reports the same error.
        #[test]
        fn word_hex_decoding_agrees_with_byte_pairs(
            digits in prop_oneof![
                "[0-9a-f]{32}",
                "[0-9a-f]{0,31}[^0-9a-f][0-9a-f]{0,31}",
                "[0-9a-fA-F/:@`g]{32}",
            ],
            bytes in proptest::collection::vec(any::<u8>(), 32),
        ) {
            for s in [digits.as_bytes(), &bytes[..]] {
                let Some(s) = s.get(..32) else { continue };
                let word = decode_lower_hex::<16>(s, "trace-id");
                prop_assert_eq!(word.as_ref().ok().copied(), decode_pairs::<16>(s));
                // Sizes that end in a half word (X-Ray's epoch and unique id).
                prop_assert_eq!(decode_lower_hex::<12>(&s[..24], "x").ok(), decode_pairs::<12>(&s[..24]));
                prop_assert_eq!(decode_lower_hex::<4>(&s[..8], "x").ok(), decode_pairs::<4>(&s[..8]));
                if word.is_err() {
                    let first_bad = s
                        .chunks_exact(2)
                        .find(|p| p.iter().any(|&c| LOWER_HEX_VALUE[c as usize] > 0x0f))
                        .map(|p| hex_error(p, "trace-id"));
                    prop_assert_eq!(word.err(), first_bad);
                }
            }
        }

        #[test]
        fn hex_encoding_matches_format(v in any::<u128>(), w in any::<u64>()) {
            prop_assert_eq!(TraceId::from_u128(v).to_string(), format!("{v:032x}"));
            prop_assert_eq!(SpanId::from_u64(w).to_string(), format!("{w:016x}"));
        }
    }

    #[test]
    fn hex_round_trip() {
        let id = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
        assert_eq!(id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(format!("{id:x}"), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(TraceId::from_u128(id.to_u128()), id);
        let span = SpanId::from_hex("00f067aa0ba902b7").unwrap();
        assert_eq!(span.to_u64(), 0x00f0_67aa_0ba9_02b7);
    }

    #[test]
    fn strict_hex() {
        assert_eq!(
            TraceId::from_hex("4BF92F3577B34DA6A3CE929D0E0E4736"),
            Err(ParseError::UppercaseHex { field: "trace-id" })
        );
        assert!(matches!(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e473"),
            Err(ParseError::WrongLength { found: 31, .. })
        ));
        assert_eq!(
            SpanId::from_hex("+0f067aa0ba902b7"),
            Err(ParseError::InvalidHex { field: "parent-id" })
        );
        assert!(!TraceId::from_hex("00000000000000000000000000000000")
            .unwrap()
            .is_valid());
    }

    #[test]
    fn random_ids_are_valid() {
        for _ in 0..100 {
            assert!(TraceId::random().is_valid());
            assert!(SpanId::random().is_valid());
        }
    }
}
