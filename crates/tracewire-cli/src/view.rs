//! `tracewire view`: show the traces of a running collector (or go-trace session) or of a
//! journal, assembled client-side; session discovery shared with `tracewire stats`.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tracewire_collector::paths::{self, SocketProbe};
use tracewire_collector::render::{render_tree, RenderOptions};
use tracewire_collector::server::{ConnectError, JournalReader, ViewClient};
use tracewire_collector::wire::view_line;
use tracewire_collector::{Assembler, CompletedSpan, Limits, Output};

use crate::exit;
use crate::sockets::{self, pid_from};

/// Options of `tracewire view`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Without --socket or --journal, running sessions are discovered in the \
runtime directory (view-*.sock) and ${TMPDIR:-/tmp} (go-trace-view-*.sock). Exit codes: 0 ok \
(including server EOF and Ctrl-C), 1 I/O failure, 3 no session or connection refused, \
4 several sessions."
)]
pub(crate) struct ViewArgs {
    /// View socket of a session (tracewire's or go-trace's)
    #[arg(long, value_name = "PATH", conflicts_with = "journal")]
    socket: Option<PathBuf>,
    /// Replay a journal written by `tracewire collect --journal FILE`
    #[arg(long, value_name = "FILE")]
    journal: Option<PathBuf>,
    /// Print the raw span lines (one JSON object per line) instead of trees
    #[arg(long)]
    json: bool,
    /// No ANSI colours (also when NO_COLOR is set or stdout is not a terminal)
    #[arg(long)]
    no_color: bool,
}

/// A session found by discovery.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) path: PathBuf,
    pub(crate) pid: Option<u32>,
    pub(crate) go_trace: bool,
}

fn candidates(dir: &Path, prefix: &str, go_trace: bool) -> Vec<Session> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<Session> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let pid = pid_from(&name, prefix);
            (name.starts_with(prefix) && name.ends_with(".sock")).then(|| Session {
                path: e.path(),
                pid,
                go_trace,
            })
        })
        .collect();
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// The view socket to read: the one given with `--socket`, else the one running session
/// found by [`discover`].
pub(crate) fn socket_or_discover(explicit: Option<&PathBuf>) -> Result<PathBuf, ExitCode> {
    match explicit {
        Some(path) => Ok(path.clone()),
        None => discover(),
    }
}

/// Finds the one session to attach to, or the exit code (with its message printed).
pub(crate) fn discover() -> Result<PathBuf, ExitCode> {
    let runtime = paths::runtime_dir_path();
    let mut all = candidates(&runtime, sockets::VIEW_PREFIX, false);
    all.extend(candidates(
        &sockets::tmp_dir(),
        sockets::GO_TRACE_VIEW_PREFIX,
        true,
    ));
    let mut live = Vec::new();
    for s in all {
        match paths::probe_socket(&s.path) {
            Ok(SocketProbe::Live) => live.push(s),
            Ok(SocketProbe::Busy) => {
                eprintln!(
                    "tracewire: {} is busy (not accepting); skipped",
                    s.path.display()
                );
            }
            Ok(SocketProbe::Stale) if !s.go_trace => {
                // Ours and dead: remove it so the next discovery is clean.
                let _ = std::fs::remove_file(&s.path);
            }
            _ => {}
        }
    }
    match live.len() {
        0 => {
            eprintln!(
                "tracewire: no running session in {}; start one with: tracewire collect",
                runtime.display()
            );
            Err(ExitCode::from(exit::NO_SESSION))
        }
        1 => Ok(live.remove(0).path),
        n => {
            eprintln!("tracewire: {n} sessions are running; pick one with --socket:");
            for s in &live {
                let pid = s.pid.map(|p| p.to_string()).unwrap_or_else(|| "?".into());
                let kind = if s.go_trace { "go-trace" } else { "tracewire" };
                eprintln!("  {}  pid {pid}  {kind}", s.path.display());
            }
            Err(ExitCode::from(exit::SEVERAL))
        }
    }
}

/// Connects to a view socket, mapping failures to exit 3 with a message.
pub(crate) async fn connect(path: &Path) -> Result<ViewClient, ExitCode> {
    match ViewClient::connect(path).await {
        Ok(c) => Ok(c),
        Err(e) => {
            let hint = match &e {
                ConnectError::NotFound(_) | ConnectError::Refused(_) => {
                    "; is the session still running? start one with: tracewire collect"
                }
                _ => "",
            };
            eprintln!("tracewire: {e}{hint}");
            Err(ExitCode::from(exit::NO_SESSION))
        }
    }
}

/// Replays a journal file into `on_span`, reporting skipped lines; a file that cannot be
/// opened or read is an I/O exit.
pub(crate) fn replay_journal(
    journal: &Path,
    mut on_span: impl FnMut(CompletedSpan),
) -> Result<(), ExitCode> {
    let mut reader = JournalReader::open(journal).map_err(|e| {
        eprintln!("tracewire: cannot open {}: {e}", journal.display());
        ExitCode::from(exit::IO)
    })?;
    for span in reader.by_ref() {
        on_span(span);
    }
    if reader.skipped() > 0 {
        eprintln!("tracewire: skipped {} bad lines", reader.skipped());
    }
    match reader.take_error() {
        Some(e) => {
            eprintln!("tracewire: reading {} failed: {e}", journal.display());
            Err(ExitCode::from(exit::IO))
        }
        None => Ok(()),
    }
}

/// Reads spans from a view socket into `on_span` until EOF or Ctrl-C (or `cancel`).
pub(crate) async fn stream_spans(
    client: ViewClient,
    cancel: CancellationToken,
    on_span: impl FnMut(CompletedSpan),
) -> Result<(), ExitCode> {
    let c2 = cancel.clone();
    let ctrl_c = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            c2.cancel();
        }
    });
    let result = client.run(cancel, on_span).await;
    ctrl_c.abort();
    match result {
        Ok(summary) => {
            let skipped = summary.counts.rejected();
            if skipped > 0 {
                eprintln!("tracewire: skipped {skipped} bad lines");
            }
            Ok(())
        }
        Err(e) => {
            eprintln!("tracewire: {e}");
            Err(ExitCode::from(exit::IO))
        }
    }
}

fn lock(p: &Mutex<Printer>) -> std::sync::MutexGuard<'_, Printer> {
    p.lock().unwrap_or_else(|e| e.into_inner())
}

struct Printer {
    asm: Assembler,
    json: bool,
    opts: RenderOptions,
}

impl Printer {
    fn span(&mut self, span: CompletedSpan) {
        if self.json {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(&view_line(&span));
        } else {
            self.asm.push_completed(span, Instant::now());
            self.flush();
        }
    }

    fn tick(&mut self) {
        if !self.json {
            self.asm.tick(Instant::now());
            self.flush();
        }
    }

    fn finish(&mut self) {
        if !self.json {
            self.asm.shutdown(Instant::now());
            self.flush();
        }
    }

    fn flush(&mut self) {
        let mut out = std::io::stdout().lock();
        for o in self.asm.drain_outputs() {
            if let Output::Trace(t) = o {
                let _ = out.write_all(render_tree(&t, &self.opts).as_bytes());
            }
        }
        let _ = out.flush();
    }
}

pub(crate) fn run(args: ViewArgs) -> ExitCode {
    let color = !args.no_color && std::io::stdout().is_terminal();
    let mut printer = Printer {
        asm: Assembler::new(Limits::default()),
        json: args.json,
        opts: RenderOptions::for_terminal(color),
    };
    if let Some(journal) = &args.journal {
        let replayed = replay_journal(journal, |span| printer.span(span));
        printer.finish();
        return replayed.err().unwrap_or(ExitCode::SUCCESS);
    }
    let path = match socket_or_discover(args.socket.as_ref()) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let runtime = match exit::runtime(tokio::runtime::Builder::new_current_thread()) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    runtime.block_on(async move {
        let client = match connect(&path).await {
            Ok(c) => c,
            Err(code) => return code,
        };
        // The assembler is shared by the reader (spans) and a ticker (grace timers).
        let printer = Arc::new(Mutex::new(printer));
        let ticker_printer = Arc::clone(&printer);
        let ticker = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            loop {
                tick.tick().await;
                lock(&ticker_printer).tick();
            }
        });
        let reading_printer = Arc::clone(&printer);
        let result = stream_spans(client, CancellationToken::new(), move |span| {
            lock(&reading_printer).span(span)
        })
        .await;
        ticker.abort();
        lock(&printer).finish();
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(code) => code,
        }
    })
}
