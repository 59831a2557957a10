//! Where `OTEL_*` variables are read from: the process environment, or a map given by a
//! test or an embedder that keeps its configuration elsewhere.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// A source of environment variables. Empty (or all-whitespace) values count as unset,
/// as the OpenTelemetry specification asks.
#[derive(Clone, Default)]
pub struct Env {
    source: Source,
}

/// A variable lookup function.
type Lookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

#[derive(Clone, Default)]
enum Source {
    #[default]
    Process,
    Map(Arc<HashMap<String, String>>),
    Lookup(Lookup),
}

impl Env {
    /// The process environment (the default).
    pub fn process() -> Self {
        Self::default()
    }

    /// Exactly these variables; the process environment is not read at all.
    pub fn from_vars<K: Into<String>, V: Into<String>>(
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            source: Source::Map(Arc::new(
                vars.into_iter()
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect(),
            )),
        }
    }

    /// Variables from a lookup function (for embedders that keep configuration
    /// elsewhere).
    pub fn from_fn(lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        Self {
            source: Source::Lookup(Arc::new(lookup)),
        }
    }

    /// The value of `key`, or `None` when it is unset, empty or not UTF-8.
    pub fn get(&self, key: &str) -> Option<String> {
        let value = match &self.source {
            Source::Process => std::env::var(key).ok(),
            Source::Map(m) => m.get(key).cloned(),
            Source::Lookup(f) => f(key),
        };
        value.filter(|v| !v.trim().is_empty())
    }

    /// Whether this reads the process environment.
    pub fn is_process(&self) -> bool {
        matches!(self.source, Source::Process)
    }
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Source::Process => f.write_str("Env::Process"),
            // Values may hold secrets (headers): show the names only.
            Source::Map(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                f.debug_tuple("Env::Map").field(&keys).finish()
            }
            Source::Lookup(_) => f.write_str("Env::Lookup"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_blank_values_count_as_unset() {
        let env = Env::from_vars([("A", ""), ("B", "  "), ("C", " x ")]);
        assert_eq!(env.get("A"), None);
        assert_eq!(env.get("B"), None);
        assert_eq!(env.get("C").as_deref(), Some(" x "));
        assert_eq!(env.get("D"), None);
        assert!(!env.is_process());
        assert!(Env::process().is_process());
    }

    #[test]
    fn debug_shows_names_not_values() {
        let env = Env::from_vars([("OTEL_EXPORTER_OTLP_HEADERS", "authorization=secret")]);
        let text = format!("{env:?}");
        assert!(text.contains("OTEL_EXPORTER_OTLP_HEADERS"), "{text}");
        assert!(!text.contains("secret"), "{text}");
    }
}
