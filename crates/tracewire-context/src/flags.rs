//! W3C trace flags.

use std::fmt;

/// The W3C `trace-flags` byte.
///
/// Parsing keeps every bit; output (traceparent formatting, children) keeps only
/// [`SAMPLED`](Self::SAMPLED) and [`RANDOM`](Self::RANDOM), as W3C Level 2 requires.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TraceFlags(u8);

impl TraceFlags {
    /// No flag set.
    pub const NONE: Self = Self(0);
    /// The caller may have recorded this trace.
    pub const SAMPLED: Self = Self(0x01);
    /// The trace id's rightmost 7 bytes are random (W3C Level 2).
    pub const RANDOM: Self = Self(0x02);
    /// The bits this crate propagates.
    pub const KNOWN: Self = Self(0x03);

    /// Wraps a raw flags byte, keeping every bit.
    pub const fn from_bits(bits: u8) -> Self {
        Self(bits)
    }

    /// The raw byte, including unknown bits.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether the sampled bit is set.
    pub const fn is_sampled(self) -> bool {
        self.0 & 0x01 != 0
    }

    /// Whether the random-trace-id bit is set.
    pub const fn is_random(self) -> bool {
        self.0 & 0x02 != 0
    }

    /// With the sampled bit set or cleared.
    #[must_use]
    pub const fn with_sampled(self, sampled: bool) -> Self {
        if sampled {
            Self(self.0 | 0x01)
        } else {
            Self(self.0 & !0x01)
        }
    }

    /// Only the bits that are propagated (sampled and random).
    #[must_use]
    pub const fn propagated(self) -> Self {
        Self(self.0 & Self::KNOWN.0)
    }
}

impl std::ops::BitOr for TraceFlags {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl fmt::Debug for TraceFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceFlags({:02x})", self.0)
    }
}

impl fmt::LowerHex for TraceFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02x}", self.0)
    }
}
