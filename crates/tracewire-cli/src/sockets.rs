//! Where the command's view sockets live, and where go-trace's are found: the socket
//! paths only `tracewire collect`, `view` and `stats` use. The ingest socket an app
//! connects to, the runtime directory and binding with socket hygiene are
//! `tracewire_collector::paths`.

use std::path::{Path, PathBuf};

use tracewire_collector::paths;
use tracewire_collector::BindError;

/// Prefix of the view sockets `tracewire collect` binds in the runtime directory.
pub(crate) const VIEW_PREFIX: &str = "view-";
/// Prefix of go-trace's view sockets in `${TMPDIR:-/tmp}`.
pub(crate) const GO_TRACE_VIEW_PREFIX: &str = "go-trace-view-";

/// `${TMPDIR:-/tmp}` (an empty `TMPDIR` counts as unset), where go-trace puts its view
/// sockets.
pub(crate) fn tmp_dir() -> PathBuf {
    std::env::var_os("TMPDIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp"))
}

/// The view socket of process `pid` in `dir`: `<dir>/<prefix><pid>.sock`.
fn view_path_in(dir: &Path, prefix: &str, pid: u32) -> PathBuf {
    dir.join(format!("{prefix}{pid}.sock"))
}

/// The default view socket of this process, `<runtime dir>/view-<pid>.sock` (creates and
/// checks the runtime directory).
pub(crate) fn default_view_path() -> Result<PathBuf, BindError> {
    Ok(view_path_in(
        &paths::runtime_dir()?,
        VIEW_PREFIX,
        std::process::id(),
    ))
}

/// go-trace's discoverable view path for this process,
/// `${TMPDIR:-/tmp}/go-trace-view-<pid>.sock`.
pub(crate) fn go_trace_view_path() -> PathBuf {
    view_path_in(&tmp_dir(), GO_TRACE_VIEW_PREFIX, std::process::id())
}

/// The pid in a view socket's file name (`<prefix><pid>.sock`), if it has one.
pub(crate) fn pid_from(name: &str, prefix: &str) -> Option<u32> {
    name.strip_prefix(prefix)?
        .strip_suffix(".sock")?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view_paths_name_the_pid_and_parse_back() {
        let p = view_path_in(Path::new("/run/user/1/tracewire"), VIEW_PREFIX, 42);
        assert_eq!(p, Path::new("/run/user/1/tracewire/view-42.sock"));
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        assert_eq!(pid_from(name, VIEW_PREFIX), Some(42));
        assert_eq!(pid_from("view-x.sock", VIEW_PREFIX), None);
        assert_eq!(pid_from("view-42.sock", GO_TRACE_VIEW_PREFIX), None);
    }

    #[test]
    fn go_trace_view_path_is_in_the_tmp_dir_under_this_pid() {
        let p = go_trace_view_path();
        assert_eq!(p.parent(), Some(tmp_dir().as_path()));
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        assert_eq!(
            pid_from(name, GO_TRACE_VIEW_PREFIX),
            Some(std::process::id())
        );
    }
}
