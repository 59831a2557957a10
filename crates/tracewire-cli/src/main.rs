//! `tracewire`: run a local span collector, view and summarise its traces, and export
//! recorded agent sessions over OTLP.
//!
//! Each subcommand lives in its own module and returns the process exit code.

#[cfg(not(unix))]
compile_error!(
    "the tracewire command runs on Unix only (Linux, macOS, the BSDs): its collector and viewers talk over Unix-domain sockets"
);

mod collect;
mod exit;
mod session;
mod session_export;
mod sockets;
mod stats;
mod view;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Distributed tracing across WebSockets, queues, agent sessions and a local collector.
#[derive(Debug, Parser)]
#[command(name = "tracewire", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a local span collector (go-trace compatible) and print trees as they complete.
    Collect(collect::CollectArgs),
    /// Show the traces of a running collector or a journal.
    View(view::ViewArgs),
    /// Print p50/p90/p95/p99 latency statistics per span name and kind.
    Stats(stats::StatsArgs),
    /// Inspect and export recorded agent sessions (PromptKit recordings).
    #[command(subcommand)]
    Session(session::SessionCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Collect(args) => collect::run(args),
        Command::View(args) => view::run(args),
        Command::Stats(args) => stats::run(args),
        Command::Session(command) => session::run(command),
    }
}
