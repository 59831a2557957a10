//! `tracewire stats` (being built: see the collector issue).

use std::process::ExitCode;

/// Options of `tracewire stats`.
#[derive(Debug, clap::Args)]
pub(crate) struct StatsArgs {}

pub(crate) fn run(_args: StatsArgs) -> ExitCode {
    eprintln!("tracewire: 'stats' is not available in this build yet");
    ExitCode::from(2)
}
