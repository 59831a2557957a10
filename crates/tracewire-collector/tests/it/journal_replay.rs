//! The journal (`docs/collector.md#journal`): 0600, appended as view lines, flushed on
//! shutdown, replayed by `JournalReader` with bad lines skipped and counted.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;

use crate::common::*;
use tracewire_collector::assemble::Limits;
use tracewire_collector::server::JournalReader;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journal_is_0600_holds_every_span_and_replays_in_seq_order() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("spans.jsonl");
    let r = start_with(Limits::default(), false, Some(journal.clone())).await;
    send(&r.ingest, &root_spans(0, 300)).await;
    wait_for("300 spans", || {
        r.collector.stats().assembly.completed == 300
    })
    .await;
    let report = r.stop().await;
    assert_eq!(report.stats.outputs.journal_written, 300);
    assert_eq!(report.stats.outputs.journal_dropped, 0);
    let mode = std::fs::metadata(&journal).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    // Append garbage and an over-long line: skipped and counted, the rest replays.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&journal)
        .unwrap();
    f.write_all(b"not json\n").unwrap();
    f.write_all(&vec![b'x'; 2 * 1024 * 1024]).unwrap();
    f.write_all(b"\n").unwrap();
    drop(f);
    let mut reader = JournalReader::open(&journal).unwrap();
    let seqs: Vec<u64> = reader.by_ref().map(|s| s.seq).collect();
    assert_eq!(seqs, (1..=300).collect::<Vec<_>>());
    assert_eq!(reader.skipped(), 2);
    assert_eq!(reader.counts().malformed, 1);
    assert_eq!(reader.counts().oversize, 1);
    assert!(reader.take_error().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_session_appends_to_the_same_journal() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("spans.jsonl");
    for round in 0..2u64 {
        let r = start_with(Limits::default(), false, Some(journal.clone())).await;
        send(&r.ingest, &root_spans(round * 10, 10)).await;
        wait_for("10 spans", || r.collector.stats().assembly.completed == 10).await;
        r.stop().await;
    }
    let names: Vec<_> = JournalReader::open(&journal)
        .unwrap()
        .map(|s| s.trace_id)
        .collect();
    assert_eq!(names.len(), 20, "O_APPEND keeps the first session's lines");
}
