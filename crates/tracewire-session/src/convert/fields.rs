//! Typed access to a payload under Go field names, counting wrong-typed fields.
//!
//! Keys match exactly, then ASCII case-insensitively (as Go's decoder does). `null`
//! counts as absent; a value of the wrong JSON type counts as absent and as a bad field.

use serde_json::{Map, Value};

/// Read-only view of one event's payload.
pub(crate) struct Fields<'a> {
    data: Option<&'a Map<String, Value>>,
    bad: u64,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(data: Option<&'a Value>) -> Self {
        Self {
            data: data.and_then(Value::as_object),
            bad: 0,
        }
    }

    /// Wrong-typed fields seen so far.
    pub(crate) fn bad(&self) -> u64 {
        self.bad
    }

    /// The raw value of a field (`null` = absent).
    pub(crate) fn raw(&self, name: &str) -> Option<&'a Value> {
        let map = self.data?;
        let value = match map.get(name) {
            Some(v) => v,
            None => map.iter().find(|(k, _)| k.eq_ignore_ascii_case(name))?.1,
        };
        (!value.is_null()).then_some(value)
    }

    fn typed<T>(&mut self, name: &str, get: impl Fn(&'a Value) -> Option<T>) -> Option<T> {
        let value = self.raw(name)?;
        let out = get(value);
        if out.is_none() {
            self.bad += 1;
        }
        out
    }

    pub(crate) fn str(&mut self, name: &str) -> Option<&'a str> {
        self.typed(name, Value::as_str)
    }

    /// A string field, `""` when absent (PromptKit's zero value).
    pub(crate) fn string(&mut self, name: &str) -> &'a str {
        self.str(name).unwrap_or("")
    }

    pub(crate) fn int(&mut self, name: &str) -> Option<i64> {
        self.typed(name, Value::as_i64)
    }

    pub(crate) fn float(&mut self, name: &str) -> Option<f64> {
        self.typed(name, Value::as_f64)
    }

    pub(crate) fn bool(&mut self, name: &str) -> Option<bool> {
        self.typed(name, Value::as_bool)
    }

    pub(crate) fn object(&mut self, name: &str) -> Option<&'a Map<String, Value>> {
        self.typed(name, Value::as_object)
    }

    pub(crate) fn array(&mut self, name: &str) -> Option<&'a Vec<Value>> {
        self.typed(name, Value::as_array)
    }

    /// A string array; any non-string element makes the whole field bad.
    pub(crate) fn strings(&mut self, name: &str) -> Option<Vec<&'a str>> {
        self.typed(name, |v| {
            v.as_array()?
                .iter()
                .map(Value::as_str)
                .collect::<Option<Vec<_>>>()
        })
    }

    /// A `map[string]string` (labels), keys sorted for determinism.
    pub(crate) fn labels(&mut self, name: &str) -> Vec<(&'a str, &'a str)> {
        let labels = self.typed(name, |v| {
            let map = v.as_object()?;
            map.iter()
                .map(|(k, v)| Some((k.as_str(), v.as_str()?)))
                .collect::<Option<Vec<_>>>()
        });
        let mut labels = labels.unwrap_or_default();
        labels.sort_unstable();
        labels
    }

    /// Duration in Go nanoseconds.
    pub(crate) fn duration_ns(&mut self) -> Option<i64> {
        self.int("Duration")
    }

    /// The text of a Go `error`: a string, else an object's `message`/`Message`, else
    /// `"unknown error"` (Go serialises most errors as `{}`).
    pub(crate) fn error(&mut self, name: &str) -> String {
        error_text(self.raw(name))
    }
}

pub(crate) const UNKNOWN_ERROR: &str = "unknown error";

pub(crate) fn error_text(value: Option<&Value>) -> String {
    let text = match value {
        Some(Value::String(s)) => Some(s.as_str()),
        Some(Value::Object(map)) => map
            .get("message")
            .or_else(|| map.get("Message"))
            .and_then(Value::as_str),
        _ => None,
    };
    match text {
        Some(t) if !t.is_empty() => t.to_owned(),
        _ => UNKNOWN_ERROR.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn exact_then_case_insensitive_and_bad_types_count() {
        let data = json!({"Provider": "openai", "model": "gpt", "InputTokens": "x", "Cost": null});
        let mut f = Fields::new(Some(&data));
        assert_eq!(f.str("Provider"), Some("openai"));
        assert_eq!(f.str("Model"), Some("gpt"));
        assert_eq!(f.int("InputTokens"), None);
        assert_eq!(f.float("Cost"), None);
        assert_eq!(f.bad(), 1);
    }

    #[test]
    fn error_texts() {
        assert_eq!(error_text(Some(&json!("rate limited"))), "rate limited");
        assert_eq!(error_text(Some(&json!({}))), UNKNOWN_ERROR);
        assert_eq!(error_text(Some(&json!({"Message": "boom"}))), "boom");
        assert_eq!(error_text(None), UNKNOWN_ERROR);
    }
}
