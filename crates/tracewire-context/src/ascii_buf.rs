//! [`AsciiBuf`]: short ASCII text kept inline, so the common tracestate of a few members
//! is parsed and dropped without touching the heap.

use std::hash::{Hash, Hasher};

/// Bytes kept inline, up to this many: the buffer is then 64 bytes, like a cache line.
const INLINE: usize = 62;

/// ASCII text (only ASCII is ever written into it), inline while it fits, else on the heap.
#[derive(Clone)]
pub(crate) enum AsciiBuf {
    /// `bytes[..len]` is the text.
    Inline { len: u8, bytes: [u8; INLINE] },
    /// Longer text.
    Heap(Vec<u8>),
}

impl AsciiBuf {
    /// An empty buffer.
    pub(crate) const fn new() -> Self {
        Self::Inline {
            len: 0,
            bytes: [0; INLINE],
        }
    }

    /// A buffer holding `ascii`, which the caller has checked is ASCII.
    pub(crate) fn from_ascii(ascii: &[u8]) -> Self {
        debug_assert!(ascii.is_ascii());
        match u8::try_from(ascii.len()) {
            Ok(len) if ascii.len() <= INLINE => {
                let mut bytes = [0; INLINE];
                bytes[..ascii.len()].copy_from_slice(ascii);
                Self::Inline { len, bytes }
            }
            _ => Self::Heap(ascii.to_vec()),
        }
    }

    /// The text as bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Self::Heap(bytes) => bytes,
        }
    }

    /// The text.
    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII is ever written, so this never falls back.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    /// The length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// `true` when empty.
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Makes room for `additional` more bytes (moving to the heap if they do not fit inline).
    pub(crate) fn reserve(&mut self, additional: usize) {
        match self {
            Self::Inline { len, bytes } => {
                let len = usize::from(*len);
                if len + additional > INLINE {
                    let mut heap = Vec::with_capacity(len + additional);
                    heap.extend_from_slice(&bytes[..len]);
                    *self = Self::Heap(heap);
                }
            }
            Self::Heap(bytes) => bytes.reserve(additional),
        }
    }

    /// Appends `text` (ASCII, like everything in the buffer).
    pub(crate) fn push_str(&mut self, text: &str) {
        debug_assert!(text.is_ascii());
        self.reserve(text.len());
        match self {
            Self::Inline { len, bytes } => {
                let start = usize::from(*len);
                let end = start + text.len();
                // `reserve` moved the text to the heap unless it fits.
                if let (Some(dst), Ok(end8)) = (bytes.get_mut(start..end), u8::try_from(end)) {
                    dst.copy_from_slice(text.as_bytes());
                    *len = end8;
                }
            }
            Self::Heap(bytes) => bytes.extend_from_slice(text.as_bytes()),
        }
    }
}

impl std::fmt::Debug for AsciiBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Default for AsciiBuf {
    fn default() -> Self {
        Self::new()
    }
}

/// Equal text is equal wherever it is kept.
impl PartialEq for AsciiBuf {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for AsciiBuf {}

impl Hash for AsciiBuf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_from_inline_to_heap_keeping_the_text() {
        let mut buf = AsciiBuf::new();
        assert!(buf.is_empty());
        let mut expected = String::new();
        for i in 0..40 {
            let piece = format!("k{i}=v,");
            buf.push_str(&piece);
            expected.push_str(&piece);
            assert_eq!(buf.as_str(), expected);
            assert_eq!(
                matches!(buf, AsciiBuf::Inline { .. }),
                expected.len() <= INLINE
            );
        }
        let inline = AsciiBuf::from_ascii(b"a=1");
        let mut heap = AsciiBuf::from_ascii(&[b'x'; INLINE + 1]);
        assert!(matches!(heap, AsciiBuf::Heap(_)));
        heap = AsciiBuf::Heap(b"a=1".to_vec());
        assert_eq!(inline, heap, "equality is by text");
        let state = std::collections::hash_map::RandomState::new();
        let hash = |b: &AsciiBuf| std::hash::BuildHasher::hash_one(&state, b);
        assert_eq!(hash(&inline), hash(&heap));
        let mut exact = AsciiBuf::from_ascii(&[b'x'; INLINE - 1]);
        exact.push_str("y");
        assert!(matches!(exact, AsciiBuf::Inline { len, .. } if usize::from(len) == INLINE));
        exact.push_str("z");
        assert!(matches!(exact, AsciiBuf::Heap(_)));
        assert_eq!(exact.len(), INLINE + 1);
    }
}
