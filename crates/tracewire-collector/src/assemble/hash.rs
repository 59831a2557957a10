//! A fast, per-process seeded hasher for the assembler's id-keyed maps (trace and span ids
//! are already random, so SipHash's cost buys little; the random seed keeps crafted ids
//! from colliding predictably).

use std::hash::{BuildHasher, Hasher};

const K: u64 = 0x9E37_79B9_7F4A_7C15;

/// Builds [`IdHasher`]s sharing one random seed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IdHashBuilder {
    seed: u64,
}

impl IdHashBuilder {
    pub(crate) fn new() -> Self {
        IdHashBuilder {
            seed: rand::random::<u64>() | 1,
        }
    }
}

impl Default for IdHashBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl BuildHasher for IdHashBuilder {
    type Hasher = IdHasher;
    fn build_hasher(&self) -> IdHasher {
        IdHasher { state: self.seed }
    }
}

/// Folded-multiply hasher over 64-bit words.
#[derive(Debug)]
pub(crate) struct IdHasher {
    state: u64,
}

#[inline]
fn fold_mul(a: u64, b: u64) -> u64 {
    let full = u128::from(a).wrapping_mul(u128::from(b));
    (full as u64) ^ ((full >> 64) as u64)
}

impl Hasher for IdHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    #[inline]
    fn write_u64(&mut self, x: u64) {
        self.state = fold_mul(self.state ^ x, K);
    }

    #[inline]
    fn write_u128(&mut self, x: u128) {
        self.write_u64(x as u64);
        self.write_u64((x >> 64) as u64);
    }

    #[inline]
    fn write_usize(&mut self, x: usize) {
        self.write_u64(x as u64);
    }

    #[inline]
    fn write_isize(&mut self, x: isize) {
        self.write_u64(x as u64);
    }

    #[inline]
    fn write_u8(&mut self, x: u8) {
        self.write_u64(u64::from(x));
    }

    #[inline]
    fn finish(&self) -> u64 {
        fold_mul(self.state, K.rotate_left(17))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{SpanId, WireTraceId};
    use std::collections::HashSet;

    #[test]
    fn distinct_keys_rarely_collide_and_widths_differ() {
        let b = IdHashBuilder::new();
        let mut seen = HashSet::new();
        for i in 0..10_000u64 {
            seen.insert(b.hash_one((WireTraceId::Short(1), SpanId::from_u64(i))));
        }
        assert!(seen.len() > 9_990);
        assert_ne!(
            b.hash_one(WireTraceId::Short(5)),
            b.hash_one(WireTraceId::w3c(5))
        );
    }
}
