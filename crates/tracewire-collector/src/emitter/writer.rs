//! The `tracewire-emitter` thread: blocking std I/O, lazy connect, batched writes,
//! reconnect with exponential backoff plus jitter.

use std::io::{self, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::net::RecvFlags;

use super::queue::Shared;
use tracewire_otlp::backoff::BackoffState;

use super::Backoff;

/// Most lines written in one batch.
const MAX_BATCH_LINES: usize = 512;

pub(crate) struct WriterConfig {
    pub(crate) path: PathBuf,
    pub(crate) backoff: Backoff,
    pub(crate) write_timeout: Duration,
}

/// The writer loop; returns when `stop` is set.
pub(crate) fn run(shared: Arc<Shared>, config: WriterConfig) {
    let mut conn: Option<UnixStream> = None;
    let mut ever_connected = false;
    let mut backoff = BackoffState::new(config.backoff);
    let mut batch: Vec<u8> = Vec::with_capacity(64 * 1024);
    loop {
        // Wait for lines (or stop).
        {
            let mut st = shared.lock();
            while st.lines.is_empty() && !st.stop {
                st = shared
                    .writer_wake
                    .wait(st)
                    .unwrap_or_else(|p| p.into_inner());
            }
            if st.stop {
                break;
            }
        }
        // Make sure a healthy connection exists.
        if let Some(stream) = &conn {
            if peer_closed(stream) {
                conn = None;
                shared.counters.connected.store(false, Ordering::Relaxed);
            }
        }
        if conn.is_none() {
            match connect(&config) {
                Ok(stream) => {
                    if ever_connected {
                        shared.counters.reconnects.fetch_add(1, Ordering::Relaxed);
                    }
                    ever_connected = true;
                    backoff.reset();
                    shared.counters.connected.store(true, Ordering::Relaxed);
                    conn = Some(stream);
                }
                Err(_) => {
                    // Sleep with jitter, interruptible by stop.
                    let sleep = backoff.next_delay(rand::random::<f64>());
                    let deadline = Instant::now() + sleep;
                    let mut st = shared.lock();
                    while !st.stop {
                        let now = Instant::now();
                        if now >= deadline {
                            break;
                        }
                        st = shared
                            .writer_wake
                            .wait_timeout(st, deadline - now)
                            .unwrap_or_else(|p| p.into_inner())
                            .0;
                    }
                    continue;
                }
            }
        }
        // Take a batch.
        let count;
        {
            let mut st = shared.lock();
            let n = st.lines.len().min(MAX_BATCH_LINES);
            if n == 0 {
                continue;
            }
            let first = st.lines.front().map_or(0, |(num, _)| *num);
            st.in_flight = (first, n as u64);
            batch.clear();
            for (_, line) in st.lines.drain(..n) {
                batch.extend_from_slice(&line);
            }
            count = n as u64;
        }
        let result = match conn.as_mut() {
            Some(stream) => stream.write_all(&batch),
            None => Err(io::Error::from(io::ErrorKind::NotConnected)),
        };
        match result {
            Ok(()) => {
                shared.counters.sent.fetch_add(count, Ordering::Relaxed);
            }
            Err(_) => {
                shared
                    .counters
                    .write_failed
                    .fetch_add(count, Ordering::Relaxed);
                conn = None;
                shared.counters.connected.store(false, Ordering::Relaxed);
            }
        }
        shared.lock().in_flight = (0, 0);
        shared.progress.notify_all();
    }
    shared.counters.connected.store(false, Ordering::Relaxed);
    // Lines left at stop are dropped, and counted.
    let mut st = shared.lock();
    let left = st.lines.len() as u64;
    st.lines.clear();
    drop(st);
    shared.counters.dropped.fetch_add(left, Ordering::Relaxed);
    shared.progress.notify_all();
}

fn connect(config: &WriterConfig) -> io::Result<UnixStream> {
    let stream = UnixStream::connect(&config.path)?;
    stream.set_write_timeout(Some(config.write_timeout))?;
    Ok(stream)
}

/// True when the collector has closed its end (a restart): checked before writing so a
/// batch is not lost on a connection known to be dead.
fn peer_closed(stream: &UnixStream) -> bool {
    let mut buf = [0u8; 1];
    match rustix::net::recv(stream, &mut buf[..], RecvFlags::DONTWAIT | RecvFlags::PEEK) {
        Ok((n, _)) => n == 0,
        Err(e) => e != rustix::io::Errno::AGAIN,
    }
}
