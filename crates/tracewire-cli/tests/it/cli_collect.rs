//! `tracewire collect` end to end (`docs/cli.md#tracewire-collect`,
//! `docs/cli.md#exit-codes`): socket lines, trees on stderr, journal, graceful SIGTERM, `--
//! CMD` with the socket variables, exit codes and bind errors.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

fn tracewire(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tracewire"));
    c.args(args)
        .env_remove("TRACEWIRE_SOCKET")
        .env_remove("GOTRACE_SOCKET")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn wait_output(mut child: Child) -> Output {
    for _ in 0..1000 {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().ok();
    panic!("tracewire did not finish");
}

fn wait_exists(p: &Path) {
    for _ in 0..500 {
        if p.exists() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{} never appeared", p.display());
}

const LINES: &str = concat!(
    "{\"type\":0,\"span_id\":\"9f86d081884c7d65\",\"trace_id\":\"3a7bd3e2360a3d29\",\"name\":\"GET /hello\",\"kind\":1,\"time\":\"2025-06-01T10:00:00+09:00\"}\n",
    "{\"type\":0,\"span_id\":\"00f067aa0ba902b7\",\"trace_id\":\"3a7bd3e2360a3d29\",\"parent_id\":\"9f86d081884c7d65\",\"name\":\"Greet\",\"kind\":0,\"time\":\"2025-06-01T10:00:00.00002+09:00\"}\n",
    "{\"type\":1,\"span_id\":\"00f067aa0ba902b7\",\"trace_id\":\"3a7bd3e2360a3d29\",\"name\":\"\",\"kind\":0,\"time\":\"2025-06-01T10:00:00.00007+09:00\"}\n",
    "{\"type\":1,\"span_id\":\"9f86d081884c7d65\",\"trace_id\":\"3a7bd3e2360a3d29\",\"name\":\"\",\"kind\":0,\"time\":\"2025-06-01T10:00:00.0001+09:00\"}\n",
);

#[test]
fn collect_prints_sockets_and_trees_journals_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let ingest = dir.path().join("in.sock");
    let view = dir.path().join("view.sock");
    let journal = dir.path().join("j.jsonl");
    let child = tracewire(&[
        "collect",
        "--socket",
        ingest.to_str().unwrap(),
        "--view-socket",
        view.to_str().unwrap(),
        "--journal",
        journal.to_str().unwrap(),
        "--grace",
        "20",
    ])
    .spawn()
    .unwrap();
    wait_exists(&ingest);
    let mut s = UnixStream::connect(&ingest).unwrap();
    s.write_all(LINES.as_bytes()).unwrap();
    drop(s);
    // Wait until the journal has both spans, then stop gracefully.
    for _ in 0..500 {
        if std::fs::read_to_string(&journal)
            .map(|j| j.lines().count())
            .unwrap_or(0)
            == 2
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let out = wait_output(child);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains(&format!("tracewire: ingest {}", ingest.display())),
        "{err}"
    );
    assert!(
        err.contains(&format!("tracewire: view {}", view.display())),
        "{err}"
    );
    assert!(
        err.contains("GET /hello [http] 100µs\n└── Greet [function] 50µs\n"),
        "{err}"
    );
    assert!(err.contains("tracewire: 2 spans in 1 traces"), "{err}");
    assert!(!ingest.exists() && !view.exists(), "sockets removed");

    // The journal replays through view and stats.
    let out = tracewire(&["view", "--journal", journal.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "GET /hello [http] 100µs\n└── Greet [function] 50µs\n\n"
    );
    let out = tracewire(&["stats", "--journal", journal.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v.to_string().contains("GET /hello"), "{v}");
}

#[test]
fn collect_runs_a_command_with_the_socket_env_and_returns_its_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let ingest = dir.path().join("in.sock");
    let env_file = dir.path().join("env.txt");
    let script = format!(
        "echo \"$TRACEWIRE_SOCKET $GOTRACE_SOCKET\" > {}; exit 7",
        env_file.display()
    );
    let child = tracewire(&[
        "collect",
        "--no-view",
        "--socket",
        ingest.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        &script,
    ])
    .spawn()
    .unwrap();
    let out = wait_output(child);
    assert_eq!(
        out.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let env = std::fs::read_to_string(&env_file).unwrap();
    assert_eq!(env.trim(), format!("{0} {0}", ingest.display()));
    assert!(!ingest.exists());
}

#[test]
fn collect_reports_128_plus_signal_and_127_for_a_missing_command() {
    let dir = tempfile::tempdir().unwrap();
    let ingest = dir.path().join("in.sock");
    let out = wait_output(
        tracewire(&[
            "collect",
            "--no-view",
            "--socket",
            ingest.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            "kill -TERM $$",
        ])
        .spawn()
        .unwrap(),
    );
    assert_eq!(out.status.code(), Some(128 + 15));
    let out = wait_output(
        tracewire(&[
            "collect",
            "--no-view",
            "--socket",
            ingest.to_str().unwrap(),
            "--",
            "/nonexistent/cmd",
        ])
        .spawn()
        .unwrap(),
    );
    assert_eq!(out.status.code(), Some(127));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tracewire: cannot run /nonexistent/cmd"));
}

#[test]
fn collect_exit_5_for_a_socket_in_use_or_too_long_and_2_for_bad_options() {
    let dir = tempfile::tempdir().unwrap();
    let ingest = dir.path().join("in.sock");
    let _live = std::os::unix::net::UnixListener::bind(&ingest).unwrap();
    let out = tracewire(&["collect", "--no-view", "--socket", ingest.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        format!(
            "tracewire: {} is in use by a running collector; pass --socket PATH",
            ingest.display()
        )
    );
    let long = format!("/tmp/{}", "x".repeat(200));
    let out = tracewire(&["collect", "--no-view", "--socket", &long])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("use a shorter --socket or TRACEWIRE_SOCKET")
    );
    let out = tracewire(&["collect", "--grace", "soon"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = tracewire(&[
        "collect",
        "--no-view",
        "--socket",
        dir.path().join("b.sock").to_str().unwrap(),
        "--viewer-queue",
        "0",
    ])
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn journal_replay_skips_and_counts_bad_lines_and_a_missing_journal_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.jsonl");
    let good = r#"{"id":"00f067aa0ba902b7","trace_id":"3a7bd3e2360a3d29","name":"GET /a","kind":1,"start_time":"2025-06-01T10:00:00Z","end_time":"2025-06-01T10:00:00.0001Z"}"#;
    std::fs::write(&journal, format!("{good}\nnot json\n\n")).unwrap();
    for command in ["view", "stats"] {
        let out = tracewire(&[command, "--journal", journal.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{command}: {err}");
        assert!(err.contains("skipped 1 bad lines"), "{command}: {err}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("GET /a"),
            "{command}"
        );

        let missing = dir.path().join("missing.jsonl");
        let out = tracewire(&[command, "--journal", missing.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{command}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("cannot open"),
            "{command}"
        );
    }
}
