//! `tracewire session show` (`docs/cli.md#tracewire-session-show`) against its snapshots.
//!
//! Regenerate after an intended change with
//! `TRACEWIRE_BLESS=1 cargo test -p tracewire-cli --test it cli_show`.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn sample() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/data/session.jsonl")
}

fn tracewire(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tracewire"))
        .args(args)
        .env_remove("OTEL_SERVICE_NAME")
        .env_remove("OTEL_RESOURCE_ATTRIBUTES")
        .output()
        .expect("run tracewire")
}

fn check_snapshot(name: &str, stdout: &[u8]) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if std::env::var_os("TRACEWIRE_BLESS").is_some() {
        std::fs::write(&path, stdout).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap();
    let got = String::from_utf8_lossy(stdout);
    assert!(got == want, "{name} differs from its snapshot:\n{got}");
}

#[test]
fn show_matches_snapshot() {
    let sample = sample();
    let out = tracewire(&["session", "show", sample.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    check_snapshot("session_show.txt", &out.stdout);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("session 49ad8e3403be92fe "));
    assert!(text
        .lines()
        .next()
        .unwrap()
        .ends_with("[trace 34655f39a6569d58e19260b5672371db]"));
    assert!(text.contains("incomplete spans: 1\n"));
}

#[test]
fn show_attrs_genai_matches_snapshot() {
    let sample = sample();
    let out = tracewire(&[
        "session",
        "show",
        sample.to_str().unwrap(),
        "--attrs",
        "--naming",
        "genai",
    ]);
    assert!(out.status.success());
    check_snapshot("session_show_attrs_genai.txt", &out.stdout);
    let text = String::from_utf8_lossy(&out.stdout);
    // Capture is off by default: the secret in the recording never shows.
    assert!(!text.contains("sk-demo-secret"));
    assert!(!text.contains("gen_ai.tool.call.arguments"));
}

#[test]
fn show_capture_content_shows_arguments() {
    let sample = sample();
    let out = tracewire(&[
        "session",
        "show",
        sample.to_str().unwrap(),
        "--attrs",
        "--capture-content",
    ]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(r#"tool.args={"city":"Paris","units":"\u003cmetric\u003e"}"#));
}

#[test]
fn show_reads_stdin_and_assigns_empty_sessions_to_flag() {
    let line = r#"{"seq":1,"event":{"type":"pipeline.started","timestamp":"2026-02-22T10:15:30Z","run_id":"run-1","data":{}}}"#;
    let mut child = Command::new(env!("CARGO_BIN_EXE_tracewire"))
        .args(["session", "show", "-", "--session", "session-1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{line}\nnot json\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("session cfd20cf7856c9b80 "), "{text}");
    assert!(text.contains("[trace 84097828fc31a8c8d29210df48901a85]"));
    assert!(text.contains("  pipeline ed3135c5d478bd0d 0.000 ERROR \"incomplete\""));
    assert!(text.contains("malformed lines: 1 (line 2: not JSON"));
}

#[test]
fn show_strict_malformed_and_unreadable_input_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"v\":1,\"type\":\"x\"}\nnot json\n").unwrap();
    let out = tracewire(&["session", "show", bad.to_str().unwrap(), "--strict"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2"));
    let out = tracewire(&["session", "show", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let missing = dir.path().join("missing.jsonl");
    let out = tracewire(&["session", "show", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let sample = sample();
    let out = tracewire(&[
        "session",
        "show",
        sample.to_str().unwrap(),
        "--session",
        "nope",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let out = tracewire(&[
        "session",
        "show",
        sample.to_str().unwrap(),
        "--naming",
        "nope",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn show_otlp_json_prints_the_request() {
    let sample = sample();
    let out = tracewire(&[
        "session",
        "show",
        sample.to_str().unwrap(),
        "--format",
        "otlp-json",
    ]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let spans = v["resourceSpans"][0]["scopeSpans"][0]["spans"]
        .as_array()
        .unwrap();
    assert_eq!(spans.len(), 19);
    assert_eq!(spans[0]["name"], "session");
    assert_eq!(
        v["resourceSpans"][0]["scopeSpans"][0]["scope"]["name"],
        "tracewire-session"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("events read: 38"));
}

#[test]
fn show_native_form_prints_the_same_tree() {
    use tracewire_session::read::{read_all, ReadOptions};
    use tracewire_session::write::write_native;
    let text = std::fs::read(sample()).unwrap();
    let (events, _) = read_all(text.as_slice(), ReadOptions::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Same file stem, so nothing but the format differs.
    let native = dir.path().join("session.jsonl");
    write_native(std::fs::File::create(&native).unwrap(), &events).unwrap();
    let sample = sample();
    let a = tracewire(&["session", "show", sample.to_str().unwrap()]);
    let b = tracewire(&["session", "show", native.to_str().unwrap()]);
    assert!(b.status.success());
    assert_eq!(
        String::from_utf8_lossy(&a.stdout),
        String::from_utf8_lossy(&b.stdout)
    );
}
