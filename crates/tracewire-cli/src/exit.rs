//! Exit codes of the collector subcommands (`docs/cli.md#exit-codes`), and the one failure
//! they share before any work starts: the async runtime cannot be created.

use std::process::ExitCode;

/// Runtime I/O failure.
pub(crate) const IO: u8 = 1;
/// Usage error, bad option value, bad configuration.
pub(crate) const USAGE: u8 = 2;
/// No session found, or connection refused.
pub(crate) const NO_SESSION: u8 = 3;
/// Several sessions: pick one with `--socket`.
pub(crate) const SEVERAL: u8 = 4;
/// Cannot bind.
pub(crate) const BIND: u8 = 5;

/// Builds the async runtime, or reports why not and gives the I/O exit code.
pub(crate) fn runtime(
    mut builder: tokio::runtime::Builder,
) -> Result<tokio::runtime::Runtime, ExitCode> {
    builder.enable_all().build().map_err(|e| {
        eprintln!("tracewire: cannot start the async runtime: {e}");
        ExitCode::from(IO)
    })
}
