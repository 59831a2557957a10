//! Deterministic ids (`docs/sessions.md#span-ids`): SHA-256 of the session id and of PromptKit's key
//! strings, with `key#n` disambiguation so span ids stay unique within a trace.

use std::collections::{HashMap, HashSet};

use sha2::{Digest, Sha256};
use tracewire_context::{SpanId, TraceId};

/// Trace id of a session: the first 16 bytes of `SHA-256(session_id)`.
pub fn session_trace_id(session_id: &str) -> TraceId {
    let digest = Sha256::digest(session_id.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    TraceId::from_bytes(bytes)
}

/// Span id of a key: the first 8 bytes of `SHA-256(key)`.
pub fn key_span_id(key: &str) -> SpanId {
    let digest = Sha256::digest(key.as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    SpanId::from_bytes(bytes)
}

/// A span id together with the occurrence that produced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Allocated {
    pub(crate) span_id: SpanId,
    /// 1 for the PromptKit-identical first occurrence, n ≥ 2 for `key#n`.
    pub(crate) occurrence: u32,
}

/// Hands out unique span ids within one session, counting keys in start order.
#[derive(Debug, Default)]
pub(crate) struct IdAllocator {
    next: HashMap<String, u32>,
    used_keys: HashSet<String>,
    used_ids: HashSet<SpanId>,
}

impl IdAllocator {
    pub(crate) fn allocate(&mut self, key: &str) -> Allocated {
        let mut n = self.next.get(key).copied().unwrap_or(1);
        loop {
            let candidate = if n == 1 {
                key.to_owned()
            } else {
                format!("{key}#{n}")
            };
            let span_id = key_span_id(&candidate);
            if span_id.is_valid()
                && !self.used_ids.contains(&span_id)
                && !self.used_keys.contains(&candidate)
            {
                self.used_ids.insert(span_id);
                self.used_keys.insert(candidate);
                self.next.insert(key.to_owned(), n.saturating_add(1));
                return Allocated {
                    span_id,
                    occurrence: n,
                };
            }
            n = n.saturating_add(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_vectors() {
        assert_eq!(
            session_trace_id("session-1").to_string(),
            "84097828fc31a8c8d29210df48901a85"
        );
        let vectors = [
            ("session-1:root", "cfd20cf7856c9b80"),
            ("run-1:pipeline", "ed3135c5d478bd0d"),
            ("run-1:provider:openai", "f70379eea6bb3625"),
            ("run-1:tool:call-123", "01ed8855e439eb80"),
            ("run-1:middleware:auth", "0a64402203c0ec46"),
            ("run-1:provider:openai#2", "beea37abe42685c0"),
            ("run-1:middleware:auth#2", "6d180dee0bd9cb9e"),
        ];
        for (key, want) in vectors {
            assert_eq!(key_span_id(key).to_string(), want, "{key}");
        }
    }

    #[test]
    fn repeats_get_hash_n_and_literal_collisions_skip_ahead() {
        let mut ids = IdAllocator::default();
        let first = ids.allocate("run-1:provider:openai");
        assert_eq!(first.occurrence, 1);
        assert_eq!(first.span_id.to_string(), "f70379eea6bb3625");
        let second = ids.allocate("run-1:provider:openai");
        assert_eq!(second.occurrence, 2);
        assert_eq!(second.span_id.to_string(), "beea37abe42685c0");

        let mut ids = IdAllocator::default();
        // A provider literally named "x#2" takes the key the second "x" would use.
        assert_eq!(ids.allocate("r:provider:x#2").occurrence, 1);
        assert_eq!(ids.allocate("r:provider:x").occurrence, 1);
        let third = ids.allocate("r:provider:x");
        assert_eq!(third.occurrence, 3);
        assert_eq!(third.span_id, key_span_id("r:provider:x#3"));
    }
}
