//! [`ViewClient`]: reads a view socket (ours or go-trace's), skipping and counting bad and
//! over-long lines with the ingest rules
//! (`docs/wire-formats.md#collector-view-lines`).

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::UnixStream;
use tokio_util::sync::CancellationToken;

use crate::lines::{LineEvent, LineSplitter};
use crate::model::CompletedSpan;
use crate::wire::{count_view_line, IngestCounts};

/// How long `connect` waits.
pub const VIEW_CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// Why a view socket could not be connected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// No socket at the path.
    #[error("no view socket at {}", .0.display())]
    NotFound(PathBuf),
    /// A socket exists but nothing listens (a stale file).
    #[error("connection refused at {}", .0.display())]
    Refused(PathBuf),
    /// The server did not accept within 500 ms.
    #[error("connecting to {} timed out", .0.display())]
    Timeout(PathBuf),
    /// Another I/O error.
    #[error("connecting to {}: {source}", path.display())]
    Io {
        /// The socket path.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
}

/// A read error other than EOF or a reset.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ViewError {
    /// Reading the view socket failed.
    #[error("reading the view socket failed: {0}")]
    Read(#[source] io::Error),
}

/// How a view session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ViewEnd {
    /// The server closed the connection (or reset it).
    ServerClosed,
    /// The cancellation token fired.
    Cancelled,
}

/// What a view session received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ViewSummary {
    /// Spans delivered to the callback.
    pub spans: u64,
    /// Line counters (`ends` = spans; rejection counters = skipped lines).
    pub counts: IngestCounts,
    /// Why it ended.
    pub end: ViewEnd,
}

/// A connected viewer of a collector's (or go-trace's) view socket.
#[derive(Debug)]
pub struct ViewClient {
    stream: UnixStream,
    max_line_bytes: usize,
}

impl ViewClient {
    /// Connects within 500 ms.
    pub async fn connect(path: impl AsRef<Path>) -> Result<Self, ConnectError> {
        let path = path.as_ref();
        match tokio::time::timeout(VIEW_CONNECT_TIMEOUT, UnixStream::connect(path)).await {
            Err(_) => Err(ConnectError::Timeout(path.to_path_buf())),
            Ok(Ok(stream)) => Ok(Self {
                stream,
                max_line_bytes: 1024 * 1024,
            }),
            Ok(Err(e)) => Err(match e.kind() {
                io::ErrorKind::NotFound => ConnectError::NotFound(path.to_path_buf()),
                io::ErrorKind::ConnectionRefused => ConnectError::Refused(path.to_path_buf()),
                io::ErrorKind::WouldBlock => ConnectError::Timeout(path.to_path_buf()),
                _ => ConnectError::Io {
                    path: path.to_path_buf(),
                    source: e,
                },
            }),
        }
    }

    /// Longest accepted line (default 1 MiB); longer ones are skipped as `oversize`.
    #[must_use]
    pub fn with_max_line_bytes(mut self, n: usize) -> Self {
        self.max_line_bytes = n;
        self
    }

    /// Reads spans until server EOF, `ECONNRESET` or `cancel` (all `Ok`), calling
    /// `on_span` for each good line; other read errors are `Err`.
    pub async fn run(
        mut self,
        cancel: CancellationToken,
        mut on_span: impl FnMut(CompletedSpan),
    ) -> Result<ViewSummary, ViewError> {
        let mut splitter = LineSplitter::new(self.max_line_bytes);
        // `counts.ends` counts the spans handed to `on_span`.
        let mut counts = IngestCounts::default();
        let mut buf = vec![0u8; 64 * 1024];
        let mut handle = |ev: LineEvent<'_>, counts: &mut IngestCounts| {
            if let Some(span) = count_view_line(ev, counts) {
                on_span(span);
            }
        };
        let end = loop {
            let read = tokio::select! {
                biased;
                _ = cancel.cancelled() => break ViewEnd::Cancelled,
                r = self.stream.read(&mut buf) => r,
            };
            match read {
                Ok(0) => {
                    splitter.finish(|ev| handle(ev, &mut counts));
                    break ViewEnd::ServerClosed;
                }
                Ok(n) => {
                    counts.bytes += n as u64;
                    splitter.push(&buf[..n], |ev| handle(ev, &mut counts));
                }
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                    break ViewEnd::ServerClosed
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ViewError::Read(e)),
            }
        };
        Ok(ViewSummary {
            spans: counts.ends,
            counts,
            end,
        })
    }
}
