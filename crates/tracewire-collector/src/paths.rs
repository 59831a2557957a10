//! Socket paths and socket-file hygiene.
//!
//! Everything here is synchronous std + `rustix`, so the emitter (no async runtime) and the
//! server share it:
//! - [`runtime_dir`]: the private 0700 directory holding the default sockets, checked by
//!   `lstat` (a real directory, owned by us, no group/other bits);
//! - [`resolve_socket_path`]: argument > `TRACEWIRE_SOCKET` > `GOTRACE_SOCKET` > default;
//! - [`check_path_len`]: the `sun_path` limit, checked before touching the filesystem;
//! - [`probe_socket`]: live / busy / stale / missing / not a socket, without blocking;
//! - [`bind_socket`]: no clobbering, stale sockets replaced, 0600 right after bind, and a
//!   [`SocketFileGuard`] that removes the file only if its (dev, inode) is still ours.

use std::ffi::OsString;
use std::fs::{DirBuilder, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use rustix::fs::FileType;
use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};

/// Env var naming the ingest socket (ours; checked first).
pub const ENV_SOCKET: &str = "TRACEWIRE_SOCKET";
/// Env var naming the ingest socket for go-trace compatibility (checked second).
pub const ENV_GOTRACE_SOCKET: &str = "GOTRACE_SOCKET";
/// File name of the default ingest socket inside the runtime directory.
pub const DEFAULT_INGEST_NAME: &str = "ingest.sock";

/// Usable bytes of `sun_path` (the struct field minus its NUL terminator): 107 on Linux and
/// Android, 103 on macOS and the BSDs.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub const MAX_SOCKET_PATH_BYTES: usize = 107;
/// Usable bytes of `sun_path` (the struct field minus its NUL terminator): 107 on Linux and
/// Android, 103 on macOS and the BSDs.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub const MAX_SOCKET_PATH_BYTES: usize = 103;

/// Why a socket (or its runtime directory) could not be bound; each variant tells the user
/// what to change.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BindError {
    /// The path does not fit in `sun_path`; nothing was touched on disk.
    #[error("socket path is {len} bytes, the limit here is {max}: {}; use a shorter --socket or TRACEWIRE_SOCKET", path.display())]
    PathTooLong {
        /// The rejected path.
        path: PathBuf,
        /// Its length in bytes.
        len: usize,
        /// The usable limit on this platform.
        max: usize,
    },
    /// A live (or busy) server already listens there; it is never removed.
    #[error("{} is in use by a running collector; pass --socket PATH", .0.display())]
    InUse(PathBuf),
    /// Something other than a socket exists at the path; it is never removed.
    #[error("{} exists and is not a socket; remove it or pass --socket PATH", .0.display())]
    NotASocket(PathBuf),
    /// The runtime directory is not private to us (symlink, other owner, group/other bits).
    #[error("runtime directory {} is not safe: {reason}; fix or remove it, or pass --socket PATH", path.display())]
    InsecureDir {
        /// The directory.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The OTLP/HTTP receiver's address is taken.
    #[error("{0} is already in use; pass another --otlp-http ADDR")]
    AddrInUse(std::net::SocketAddr),
    /// The forwarding configuration cannot be used (an invalid URL set in code, or a
    /// protocol the forwarder does not speak).
    #[error("cannot forward: {0}")]
    Forward(String),
    /// The forward URL points at our own OTLP receiver, which would loop every span.
    #[error("--forward {url} points at this collector's own OTLP receiver on {receiver}; forward to another collector")]
    ForwardLoop {
        /// The refused URL.
        url: String,
        /// The receiver's address.
        receiver: std::net::SocketAddr,
    },
    /// An I/O error on the given path.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path the operation was about.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

fn io_err(path: &Path, source: impl Into<io::Error>) -> BindError {
    BindError::Io {
        path: path.to_path_buf(),
        source: source.into(),
    }
}

/// Reads an environment variable, treating an empty value as unset.
fn env_nonempty(name: &str) -> Option<OsString> {
    std::env::var_os(name).filter(|v| !v.is_empty())
}

/// Where the runtime directory would be, from explicit `XDG_RUNTIME_DIR` and `TMPDIR`
/// values (pure, for tests): `$XDG_RUNTIME_DIR/tracewire` if that is an absolute existing
/// directory, else `${TMPDIR:-/tmp}/tracewire-<uid>`.
pub(crate) fn runtime_dir_path_from(
    xdg_runtime_dir: Option<OsString>,
    tmpdir: Option<OsString>,
) -> PathBuf {
    if let Some(xdg) = xdg_runtime_dir.filter(|v| !v.is_empty()) {
        let xdg = PathBuf::from(xdg);
        if xdg.is_absolute() && xdg.is_dir() {
            return xdg.join("tracewire");
        }
    }
    let tmp = tmpdir
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    tmp.join(format!("tracewire-{}", rustix::process::getuid().as_raw()))
}

/// The runtime directory path from the process environment, without creating it.
pub fn runtime_dir_path() -> PathBuf {
    runtime_dir_path_from(env_nonempty("XDG_RUNTIME_DIR"), env_nonempty("TMPDIR"))
}

/// Returns the runtime directory, creating it 0700 if absent and checking an existing one.
pub fn runtime_dir() -> Result<PathBuf, BindError> {
    let dir = runtime_dir_path();
    ensure_private_dir(&dir)?;
    Ok(dir)
}

/// Creates `dir` with mode 0700 if it does not exist, then checks by `lstat` that it is a
/// real directory (not a symlink), owned by our uid, with no group or other permission bits.
pub fn ensure_private_dir(dir: &Path) -> Result<(), BindError> {
    match DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io_err(dir, e)),
    }
    check_private_dir(dir)
}

/// Checks (by `lstat`, never following a symlink) that `dir` is private to this uid.
pub fn check_private_dir(dir: &Path) -> Result<(), BindError> {
    let st = rustix::fs::lstat(dir).map_err(|e| io_err(dir, e))?;
    let insecure = |reason: String| BindError::InsecureDir {
        path: dir.to_path_buf(),
        reason,
    };
    match FileType::from_raw_mode(st.st_mode) {
        FileType::Directory => {}
        FileType::Symlink => return Err(insecure("it is a symbolic link".into())),
        _ => return Err(insecure("it is not a directory".into())),
    }
    let uid = rustix::process::getuid().as_raw();
    if st.st_uid != uid {
        return Err(insecure(format!("owned by uid {}, not {uid}", st.st_uid)));
    }
    let mode = st.st_mode & 0o777;
    if mode & 0o077 != 0 {
        return Err(insecure(format!("mode is {mode:04o}, expected 0700")));
    }
    Ok(())
}

/// The default ingest socket, `<runtime dir>/ingest.sock` (creates the runtime dir).
pub fn default_ingest_path() -> Result<PathBuf, BindError> {
    Ok(runtime_dir()?.join(DEFAULT_INGEST_NAME))
}

/// The explicitly configured ingest path: `explicit`, else `TRACEWIRE_SOCKET`, else
/// `GOTRACE_SOCKET` (empty values count as unset); `None` when none is set. The
/// `lookup` function reads a variable, so tests need not mutate the process environment.
pub(crate) fn configured_socket_path_with(
    explicit: Option<&Path>,
    lookup: impl Fn(&str) -> Option<OsString>,
) -> Option<PathBuf> {
    if let Some(p) = explicit.filter(|p| !p.as_os_str().is_empty()) {
        return Some(p.to_path_buf());
    }
    [ENV_SOCKET, ENV_GOTRACE_SOCKET]
        .iter()
        .find_map(|name| lookup(name).filter(|v| !v.is_empty()))
        .map(PathBuf::from)
}

/// The explicitly configured ingest path: `explicit`, else `TRACEWIRE_SOCKET`, else
/// `GOTRACE_SOCKET` from the process environment (empty values count as unset). This is
/// the emitter's resolution: no default, so `None` means "disabled".
pub fn configured_socket_path(explicit: Option<&Path>) -> Option<PathBuf> {
    configured_socket_path_with(explicit, |name| std::env::var_os(name))
}

/// The ingest path of a collector: argument > `TRACEWIRE_SOCKET` > `GOTRACE_SOCKET` >
/// `<runtime dir>/ingest.sock` (the runtime dir is created only in the last case).
pub fn resolve_socket_path(explicit: Option<&Path>) -> Result<PathBuf, BindError> {
    match configured_socket_path(explicit) {
        Some(p) => Ok(p),
        None => default_ingest_path(),
    }
}

/// Checks that `path` fits in `sun_path`, before any filesystem change.
pub fn check_path_len(path: &Path) -> Result<(), BindError> {
    let len = path.as_os_str().len();
    if len > MAX_SOCKET_PATH_BYTES {
        return Err(BindError::PathTooLong {
            path: path.to_path_buf(),
            len,
            max: MAX_SOCKET_PATH_BYTES,
        });
    }
    Ok(())
}

/// What is found at a socket path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SocketProbe {
    /// Nothing exists there.
    Missing,
    /// A server accepted the connection.
    Live,
    /// A server exists but its backlog is full (`EAGAIN`) or the connect did not finish.
    Busy,
    /// A socket file with no server behind it (`ECONNREFUSED`).
    Stale,
    /// Something other than a socket.
    NotASocket,
}

/// Probes `path` with a non-blocking `connect` (never hangs on a busy server).
pub fn probe_socket(path: &Path) -> io::Result<SocketProbe> {
    match rustix::fs::lstat(path) {
        Ok(st) => {
            if FileType::from_raw_mode(st.st_mode) != FileType::Socket {
                return Ok(SocketProbe::NotASocket);
            }
        }
        Err(Errno::NOENT) => return Ok(SocketProbe::Missing),
        Err(e) => return Err(e.into()),
    }
    let addr = SocketAddrUnix::new(path)?;
    let fd = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
        None,
    )?;
    match rustix::net::connect(&fd, &addr) {
        Ok(()) => Ok(SocketProbe::Live),
        Err(Errno::AGAIN) | Err(Errno::INPROGRESS) | Err(Errno::TIMEDOUT) => Ok(SocketProbe::Busy),
        Err(Errno::CONNREFUSED) => Ok(SocketProbe::Stale),
        Err(Errno::NOENT) => Ok(SocketProbe::Missing),
        Err(e) => Err(e.into()),
    }
}

/// (dev, inode) of a stat result, widened to u64 on every platform.
#[allow(clippy::unnecessary_cast)]
fn dev_ino(st: &rustix::fs::Stat) -> (u64, u64) {
    (st.st_dev as u64, st.st_ino as u64)
}

/// The identity of a socket file this process bound; removes it on [`remove`](Self::remove)
/// or drop only if the file at the path still has the same (dev, inode), so a successor's
/// socket survives.
#[derive(Debug)]
pub struct SocketFileGuard {
    path: PathBuf,
    dev: u64,
    ino: u64,
    removed: bool,
}

impl SocketFileGuard {
    /// Records the (dev, inode) currently at `path`.
    pub fn for_path(path: &Path) -> io::Result<Self> {
        let st = rustix::fs::lstat(path)?;
        Ok(Self {
            path: path.to_path_buf(),
            dev: dev_ino(&st).0,
            ino: dev_ino(&st).1,
            removed: false,
        })
    }

    /// The guarded path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the file if it is still ours; returns whether it was removed.
    pub fn remove(&mut self) -> bool {
        if self.removed {
            return false;
        }
        self.removed = true;
        match rustix::fs::lstat(&self.path) {
            Ok(st) if dev_ino(&st) == (self.dev, self.ino) => {
                std::fs::remove_file(&self.path).is_ok()
            }
            _ => false,
        }
    }
}

impl Drop for SocketFileGuard {
    fn drop(&mut self) {
        self.remove();
    }
}

/// Binds a listening Unix socket at `path` in this order: length check first; an
/// existing non-socket → `NotASocket`; a live or busy socket → `InUse`; a stale one is
/// removed; the new file is set to 0600 right after bind. The parent directory must exist.
pub fn bind_socket(path: &Path) -> Result<(UnixListener, SocketFileGuard), BindError> {
    check_path_len(path)?;
    match probe_socket(path).map_err(|e| io_err(path, e))? {
        SocketProbe::Missing => {}
        SocketProbe::NotASocket => return Err(BindError::NotASocket(path.to_path_buf())),
        SocketProbe::Live | SocketProbe::Busy => return Err(BindError::InUse(path.to_path_buf())),
        SocketProbe::Stale => match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(path, e)),
        },
    }
    let listener = match UnixListener::bind(path) {
        Ok(l) => l,
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
            return Err(BindError::InUse(path.to_path_buf()))
        }
        Err(e) => return Err(io_err(path, e)),
    };
    let guard = SocketFileGuard::for_path(path).map_err(|e| io_err(path, e))?;
    std::fs::set_permissions(path, Permissions::from_mode(0o600)).map_err(|e| io_err(path, e))?;
    Ok((listener, guard))
}

/// Prepares the parent of a default-located socket: when `path` lies in the runtime
/// directory, that directory is created and checked; other parents are left alone.
pub fn prepare_parent(path: &Path) -> Result<(), BindError> {
    check_path_len(path)?;
    if path.parent() == Some(runtime_dir_path().as_path()) {
        runtime_dir()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_too_long_message_is_exact() {
        let p = PathBuf::from(format!("/{}", "a".repeat(130)));
        let err = check_path_len(&p).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "socket path is 131 bytes, the limit here is {MAX_SOCKET_PATH_BYTES}: {}; use a shorter --socket or TRACEWIRE_SOCKET",
                p.display()
            )
        );
    }

    #[test]
    fn runtime_dir_falls_back_to_tmpdir_for_relative_xdg() {
        let p = runtime_dir_path_from(Some("relative".into()), Some("/var/tmpx".into()));
        assert!(p.starts_with("/var/tmpx"));
        assert!(p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("tracewire-")));
    }
}
