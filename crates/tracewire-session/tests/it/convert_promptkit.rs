//! PromptKit compatibility of the converter (`docs/sessions.md`): id vectors, the root,
//! provider, tool, middleware and workflow spans, and messages as span events.

use crate::convert_support::*;
use serde_json::json;
use tracewire_otlp::span::{SpanKind, StatusCode, Value};
use tracewire_session::convert::{
    key_span_id, session_trace_id, ConvertOptions, ConvertStats, Converter,
};

fn convert(
    events: &[tracewire_session::event::SessionEvent],
) -> tracewire_session::convert::Conversion {
    Converter::new(ConvertOptions::default()).convert_session("session-1", events)
}

#[test]
fn promptkit_id_vectors_as_unit_values() {
    assert_eq!(
        session_trace_id("session-1").to_string(),
        "84097828fc31a8c8d29210df48901a85"
    );
    for (key, want) in [
        ("session-1:root", "cfd20cf7856c9b80"),
        ("run-1:pipeline", "ed3135c5d478bd0d"),
        ("run-1:provider:openai", "f70379eea6bb3625"),
        ("run-1:tool:call-123", "01ed8855e439eb80"),
        ("run-1:middleware:auth", "0a64402203c0ec46"),
        ("run-1:provider:openai#2", "beea37abe42685c0"),
        ("run-1:middleware:auth#2", "6d180dee0bd9cb9e"),
    ] {
        assert_eq!(key_span_id(key).to_string(), want, "{key}");
    }
}

#[test]
fn promptkit_id_vectors_through_converted_fixture() {
    let out = convert(&fixture("pk_run_id.jsonl"));
    let spans = &out.spans;
    for s in spans {
        assert_eq!(s.trace_id.to_string(), "84097828fc31a8c8d29210df48901a85");
    }
    assert_eq!(spans[0].span_id.to_string(), "cfd20cf7856c9b80");
    assert_eq!(
        span(spans, "pipeline").span_id.to_string(),
        "ed3135c5d478bd0d"
    );
    let providers = spans_named(spans, "provider.openai");
    assert_eq!(providers.len(), 2);
    assert_eq!(providers[0].span_id.to_string(), "f70379eea6bb3625");
    assert_eq!(providers[1].span_id.to_string(), "beea37abe42685c0");
    assert_eq!(
        span(spans, "tool.search").span_id.to_string(),
        "01ed8855e439eb80"
    );
    let auth = spans_named(spans, "middleware.auth");
    assert_eq!(auth.len(), 2);
    assert_eq!(auth[0].span_id.to_string(), "0a64402203c0ec46");
    assert_eq!(auth[1].span_id.to_string(), "6d180dee0bd9cb9e");
    assert_eq!(out.stats.disambiguated, 2);
}

#[test]
fn empty_input_gives_no_spans_and_zero_stats() {
    let out = convert(&[]);
    assert!(out.spans.is_empty());
    assert_eq!(out.stats, ConvertStats::default());
}

#[test]
fn root_is_session_server_with_session_id() {
    let out = convert(&[ev(1, "pipeline.started", 0, "run-1", json!({}))]);
    let root = &out.spans[0];
    assert_eq!(root.name, "session");
    assert_eq!(root.kind, SpanKind::Server);
    assert_eq!(root.parent_span_id, None);
    assert_eq!(str_attr(root, "session.id"), "session-1");
}

#[test]
fn provider_start_and_complete_give_a_client_span_with_usage_and_cost() {
    let out = convert(&[
        ev(
            1,
            "provider.call.started",
            0,
            "run-1",
            json!({"Provider": "openai", "Model": "gpt-4o", "MessageCount": 2, "ToolCount": 1}),
        ),
        ev(
            2,
            "provider.call.completed",
            1234,
            "run-1",
            json!({"Provider": "openai", "Model": "gpt-4o", "Duration": 1_234_000_000u64,
                   "InputTokens": 100, "OutputTokens": 42, "Cost": 0.00231, "FinishReason": "stop"}),
        ),
    ]);
    let p = span(&out.spans, "provider.openai");
    assert_eq!(p.kind, SpanKind::Client);
    assert_eq!(attr(p, "gen_ai.usage.input_tokens"), Some(&Value::Int(100)));
    assert_eq!(attr(p, "gen_ai.usage.output_tokens"), Some(&Value::Int(42)));
    assert_eq!(attr(p, "provider.cost"), Some(&Value::Double(0.00231)));
    assert_eq!(str_attr(p, "gen_ai.operation"), "chat");
    assert_eq!(str_attr(p, "gen_ai.system"), "openai");
    assert_eq!(str_attr(p, "provider.model"), "gpt-4o");
    assert_eq!(attr(p, "provider.duration_ms"), Some(&Value::Int(1234)));
    assert_eq!(str_attr(p, "gen_ai.response.finish_reason"), "stop");
    assert_eq!(p.status.code, StatusCode::Ok);
    assert_eq!(p.end_time_unix_nano - p.start_time_unix_nano, 1_234_000_000);
    assert_eq!(p.parent_span_id, Some(out.spans[0].span_id));
}

#[test]
fn provider_failure_is_error_with_its_message_or_unknown_error() {
    let failed = |error: serde_json::Value| {
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
                "provider.call.failed",
                10,
                "run-1",
                json!({"Provider": "openai", "Error": error}),
            ),
        ]);
        span(&out.spans, "provider.openai").status.clone()
    };
    let s = failed(json!("rate limited"));
    assert_eq!(
        (s.code, s.message.as_str()),
        (StatusCode::Error, "rate limited")
    );
    let s = failed(json!({}));
    assert_eq!(
        (s.code, s.message.as_str()),
        (StatusCode::Error, "unknown error")
    );
}

#[test]
fn tool_span_has_call_id_and_go_encoded_args() {
    let events = [
        ev(
            1,
            "tool.call.started",
            0,
            "run-1",
            json!({"ToolName": "search", "CallID": "call-1", "Args": {"q": "test", "a": "<b>"}}),
        ),
        ev(
            2,
            "tool.call.completed",
            5,
            "run-1",
            json!({"ToolName": "search", "CallID": "call-1", "Status": "success"}),
        ),
        ev(
            3,
            "tool.call.started",
            6,
            "run-1",
            json!({"ToolName": "noargs", "CallID": "call-2", "Args": null}),
        ),
    ];
    let on = Converter::new(ConvertOptions::default().with_capture_content(true))
        .convert_session("session-1", &events);
    let tool = span(&on.spans, "tool.search");
    assert_eq!(str_attr(tool, "tool.call_id"), "call-1");
    assert_eq!(str_attr(tool, "tool.name"), "search");
    assert_eq!(
        str_attr(tool, "tool.args"),
        r#"{"a":"\u003cb\u003e","q":"test"}"#
    );
    assert!(attr(span(&on.spans, "tool.noargs"), "tool.args").is_none());
    // Capture off (the default): no args at all.
    let off = convert(&events);
    assert!(attr(span(&off.spans, "tool.search"), "tool.args").is_none());
}

#[test]
fn middleware_and_workflow_spans_have_their_attributes_and_status() {
    let out = convert(&[
        ev(
            1,
            "middleware.started",
            0,
            "run-1",
            json!({"Name": "auth", "Index": 3}),
        ),
        ev(
            2,
            "middleware.completed",
            7,
            "run-1",
            json!({"Name": "auth", "Duration": 7_000_000}),
        ),
        ev(
            3,
            "workflow.transitioned",
            8,
            "run-1",
            json!({"from_state": "a", "to_state": "b", "event": "Go", "prompt_task": "t"}),
        ),
        ev(
            4,
            "workflow.completed",
            9,
            "run-1",
            json!({"final_state": "b", "transition_count": 5}),
        ),
    ]);
    let m = span(&out.spans, "middleware.auth");
    assert_eq!(m.kind, SpanKind::Internal);
    assert_eq!(attr(m, "middleware.index"), Some(&Value::Int(3)));
    assert_eq!(attr(m, "middleware.duration_ms"), Some(&Value::Int(7)));
    assert_eq!(m.status.code, StatusCode::Ok);
    let t = span(&out.spans, "workflow.transition");
    assert_eq!(t.start_time_unix_nano, t.end_time_unix_nano);
    assert_eq!(t.attributes.len(), 4);
    assert_eq!(str_attr(t, "workflow.from_state"), "a");
    assert_eq!(str_attr(t, "workflow.to_state"), "b");
    assert_eq!(t.status.code, StatusCode::Unset);
    assert_eq!(t.span_id, key_span_id("run-1:workflow:transition:a:b"));
    let c = span(&out.spans, "workflow.completed");
    assert_eq!(attr(c, "workflow.transition_count"), Some(&Value::Int(5)));
    assert_eq!(c.status.code, StatusCode::Ok);
    assert_eq!(c.span_id, key_span_id("run-1:workflow:completed:b"));
}

#[test]
fn messages_become_provider_events_in_order_else_root_events() {
    let out = convert(&[
        ev(
            1,
            "message.created",
            0,
            "run-1",
            json!({"Role": "system", "Content": "hi"}),
        ),
        ev(
            2,
            "provider.call.started",
            1,
            "run-1",
            json!({"Provider": "openai"}),
        ),
        ev(
            3,
            "message.created",
            2,
            "run-1",
            json!({"Role": "user", "Content": "q"}),
        ),
        ev(
            4,
            "message.created",
            3,
            "run-1",
            json!({"Role": "assistant", "Content": "a"}),
        ),
        ev(
            5,
            "provider.call.completed",
            4,
            "run-1",
            json!({"Provider": "openai"}),
        ),
    ]);
    let p = span(&out.spans, "provider.openai");
    let names: Vec<_> = p.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["gen_ai.user.message", "gen_ai.assistant.message"]);
    assert!(p.events[0].time_unix_nano < p.events[1].time_unix_nano);
    let root = &out.spans[0];
    assert_eq!(root.events.len(), 1);
    assert_eq!(root.events[0].name, "gen_ai.system.message");
    assert_eq!(out.stats.messages_on_root, 1);
}
