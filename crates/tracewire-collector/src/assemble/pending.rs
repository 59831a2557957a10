//! A keyed buffer with insertion-time order: the pending starts and the early ends
//! (`docs/collector.md#pairing`).
//! Lookup by key is O(1); the oldest live entry is found in amortised O(1) (stale order
//! records are skipped lazily and compacted when they dominate).

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use super::hash::IdHashBuilder;
use crate::model::{SpanId, WireTraceId};

/// Spans pair by (trace id, span id).
pub(crate) type SpanKey = (WireTraceId, SpanId);

#[derive(Debug)]
pub(crate) struct TimedBuffer<T> {
    map: HashMap<SpanKey, (T, u64), IdHashBuilder>,
    order: VecDeque<(Instant, u64, SpanKey)>,
}

impl<T> TimedBuffer<T> {
    pub(crate) fn new() -> Self {
        TimedBuffer {
            map: HashMap::with_hasher(IdHashBuilder::new()),
            order: VecDeque::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    pub(crate) fn remove(&mut self, key: &SpanKey) -> Option<T> {
        // The common miss (nothing waiting) skips hashing.
        if self.map.is_empty() {
            return None;
        }
        self.map.remove(key).map(|(v, _)| v)
    }

    /// Inserts (or replaces, returning the old value) with a globally unique `stamp`.
    pub(crate) fn insert(&mut self, key: SpanKey, value: T, at: Instant, stamp: u64) -> Option<T> {
        let old = self.map.insert(key, (value, stamp)).map(|(v, _)| v);
        self.order.push_back((at, stamp, key));
        if self.order.len() > 2 * self.map.len() + 64 {
            let map = &self.map;
            self.order
                .retain(|(_, s, k)| map.get(k).is_some_and(|(_, live)| live == s));
        }
        old
    }

    /// Drops stale order records; then the front is the oldest live entry.
    fn skip_stale(&mut self) {
        while let Some((_, stamp, key)) = self.order.front() {
            if self.map.get(key).is_some_and(|(_, live)| live == stamp) {
                return;
            }
            self.order.pop_front();
        }
    }

    /// (insertion time, stamp) of the oldest live entry.
    pub(crate) fn oldest(&mut self) -> Option<(Instant, u64)> {
        self.skip_stale();
        self.order.front().map(|&(at, stamp, _)| (at, stamp))
    }

    /// The insertion time of the oldest record, possibly stale (a lower bound for deadlines).
    pub(crate) fn oldest_hint(&self) -> Option<Instant> {
        self.order.front().map(|&(at, _, _)| at)
    }

    /// Removes and returns the oldest live entry.
    pub(crate) fn pop_oldest(&mut self) -> Option<(SpanKey, T)> {
        self.skip_stale();
        let (_, _, key) = self.order.pop_front()?;
        self.map.remove(&key).map(|(v, _)| (key, v))
    }
}
