//! Tree rendering and durations (`docs/collector.md#rendering`): go-trace's display cases
//! and our additions.

use std::time::Duration;

use tracewire_collector::assemble::build_tree;
use tracewire_collector::model::{
    CompletedSpan, SpanId, Status, Timestamp, Trace, WireKind, WireTraceId,
};
use tracewire_collector::render::{format_duration, render_tree, render_trees, RenderOptions};

fn span(
    id: u64,
    parent: Option<u64>,
    name: &str,
    kind: WireKind,
    start_us: i64,
    dur_ns: u64,
) -> CompletedSpan {
    let start = Timestamp(1_748_739_600_000_000_000 + start_us * 1_000);
    CompletedSpan::new(
        WireTraceId::Short(0xabc),
        SpanId::from_u64(id),
        name,
        kind,
        start,
        start.saturating_add(Duration::from_nanos(dur_ns)),
    )
    .with_parent(parent.map(SpanId::from_u64))
    .with_seq(id)
}

fn trace_of(spans: &[CompletedSpan], revision: u32) -> Trace {
    let (root, partial) = build_tree(spans[0].trace_id, spans);
    let trace = Trace::new(spans[0].trace_id, root).with_revision(revision);
    assert_eq!(trace.partial, partial);
    trace
}

fn plain(t: &Trace) -> String {
    render_tree(t, &RenderOptions::plain())
}

#[test]
fn a_lone_root_is_one_line_with_kind_and_duration() {
    let t = trace_of(
        &[span(1, None, "GET /hello", WireKind::Http, 0, 100_000)],
        1,
    );
    assert_eq!(plain(&t), "GET /hello [http] 100µs\n\n");
}

#[test]
fn children_get_branch_prefixes_down_to_the_third_level() {
    let t = trace_of(
        &[
            span(1, None, "GET /hello", WireKind::Http, 0, 5_100_000),
            span(2, Some(1), "Greet", WireKind::Function, 10, 4_600_000),
            span(3, Some(2), "SQL Query", WireKind::Sql, 20, 1_200_000),
        ],
        1,
    );
    assert_eq!(
        plain(&t),
        "GET /hello [http] 5.1ms\n└── Greet [function] 4.6ms\n    └── SQL Query [sql] 1.2ms\n\n"
    );

    let mut spans = vec![
        span(1, None, "GET /users", WireKind::Http, 0, 5_100_000),
        span(2, Some(1), "AuthCheck", WireKind::Function, 1, 310_000),
        span(3, Some(1), "ListUsers", WireKind::Function, 400, 4_600_000),
        span(4, Some(3), "SQL Query", WireKind::Sql, 500, 1_200_000),
        span(5, Some(3), "SQL Query", WireKind::Sql, 1_800, 2_900_000),
    ];
    spans[4]
        .attrs
        .insert("error".into(), "deadlock detected".into());
    assert_eq!(
        plain(&trace_of(&spans, 1)),
        concat!(
            "GET /users [http] 5.1ms\n",
            "├── AuthCheck [function] 310µs\n",
            "└── ListUsers [function] 4.6ms\n",
            "    ├── SQL Query [sql] 1.2ms\n",
            "    └── SQL Query [sql] 2.9ms [error: deadlock detected]\n",
            "\n"
        )
    );
}

#[test]
fn continuation_bar_under_a_child_with_later_siblings() {
    let t = trace_of(
        &[
            span(1, None, "root", WireKind::Server, 0, 10_000),
            span(2, Some(1), "a", WireKind::Client, 1, 1_000),
            span(3, Some(2), "a1", WireKind::Producer, 2, 1_000),
            span(4, Some(1), "b", WireKind::Other(42), 5, 1_000),
        ],
        3,
    );
    assert_eq!(
        plain(&t),
        "root [server] 10µs (rev 3)\n├── a [client] 1µs\n│   └── a1 [producer] 1µs\n└── b [unknown] 1µs\n\n"
    );
}

#[test]
fn separate_traces_are_printed_separately() {
    let a = trace_of(&[span(1, None, "A", WireKind::Http, 0, 1_000)], 1);
    let mut b_span = span(2, None, "B", WireKind::Sql, 0, 999);
    b_span.trace_id = WireTraceId::Short(0xdef);
    let b = trace_of(&[b_span], 1);
    assert_eq!(
        render_trees([&a, &b], &RenderOptions::plain()),
        "A [http] 1µs\n\nB [sql] 999ns\n\n"
    );
}

#[test]
fn partial_trace_and_error_message_truncation() {
    let mut orphan = span(2, Some(99), "orphan", WireKind::Function, 0, 2_000_000);
    orphan.status = Status::error("x".repeat(100));
    let t = trace_of(&[orphan], 2);
    let out = plain(&t);
    let first = out.lines().next().unwrap();
    assert_eq!(
        first,
        "(partial trace 0000000000000abc) [partial] 2.0ms (rev 2)"
    );
    let second = out.lines().nth(1).unwrap();
    let msg = second
        .strip_prefix("└── orphan [function] 2.0ms [error: ")
        .and_then(|r| r.strip_suffix(']'))
        .unwrap();
    assert_eq!(msg.chars().count(), 60);
    assert!(msg.ends_with('…'));
}

#[test]
fn http_500_is_an_error_and_colours_apply() {
    let mut s = span(1, None, "GET /x", WireKind::Http, 0, 1_000);
    s.attrs.insert("status".into(), "503".into());
    let t = trace_of(&[s], 1);
    assert_eq!(plain(&t), "GET /x [http] 1µs [error]\n\n");
    let mut opts = RenderOptions::plain();
    opts.color = true;
    let coloured = render_tree(&t, &opts);
    assert_eq!(
        coloured,
        "GET /x \x1b[36m[http]\x1b[0m 1µs\x1b[31m [error]\x1b[0m\n\n"
    );
}

#[test]
fn durations_round_half_up_and_pick_the_unit_after_rounding() {
    let cases = [
        (0, "0ns"),
        (999, "999ns"),
        (1_000, "1µs"),
        (1_499, "1µs"),
        (1_500, "2µs"),
        (100_000, "100µs"),
        (999_499, "999µs"),
        (999_500, "1.0ms"),
        (999_960, "1.0ms"),
        (1_234_000, "1.2ms"),
        (1_250_000, "1.3ms"),
        (999_949_999, "999.9ms"),
        (999_950_000, "1.00s"),
        (2_500_000_000, "2.50s"),
        (61_234_000_000, "61.23s"),
    ];
    for (ns, want) in cases {
        assert_eq!(format_duration(Duration::from_nanos(ns)), want, "{ns}ns");
    }
}
