//! Span statistics (`docs/collector.md#statistics`): nearest-rank percentiles, grouping,
//! errors, sorting and the table.

use proptest::prelude::*;
use tracewire_collector::model::{
    CompletedSpan, SpanId, Timestamp, WireKind, WireTraceId, SYNTHETIC_SPAN_ID,
};
use tracewire_collector::stats::{nearest_rank, SortKey, SpanStats};

fn span(name: &str, kind: WireKind, dur_ms: u64) -> CompletedSpan {
    CompletedSpan::new(
        WireTraceId::Short(1),
        SpanId::from_u64(dur_ms + 1),
        name,
        kind,
        Timestamp(0),
        Timestamp((dur_ms * 1_000_000) as i64),
    )
    .with_seq(1)
}

#[test]
fn nearest_rank_takes_the_ceil_rank_clamped_to_the_slice() {
    let ms: Vec<u64> = (1..=20).collect();
    assert_eq!(nearest_rank(&ms, 95), Some(19));
    assert_eq!(nearest_rank(&[1, 2, 3, 4, 5], 50), Some(3));
    assert_eq!(nearest_rank(&[7], 50), Some(7));
    assert_eq!(nearest_rank(&[7], 99), Some(7));
    assert_eq!(nearest_rank(&ms, 100), Some(20));
    assert_eq!(nearest_rank(&ms, 0), Some(1));
    assert_eq!(nearest_rank(&[], 50), None);
}

#[test]
fn span_stats_p95_of_1_to_20_ms_is_19_ms() {
    let mut stats = SpanStats::new();
    for d in 1..=20 {
        stats.add(&span("q", WireKind::Sql, d));
    }
    let rows = stats.rows(SortKey::Total);
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!(r.count, 20);
    assert_eq!(r.p50_ns, 10_000_000);
    assert_eq!(r.p90_ns, 18_000_000);
    assert_eq!(r.p95_ns, 19_000_000);
    assert_eq!(r.p99_ns, 20_000_000);
    assert_eq!(r.max_ns, 20_000_000);
    assert_eq!(r.total_ns, 210_000_000);
}

#[test]
fn grouping_errors_sorting_synthetic_excluded_and_table() {
    let mut stats = SpanStats::new();
    for d in [4, 10] {
        stats.add(&span("GET /users", WireKind::Http, d));
    }
    let mut err = span("GET /users", WireKind::Http, 41);
    err.attrs.insert("status".into(), "500".into());
    stats.add(&err);
    for d in [1, 1, 2, 3] {
        stats.add(&span("SQL Query", WireKind::Sql, d));
    }
    // Same name, other kind: its own group.
    stats.add(&span("SQL Query", WireKind::Function, 100));
    let mut synthetic = span("(partial trace)", WireKind::Internal, 1000);
    synthetic.span_id = SYNTHETIC_SPAN_ID;
    stats.add(&synthetic);
    assert_eq!(stats.span_count(), 8);

    let by_total: Vec<(String, &str)> = stats
        .rows(SortKey::Total)
        .into_iter()
        .map(|r| (r.name, r.kind))
        .collect();
    assert_eq!(
        by_total,
        [
            ("SQL Query".to_owned(), "function"),
            ("GET /users".to_owned(), "http"),
            ("SQL Query".to_owned(), "sql"),
        ]
    );
    let by_count: Vec<u64> = stats.rows(SortKey::Count).iter().map(|r| r.count).collect();
    assert_eq!(by_count, [4, 3, 1]);
    let by_name: Vec<String> = stats
        .rows(SortKey::Name)
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(by_name, ["GET /users", "SQL Query", "SQL Query"]);
    assert_eq!(stats.rows(SortKey::Total)[1].errors, 1);
    assert_eq!("p99".parse::<SortKey>(), Ok(SortKey::P99));
    assert!("bogus".parse::<SortKey>().is_err());

    let table = stats.render_table(SortKey::Count);
    assert_eq!(
        table,
        concat!(
            "NAME        KIND      COUNT  ERR      P50      P90      P95      P99      MAX\n",
            "SQL Query   sql           4    0    1.0ms    3.0ms    3.0ms    3.0ms    3.0ms\n",
            "GET /users  http          3    1   10.0ms   41.0ms   41.0ms   41.0ms   41.0ms\n",
            "SQL Query   function      1    0  100.0ms  100.0ms  100.0ms  100.0ms  100.0ms\n",
        )
    );

    let json = stats.to_json(SortKey::Count);
    assert_eq!(json[0]["name"], "SQL Query");
    assert_eq!(json[0]["p50_ns"], 1_000_000);
    assert_eq!(json[1]["errors"], 1);
}

proptest! {
    #[test]
    fn nearest_rank_is_an_element_and_monotonic(mut v in prop::collection::vec(any::<u64>(), 1..50), p in 0u32..=100) {
        v.sort_unstable();
        let x = nearest_rank(&v, p).unwrap();
        prop_assert!(v.contains(&x));
        if p < 100 {
            prop_assert!(nearest_rank(&v, p + 1).unwrap() >= x);
        }
        // At least p% of the values are <= x.
        let le = v.iter().filter(|&&y| y <= x).count() as u64;
        prop_assert!(le * 100 >= u64::from(p) * v.len() as u64);
    }
}
