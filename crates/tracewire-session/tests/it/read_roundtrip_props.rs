//! Property test mirroring the `session_line` fuzz target on structured random lines:
//! every event read re-reads identically from its native and its PromptKit line.

use proptest::prelude::*;
use serde_json::{Map, Value};
use tracewire_session::event::SessionEvent;
use tracewire_session::read::parse_line;
use tracewire_session::write::{native_line, promptkit_line};

/// Equal in everything but where it was read from (format and line number).
fn same(a: &SessionEvent, b: &SessionEvent) -> bool {
    let mut b = b.clone();
    (b.format, b.line) = (a.format, a.line);
    *a == b
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        "[a-z<&\u{2028}]{0,4}".prop_map(Value::from),
        Just(serde_json::json!({})),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
            proptest::collection::btree_map(key(), inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Payload keys that collide on purpose: Go names, their snake forms, other cases, `extra`.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("CallID"),
        Just("call_id"),
        Just("callid"),
        Just("Duration"),
        Just("duration_ns"),
        Just("extra"),
        Just("Error"),
        Just("error"),
        Just("eval_id"),
        Just("Other"),
    ]
    .prop_map(str::to_owned)
}

fn line() -> impl Strategy<Value = String> {
    let types = prop_oneof![
        Just("tool.call.completed"),
        Just("eval.completed"),
        Just("provider.call.started"),
        Just("stage.started"),
        Just("message.created"),
    ];
    let data = prop_oneof![
        json(),
        proptest::collection::btree_map(key(), json(), 0..6)
            .prop_map(|m| Value::Object(m.into_iter().collect())),
    ];
    (
        types,
        data,
        any::<bool>(),
        any::<bool>(),
        proptest::option::of(any::<u64>()),
        json(),
    )
        .prop_map(|(t, data, native, with_data, seq, parent)| {
            let mut env = Map::new();
            env.insert("type".into(), Value::from(t));
            env.insert(
                "timestamp".into(),
                Value::from("2026-08-21T09:00:02.50+02:00"),
            );
            env.insert("execution_id".into(), Value::from("e"));
            if with_data {
                env.insert("data".into(), data);
            }
            let mut top = Map::new();
            if let Some(seq) = seq {
                top.insert("seq".into(), Value::from(seq));
            }
            top.insert("parent_id".into(), parent);
            if native {
                top.insert("v".into(), Value::from(1));
                top.extend(env);
            } else {
                top.insert("event".into(), Value::Object(env));
            }
            Value::Object(top).to_string()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn events_survive_both_writers(text in line()) {
        let event = parse_line(&text, 1).unwrap();
        let native = parse_line(&native_line(&event), 1).unwrap();
        prop_assert!(same(&event, &native), "native: {} -> {}", text, native_line(&event));
        let pk = parse_line(&promptkit_line(&event), 1).unwrap();
        prop_assert!(same(&event, &pk), "promptkit: {} -> {}", text, promptkit_line(&event));
    }
}
