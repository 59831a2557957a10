//! The view server (`docs/collector.md#view-server`): each completed span is encoded once
//! as a view line and shared by every viewer. A backlog serves late viewers; backlog copy
//! and registration happen under the same lock as publishing, so `seq` has no gap and no
//! duplicate. Each viewer has a bounded queue and its own writer task with a 5 s write
//! deadline; a full queue, a timed-out or a failed write disconnects that viewer only.

use crate::server::accept::Acceptor;
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::stats::OutputCounters;

/// Deadline of one write to a viewer; a slower viewer is disconnected.
pub const VIEW_WRITE_DEADLINE: Duration = Duration::from_secs(5);
/// Largest chunk a writer gathers from its queue for one write.
const MAX_WRITE_CHUNK: usize = 256 * 1024;

/// One encoded view line (with its `\n`), shared by all viewers.
pub(crate) type Line = Arc<[u8]>;

struct ViewerSlot {
    tx: mpsc::Sender<Line>,
    kill: CancellationToken,
}

struct HubState {
    backlog: VecDeque<Line>,
    viewers: Vec<ViewerSlot>,
    closed: bool,
}

/// The shared fan-out point between the assembler task and the viewer writers.
pub(crate) struct ViewHub {
    state: Mutex<HubState>,
    backlog_cap: usize,
    viewer_queue: usize,
    counters: Arc<OutputCounters>,
}

impl std::fmt::Debug for ViewHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ViewHub")
            .field("backlog_cap", &self.backlog_cap)
            .field("viewer_queue", &self.viewer_queue)
            .finish_non_exhaustive()
    }
}

/// What a newly registered viewer starts with.
pub(crate) struct Registration {
    backlog: Vec<Line>,
    rx: mpsc::Receiver<Line>,
    kill: CancellationToken,
}

impl ViewHub {
    pub(crate) fn new(
        backlog_cap: usize,
        viewer_queue: usize,
        counters: Arc<OutputCounters>,
    ) -> Self {
        Self {
            state: Mutex::new(HubState {
                backlog: VecDeque::with_capacity(backlog_cap.min(4096)),
                viewers: Vec::new(),
                closed: false,
            }),
            backlog_cap,
            viewer_queue: viewer_queue.max(1),
            counters,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HubState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends lines to the backlog and offers them to every viewer without waiting.
    pub(crate) fn publish(&self, lines: &[Line]) {
        if lines.is_empty() {
            return;
        }
        let mut st = self.lock();
        if st.closed {
            return;
        }
        for line in lines {
            if self.backlog_cap > 0 {
                if st.backlog.len() == self.backlog_cap {
                    st.backlog.pop_front();
                }
                st.backlog.push_back(Arc::clone(line));
            }
        }
        let counters = &self.counters;
        st.viewers.retain(|v| {
            for line in lines {
                match v.tx.try_send(Arc::clone(line)) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        counters
                            .viewers_slow_dropped
                            .fetch_add(1, Ordering::Relaxed);
                        v.kill.cancel();
                        return false;
                    }
                    // The writer already ended (and counted why).
                    Err(mpsc::error::TrySendError::Closed(_)) => return false,
                }
            }
            true
        });
    }

    /// Registers a viewer atomically with a copy of the backlog; `None` after close.
    pub(crate) fn register(&self) -> Option<Registration> {
        let mut st = self.lock();
        if st.closed {
            return None;
        }
        let (tx, rx) = mpsc::channel(self.viewer_queue);
        let kill = CancellationToken::new();
        st.viewers.push(ViewerSlot {
            tx,
            kill: kill.clone(),
        });
        Some(Registration {
            backlog: st.backlog.iter().cloned().collect(),
            rx,
            kill,
        })
    }

    /// Stops publishing; writers deliver what is queued, then close their connection.
    pub(crate) fn close(&self) {
        let mut st = self.lock();
        st.closed = true;
        st.viewers.clear();
    }
}

/// Accepts viewers until `cancel`; each gets its own writer task.
pub(crate) async fn accept_viewers(
    listener: UnixListener,
    hub: Arc<ViewHub>,
    cancel: CancellationToken,
    tasks: tokio_util::task::TaskTracker,
) {
    let mut acceptor = Acceptor::new(cancel);
    while let Some((stream, _)) = acceptor.next(|| listener.accept()).await {
        let Some(reg) = hub.register() else { break };
        hub.counters.viewers_active.fetch_add(1, Ordering::Relaxed);
        hub.counters
            .viewers_connected
            .fetch_add(1, Ordering::Relaxed);
        let counters = Arc::clone(&hub.counters);
        tasks.spawn(write_viewer(stream, reg, counters));
    }
}

enum WriteOutcome {
    Ok,
    Failed,
    TimedOut,
}

async fn write_chunk(wr: &mut tokio::net::unix::OwnedWriteHalf, buf: &[u8]) -> WriteOutcome {
    match tokio::time::timeout(VIEW_WRITE_DEADLINE, wr.write_all(buf)).await {
        Ok(Ok(())) => WriteOutcome::Ok,
        Ok(Err(_)) => WriteOutcome::Failed,
        Err(_) => WriteOutcome::TimedOut,
    }
}

/// One viewer: backlog first, then live lines, until the hub closes, the viewer hangs up,
/// a write fails or times out, or the viewer is dropped as slow.
async fn write_viewer(stream: UnixStream, reg: Registration, counters: Arc<OutputCounters>) {
    let Registration {
        backlog,
        mut rx,
        kill,
    } = reg;
    let (mut rd, mut wr) = stream.into_split();
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut discard = [0u8; 512];
    let mut pending_backlog = backlog.into_iter();
    let closed_by_us = 'outer: loop {
        // Gather a chunk: backlog first, then queued lines.
        buf.clear();
        for line in pending_backlog.by_ref() {
            buf.extend_from_slice(&line);
            if buf.len() >= MAX_WRITE_CHUNK {
                break;
            }
        }
        if buf.is_empty() {
            tokio::select! {
                biased;
                _ = kill.cancelled() => break 'outer true,
                line = rx.recv() => match line {
                    Some(line) => buf.extend_from_slice(&line),
                    None => break 'outer true,
                },
                r = rd.read(&mut discard) => match r {
                    Ok(n) if n > 0 => continue,
                    _ => {
                        counters.viewers_closed.fetch_add(1, Ordering::Relaxed);
                        break 'outer false;
                    }
                },
            }
            while buf.len() < MAX_WRITE_CHUNK {
                match rx.try_recv() {
                    Ok(line) => buf.extend_from_slice(&line),
                    Err(_) => break,
                }
            }
        }
        let outcome = tokio::select! {
            biased;
            _ = kill.cancelled() => break 'outer true,
            o = write_chunk(&mut wr, &buf) => o,
        };
        match outcome {
            WriteOutcome::Ok => {}
            WriteOutcome::Failed => {
                counters.viewers_closed.fetch_add(1, Ordering::Relaxed);
                break false;
            }
            WriteOutcome::TimedOut => {
                counters
                    .viewers_slow_dropped
                    .fetch_add(1, Ordering::Relaxed);
                break false;
            }
        }
    };
    if closed_by_us {
        let _ = tokio::time::timeout(Duration::from_millis(100), wr.shutdown()).await;
    }
    counters.viewers_active.fetch_sub(1, Ordering::Relaxed);
}
