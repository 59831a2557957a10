//! `tracewire collect` (being built: see the collector issue).

use std::process::ExitCode;

/// Options of `tracewire collect`.
#[derive(Debug, clap::Args)]
pub(crate) struct CollectArgs {}

pub(crate) fn run(_args: CollectArgs) -> ExitCode {
    eprintln!("tracewire: 'collect' is not available in this build yet");
    ExitCode::from(2)
}
