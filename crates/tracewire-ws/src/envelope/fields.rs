//! Trace header fields: the ordered map a propagator injects into, and the borrowed view
//! of a received envelope's header that it extracts from.

use std::borrow::Cow;

use opentelemetry::propagation::{Extractor, Injector};

/// Trace fields to write into an envelope, kept sorted by lowercase name (Go's encoder
/// order). Empty values are not stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields {
    entries: Vec<(Cow<'static, str>, String)>,
}

/// Names a propagator commonly injects, kept without allocating a key per message.
const KNOWN_NAMES: [&str; 6] = [
    "baggage",
    "traceparent",
    "tracestate",
    "x-amzn-trace-id",
    "b3",
    "uber-trace-id",
];

/// `name` (already lowercase) as a key: static for the known names, else owned.
fn key_of(name: Cow<'_, str>) -> Cow<'static, str> {
    match KNOWN_NAMES.iter().find(|k| **k == name) {
        Some(k) => Cow::Borrowed(k),
        None => Cow::Owned(name.into_owned()),
    }
}

impl Fields {
    /// An empty set of fields.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value of `name` (lowercase), if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k.as_ref() == name)
            .map(|(_, v)| v.as_str())
    }

    /// The fields in lexicographic order of their names.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_ref(), v.as_str()))
    }

    /// `true` when nothing was injected.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Removes every field, keeping the allocation.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Sets `name` (lowercased) to `value`; an empty value removes the field.
    pub fn insert(&mut self, name: &str, value: String) {
        let name = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(name.to_ascii_lowercase())
        } else {
            Cow::Borrowed(name)
        };
        match self
            .entries
            .binary_search_by(|(k, _)| k.as_ref().cmp(name.as_ref()))
        {
            Ok(i) if value.is_empty() => {
                self.entries.remove(i);
            }
            Ok(i) => self.entries[i].1 = value,
            Err(_) if value.is_empty() => {}
            Err(i) => self.entries.insert(i, (key_of(name), value)),
        }
    }
}

impl Injector for Fields {
    fn set(&mut self, key: &str, value: String) {
        self.insert(key, value);
    }
}

/// A borrowed view of a received envelope's trace fields (no `HashMap`, no copies unless
/// a value was escaped in the JSON).
#[derive(Debug, Clone, Default)]
pub struct FieldView<'a> {
    entries: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl<'a> FieldView<'a> {
    pub(crate) fn with_capacity(n: usize) -> Self {
        FieldView {
            entries: Vec::with_capacity(n),
        }
    }

    pub(crate) fn push(&mut self, key: Cow<'a, str>, value: Cow<'a, str>) {
        self.entries.push((key, value));
    }

    /// The first value of `name` (ASCII case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }

    /// The fields in wire order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_ref(), v.as_ref()))
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// `true` when the envelope carried no fields.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl Extractor for FieldView<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        FieldView::get(self, key)
    }

    fn keys(&self) -> Vec<&str> {
        self.entries.iter().map(|(k, _)| k.as_ref()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_sorted_and_skip_empty_values() {
        let mut f = Fields::new();
        f.set("tracestate", "a=b".into());
        f.set("traceparent", "tp".into());
        f.set("baggage", String::new());
        f.set("Baggage", "k=v".into());
        let names: Vec<_> = f.iter().map(|(k, _)| k).collect();
        assert_eq!(names, ["baggage", "traceparent", "tracestate"]);
        f.set("baggage", String::new());
        assert_eq!(f.get("baggage"), None);
        assert_eq!(f.get("traceparent"), Some("tp"));
    }

    #[test]
    fn any_injected_name_is_kept_lowercase_in_order() {
        // Names outside the static list take the owned-key path and sort among the others.
        let mut f = Fields::new();
        f.set("X-Request-Id", "r1".into());
        f.set("traceparent", "tp".into());
        f.set("b3", "x".into());
        f.set("a-custom", "c".into());
        let got: Vec<_> = f.iter().collect();
        assert_eq!(
            got,
            [
                ("a-custom", "c"),
                ("b3", "x"),
                ("traceparent", "tp"),
                ("x-request-id", "r1")
            ]
        );
        assert_eq!(f.get("x-request-id"), Some("r1"));
    }

    #[test]
    fn view_lookup_is_case_insensitive() {
        let mut v = FieldView::with_capacity(1);
        v.push("TraceParent".into(), "x".into());
        assert_eq!(Extractor::get(&v, "traceparent"), Some("x"));
        assert_eq!(v.keys(), ["TraceParent"]);
    }
}
