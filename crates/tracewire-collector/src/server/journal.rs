//! The journal (`docs/collector.md#journal`): every completed span appended as a view line
//! (`docs/wire-formats.md#collector-view-lines`) to a file
//! (mode 0600, `O_APPEND`) by its own task from a bounded queue, flushed at shutdown;
//! [`JournalReader`] replays it.

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::stats::OutputCounters;
use super::view_server::Line;
use crate::lines::LineSplitter;
use crate::model::CompletedSpan;
use crate::wire::{count_view_line, IngestCounts};

/// Opens (creating 0600) a journal for appending.
pub(crate) fn open_journal(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

/// The producer side: a non-blocking enqueue, overflow counted as `journal_dropped`.
#[derive(Debug, Clone)]
pub(crate) struct JournalSink {
    tx: mpsc::Sender<Line>,
    counters: Arc<OutputCounters>,
}

impl JournalSink {
    pub(crate) fn offer(&self, line: &Line) {
        if self.tx.try_send(Arc::clone(line)).is_err() {
            self.counters
                .journal_dropped
                .fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Starts the journal writer on a blocking thread (std buffered writes, no per-write
/// hand-off); it ends, after writing and flushing everything queued, when every
/// [`JournalSink`] is dropped.
pub(crate) fn start_journal(
    file: File,
    capacity: usize,
    counters: Arc<OutputCounters>,
    tasks: &tokio_util::task::TaskTracker,
) -> JournalSink {
    let (tx, mut rx) = mpsc::channel::<Line>(capacity.max(1));
    let task_counters = Arc::clone(&counters);
    tasks.spawn_blocking(move || {
        let mut out = std::io::BufWriter::with_capacity(256 * 1024, file);
        // Lines written into the buffer but not yet flushed to the file.
        let mut buffered = 0u64;
        let flush = |out: &mut std::io::BufWriter<File>, buffered: &mut u64| {
            match out.flush() {
                Ok(()) => {
                    task_counters
                        .journal_written
                        .fetch_add(*buffered, Ordering::Relaxed);
                }
                Err(_) => {
                    task_counters.journal_errors.fetch_add(1, Ordering::Relaxed);
                    task_counters
                        .journal_dropped
                        .fetch_add(*buffered, Ordering::Relaxed);
                }
            }
            *buffered = 0;
        };
        while let Some(line) = rx.blocking_recv() {
            let mut next = Some(line);
            while let Some(line) = next.take() {
                if out.write_all(&line).is_err() {
                    task_counters.journal_errors.fetch_add(1, Ordering::Relaxed);
                    task_counters
                        .journal_dropped
                        .fetch_add(1, Ordering::Relaxed);
                } else {
                    buffered += 1;
                }
                next = rx.try_recv().ok();
            }
            // The queue is empty: make what we have durable in the file.
            flush(&mut out, &mut buffered);
        }
        flush(&mut out, &mut buffered);
        if out.get_ref().sync_data().is_err() {
            task_counters.journal_errors.fetch_add(1, Ordering::Relaxed);
        }
    });
    JournalSink { tx, counters }
}

/// Replays a journal (or any file of view lines): yields each completed span in file order,
/// skipping and counting bad and over-long lines.
#[derive(Debug)]
pub struct JournalReader<R = BufReader<File>> {
    reader: R,
    /// One read's bytes, kept between calls (a fresh zeroed chunk per span would cost more
    /// than decoding it).
    chunk: Box<[u8]>,
    splitter: LineSplitter,
    ready: std::collections::VecDeque<CompletedSpan>,
    counts: IngestCounts,
    eof: bool,
    error: Option<io::Error>,
}

impl JournalReader<BufReader<File>> {
    /// Opens a journal file.
    pub fn open(path: impl AsRef<Path>) -> io::Result<Self> {
        Ok(Self::new(BufReader::new(File::open(path)?)))
    }
}

impl<R: Read> JournalReader<R> {
    /// Reads view lines from any reader (lines up to 1 MiB).
    pub fn new(reader: R) -> Self {
        Self {
            reader,
            chunk: vec![0u8; 64 * 1024].into_boxed_slice(),
            splitter: LineSplitter::new(1024 * 1024),
            ready: std::collections::VecDeque::new(),
            counts: IngestCounts::default(),
            eof: false,
            error: None,
        }
    }

    /// Line counters so far: `ends` counts good spans, the rejection counters the skipped
    /// lines.
    pub fn counts(&self) -> IngestCounts {
        self.counts
    }

    /// Lines skipped so far (bad or over-long).
    pub fn skipped(&self) -> u64 {
        self.counts.rejected()
    }

    /// The read error that ended the replay early, if any.
    pub fn take_error(&mut self) -> Option<io::Error> {
        self.error.take()
    }
}

impl<R: Read> Iterator for JournalReader<R> {
    type Item = CompletedSpan;

    fn next(&mut self) -> Option<CompletedSpan> {
        loop {
            if let Some(span) = self.ready.pop_front() {
                return Some(span);
            }
            if self.eof {
                return None;
            }
            let (ready, counts) = (&mut self.ready, &mut self.counts);
            match self.reader.read(&mut self.chunk) {
                Ok(0) => {
                    self.eof = true;
                    self.splitter
                        .finish(|ev| ready.extend(count_view_line(ev, counts)));
                }
                Ok(n) => {
                    counts.bytes += n as u64;
                    self.splitter.push(&self.chunk[..n], |ev| {
                        ready.extend(count_view_line(ev, counts))
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.eof = true;
                    self.error = Some(e);
                }
            }
        }
    }
}
