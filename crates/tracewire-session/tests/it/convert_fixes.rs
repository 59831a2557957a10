//! Where the converter fixes PromptKit's (`docs/sessions.md`): unique ids for repeated
//! keys, run-scoped hierarchy, order independence, incomplete and orphan spans, root and
//! tool status, content capture, GenAI naming, validations and evals.

use std::sync::Arc;

use crate::convert_support::*;
use serde_json::json;
use tracewire_otlp::proto::{encode_json, to_request};
use tracewire_otlp::span::{StatusCode, Value};
use tracewire_session::convert::{
    key_span_id, Conversion, ConvertOptions, Converter, Naming, Orphans, Redactor, RootStatus,
};
use tracewire_session::event::SessionEvent;
use tracewire_session::identity;

fn convert_with(options: ConvertOptions, events: &[SessionEvent]) -> Conversion {
    Converter::new(options).convert_session("session-1", events)
}

fn convert(events: &[SessionEvent]) -> Conversion {
    convert_with(ConvertOptions::default(), events)
}

#[test]
fn provider_tool_provider_loop_has_distinct_ids() {
    let out = convert(&[
        ev(
            1,
            "provider.call.started",
            0,
            "run-1",
            json!({"Provider": "openai"}),
        ),
        ev(
            2,
            "provider.call.completed",
            10,
            "run-1",
            json!({"Provider": "openai"}),
        ),
        ev(
            3,
            "tool.call.started",
            11,
            "run-1",
            json!({"ToolName": "t", "CallID": "call-123"}),
        ),
        ev(
            4,
            "tool.call.completed",
            12,
            "run-1",
            json!({"ToolName": "t", "CallID": "call-123"}),
        ),
        ev(
            5,
            "provider.call.started",
            13,
            "run-1",
            json!({"Provider": "openai"}),
        ),
        ev(
            6,
            "provider.call.completed",
            20,
            "run-1",
            json!({"Provider": "openai"}),
        ),
    ]);
    let p = spans_named(&out.spans, "provider.openai");
    assert_eq!(p.len(), 2);
    assert_eq!(p[0].span_id.to_string(), "f70379eea6bb3625");
    assert!(attr(p[0], "tracewire.occurrence").is_none());
    assert_eq!(p[1].span_id.to_string(), "beea37abe42685c0");
    assert_eq!(attr(p[1], "tracewire.occurrence"), Some(&Value::Int(2)));
    let mut ids: Vec<_> = out.spans.iter().map(|s| s.span_id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), out.spans.len());
}

#[test]
fn children_sit_under_their_own_runs_pipeline() {
    let out = convert(&[
        ev(1, "pipeline.started", 0, "run-a", json!({})),
        ev(2, "pipeline.started", 1, "run-b", json!({})),
        ev(
            3,
            "provider.call.started",
            2,
            "run-a",
            json!({"Provider": "p"}),
        ),
        ev(
            4,
            "tool.call.started",
            3,
            "run-b",
            json!({"ToolName": "t", "CallID": "c"}),
        ),
        ev(5, "middleware.started", 4, "run-a", json!({"Name": "m"})),
        ev(
            6,
            "validation.started",
            5,
            "run-b",
            json!({"ValidatorName": "v"}),
        ),
        ev(7, "eval.completed", 6, "run-a", json!({"eval_id": "e"})),
        ev(
            8,
            "provider.call.started",
            7,
            "run-c",
            json!({"Provider": "q"}),
        ),
    ]);
    let pa = key_span_id("run-a:pipeline");
    let pb = key_span_id("run-b:pipeline");
    assert_eq!(span(&out.spans, "provider.p").parent_span_id, Some(pa));
    assert_eq!(span(&out.spans, "tool.t").parent_span_id, Some(pb));
    assert_eq!(span(&out.spans, "middleware.m").parent_span_id, Some(pa));
    assert_eq!(span(&out.spans, "validation.v").parent_span_id, Some(pb));
    assert_eq!(span(&out.spans, "eval.e").parent_span_id, Some(pa));
    // A run without a pipeline hangs under the root.
    assert_eq!(
        span(&out.spans, "provider.q").parent_span_id,
        Some(out.spans[0].span_id)
    );
}

#[test]
fn completion_before_start_ends_after_start() {
    let out = convert(&[
        ev(
            2,
            "tool.call.completed",
            0,
            "run-1",
            json!({"ToolName": "t", "CallID": "c", "Status": "success"}),
        ),
        ev(
            1,
            "tool.call.started",
            50,
            "run-1",
            json!({"ToolName": "t", "CallID": "c"}),
        ),
    ]);
    let t = span(&out.spans, "tool.t");
    assert!(t.end_time_unix_nano >= t.start_time_unix_nano);
    assert_eq!(t.status.code, StatusCode::Ok);
    assert!(attr(t, "tracewire.orphan").is_none());
    assert_eq!(out.stats.orphans, 0);
}

#[test]
fn unmatched_start_is_incomplete_until_root_end_with_events_kept() {
    let out = convert(&[
        ev(
            1,
            "provider.call.started",
            0,
            "run-1",
            json!({"Provider": "openai"}),
        ),
        ev(
            2,
            "message.created",
            5,
            "run-1",
            json!({"Role": "user", "Content": "x"}),
        ),
        ev(3, "pipeline.started", 100, "run-2", json!({})),
    ]);
    let p = span(&out.spans, "provider.openai");
    assert_eq!(p.status.code, StatusCode::Error);
    assert_eq!(p.status.message, "incomplete");
    assert_eq!(attr(p, "tracewire.incomplete"), Some(&Value::Bool(true)));
    assert_eq!(p.end_time_unix_nano, out.spans[0].end_time_unix_nano);
    assert_eq!(p.events.len(), 1);
    assert_eq!(out.stats.incomplete, 2);
}

#[test]
fn orphan_completion_is_emitted_or_dropped() {
    let events = [
        ev(1, "pipeline.started", 0, "run-1", json!({})),
        ev(
            2,
            "tool.call.completed",
            500,
            "run-1",
            json!({"ToolName": "t", "CallID": "c", "Duration": 200_000_000, "Status": "success"}),
        ),
        ev(3, "pipeline.completed", 600, "run-1", json!({})),
    ];
    let out = convert(&events);
    let t = span(&out.spans, "tool.t");
    assert_eq!(attr(t, "tracewire.orphan"), Some(&Value::Bool(true)));
    assert_eq!(t.end_time_unix_nano - t.start_time_unix_nano, 200_000_000);
    assert_eq!(t.status.code, StatusCode::Ok);
    assert_eq!(t.parent_span_id, Some(key_span_id("run-1:pipeline")));
    assert_eq!(out.stats.orphans, 1);
    let dropped = convert_with(
        ConvertOptions::default().with_orphans(Orphans::Drop),
        &events,
    );
    assert!(spans_named(&dropped.spans, "tool.t").is_empty());
    assert_eq!(dropped.stats.orphans, 1);
}

#[test]
fn orphan_start_is_clamped_to_root_start() {
    let out = convert(&[
        ev(1, "pipeline.started", 100, "run-1", json!({})),
        ev(
            2,
            "tool.call.failed",
            150,
            "run-1",
            json!({"ToolName": "t", "CallID": "c", "Duration": 10_000_000_000u64, "Error": "x"}),
        ),
    ]);
    let t = span(&out.spans, "tool.t");
    assert_eq!(t.start_time_unix_nano, out.spans[0].start_time_unix_nano);
    assert_eq!(t.status.message, "x");
}

#[test]
fn root_status_from_children_and_always_ok() {
    let events = [
        ev(
            1,
            "tool.call.started",
            0,
            "run-1",
            json!({"ToolName": "a", "CallID": "1"}),
        ),
        ev(
            2,
            "tool.call.failed",
            1,
            "run-1",
            json!({"ToolName": "a", "CallID": "1", "Error": "boom"}),
        ),
        ev(
            3,
            "provider.call.started",
            2,
            "run-1",
            json!({"Provider": "p"}),
        ),
        ev(
            4,
            "provider.call.failed",
            3,
            "run-1",
            json!({"Provider": "p", "Error": {}}),
        ),
    ];
    let out = convert(&events);
    assert_eq!(out.spans[0].status.code, StatusCode::Error);
    assert_eq!(out.spans[0].status.message, "2 child span(s) failed");
    let pk = convert_with(
        ConvertOptions::default().with_root_status(RootStatus::AlwaysOk),
        &events,
    );
    assert_eq!(pk.spans[0].status.code, StatusCode::Ok);
}

#[test]
fn tool_status_failed_or_error_makes_the_tool_span_error() {
    let status_of = |status: &str| {
        let out = convert(&[
            ev(
                1,
                "tool.call.started",
                0,
                "run-1",
                json!({"ToolName": "a", "CallID": "1"}),
            ),
            ev(
                2,
                "tool.call.completed",
                1,
                "run-1",
                json!({"ToolName": "a", "CallID": "1", "Status": status}),
            ),
        ]);
        span(&out.spans, "tool.a").status.clone()
    };
    let s = status_of("failed");
    assert_eq!(
        (s.code, s.message.as_str()),
        (StatusCode::Error, "tool call failed")
    );
    let s = status_of("ERROR");
    assert_eq!(
        (s.code, s.message.as_str()),
        (StatusCode::Error, "tool call ERROR")
    );
    assert_eq!(status_of("success").code, StatusCode::Ok);
}

const SECRET: &str = "sk-live-7f3a9c";

fn secret_events() -> Vec<SessionEvent> {
    vec![
        ev(
            1,
            "provider.call.started",
            0,
            "run-1",
            json!({"Provider": "openai"}),
        ),
        ev(
            2,
            "message.created",
            1,
            "run-1",
            json!({"Role": "user", "Content": format!("key {SECRET}"),
            "ToolCalls": [{"id": "c", "name": "t", "args": format!("{{\"k\":\"{SECRET}\"}}")}]}),
        ),
        ev(
            3,
            "provider.call.completed",
            2,
            "run-1",
            json!({"Provider": "openai"}),
        ),
        ev(
            4,
            "tool.call.started",
            3,
            "run-1",
            json!({"ToolName": "t", "CallID": "c", "Args": {"token": SECRET}}),
        ),
        ev(
            5,
            "tool.call.completed",
            4,
            "run-1",
            json!({"ToolName": "t", "CallID": "c"}),
        ),
    ]
}

fn otlp_text(out: &Conversion) -> String {
    let req = to_request(
        &out.spans,
        &identity::promptkit_resource(),
        &identity::promptkit_scope(),
    );
    String::from_utf8(encode_json(&req).unwrap()).unwrap()
}

#[test]
fn secrets_absent_by_default_present_with_capture() {
    for naming in [Naming::PromptKit, Naming::GenAi, Naming::Both] {
        let off = convert_with(
            ConvertOptions::default().with_naming(naming),
            &secret_events(),
        );
        assert!(!otlp_text(&off).contains(SECRET), "{naming:?}");
        assert!(!format!("{:?}", off.spans).contains(SECRET));
        // Message events are still there, without attributes.
        let p = span(&off.spans, "provider.openai");
        assert_eq!(p.events.len(), 1);
        assert!(p.events[0].attributes.is_empty());
    }
    let on = convert_with(
        ConvertOptions::default().with_capture_content(true),
        &secret_events(),
    );
    let text = otlp_text(&on);
    assert!(text.contains(SECRET));
    let p = span(&on.spans, "provider.openai");
    let attrs = &p.events[0].attributes;
    assert_eq!(
        attrs.get("gen_ai.message.content").and_then(Value::as_str),
        Some(&*format!("key {SECRET}"))
    );
    assert_eq!(
        attrs.get("gen_ai.tool_calls").and_then(Value::as_str),
        Some(&*format!(
            r#"[{{"id":"c","name":"t","args":"{{\"k\":\"{SECRET}\"}}"}}]"#
        ))
    );
}

struct MaskTokens;

impl Redactor for MaskTokens {
    fn redact(&self, key: &str, value: &str) -> Option<String> {
        if key == "gen_ai.message.content" {
            return None;
        }
        Some(value.replace(SECRET, "[REDACTED]"))
    }
}

#[test]
fn redactor_masks_and_none_drops_only_that_attribute() {
    let options = ConvertOptions::default()
        .with_capture_content(true)
        .with_redactor(Arc::new(MaskTokens));
    let out = convert_with(options, &secret_events());
    assert!(!otlp_text(&out).contains(SECRET));
    let tool = span(&out.spans, "tool.t");
    assert_eq!(str_attr(tool, "tool.args"), r#"{"token":"[REDACTED]"}"#);
    let attrs = &span(&out.spans, "provider.openai").events[0].attributes;
    assert!(attrs.get("gen_ai.message.content").is_none());
    assert!(attrs
        .get("gen_ai.tool_calls")
        .and_then(Value::as_str)
        .is_some_and(|t| t.contains("[REDACTED]")));
}

#[test]
fn genai_naming_sets_request_model_finish_reasons_and_tool_type() {
    let options = ConvertOptions::default()
        .with_naming(Naming::GenAi)
        .with_capture_content(true);
    let out = convert_with(
        options,
        &[
            ev(
                1,
                "provider.call.started",
                0,
                "run-1",
                json!({"Provider": "openai", "Model": "gpt-4o"}),
            ),
            ev(
                2,
                "provider.call.completed",
                1,
                "run-1",
                json!({"Provider": "openai", "FinishReason": "stop"}),
            ),
            ev(
                3,
                "tool.call.started",
                2,
                "run-1",
                json!({"ToolName": "mcp__x", "CallID": "1", "Args": {"a": 1}}),
            ),
            ev(
                4,
                "tool.call.started",
                3,
                "run-1",
                json!({"ToolName": "local", "CallID": "2"}),
            ),
        ],
    );
    let p = span(&out.spans, "provider.openai");
    assert_eq!(str_attr(p, "gen_ai.request.model"), "gpt-4o");
    assert_eq!(
        attr(p, "gen_ai.response.finish_reasons"),
        Some(&Value::Array(vec![Value::String("stop".into())]))
    );
    assert!(
        attr(p, "provider.model").is_none(),
        "PromptKit keys are not emitted in GenAi mode"
    );
    assert_eq!(
        str_attr(span(&out.spans, "tool.mcp__x"), "gen_ai.tool.type"),
        "extension"
    );
    assert_eq!(
        str_attr(
            span(&out.spans, "tool.mcp__x"),
            "gen_ai.tool.call.arguments"
        ),
        r#"{"a":1}"#
    );
    assert_eq!(
        str_attr(span(&out.spans, "tool.local"), "gen_ai.tool.type"),
        "function"
    );
    assert_eq!(
        str_attr(&out.spans[0], "gen_ai.operation.name"),
        "invoke_agent"
    );
    // Both = the union; names and kinds never change.
    let both = convert_with(
        ConvertOptions::default().with_naming(Naming::Both),
        &[ev(
            1,
            "provider.call.started",
            0,
            "run-1",
            json!({"Provider": "openai", "Model": "gpt-4o"}),
        )],
    );
    let p = span(&both.spans, "provider.openai");
    assert_eq!(str_attr(p, "gen_ai.request.model"), "gpt-4o");
    assert_eq!(str_attr(p, "provider.model"), "gpt-4o");
}

#[test]
fn failed_validation_is_ok_with_score_zero_and_violations() {
    let out = convert(&[
        ev(
            1,
            "validation.started",
            0,
            "run-1",
            json!({"ValidatorName": "pii", "ValidatorType": "regex"}),
        ),
        ev(
            2,
            "validation.failed",
            1,
            "run-1",
            json!({"ValidatorName": "pii", "Violations": ["email", "phone"], "Error": {}}),
        ),
        ev(
            3,
            "validation.started",
            2,
            "run-1",
            json!({"ValidatorName": "len"}),
        ),
        ev(
            4,
            "validation.passed",
            3,
            "run-1",
            json!({"ValidatorName": "len"}),
        ),
    ]);
    let v = span(&out.spans, "validation.pii");
    assert_eq!(v.status.code, StatusCode::Ok);
    assert_eq!(
        attr(v, "gen_ai.evaluation.score"),
        Some(&Value::Double(0.0))
    );
    assert_eq!(str_attr(v, "gen_ai.evaluation.explanation"), "email; phone");
    assert_eq!(attr(v, "promptkit.guardrail"), Some(&Value::Bool(true)));
    assert_eq!(str_attr(v, "promptkit.eval.type"), "regex");
    let ok = span(&out.spans, "validation.len");
    assert_eq!(
        attr(ok, "gen_ai.evaluation.score"),
        Some(&Value::Double(1.0))
    );
}

#[test]
fn eval_error_is_an_error_status_and_a_null_score_is_left_out() {
    let out = convert(&[
        ev(
            1,
            "eval.failed",
            0,
            "run-1",
            json!({"eval_id": "judge", "error": "timeout", "score": null}),
        ),
        ev(
            2,
            "eval.completed",
            1,
            "run-1",
            json!({"eval_id": "tone", "passed": false, "score": 0.25}),
        ),
        ev(
            3,
            "eval.completed",
            2,
            "run-1",
            json!({"eval_id": "fine", "passed": null}),
        ),
    ]);
    let e = span(&out.spans, "eval.judge");
    assert_eq!(
        (e.status.code, e.status.message.as_str()),
        (StatusCode::Error, "timeout")
    );
    assert!(attr(e, "gen_ai.evaluation.score").is_none());
    assert_eq!(e.start_time_unix_nano, e.end_time_unix_nano);
    let t = span(&out.spans, "eval.tone");
    assert_eq!(
        (t.status.code, t.status.message.as_str()),
        (StatusCode::Error, "eval failed")
    );
    assert_eq!(
        attr(t, "gen_ai.evaluation.score"),
        Some(&Value::Double(0.25))
    );
    assert_eq!(span(&out.spans, "eval.fine").status.code, StatusCode::Ok);
}

#[test]
fn skipped_types_are_counted_and_widen_the_root() {
    let out = convert(&[
        ev(1, "stage.started", 0, "run-1", json!({})),
        ev(2, "pipeline.started", 10, "run-1", json!({})),
        ev(3, "pipeline.completed", 20, "run-1", json!({})),
        ev(4, "context.built", 30, "run-1", json!({})),
        ev(5, "stage.started", 40, "run-1", json!({})),
    ]);
    assert_eq!(out.stats.skipped_by_type.get("stage.started"), Some(&2));
    assert_eq!(out.stats.skipped_by_type.get("context.built"), Some(&1));
    let root = &out.spans[0];
    assert_eq!(
        root.end_time_unix_nano - root.start_time_unix_nano,
        40_000_000
    );
}

#[test]
fn wrong_typed_fields_count_as_absent() {
    let out = convert(&[ev(
        1,
        "provider.call.started",
        0,
        "run-1",
        json!({"Provider": "openai", "MessageCount": "two"}),
    )]);
    assert_eq!(
        attr(span(&out.spans, "provider.openai"), "message.count"),
        Some(&Value::Int(0))
    );
    assert_eq!(out.stats.bad_fields, 1);
}

#[test]
fn zero_go_time_takes_the_previous_lines_time() {
    let mut zero = ev(
        2,
        "tool.call.started",
        0,
        "run-1",
        json!({"ToolName": "t", "CallID": "c"}),
    );
    zero.timestamp = tracewire_session::event::RecordedTime::parse("0001-01-01T00:00:00Z").unwrap();
    let out = convert(&[
        ev(1, "pipeline.started", 100, "run-1", json!({})),
        zero,
        ev(
            3,
            "tool.call.completed",
            300,
            "run-1",
            json!({"ToolName": "t", "CallID": "c"}),
        ),
    ]);
    assert_eq!(out.stats.timestamps_inferred, 1);
    let t = span(&out.spans, "tool.t");
    assert_eq!(t.start_time_unix_nano, BASE + 100_000_000);
    assert_eq!(out.spans[0].start_time_unix_nano, BASE + 100_000_000);
}

#[test]
fn composition_steps_nest_under_their_composition() {
    let out = convert(&[
        ev(
            1,
            "composition.started",
            0,
            "run-1",
            json!({"composition": "research"}),
        ),
        ev(
            2,
            "composition.step.started",
            1,
            "run-1",
            json!({"step_id": "fetch", "kind": "tool", "attempt": 2}),
        ),
        ev(
            3,
            "composition.step.completed",
            2,
            "run-1",
            json!({"step_id": "fetch", "error": "boom"}),
        ),
        ev(
            4,
            "composition.completed",
            3,
            "run-1",
            json!({"composition": "research", "duration_ms": 3}),
        ),
    ]);
    let c = span(&out.spans, "composition.research");
    assert_eq!(c.parent_span_id, Some(out.spans[0].span_id));
    assert_eq!(c.span_id, key_span_id("run-1:composition:research"));
    assert_eq!(
        attr(c, "promptkit.composition.duration_ms"),
        Some(&Value::Int(3))
    );
    assert_eq!(c.status.code, StatusCode::Ok);
    let s = span(&out.spans, "composition.step.fetch");
    assert_eq!(s.parent_span_id, Some(c.span_id));
    assert_eq!(s.span_id, key_span_id("run-1:composition.step:fetch"));
    assert_eq!(
        attr(s, "promptkit.composition.step_attempt"),
        Some(&Value::Int(2))
    );
    assert_eq!(
        (s.status.code, s.status.message.as_str()),
        (StatusCode::Error, "boom")
    );
}

#[test]
fn fifo_pairing_closes_the_earliest_open_span() {
    let out = convert(&[
        ev(
            1,
            "middleware.started",
            0,
            "run-1",
            json!({"Name": "m", "Index": 1}),
        ),
        ev(
            2,
            "middleware.started",
            10,
            "run-1",
            json!({"Name": "m", "Index": 2}),
        ),
        ev(3, "middleware.completed", 20, "run-1", json!({"Name": "m"})),
    ]);
    let m = spans_named(&out.spans, "middleware.m");
    assert_eq!(m[0].status.code, StatusCode::Ok);
    assert_eq!(m[0].end_time_unix_nano, BASE + 20_000_000);
    assert_eq!(m[1].status.message, "incomplete");
}
