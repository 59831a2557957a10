//! Property tests of the converter on random event streams: it never panics, ids are
//! unique, every parent is in the output, every span lies inside the root, and the
//! stats account for every incomplete span and orphan.

use std::collections::HashSet;

use crate::convert_support::*;
use proptest::prelude::*;
use serde_json::json;
use tracewire_otlp::span::Value;
use tracewire_session::convert::{ConvertOptions, Converter, Naming};
use tracewire_session::event::SessionEvent;

const TYPES: &[&str] = &[
    "pipeline.started",
    "pipeline.completed",
    "pipeline.failed",
    "provider.call.started",
    "provider.call.completed",
    "provider.call.failed",
    "tool.call.started",
    "tool.call.completed",
    "tool.call.failed",
    "middleware.started",
    "middleware.completed",
    "middleware.failed",
    "validation.started",
    "validation.passed",
    "validation.failed",
    "composition.started",
    "composition.completed",
    "composition.step.started",
    "composition.step.completed",
    "message.created",
    "workflow.transitioned",
    "workflow.completed",
    "eval.completed",
    "eval.failed",
    "stage.started",
    "x.unknown",
];

fn event(kind: usize, run: usize, name: usize, ms: u64, seq: u64) -> SessionEvent {
    let run = ["run-1", "run-2", ""][run];
    let name = ["a", "b#2", ""][name];
    let data = json!({
        "Provider": name, "ToolName": name, "CallID": name, "Name": name,
        "ValidatorName": name, "composition": name, "step_id": name, "eval_id": name,
        "from_state": name, "to_state": "z", "final_state": name, "Role": "user",
        "Content": "c", "Duration": ms * 500_000, "Error": {}, "Status": "error",
        "Args": {"k": name}, "passed": false, "score": null,
    });
    ev(seq, TYPES[kind], ms, run, data)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_streams_keep_the_invariants(
        raw in proptest::collection::vec((0..TYPES.len(), 0..3usize, 0..3usize, 0..50u64), 0..40),
        naming in prop_oneof![Just(Naming::PromptKit), Just(Naming::GenAi), Just(Naming::Both)],
        capture in any::<bool>(),
    ) {
        let events: Vec<_> = raw
            .iter()
            .enumerate()
            .map(|(i, &(k, r, n, ms))| event(k, r, n, ms, i as u64))
            .collect();
        let options = ConvertOptions::default().with_naming(naming).with_capture_content(capture);
        let out = Converter::new(options).convert_session("session-1", &events);
        if events.is_empty() {
            prop_assert!(out.spans.is_empty());
            return Ok(());
        }
        let root = &out.spans[0];
        prop_assert_eq!(root.name.as_str(), "session");
        prop_assert_eq!(root.parent_span_id, None);
        let ids: HashSet<_> = out.spans.iter().map(|s| s.span_id).collect();
        prop_assert_eq!(ids.len(), out.spans.len(), "span ids are unique");
        let mut incomplete = 0;
        let mut orphans = 0;
        for span in &out.spans[1..] {
            let parent = span.parent_span_id.expect("children have parents");
            prop_assert!(ids.contains(&parent), "{} has a parent in the trace", span.name);
            prop_assert!(span.start_time_unix_nano <= span.end_time_unix_nano);
            prop_assert!(span.start_time_unix_nano >= root.start_time_unix_nano);
            prop_assert!(span.end_time_unix_nano <= root.end_time_unix_nano);
            prop_assert_eq!(span.trace_id, root.trace_id);
            if span.attributes.get("tracewire.incomplete") == Some(&Value::Bool(true)) {
                incomplete += 1;
            }
            if span.attributes.get("tracewire.orphan") == Some(&Value::Bool(true)) {
                orphans += 1;
            }
        }
        prop_assert_eq!(out.stats.incomplete, incomplete);
        prop_assert_eq!(out.stats.orphans, orphans);
        prop_assert_eq!(out.stats.events, events.len() as u64);
        let failed = out.spans[1..].iter().filter(|s| s.status.is_error()).count();
        prop_assert_eq!(root.status.is_error(), failed > 0);
    }
}
