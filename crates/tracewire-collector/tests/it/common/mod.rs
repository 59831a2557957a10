//! Helpers shared by the integration tests: a collector on a temp socket, line builders.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;
use tokio_util::sync::CancellationToken;
use tracewire_collector::assemble::Limits;
use tracewire_collector::server::{Collector, ServeReport};

/// A running collector in a temp dir.
pub struct Running {
    pub dir: tempfile::TempDir,
    pub ingest: PathBuf,
    pub view: Option<PathBuf>,
    pub collector: Collector,
    pub token: CancellationToken,
    pub task: tokio::task::JoinHandle<ServeReport>,
}

impl Running {
    pub async fn stop(self) -> ServeReport {
        self.stop_keep_dir().await.0
    }

    pub async fn stop_keep_dir(self) -> (ServeReport, tempfile::TempDir) {
        let dir = self.dir;
        self.token.cancel();
        let report = tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("serve ends in time")
            .expect("serve task");
        (report, dir)
    }
}

pub async fn start(limits: Limits, with_view: bool) -> Running {
    start_with(limits, with_view, None).await
}

pub async fn start_with(limits: Limits, with_view: bool, journal: Option<PathBuf>) -> Running {
    let dir = tempfile::tempdir().expect("tempdir");
    let ingest = dir.path().join("in.sock");
    let view = with_view.then(|| dir.path().join("view.sock"));
    let mut b = Collector::builder()
        .with_socket_path(&ingest)
        .with_view_socket_path(view.clone())
        .with_limits(limits);
    if let Some(j) = journal {
        b = b.with_journal(j);
    }
    let bound = b.bind().await.expect("bind");
    let collector = bound.handle();
    let token = CancellationToken::new();
    let t = token.clone();
    let task = tokio::spawn(async move { bound.serve_with_token(t).await.expect("serve") });
    Running {
        dir,
        ingest,
        view,
        collector,
        token,
        task,
    }
}

/// A go-trace start line.
pub fn start_line(trace: &str, span: &str, parent: Option<&str>, name: &str, secs: u32) -> String {
    let parent = parent
        .map(|p| format!(",\"parent_id\":\"{p}\""))
        .unwrap_or_default();
    format!(
        "{{\"type\":0,\"span_id\":\"{span}\",\"trace_id\":\"{trace}\"{parent},\"name\":\"{name}\",\"kind\":0,\"time\":\"2025-06-01T10:00:{secs:02}Z\"}}\n"
    )
}

/// A go-trace end line.
pub fn end_line(trace: &str, span: &str, secs: u32) -> String {
    format!(
        "{{\"type\":1,\"span_id\":\"{span}\",\"trace_id\":\"{trace}\",\"name\":\"\",\"kind\":0,\"time\":\"2025-06-01T10:00:{secs:02}.5Z\"}}\n"
    )
}

/// Lines of `n` root spans (each its own trace), numbered from `from`.
pub fn root_spans(from: u64, n: u64) -> String {
    let mut out = String::new();
    for i in from..from + n {
        let trace = format!("{:016x}", i + 1);
        let span = format!("{:016x}", i + 1);
        out.push_str(&start_line(&trace, &span, None, "op", 0));
        out.push_str(&end_line(&trace, &span, 1));
    }
    out
}

pub async fn send(path: &Path, data: &str) {
    let mut s = UnixStream::connect(path).await.expect("connect ingest");
    s.write_all(data.as_bytes()).await.expect("write");
    s.shutdown().await.ok();
}

/// Waits (bounded) until `cond` holds.
pub async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}
