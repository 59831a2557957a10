//! Span attributes and statuses per event family, in PromptKit and/or GenAI
//! semantic-convention naming, plus content capture (`docs/sessions.md#spans-and-attributes`,
//! `docs/sessions.md#status`, `docs/sessions.md#content-capture`).

use serde_json::Value as Json;

use super::fields::Fields;
use super::gojson::{encode, KeyOrder};
use super::{Naming, Redactor};
use tracewire_otlp::{Attributes, Status, Value};

/// Where attributes of one span go, filtered by the naming mode.
pub(crate) struct Sink<'a> {
    pub(crate) attrs: &'a mut Attributes,
    pub(crate) naming: Naming,
}

impl Sink<'_> {
    /// A PromptKit-column attribute.
    pub(crate) fn pk(&mut self, key: &str, value: impl Into<Value>) {
        if matches!(self.naming, Naming::PromptKit | Naming::Both) {
            self.attrs.insert(key, value);
        }
    }

    /// A GenAI-column attribute.
    pub(crate) fn genai(&mut self, key: &str, value: impl Into<Value>) {
        if matches!(self.naming, Naming::GenAi | Naming::Both) {
            self.attrs.insert(key, value);
        }
    }

    /// An attribute set in every mode.
    pub(crate) fn all(&mut self, key: &str, value: impl Into<Value>) {
        self.attrs.insert(key, value);
    }

    /// Labels (`promptkit.label.<k>`) and `Source` (`promptkit.provider.source`), every mode.
    fn labels_and_source(&mut self, f: &mut Fields<'_>, with_source: bool) {
        if with_source {
            if let Some(source) = f.str("Source") {
                self.all("promptkit.provider.source", source);
            }
        }
        for (k, v) in f.labels("Labels") {
            self.attrs.insert(format!("promptkit.label.{k}"), v);
        }
    }
}

/// Content capture policy: off by default; a redactor sees every content attribute.
#[derive(Clone, Copy)]
pub(crate) struct Content<'a> {
    pub(crate) capture: bool,
    pub(crate) redactor: Option<&'a dyn Redactor>,
}

impl Content<'_> {
    pub(crate) fn put(&self, attrs: &mut Attributes, key: &str, text: &str) {
        if !self.capture {
            return;
        }
        let value = match self.redactor {
            Some(r) => r.redact(key, text).filter(|v| !v.is_empty()),
            None => Some(text.to_owned()),
        };
        if let Some(v) = value {
            attrs.insert(key, v);
        }
    }
}

/// A double attribute; non-finite values become strings so both encodings agree.
pub(crate) fn double(f: f64) -> Value {
    if f.is_finite() {
        Value::Double(f)
    } else if f.is_nan() {
        Value::String("NaN".into())
    } else if f > 0.0 {
        Value::String("Infinity".into())
    } else {
        Value::String("-Infinity".into())
    }
}

fn duration_ms(ns: Option<i64>) -> i64 {
    ns.unwrap_or(0) / 1_000_000
}

/// Error text if the recording carried one (string or `message` member), else `None`.
fn error_opt(value: Option<&Json>) -> Option<String> {
    let text = match value? {
        Json::String(s) => s.as_str(),
        Json::Object(map) => map
            .get("message")
            .or_else(|| map.get("Message"))
            .and_then(Json::as_str)?,
        _ => return None,
    };
    (!text.is_empty()).then(|| text.to_owned())
}

pub(crate) fn session(sink: &mut Sink<'_>, session_id: &str) {
    sink.pk("session.id", session_id);
    sink.genai("gen_ai.conversation.id", session_id);
    sink.genai("gen_ai.operation.name", "invoke_agent");
}

pub(crate) fn pipeline_start(sink: &mut Sink<'_>, run: &str) {
    sink.pk("run.id", run);
    sink.genai("promptkit.run.id", run);
}

pub(crate) fn pipeline_end(sink: &mut Sink<'_>, f: &mut Fields<'_>, failed: bool) -> Status {
    let duration = duration_ms(f.duration_ns());
    if failed {
        sink.pk("pipeline.duration_ms", duration);
        return Status::error(f.error("Error"));
    }
    let cost = double(f.float("TotalCost").unwrap_or(0.0));
    let input = f.int("InputTokens").unwrap_or(0);
    let output = f.int("OutputTokens").unwrap_or(0);
    sink.pk("pipeline.duration_ms", duration);
    sink.pk("pipeline.total_cost", cost.clone());
    sink.pk("pipeline.input_tokens", input);
    sink.pk("pipeline.output_tokens", output);
    sink.genai("promptkit.pipeline.cost", cost);
    sink.genai("gen_ai.usage.input_tokens", input);
    sink.genai("gen_ai.usage.output_tokens", output);
    Status::ok()
}

pub(crate) fn provider_start(sink: &mut Sink<'_>, f: &mut Fields<'_>, provider: &str) {
    let model = f.string("Model");
    let messages = f.int("MessageCount").unwrap_or(0);
    let tools = f.int("ToolCount").unwrap_or(0);
    sink.pk("provider.name", provider);
    sink.pk("provider.model", model);
    sink.pk("message.count", messages);
    sink.pk("tool.count", tools);
    sink.pk("gen_ai.system", provider);
    sink.pk("gen_ai.operation", "chat");
    sink.genai("gen_ai.operation.name", "chat");
    sink.genai("gen_ai.system", provider);
    sink.genai("gen_ai.provider.name", provider);
    sink.genai("gen_ai.request.model", model);
    sink.genai("promptkit.message.count", messages);
    sink.genai("promptkit.tool.count", tools);
    sink.labels_and_source(f, true);
}

pub(crate) fn provider_end(sink: &mut Sink<'_>, f: &mut Fields<'_>, failed: bool) -> Status {
    let duration = duration_ms(f.duration_ns());
    sink.pk("provider.duration_ms", duration);
    if failed {
        return Status::error(f.error("Error"));
    }
    let input = f.int("InputTokens").unwrap_or(0);
    let output = f.int("OutputTokens").unwrap_or(0);
    let cost = double(f.float("Cost").unwrap_or(0.0));
    let finish = f.string("FinishReason");
    sink.pk("gen_ai.usage.input_tokens", input);
    sink.pk("gen_ai.usage.output_tokens", output);
    sink.pk("gen_ai.response.finish_reason", finish);
    sink.pk("provider.cost", cost.clone());
    sink.genai("gen_ai.usage.input_tokens", input);
    sink.genai("gen_ai.usage.output_tokens", output);
    let reasons = if finish.is_empty() {
        Vec::new()
    } else {
        vec![Value::from(finish)]
    };
    sink.genai("gen_ai.response.finish_reasons", Value::Array(reasons));
    sink.genai("promptkit.provider.cost", cost);
    sink.labels_and_source(f, true);
    Status::ok()
}

pub(crate) fn tool_start(
    sink: &mut Sink<'_>,
    f: &mut Fields<'_>,
    tool: &str,
    call_id: &str,
    content: Content<'_>,
) {
    sink.pk("tool.name", tool);
    sink.pk("tool.call_id", call_id);
    sink.genai("gen_ai.operation.name", "execute_tool");
    sink.genai("gen_ai.tool.name", tool);
    sink.genai("gen_ai.tool.call.id", call_id);
    let kind = if tool.starts_with("mcp__") {
        "extension"
    } else {
        "function"
    };
    sink.genai("gen_ai.tool.type", kind);
    if let Some(args) = f.object("Args") {
        if content.capture {
            let text = encode(&Json::Object(args.clone()), KeyOrder::Sorted);
            if matches!(sink.naming, Naming::PromptKit | Naming::Both) {
                content.put(sink.attrs, "tool.args", &text);
            }
            if matches!(sink.naming, Naming::GenAi | Naming::Both) {
                content.put(sink.attrs, "gen_ai.tool.call.arguments", &text);
            }
        }
    }
    sink.labels_and_source(f, false);
}

pub(crate) fn tool_end(sink: &mut Sink<'_>, f: &mut Fields<'_>, failed: bool) -> Status {
    let duration = duration_ms(f.duration_ns());
    sink.pk("tool.duration_ms", duration);
    if failed {
        return Status::error(f.error("Error"));
    }
    let status = f.string("Status");
    sink.pk("tool.status", status);
    sink.genai("promptkit.tool.status", status);
    if status.eq_ignore_ascii_case("failed") || status.eq_ignore_ascii_case("error") {
        Status::error(format!("tool call {status}"))
    } else {
        Status::ok()
    }
}

pub(crate) fn middleware_start(sink: &mut Sink<'_>, f: &mut Fields<'_>, name: &str) {
    let index = f.int("Index").unwrap_or(0);
    sink.pk("middleware.name", name);
    sink.pk("middleware.index", index);
    sink.genai("promptkit.middleware.name", name);
    sink.genai("promptkit.middleware.index", index);
}

pub(crate) fn middleware_end(sink: &mut Sink<'_>, f: &mut Fields<'_>, failed: bool) -> Status {
    sink.pk("middleware.duration_ms", duration_ms(f.duration_ns()));
    if failed {
        Status::error(f.error("Error"))
    } else {
        Status::ok()
    }
}

/// Reads the transition's states once; returns `(from, to)` for the id key.
pub(crate) fn transition<'a>(sink: &mut Sink<'_>, f: &mut Fields<'a>) -> (&'a str, &'a str) {
    let from = f.string("from_state");
    let to = f.string("to_state");
    let event = f.string("event");
    let task = f.string("prompt_task");
    for (key, value) in [
        ("from_state", from),
        ("to_state", to),
        ("event", event),
        ("prompt_task", task),
    ] {
        sink.pk(&format!("workflow.{key}"), value);
        sink.genai(&format!("promptkit.workflow.{key}"), value);
    }
    (from, to)
}

/// Returns the final state for the id key.
pub(crate) fn workflow_completed<'a>(sink: &mut Sink<'_>, f: &mut Fields<'a>) -> &'a str {
    let state = f.string("final_state");
    let count = f.int("transition_count").unwrap_or(0);
    sink.pk("workflow.final_state", state);
    sink.pk("workflow.transition_count", count);
    sink.genai("promptkit.workflow.final_state", state);
    sink.genai("promptkit.workflow.transition_count", count);
    state
}

pub(crate) fn validation_start(sink: &mut Sink<'_>, f: &mut Fields<'_>, name: &str) {
    sink.all("gen_ai.evaluation.name", name);
    sink.all("promptkit.eval.type", f.string("ValidatorType"));
    sink.all("promptkit.guardrail", true);
}

/// A verdict is data, not a failure: always `Ok`.
pub(crate) fn validation_end(sink: &mut Sink<'_>, f: &mut Fields<'_>, failed: bool) -> Status {
    if failed {
        sink.all("gen_ai.evaluation.score", 0.0);
        let explanation = error_opt(f.raw("Error")).or_else(|| {
            f.strings("Violations")
                .filter(|v| !v.is_empty())
                .map(|v| v.join("; "))
        });
        if let Some(text) = explanation {
            sink.all("gen_ai.evaluation.explanation", text);
        }
    } else {
        sink.all("gen_ai.evaluation.score", 1.0);
    }
    Status::ok()
}

/// Returns the eval id (for the key) and the status.
pub(crate) fn eval<'a>(sink: &mut Sink<'_>, f: &mut Fields<'a>) -> (&'a str, Status) {
    let id = f.string("eval_id");
    sink.all("gen_ai.evaluation.name", id);
    sink.all("promptkit.eval.type", f.string("eval_type"));
    if let Some(trigger) = f.str("trigger") {
        sink.all("promptkit.eval.trigger", trigger);
    }
    sink.all("promptkit.guardrail", false);
    if let Some(score) = f.float("score") {
        sink.all("gen_ai.evaluation.score", double(score));
    }
    let explanation = f.str("explanation");
    if let Some(text) = explanation {
        sink.all("gen_ai.evaluation.explanation", text);
    }
    let error = f.string("error");
    let status = if !error.is_empty() {
        Status::error(error)
    } else if f.bool("passed").unwrap_or(true) {
        Status::ok()
    } else {
        Status::error(
            explanation
                .filter(|e| !e.is_empty())
                .unwrap_or("eval failed"),
        )
    };
    (id, status)
}

pub(crate) fn composition_start(sink: &mut Sink<'_>, name: &str, run: &str) {
    sink.all("promptkit.composition.name", name);
    sink.all("promptkit.run.id", run);
}

pub(crate) fn composition_end(sink: &mut Sink<'_>, f: &mut Fields<'_>) -> Status {
    if let Some(ms) = f.int("duration_ms") {
        sink.all("promptkit.composition.duration_ms", ms);
    }
    status_from_error(f.string("error"))
}

pub(crate) fn step_start(sink: &mut Sink<'_>, f: &mut Fields<'_>, step: &str) {
    sink.all("promptkit.composition.step_id", step);
    sink.all("promptkit.composition.step_kind", f.string("kind"));
    sink.all(
        "promptkit.composition.step_attempt",
        f.int("attempt").unwrap_or(0),
    );
}

pub(crate) fn step_end(sink: &mut Sink<'_>, f: &mut Fields<'_>) -> Status {
    if let Some(kind) = f.str("kind") {
        sink.all("promptkit.composition.step_kind", kind);
    }
    if let Some(attempt) = f.int("attempt") {
        sink.all("promptkit.composition.step_attempt", attempt);
    }
    status_from_error(f.string("error"))
}

fn status_from_error(error: &str) -> Status {
    if error.is_empty() {
        Status::ok()
    } else {
        Status::error(error)
    }
}

/// Content attributes of a `message.created` span event; returns the role.
pub(crate) fn message<'a>(
    attrs: &mut Attributes,
    f: &mut Fields<'a>,
    content: Content<'_>,
) -> &'a str {
    let role = f.string("Role");
    if !content.capture {
        return role;
    }
    content.put(attrs, "gen_ai.message.content", f.string("Content"));
    if let Some(calls) = f.array("ToolCalls").filter(|c| !c.is_empty()) {
        let text = encode(&Json::Array(calls.clone()), KeyOrder::Recorded);
        content.put(attrs, "gen_ai.tool_calls", &text);
    }
    if let Some(result) = f.object("ToolResult") {
        let text = encode(&Json::Object(result.clone()), KeyOrder::Recorded);
        content.put(attrs, "gen_ai.tool_result", &text);
    }
    role
}
