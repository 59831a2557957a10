//! `tracewire stats`: p50/p90/p95/p99/max latency per span name and kind, from a journal or
//! a live view socket.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracewire_collector::{SortKey, SpanStats};

use crate::exit;
use crate::view::{connect, replay_journal, socket_or_discover, stream_spans};

/// Options of `tracewire stats`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "From a journal it reads to the end; from a view socket (discovered as \
for `tracewire view` when neither option is given) it reads the backlog and live spans until \
--for elapses, the session ends or Ctrl-C. Exit codes: 0 ok, 1 I/O failure, 3 no session, \
4 several sessions."
)]
pub(crate) struct StatsArgs {
    /// Read spans from a journal written by `tracewire collect --journal FILE`
    #[arg(long, value_name = "FILE", conflicts_with = "socket")]
    journal: Option<PathBuf>,
    /// View socket of a running session
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Stop reading a live session after SECS seconds
    #[arg(long = "for", value_name = "SECS")]
    for_secs: Option<f64>,
    /// Row order: total, count, p95, p99, max or name
    #[arg(long, value_name = "KEY", default_value = "total")]
    sort: SortKey,
    /// Print JSON (durations in ns) instead of the table
    #[arg(long)]
    json: bool,
}

fn print(stats: &SpanStats, args: &StatsArgs) {
    if args.json {
        println!("{}", stats.to_json(args.sort));
    } else {
        print!("{}", stats.render_table(args.sort));
    }
}

pub(crate) fn run(args: StatsArgs) -> ExitCode {
    // Negative, NaN, infinite and too-large values are all refused here (never a panic later).
    let Ok(read_for) = args.for_secs.map(Duration::try_from_secs_f64).transpose() else {
        eprintln!("tracewire: --for takes a number of seconds, e.g. --for 30");
        return ExitCode::from(exit::USAGE);
    };
    let mut stats = SpanStats::new();
    if let Some(journal) = &args.journal {
        if let Err(code) = replay_journal(journal, |span| stats.add(&span)) {
            return code;
        }
        print(&stats, &args);
        return ExitCode::SUCCESS;
    }
    let path = match socket_or_discover(args.socket.as_ref()) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let runtime = match exit::runtime(tokio::runtime::Builder::new_current_thread()) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let result = runtime.block_on(async {
        let client = connect(&path).await?;
        let cancel = CancellationToken::new();
        if let Some(read_for) = read_for {
            let c = cancel.clone();
            tokio::spawn(async move {
                tokio::time::sleep(read_for).await;
                c.cancel();
            });
        }
        stream_spans(client, cancel, |span| stats.add(&span)).await
    });
    if let Err(code) = result {
        return code;
    }
    print(&stats, &args);
    ExitCode::SUCCESS
}
