//! Writing session events as JSON Lines, in native or PromptKit form.
//!
//! Both writers are lossless for what the reader keeps: the original timestamp text,
//! `parent_id`, `data_type`, opaque `{}` errors and payload keys nobody reads. The native
//! writer renames known Go payload keys to snake case (`Duration` → `duration_ns`) and
//! moves every other key into `data.extra` under its original name.

use std::io::{self, Write};

use serde_json::{Map, Value};

use crate::event::{payload_keys, SessionEvent, NATIVE_VERSION};

/// The event as a native JSON object (canonical key order, absent keys left out).
pub fn native_value(event: &SessionEvent) -> Value {
    let mut out = Map::new();
    out.insert("v".into(), Value::from(NATIVE_VERSION));
    if let Some(seq) = event.seq {
        out.insert("seq".into(), Value::from(seq));
    }
    if let Some(parent) = &event.parent_id {
        out.insert("parent_id".into(), parent.clone());
    }
    insert_inner(&mut out, event, native_data(event));
    Value::Object(out)
}

/// The event as a PromptKit `FileEventStore` object.
pub fn promptkit_value(event: &SessionEvent) -> Value {
    let mut inner = Map::new();
    insert_inner(&mut inner, event, event.data.clone());
    let mut out = Map::new();
    if let Some(seq) = event.seq {
        out.insert("seq".into(), Value::from(seq));
    }
    if let Some(parent) = &event.parent_id {
        out.insert("parent_id".into(), parent.clone());
    }
    out.insert("event".into(), Value::Object(inner));
    Value::Object(out)
}

/// One native line (no trailing newline).
pub fn native_line(event: &SessionEvent) -> String {
    native_value(event).to_string()
}

/// One PromptKit line (no trailing newline).
pub fn promptkit_line(event: &SessionEvent) -> String {
    promptkit_value(event).to_string()
}

/// Writes events as native JSON Lines, one per line.
pub fn write_native<'a, W: Write>(
    mut out: W,
    events: impl IntoIterator<Item = &'a SessionEvent>,
) -> io::Result<()> {
    for event in events {
        serde_json::to_writer(&mut out, &native_value(event))?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// Writes events as PromptKit JSON Lines, one per line.
pub fn write_promptkit<'a, W: Write>(
    mut out: W,
    events: impl IntoIterator<Item = &'a SessionEvent>,
) -> io::Result<()> {
    for event in events {
        serde_json::to_writer(&mut out, &promptkit_value(event))?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

fn insert_inner(out: &mut Map<String, Value>, event: &SessionEvent, data: Option<Value>) {
    out.insert("type".into(), Value::from(event.event_type.as_str()));
    if let Some(text) = event.timestamp.text() {
        out.insert("timestamp".into(), Value::from(text));
    }
    let strings = [
        ("run_id", &event.run_id),
        ("execution_id", &event.execution_id),
    ];
    for (key, value) in strings {
        if let Some(v) = value {
            out.insert(key.into(), Value::from(v.as_str()));
        }
    }
    if let Some(sequence) = event.sequence {
        out.insert("sequence".into(), Value::from(sequence));
    }
    let strings = [
        ("session_id", &event.session_id),
        ("conversation_id", &event.conversation_id),
        ("user_id", &event.user_id),
        ("data_type", &event.data_type),
    ];
    for (key, value) in strings {
        if let Some(v) = value {
            out.insert(key.into(), Value::from(v.as_str()));
        }
    }
    if let Some(data) = data {
        out.insert("data".into(), data);
    }
}

/// The payload with known Go keys renamed to snake case and the rest under `extra`.
fn native_data(event: &SessionEvent) -> Option<Value> {
    let data = event.data.as_ref()?;
    let (Some(table), Value::Object(map)) = (payload_keys(&event.event_type), data) else {
        return Some(data.clone());
    };
    let mut out = Map::with_capacity(map.len());
    let mut extra = Map::new();
    for (key, value) in map {
        match table.iter().find(|(go, _)| go == key) {
            Some((_, snake)) => {
                out.insert((*snake).to_owned(), value.clone());
            }
            None => {
                extra.insert(key.clone(), value.clone());
            }
        }
    }
    if !extra.is_empty() {
        out.insert("extra".into(), Value::Object(extra));
    }
    Some(Value::Object(out))
}
