//! Discovery of view sessions (`docs/cli.md#tracewire-view`). 0 / 1 / 2 live sessions →
//! exit 3 / connect / exit 4 with a list; a busy socket is never removed; stale sockets are
//! removed only when they are ours.

use std::io::Write;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};

/// A private runtime dir (XDG_RUNTIME_DIR/tracewire) and TMPDIR for one test.
struct Env {
    _xdg: tempfile::TempDir,
    _tmp: tempfile::TempDir,
    xdg: PathBuf,
    runtime: PathBuf,
    tmp: PathBuf,
}

impl Env {
    fn new() -> Self {
        let xdg = tempfile::tempdir().unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let runtime = xdg.path().join("tracewire");
        std::fs::create_dir(&runtime).unwrap();
        std::fs::set_permissions(
            &runtime,
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        Self {
            xdg: xdg.path().to_path_buf(),
            runtime,
            tmp: tmp.path().to_path_buf(),
            _xdg: xdg,
            _tmp: tmp,
        }
    }

    fn tracewire(&self, args: &[&str]) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tracewire"))
            .args(args)
            .env("XDG_RUNTIME_DIR", &self.xdg)
            .env("TMPDIR", &self.tmp)
            .env_remove("TRACEWIRE_SOCKET")
            .env_remove("GOTRACE_SOCKET")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Bounded: every case here ends by itself within seconds.
        for _ in 0..300 {
            if child.try_wait().unwrap().is_some() {
                return child.wait_with_output().unwrap();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child.kill().ok();
        panic!("tracewire {args:?} did not finish");
    }
}

const LINE: &str = "{\"id\":\"00000000000000a1\",\"trace_id\":\"00000000000000b1\",\"name\":\"GET /hello\",\"kind\":1,\"start_time\":\"2025-06-01T10:00:00Z\",\"end_time\":\"2025-06-01T10:00:00.0001Z\",\"seq\":1,\"duration_ns\":100000,\"kind_name\":\"http\"}\n";

/// A view server that sends one span line to each viewer and closes.
fn serve_one_line(path: &Path) -> std::thread::JoinHandle<()> {
    let listener = UnixListener::bind(path).unwrap();
    std::thread::spawn(move || {
        // Probes connect and close at once; serve until a viewer reads the line.
        for _ in 0..10 {
            let Ok((mut s, _)) = listener.accept() else {
                return;
            };
            if s.write_all(LINE.as_bytes()).is_ok() {
                // Keep serving a few connections (probes) then stop.
                continue;
            }
        }
    })
}

/// A listening socket whose backlog is full: connects get EAGAIN (busy).
fn busy_socket(path: &Path) -> (rustix::fd::OwnedFd, Vec<rustix::fd::OwnedFd>) {
    let fd = rustix::net::socket(AddressFamily::UNIX, SocketType::STREAM, None).unwrap();
    let addr = SocketAddrUnix::new(path).unwrap();
    rustix::net::bind(&fd, &addr).unwrap();
    rustix::net::listen(&fd, 0).unwrap();
    let mut clients = Vec::new();
    for _ in 0..64 {
        let c = rustix::net::socket_with(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::NONBLOCK,
            None,
        )
        .unwrap();
        match rustix::net::connect(&c, &addr) {
            Ok(()) => clients.push(c),
            Err(_) => break,
        }
    }
    (fd, clients)
}

#[test]
fn no_live_session_exits_3_with_advice_and_removes_only_our_stale_sockets() {
    let env = Env::new();
    let ours = env.runtime.join("view-111.sock");
    let theirs = env.tmp.join("go-trace-view-222.sock");
    drop(UnixListener::bind(&ours).unwrap());
    drop(UnixListener::bind(&theirs).unwrap());
    let out = env.tracewire(&["view"]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("tracewire: no running session in")
            && err.contains("start one with: tracewire collect"),
        "{err}"
    );
    assert!(!ours.exists(), "our stale socket is removed");
    assert!(theirs.exists(), "go-trace's stale socket is left alone");
    let out = env.tracewire(&["stats"]);
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn one_live_session_is_connected() {
    let env = Env::new();
    let server = serve_one_line(&env.runtime.join("view-333.sock"));
    let out = env.tracewire(&["view", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), LINE);
    let out = env.tracewire(&["view", "--no-color"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "GET /hello [http] 100µs\n\n"
    );
    drop(server);
}

#[test]
fn a_go_trace_session_is_discovered_too() {
    let env = Env::new();
    let _server = serve_one_line(&env.tmp.join("go-trace-view-444.sock"));
    let out = env.tracewire(&["view", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), LINE);
}

#[test]
fn two_live_sessions_exit_4_with_a_list() {
    let env = Env::new();
    let _a = serve_one_line(&env.runtime.join("view-555.sock"));
    let _b = serve_one_line(&env.tmp.join("go-trace-view-666.sock"));
    let out = env.tracewire(&["view"]);
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("tracewire: 2 sessions are running; pick one with --socket:"),
        "{err}"
    );
    assert!(err.contains("view-555.sock  pid 555  tracewire"), "{err}");
    assert!(
        err.contains("go-trace-view-666.sock  pid 666  go-trace"),
        "{err}"
    );
}

#[test]
fn a_busy_socket_is_never_removed() {
    let env = Env::new();
    let path = env.runtime.join("view-777.sock");
    let (_listener, _clients) = busy_socket(&path);
    let out = env.tracewire(&["view"]);
    assert_eq!(out.status.code(), Some(3), "busy is not live");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is busy"), "{err}");
    assert!(path.exists(), "a busy socket is kept");
}

#[test]
fn explicit_socket_with_nothing_listening_exits_3() {
    let env = Env::new();
    let out = env.tracewire(&[
        "view",
        "--socket",
        env.tmp.join("none.sock").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("tracewire: "));
}

#[test]
fn stats_for_stops_reading_a_live_session_and_bad_values_exit_2() {
    let env = Env::new();
    let path = env.tmp.join("live.sock");
    let listener = UnixListener::bind(&path).unwrap();
    // One span, then the connection stays open: only --for can end the read.
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(LINE.as_bytes()).unwrap();
        let _ = std::io::Read::read(&mut s, &mut [0u8; 1]);
    });
    let out = env.tracewire(&["stats", "--socket", path.to_str().unwrap(), "--for", "0.3"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("GET /hello") && table.contains("100µs"),
        "{table}"
    );
    server.join().unwrap();

    for bad in ["-1", "NaN", "inf", "1e30"] {
        let for_arg = format!("--for={bad}");
        let out = env.tracewire(&["stats", "--socket", path.to_str().unwrap(), &for_arg]);
        assert_eq!(out.status.code(), Some(2), "--for {bad}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--for takes a number of seconds"),
            "--for {bad}"
        );
    }
}
