//! Recycles the event batches that ingest connections send to the assembler task, so a
//! read's batch (hundreds of events, ~100 KiB) is not allocated on one thread and freed on
//! another for every 64 KiB read.

use std::sync::Mutex;

use crate::model::IngestEvent;

/// Empty batches kept for reuse at most (beyond that they are freed).
const MAX_POOLED: usize = 64;

/// A bounded pool of empty `Vec<IngestEvent>` batches.
#[derive(Debug, Default)]
pub(crate) struct BatchPool {
    free: Mutex<Vec<Vec<IngestEvent>>>,
}

impl BatchPool {
    /// An empty batch with room for at least `capacity` events.
    pub(crate) fn take(&self, capacity: usize) -> Vec<IngestEvent> {
        let pooled = self.free.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut batch = pooled.unwrap_or_default();
        batch.reserve(capacity);
        batch
    }

    /// Returns a drained batch for reuse (dropped when the pool is full).
    pub(crate) fn give(&self, mut batch: Vec<IngestEvent>) {
        batch.clear();
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        if free.len() < MAX_POOLED {
            free.push(batch);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_reused_cleared_and_bounded() {
        let pool = BatchPool::default();
        let b = pool.take(100);
        assert!(b.capacity() >= 100);
        let ptr = b.as_ptr();
        pool.give(b);
        let again = pool.take(10);
        assert_eq!(again.as_ptr(), ptr, "the returned batch is reused");
        assert!(again.is_empty());
        for _ in 0..MAX_POOLED + 10 {
            pool.give(Vec::new());
        }
        assert_eq!(pool.free.lock().unwrap().len(), MAX_POOLED);
    }
}
