//! Property tests of the emitter's accounting: with no collector, whatever the capacity,
//! policy and number of events, `queued = kept + dropped` exactly and a flush reports the
//! kept lines as pending; an over-long line is dropped as `oversize`, never queued.
#![cfg(feature = "emitter")]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use tracewire_collector::emitter::{Backoff, DropPolicy, Emitter, FlushError};
use tracewire_collector::{IngestEvent, SpanEnd, SpanId, Timestamp, WireTraceId};

fn end(i: u64, attr_len: usize) -> IngestEvent {
    let mut attrs = BTreeMap::new();
    if attr_len > 0 {
        attrs.insert("big".to_string(), "x".repeat(attr_len));
    }
    IngestEvent::End(
        SpanEnd::new(
            WireTraceId::Short(i + 1),
            SpanId::from_u64(i + 1),
            Timestamp::from_unix_nanos(0),
        )
        .with_attrs(attrs)
        .with_duration_ns(Some(5)),
    )
}

fn emitter(dir: &std::path::Path, cap: usize, drop_policy: DropPolicy) -> Emitter {
    Emitter::builder()
        .with_socket_path(dir.join("nobody.sock"))
        .with_queue_capacity(cap)
        .with_drop_policy(drop_policy)
        .with_backoff(Backoff::new(Duration::from_secs(5), Duration::from_secs(5)))
        .build()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn drop_counts_are_exact(cap in 1usize..64, n in 0u64..300, oldest in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let policy = if oldest { DropPolicy::DropOldest } else { DropPolicy::DropNewest };
        let em = emitter(dir.path(), cap, policy);
        for i in 0..n {
            em.emit(&end(i, 0));
        }
        let kept = n.min(cap as u64);
        let st = em.stats();
        prop_assert_eq!(st.queued, n);
        prop_assert_eq!(st.dropped, n - kept);
        prop_assert_eq!(st.sent + st.write_failed + st.oversize, 0);
        let flushed = em.flush(Instant::now() + Duration::from_millis(5));
        if kept == 0 {
            prop_assert_eq!(flushed, Ok(()));
        } else {
            prop_assert_eq!(flushed, Err(FlushError::Timeout { pending: kept }));
        }
        let _ = em.shutdown(Instant::now());
        prop_assert_eq!(em.stats().dropped, n, "left at shutdown: counted");
    }
}

#[test]
fn a_line_over_1_mib_is_dropped_as_oversize() {
    let dir = tempfile::tempdir().unwrap();
    let em = emitter(dir.path(), 8, DropPolicy::DropOldest);
    em.emit(&end(1, 1024 * 1024));
    em.emit(&end(2, 10));
    let st = em.stats();
    assert_eq!(st.oversize, 1);
    assert_eq!(st.queued, 1);
    assert_eq!(st.dropped, 0);
}
