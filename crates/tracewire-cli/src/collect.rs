//! `tracewire collect`: run a local span collector (go-trace compatible), print trees as
//! they complete, optionally run a command with the socket in its environment.

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;
use tracewire_collector::otlp::traces_url;
use tracewire_collector::paths::{ENV_GOTRACE_SOCKET, ENV_SOCKET};
use tracewire_collector::render::{render_tree, RenderOptions};
use tracewire_collector::server::{Collector, RecvError};
use tracewire_collector::{BindError, Limits};
use tracewire_otlp::config::{OtlpConfig, Precedence, ResolvedConfig};

use crate::exit;
use crate::sockets;

/// Options of `tracewire collect`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Apps find the ingest socket through TRACEWIRE_SOCKET (or go-trace's \
GOTRACE_SOCKET); with `-- CMD` both are set for the command. Exit codes: 0 ok, 1 I/O failure, \
2 bad option or configuration, 5 cannot bind; with CMD, the command's own exit code."
)]
pub(crate) struct CollectArgs {
    /// Ingest socket apps send span events to [default: $TRACEWIRE_SOCKET, else
    /// $GOTRACE_SOCKET, else <runtime dir>/ingest.sock]
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// View socket viewers connect to [default: <runtime dir>/view-<pid>.sock]
    #[arg(long, value_name = "PATH", conflicts_with = "no_view")]
    view_socket: Option<PathBuf>,
    /// Run no view server (`tracewire view` cannot attach)
    #[arg(long)]
    no_view: bool,
    /// Also serve the view at ${TMPDIR:-/tmp}/go-trace-view-<pid>.sock so `go-trace view`
    /// finds this session
    #[arg(long, conflicts_with = "no_view")]
    go_trace_view: bool,
    /// Accept OTLP/HTTP traces (POST /v1/traces) from any OpenTelemetry SDK on ADDR
    /// [default when given without ADDR: 127.0.0.1:4318]; there is no authentication
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:4318")]
    otlp_http: Option<SocketAddr>,
    /// Forward every completed span over OTLP/HTTP (an OpenTelemetry Collector, Jaeger,
    /// Tempo). Without URL: to the endpoint the OTEL_EXPORTER_OTLP_* variables configure
    /// (default http://localhost:4318/v1/traces); with URL: there, over the variables (a
    /// base URL gets /v1/traces). Headers, protocol, compression, timeout, OTEL_BSP_* and
    /// OTEL_RESOURCE_ATTRIBUTES apply either way; OTEL_SDK_DISABLED=true turns it off
    #[arg(long, value_name = "URL", num_args = 0..=1)]
    forward: Option<Option<String>>,
    /// service.name of forwarded spans that carry none [default: $OTEL_SERVICE_NAME, else
    /// tracewire]
    #[arg(long, value_name = "NAME")]
    service_name: Option<String>,
    /// Append every completed span to FILE as a view line (0600), for `view/stats --journal`
    #[arg(long, value_name = "FILE")]
    journal: Option<PathBuf>,
    /// Print no trees (only the socket lines and the final summary)
    #[arg(long, short)]
    quiet: bool,
    /// No ANSI colours (also when NO_COLOR is set or stderr is not a terminal)
    #[arg(long)]
    no_color: bool,
    /// Longest accepted ingest line in bytes; longer lines are skipped and counted
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_line_bytes)]
    max_line_bytes: usize,
    /// Milliseconds a trace waits after its root completes for late children
    #[arg(long, value_name = "MS", default_value_t = 500)]
    grace: u64,
    /// Seconds without events after which an open trace is shown as a partial tree
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    idle_timeout: u64,
    /// Seconds a span start waits for its end before it is dropped (counted)
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    pending_ttl: u64,
    /// Most span starts and early ends held at once; the oldest is evicted (counted)
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_pending_spans)]
    max_pending_spans: usize,
    /// Most traces being assembled at once; the least recently active is flushed early
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_buffered_traces)]
    max_buffered_traces: usize,
    /// Emitted trees kept for late spans and snapshots
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_retained_traces)]
    max_retained_traces: usize,
    /// Span lines a newly connected viewer receives first
    #[arg(long, value_name = "N", default_value_t = Limits::default().backlog)]
    backlog: usize,
    /// Lines queued per viewer; a viewer that falls this far behind is disconnected
    #[arg(long, value_name = "N", default_value_t = Limits::default().viewer_queue)]
    viewer_queue: usize,
    /// Command to run with TRACEWIRE_SOCKET and GOTRACE_SOCKET set; collect stops when it exits
    #[arg(last = true, value_name = "CMD")]
    command: Vec<OsString>,
}

impl CollectArgs {
    fn limits(&self) -> Result<Limits, String> {
        for (name, v) in [
            ("--max-line-bytes", self.max_line_bytes),
            ("--max-pending-spans", self.max_pending_spans),
            ("--max-buffered-traces", self.max_buffered_traces),
            ("--max-retained-traces", self.max_retained_traces),
            ("--viewer-queue", self.viewer_queue),
        ] {
            if v == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        let mut l = Limits::default();
        l.max_line_bytes = self.max_line_bytes;
        l.grace = Duration::from_millis(self.grace);
        l.idle_timeout = Duration::from_secs(self.idle_timeout);
        l.pending_ttl = Duration::from_secs(self.pending_ttl);
        l.max_pending_spans = self.max_pending_spans;
        l.max_buffered_traces = self.max_buffered_traces;
        l.max_retained_traces = self.max_retained_traces;
        l.backlog = self.backlog;
        l.viewer_queue = self.viewer_queue;
        Ok(l)
    }
}

fn bind_exit(err: &BindError) -> ExitCode {
    eprintln!("tracewire: {err}");
    match err {
        BindError::ForwardLoop { .. } => ExitCode::from(exit::USAGE),
        _ => ExitCode::from(exit::BIND),
    }
}

pub(crate) fn run(args: CollectArgs) -> ExitCode {
    let limits = match args.limits() {
        Ok(l) => l,
        Err(msg) => {
            eprintln!("tracewire: {msg}");
            return ExitCode::from(exit::USAGE);
        }
    };
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(2);
    let runtime = match exit::runtime(builder) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    runtime.block_on(collect(args, limits))
}

async fn collect(args: CollectArgs, limits: Limits) -> ExitCode {
    let view = if args.no_view {
        None
    } else {
        match &args.view_socket {
            Some(p) => Some(p.clone()),
            None => match sockets::default_view_path() {
                Ok(p) => Some(p),
                Err(e) => return bind_exit(&e),
            },
        }
    };
    if let Some(addr) = args.otlp_http {
        if !addr.ip().is_loopback() {
            eprintln!(
                "tracewire: warning: the OTLP receiver on {addr} accepts spans from any host that can reach it (no authentication)"
            );
        }
    }
    let mut builder = Collector::builder()
        .with_view_socket_path(view)
        .with_extra_view_socket_path(args.go_trace_view.then(sockets::go_trace_view_path))
        .with_limits(limits);
    if let Some(s) = &args.socket {
        builder = builder.with_socket_path(s);
    }
    if let Some(j) = &args.journal {
        builder = builder.with_journal(j);
    }
    if let Some(addr) = args.otlp_http {
        builder = builder.with_otlp_http(addr);
    }
    if let Some(url) = &args.forward {
        match forward_config(url.as_deref(), args.service_name.as_deref()) {
            Ok(Some((resolved, service))) => {
                builder = builder.with_forward_resolved(resolved, service);
            }
            Ok(None) => {}
            Err(code) => return code,
        }
    }
    let bound = match builder.bind().await {
        Ok(b) => b,
        Err(e) => return bind_exit(&e),
    };
    let ingest = bound.socket_path().to_path_buf();
    eprintln!("tracewire: ingest {}", ingest.display());
    if let Some(v) = bound.view_socket_path() {
        eprintln!("tracewire: view {}", v.display());
    }
    if args.go_trace_view {
        eprintln!(
            "tracewire: go-trace view {}",
            sockets::go_trace_view_path().display()
        );
    }
    if let Some(a) = bound.otlp_http_addr() {
        eprintln!("tracewire: otlp-http http://{a}/v1/traces");
    }
    let collector = bound.handle();
    let printer = (!args.quiet).then(|| {
        let color = !args.no_color && std::io::stderr().is_terminal();
        tokio::spawn(print_trees(
            collector.clone(),
            RenderOptions::for_terminal(color),
        ))
    });
    let token = CancellationToken::new();
    let server = tokio::spawn(bound.serve_with_token(token.clone()));

    let outcome = if args.command.is_empty() {
        wait_for_signal().await;
        None
    } else {
        Some(run_child(&args.command, &ingest).await)
    };
    token.cancel();
    let code = match server.await {
        Ok(Ok(report)) => {
            if let Some(p) = printer {
                let _ = tokio::time::timeout(Duration::from_secs(5), p).await;
            }
            let s = &report.stats;
            eprintln!(
                "tracewire: {} spans in {} traces; {} lines rejected, {} starts never ended, {} ends never started",
                s.assembly.completed,
                s.assembly.traces_emitted,
                s.ingest.counts.rejected(),
                s.assembly.pending_now + s.assembly.pending_expired + s.assembly.pending_evicted,
                s.assembly.early_ends_now + s.assembly.orphan_ends,
            );
            for what in &report.unfinished {
                eprintln!("tracewire: warning: {what} did not finish within 5 s");
            }
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => {
            eprintln!("tracewire: {e}");
            ExitCode::from(exit::IO)
        }
        Err(e) => {
            eprintln!("tracewire: collector task failed: {e}");
            ExitCode::from(exit::IO)
        }
    };
    match outcome {
        Some(child_code) => ExitCode::from(child_code),
        None => code,
    }
}

/// Resolves the forwarder's OTLP configuration (`--forward URL` beats the endpoint
/// variables; everything else from `OTEL_*`), printing every warning. `Ok(None)`: the
/// forwarder stays off (`OTEL_SDK_DISABLED`).
fn forward_config(
    url: Option<&str>,
    service_name: Option<&str>,
) -> Result<Option<(ResolvedConfig, String)>, ExitCode> {
    let mut config = OtlpConfig::new();
    if let Some(url) = url {
        if url.parse::<http_uri_check::Uri>().is_err() {
            eprintln!(
                "tracewire: --forward {url} is not a valid URL; pass e.g. http://localhost:4318"
            );
            return Err(ExitCode::from(exit::USAGE));
        }
        config = config
            .with_endpoint(traces_url(url))
            .with_precedence(Precedence::CodeFirst);
    }
    let resolved = match config.resolve() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tracewire: --forward: {e}");
            return Err(ExitCode::from(exit::USAGE));
        }
    };
    for w in &resolved.warnings {
        eprintln!("tracewire: warning: {w}");
    }
    if !resolved.protocol.is_http() {
        eprintln!(
            "tracewire: OTLP protocol {} is not supported by the forwarder (it speaks http/protobuf and http/json); set OTEL_EXPORTER_OTLP_PROTOCOL accordingly",
            resolved.protocol
        );
        return Err(ExitCode::from(exit::USAGE));
    }
    if resolved.sdk_disabled {
        eprintln!("tracewire: warning: OTEL_SDK_DISABLED is true: the forwarder is not started, no span is forwarded");
        return Ok(None);
    }
    let service = match service_name {
        Some(s) => s.to_owned(),
        None => resolved
            .resource
            .get("service.name")
            .and_then(|v| v.as_str())
            .filter(|s| !s.starts_with("unknown_service"))
            .unwrap_or(tracewire_collector::otlp::DEFAULT_SERVICE_NAME)
            .to_owned(),
    };
    eprintln!(
        "tracewire: forwarding to {} ({})",
        resolved.traces_endpoint, resolved.protocol
    );
    Ok(Some((resolved, service)))
}

/// Prints each emitted tree to stderr until the collector closes.
async fn print_trees(collector: Collector, opts: RenderOptions) {
    let mut traces = collector.subscribe_traces();
    loop {
        match traces.recv().await {
            Ok(trace) => {
                let text = render_tree(&trace, &opts);
                let mut err = std::io::stderr().lock();
                let _ = err.write_all(text.as_bytes());
            }
            Err(RecvError::Lagged(n)) => {
                eprintln!("tracewire: {n} trees not shown (the terminal is too slow)");
            }
            // `Closed`: the collector stopped (and any error kind added later).
            Err(_) => break,
        }
    }
}

/// Waits for SIGINT or SIGTERM.
async fn wait_for_signal() {
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        // Without signal handlers, only Ctrl-C through tokio's default works.
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
}

/// Runs the command with the socket variables set, forwarding SIGINT/SIGTERM; returns the
/// exit code to use: the child's, 128 + signal if killed, 127/126 if it cannot start.
async fn run_child(command: &[OsString], ingest: &std::path::Path) -> u8 {
    let Some((program, rest)) = command.split_first() else {
        return exit::USAGE;
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(rest)
        .env(ENV_SOCKET, ingest)
        .env(ENV_GOTRACE_SOCKET, ingest);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            };
            eprintln!(
                "tracewire: cannot run {}: {e}; check the command name and its permissions",
                program.to_string_lossy()
            );
            return code;
        }
    };
    let pid = child
        .id()
        .and_then(|p| rustix::process::Pid::from_raw(p as i32));
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return status_code(child.wait().await);
    };
    loop {
        tokio::select! {
            status = child.wait() => return status_code(status),
            _ = int.recv() => forward(pid, rustix::process::Signal::INT),
            _ = term.recv() => forward(pid, rustix::process::Signal::TERM),
        }
    }
}

fn forward(pid: Option<rustix::process::Pid>, sig: rustix::process::Signal) {
    if let Some(pid) = pid {
        let _ = rustix::process::kill_process(pid, sig);
    }
}

fn status_code(status: std::io::Result<std::process::ExitStatus>) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Ok(s) => match (s.code(), s.signal()) {
            (Some(c), _) => u8::try_from(c & 0xff).unwrap_or(1),
            (None, Some(sig)) => u8::try_from(128 + sig).unwrap_or(255),
            (None, None) => 1,
        },
        Err(e) => {
            eprintln!("tracewire: waiting for the command failed: {e}");
            exit::IO
        }
    }
}

/// URL syntax check without another dependency: scheme `http`/`https` and a host.
mod http_uri_check {
    pub(crate) struct Uri;

    impl std::str::FromStr for Uri {
        type Err = ();
        fn from_str(s: &str) -> Result<Self, ()> {
            let rest = s
                .strip_prefix("http://")
                .or_else(|| s.strip_prefix("https://"))
                .ok_or(())?;
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            if host.is_empty() || host.contains(char::is_whitespace) {
                return Err(());
            }
            Ok(Uri)
        }
    }
}
