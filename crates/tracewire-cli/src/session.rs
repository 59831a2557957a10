//! `tracewire session` (being built: see the session issue).

use std::process::ExitCode;

/// Subcommands of `tracewire session`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum SessionCommand {
    /// Print each session of a recording as a span tree.
    Show {},
}

pub(crate) fn run(_command: SessionCommand) -> ExitCode {
    eprintln!("tracewire: 'session' is not available in this build yet");
    ExitCode::from(2)
}
