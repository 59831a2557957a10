//! `tracewire session export` (`docs/cli.md#tracewire-session-export`) against a real local
//! OTLP receiver: exit 0 when every span is sent, 1 when the receiver fails, 2 on an
//! invalid `--parent` before any request.

use std::path::PathBuf;
use std::process::Output;

use tracewire_test_support::{Receiver, Reply};

fn sample() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/data/session.jsonl")
}

async fn tracewire(args: Vec<String>) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_tracewire"))
        .args(args)
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_HEADERS")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_HEADERS")
        .env_remove("OTEL_EXPORTER_OTLP_PROTOCOL")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        .output()
        .await
        .expect("run tracewire")
}

fn field(stdout: &str, key: &str) -> Option<u64> {
    stdout
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.parse().ok())
}

fn args(rx: &Receiver, extra: &[&str]) -> Vec<String> {
    let mut v = vec![
        "session".to_owned(),
        "export".to_owned(),
        sample().display().to_string(),
        "--endpoint".to_owned(),
        rx.endpoint(),
        "--no-progress".to_owned(),
    ];
    v.extend(extra.iter().map(|s| (*s).to_owned()));
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_to_a_local_receiver_exits_0() {
    let rx = Receiver::start().await;
    let out = tracewire(args(&rx, &["--header", "x-team=core", "--gzip"])).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {stdout} stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sent = field(&stdout, "sent").expect("sent=");
    assert!(sent > 0);
    for key in [
        "dropped",
        "failed",
        "pending",
        "rejected",
        "malformed_lines",
    ] {
        assert_eq!(field(&stdout, key), Some(0), "{key} in {stdout}");
    }
    assert!(field(&stdout, "skipped_events").is_some());
    assert_eq!(rx.accepted_span_ids().len() as u64, sent);
    let r = &rx.requests()[0];
    assert_eq!(
        r.headers.get("x-team").map(|v| v.as_bytes()),
        Some(&b"core"[..])
    );
    assert_eq!(
        r.headers.get("content-encoding").map(|v| v.as_bytes()),
        Some(&b"gzip"[..])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_report_json_and_parent_placement() {
    let rx = Receiver::start().await;
    let out = tracewire(args(
        &rx,
        &[
            "--report-json",
            "--protocol",
            "http/json",
            "--parent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "--tracestate",
            "congo=t61rcWkgMzE",
        ],
    ))
    .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert!(report["sent"].as_u64().unwrap_or(0) > 0);
    assert_eq!(report["failed"].as_u64(), Some(0));
    let reqs = rx.requests();
    let scope_name = reqs[0]
        .request
        .as_ref()
        .and_then(|r| r.resource_spans[0].scope_spans[0].scope.as_ref())
        .map(|s| s.name.clone());
    assert_eq!(
        scope_name.as_deref(),
        Some("tracewire-session"),
        "the scope of converted sessions"
    );
    let span = reqs[0]
        .request
        .as_ref()
        .map(|r| r.resource_spans[0].scope_spans[0].spans[0].clone())
        .expect("a span");
    assert_eq!(
        hex(&span.trace_id),
        "0af7651916cd43dd8448eb211c80319c",
        "placed under --parent"
    );
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_receiver_exits_1_with_failed() {
    let rx = Receiver::start().await;
    rx.set_default(Reply::Status(500));
    let out = tracewire(args(&rx, &["--deadline", "10s"])).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(field(&stdout, "failed").unwrap_or(0) > 0, "{stdout}");
    assert_eq!(field(&stdout, "sent"), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_parent_exits_2_before_any_request() {
    let rx = Receiver::start().await;
    for bad in [
        vec![
            "--parent",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
        ],
        vec!["--parent", "not-a-traceparent"],
        vec![
            "--parent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "--tracestate",
            "=bad",
        ],
        vec!["--deadline", "soon"],
    ] {
        let out = tracewire(args(&rx, &bad)).await;
        assert_eq!(
            out.status.code(),
            Some(2),
            "{bad:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let missing = tracewire(vec![
        "session".into(),
        "export".into(),
        "/nonexistent/x.jsonl".into(),
        "--endpoint".into(),
        rx.endpoint(),
    ])
    .await;
    assert_eq!(missing.status.code(), Some(2));
    assert_eq!(rx.request_count(), 0, "no request was made");
}
