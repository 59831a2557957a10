//! `tracewire view` (being built: see the collector issue).

use std::process::ExitCode;

/// Options of `tracewire view`.
#[derive(Debug, clap::Args)]
pub(crate) struct ViewArgs {}

pub(crate) fn run(_args: ViewArgs) -> ExitCode {
    eprintln!("tracewire: 'view' is not available in this build yet");
    ExitCode::from(2)
}
