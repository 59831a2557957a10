//! The emitter's bounded line queue shared by the app threads and the writer thread.
//!
//! Every queued line gets an increasing number. Lines leave the queue only from the front
//! (taken by the writer as a batch, or dropped as the oldest) or never enter it (dropped as
//! the newest), so the lines a `flush` waits for are the batch in flight plus the queued
//! lines numbered below the number of the next line at the time of the call.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Instant;

use super::{DropPolicy, EmitterStats};

/// Counters readable without the lock.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) queued: AtomicU64,
    pub(crate) sent: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) oversize: AtomicU64,
    pub(crate) write_failed: AtomicU64,
    pub(crate) reconnects: AtomicU64,
    pub(crate) connected: AtomicBool,
}

/// The lock-protected part.
#[derive(Debug)]
pub(crate) struct State {
    /// Queued lines with their numbers, oldest first.
    pub(crate) lines: VecDeque<(u64, Vec<u8>)>,
    /// The number the next offered line gets.
    pub(crate) next_number: u64,
    /// The batch the writer holds: (first number, count); numbers are contiguous and below
    /// every queued line.
    pub(crate) in_flight: (u64, u64),
    /// No more lines are accepted.
    pub(crate) closed: bool,
    /// The writer must exit now (after a shutdown's flush or on drop).
    pub(crate) stop: bool,
}

impl State {
    /// Lines numbered below `target` not yet written or dropped: the batch in flight plus
    /// the queued ones (queued numbers increase, so a partition point counts them).
    pub(crate) fn pending_before(&self, target: u64) -> u64 {
        let queued = self.lines.partition_point(|(n, _)| *n < target) as u64;
        let (from, count) = self.in_flight;
        count.min(target.saturating_sub(from)) + queued
    }
}

/// The queue: state under a mutex, a condvar for the writer, one for flushers.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    pub(crate) writer_wake: Condvar,
    pub(crate) progress: Condvar,
    pub(crate) counters: Counters,
    pub(crate) capacity: usize,
    pub(crate) drop_policy: DropPolicy,
    pub(crate) max_line_bytes: usize,
}

impl Shared {
    pub(crate) fn new(capacity: usize, drop_policy: DropPolicy, max_line_bytes: usize) -> Self {
        Self {
            state: Mutex::new(State {
                lines: VecDeque::new(),
                next_number: 0,
                in_flight: (0, 0),
                closed: false,
                stop: false,
            }),
            writer_wake: Condvar::new(),
            progress: Condvar::new(),
            counters: Counters::default(),
            capacity: capacity.max(1),
            drop_policy,
            max_line_bytes,
        }
    }

    /// Locks the state; a poisoned lock (a panic while holding it, which our code never
    /// does) is recovered since the state stays consistent between statements.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Offers one encoded line (with its trailing `\n`). Never blocks on I/O.
    pub(crate) fn offer(&self, line: Vec<u8>) {
        // The line limit counts the line without its terminator (as the collector does).
        let body_len = line
            .len()
            .saturating_sub(usize::from(line.last() == Some(&b'\n')));
        if body_len > self.max_line_bytes {
            self.counters.oversize.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut st = self.lock();
        if st.closed {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.counters.queued.fetch_add(1, Ordering::Relaxed);
        if st.lines.len() >= self.capacity {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            match self.drop_policy {
                DropPolicy::DropNewest => {
                    // Never numbered: numbers stay contiguous, so pending counts stay exact.
                    drop(st);
                    self.progress.notify_all();
                    return;
                }
                DropPolicy::DropOldest => {
                    st.lines.pop_front();
                }
            }
        }
        let number = st.next_number;
        st.next_number += 1;
        st.lines.push_back((number, line));
        let was_alone = st.lines.len() == 1;
        drop(st);
        if was_alone {
            self.writer_wake.notify_one();
        }
        self.progress.notify_all();
    }

    /// Waits until every line offered before this call is written or dropped, or until
    /// `deadline`; returns the number still pending on timeout.
    pub(crate) fn wait_done(&self, deadline: Instant) -> Result<(), u64> {
        let mut st = self.lock();
        let target = st.next_number;
        loop {
            let pending = st.pending_before(target);
            if pending == 0 {
                return Ok(());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(pending);
            }
            st = self
                .progress
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    pub(crate) fn stats(&self) -> EmitterStats {
        let c = &self.counters;
        EmitterStats {
            queued: c.queued.load(Ordering::Relaxed),
            sent: c.sent.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            oversize: c.oversize.load(Ordering::Relaxed),
            write_failed: c.write_failed.load(Ordering::Relaxed),
            reconnects: c.reconnects.load(Ordering::Relaxed),
            connected: c.connected.load(Ordering::Relaxed),
        }
    }
}
