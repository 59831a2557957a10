//! `tracewire collect --forward` (no URL: the `OTEL_*` configuration decides) driven
//! through the shared table of environment cases (`tracewire_test_support::otel_env`):
//! the real binary runs as a child with the case's variables, two spans are ingested,
//! and the real local OTLP receiver shows what was forwarded. Also `session export`
//! under `OTEL_SDK_DISABLED` and a flag beating a variable.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use tracewire_test_support::otel_env::{base_url, EnvCase, CASES};
use tracewire_test_support::Receiver;

const LINES: &str = concat!(
    "{\"type\":0,\"span_id\":\"9f86d081884c7d65\",\"trace_id\":\"3a7bd3e2360a3d29\",\"name\":\"GET /hello\",\"kind\":1,\"time\":\"2025-06-01T10:00:00+09:00\"}\n",
    "{\"type\":0,\"span_id\":\"00f067aa0ba902b7\",\"trace_id\":\"3a7bd3e2360a3d29\",\"parent_id\":\"9f86d081884c7d65\",\"name\":\"Greet\",\"kind\":0,\"time\":\"2025-06-01T10:00:00.00002+09:00\"}\n",
    "{\"type\":1,\"span_id\":\"00f067aa0ba902b7\",\"trace_id\":\"3a7bd3e2360a3d29\",\"name\":\"\",\"kind\":0,\"time\":\"2025-06-01T10:00:00.00007+09:00\"}\n",
    "{\"type\":1,\"span_id\":\"9f86d081884c7d65\",\"trace_id\":\"3a7bd3e2360a3d29\",\"name\":\"\",\"kind\":0,\"time\":\"2025-06-01T10:00:00.0001+09:00\"}\n",
);

/// The binary with no `OTEL_*` variable of this process and these set.
fn tracewire(args: &[&str], vars: &[(String, String)]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tracewire"));
    c.args(args)
        .env_remove("TRACEWIRE_SOCKET")
        .env_remove("GOTRACE_SOCKET")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("OTEL_") {
            c.env_remove(k);
        }
    }
    for (k, v) in vars {
        c.env(k, v);
    }
    c
}

fn wait_output(mut child: Child) -> Output {
    for _ in 0..1500 {
        if let Ok(Some(_)) = child.try_wait() {
            return child.wait_with_output().expect("output");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let out = child.wait_with_output().expect("output");
    panic!(
        "tracewire did not finish within 30 s: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn wait_for(what: impl Fn() -> bool) -> bool {
    for _ in 0..500 {
        if what() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Configuration warnings among the CLI's stderr lines (`tracewire: warning: VAR="value": …`).
fn config_warnings(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("tracewire: warning: "))
        .filter(|w| {
            w.find('=')
                .is_some_and(|i| w[..i].starts_with("OTEL_") && w[i..].starts_with("=\""))
        })
        .map(str::to_owned)
        .collect()
}

/// Runs `collect --forward` for one case and returns its problems.
fn forward_case(case: &EnvCase, rx: &Receiver, dir: &Path) -> Vec<String> {
    let base = base_url(rx);
    let ingest = dir.join("in.sock");
    let journal = dir.join("j.jsonl");
    let child = tracewire(
        &[
            "collect",
            "--socket",
            ingest.to_str().unwrap_or_default(),
            "--no-view",
            "--journal",
            journal.to_str().unwrap_or_default(),
            "--grace",
            "20",
            "--quiet",
            "--forward",
        ],
        &case.vars_for(&base),
    )
    .spawn()
    .expect("start tracewire");
    if !wait_for(|| ingest.exists()) {
        return vec![format!("no ingest socket: {:?}", wait_output(child))];
    }
    let written = UnixStream::connect(&ingest).and_then(|mut s| s.write_all(LINES.as_bytes()));
    if let Err(e) = written {
        let mut child = child;
        let _ = child.kill();
        let _ = child.wait();
        return vec![format!("ingest: {e}")];
    }
    // Both spans completed (journaled, and so handed to the forwarder) before SIGTERM.
    let journaled =
        wait_for(|| std::fs::read_to_string(&journal).is_ok_and(|j| j.lines().count() == 2));
    if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    }
    let out = wait_output(child);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let mut problems = case.check(
        &base,
        &rx.requests(),
        &config_warnings(&stderr),
        "GET /hello",
    );
    if !journaled {
        problems.push("the spans never completed".to_owned());
    }
    if out.status.code() != Some(0) {
        problems.push(format!("exit {:?}", out.status.code()));
    }
    if !case.expect.exported && !stderr.contains("the forwarder is not started") {
        problems.push("no OTEL_SDK_DISABLED warning".to_owned());
    }
    if !problems.is_empty() {
        problems.push(format!("stderr: {stderr}"));
    }
    problems
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collect_forward_follows_the_env_table() {
    let mut failures = Vec::new();
    for case in CASES {
        let rx = Receiver::start().await;
        case.script(&rx);
        let dir = tempfile::tempdir().expect("tempdir");
        let problems = tokio::task::block_in_place(|| forward_case(case, &rx, dir.path()));
        if !problems.is_empty() {
            failures.push(format!("{}: {problems:#?}", case.name));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_url_flag_beats_the_endpoint_variables_with_a_warning() {
    let rx = Receiver::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let ingest = dir.path().join("in.sock");
    let vars = vec![(
        "OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(),
        "http://127.0.0.1:9".to_owned(),
    )];
    let url = format!("{}/flag/traces", base_url(&rx));
    let child = tracewire(
        &[
            "collect",
            "--socket",
            ingest.to_str().unwrap_or_default(),
            "--no-view",
            "--quiet",
            "--forward",
            &url,
        ],
        &vars,
    )
    .spawn()
    .expect("start tracewire");
    assert!(tokio::task::block_in_place(|| wait_for(|| ingest.exists())));
    if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    }
    let out = tokio::task::block_in_place(|| wait_output(child));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(
        config_warnings(&stderr),
        [format!("OTEL_EXPORTER_OTLP_ENDPOINT=\"http://127.0.0.1:9\": overridden by an explicit setting; using {url} (set explicitly)")]
    );
    assert!(
        stderr.contains(&format!("tracewire: forwarding to {url} (http/protobuf)")),
        "{stderr}"
    );
}

#[test]
fn session_export_with_sdk_disabled_sends_nothing_and_says_why() {
    let sample = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/data/session.jsonl");
    let out = tracewire(
        &[
            "session",
            "export",
            sample.to_str().unwrap_or_default(),
            "--endpoint",
            "http://127.0.0.1:9/v1/traces",
            "--no-progress",
        ],
        &[("OTEL_SDK_DISABLED".to_owned(), "true".to_owned())],
    )
    .output()
    .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout} {stderr}");
    assert!(stdout.contains("sent=0 "), "{stdout}");
    assert!(!stdout.contains("disabled=0"), "{stdout}");
    assert!(
        stderr.contains("OTEL_SDK_DISABLED is true: nothing exported"),
        "{stderr}"
    );
}
