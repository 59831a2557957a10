//! Ingest connections (`docs/wire-formats.md#collector-ingest-lines`): one task per
//! connection splits lines (over-long ones discarded without buffering), decodes and counts
//! them, and sends each read's events as one batch over the bounded channel to the
//! assembler task.

use crate::server::accept::Acceptor;
use std::sync::Arc;

use tokio::io::AsyncReadExt;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::assembler_task::Msg;
use super::batch_pool::BatchPool;
use super::stats::ConnRegistry;
use crate::lines::{LineEvent, LineSplitter};
use crate::wire::{decode_ingest_line, IngestCounts, LineRejection};

/// Size of one socket read.
const READ_CHUNK: usize = 64 * 1024;
/// Bytes per line assumed when sizing a read's event batch (a lower bound for real lines).
const EVENT_BYTES_HINT: usize = 96;

/// What an ingest connection needs.
#[derive(Debug, Clone)]
pub(crate) struct IngestContext {
    pub(crate) registry: Arc<ConnRegistry>,
    pub(crate) tx: mpsc::Sender<Msg>,
    pub(crate) batches: Arc<BatchPool>,
    pub(crate) max_line_bytes: usize,
    pub(crate) max_connections: usize,
}

/// Accepts ingest connections until `cancel`; connection tasks go to `tasks` and stop on
/// `conn_cancel`.
pub(crate) async fn accept_ingest(
    listener: UnixListener,
    ctx: IngestContext,
    cancel: CancellationToken,
    conn_cancel: CancellationToken,
    tasks: TaskTracker,
) {
    let mut acceptor = Acceptor::new(cancel);
    while let Some((stream, _)) = acceptor.next(|| listener.accept()).await {
        if ctx.registry.active() >= ctx.max_connections {
            ctx.registry.reject();
            drop(stream);
            continue;
        }
        let peer_pid = stream.peer_cred().ok().and_then(|c| c.pid());
        let id = ctx.registry.open(peer_pid);
        tasks.spawn(serve_connection(
            stream,
            id,
            ctx.clone(),
            conn_cancel.clone(),
        ));
    }
}

/// Splits, decodes and counts one chunk's lines into `events`.
pub(crate) fn handle_line(
    ev: LineEvent<'_>,
    counts: &mut IngestCounts,
    events: &mut Vec<crate::model::IngestEvent>,
) {
    match ev {
        LineEvent::Blank => counts.blank += 1,
        LineEvent::Oversize { .. } => counts.record_rejection(LineRejection::Oversize),
        LineEvent::Line(line) => match decode_ingest_line(line) {
            Ok(event) => {
                counts.record_event(&event);
                events.push(event);
            }
            Err(r) => counts.record_rejection(r),
        },
    }
}

async fn serve_connection(
    mut stream: UnixStream,
    id: u64,
    ctx: IngestContext,
    cancel: CancellationToken,
) {
    let mut splitter = LineSplitter::new(ctx.max_line_bytes);
    let mut counts = IngestCounts::default();
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        let read = tokio::select! {
            biased;
            _ = cancel.cancelled() => break,
            r = stream.read(&mut buf) => r,
        };
        // A recycled batch, sized for the read (go-trace lines are well over 96 bytes), so a
        // full 64 KiB read never regrows and copies it.
        let mut events = match &read {
            Ok(n) => ctx.batches.take(n / EVENT_BYTES_HINT + 1),
            Err(_) => Vec::new(),
        };
        let eof = match read {
            Ok(0) => {
                splitter.finish(|ev| handle_line(ev, &mut counts, &mut events));
                true
            }
            Ok(n) => {
                counts.bytes += n as u64;
                splitter.push(&buf[..n], |ev| handle_line(ev, &mut counts, &mut events));
                false
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => true,
        };
        ctx.registry.update(id, &counts);
        if events.is_empty() {
            ctx.batches.give(events);
        } else {
            // Not cancellable: the assembler runs until every connection task has ended,
            // so decoded events are never lost at shutdown.
            if ctx.tx.send(Msg::Events(events)).await.is_err() {
                break;
            }
        }
        if eof {
            break;
        }
    }
    ctx.registry.close(id, &counts);
}
