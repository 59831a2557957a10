//! Who produced the spans: the [`Resource`] (the process or service) and the [`Scope`]
//! (the instrumentation library).
//!
//! [`Resource::from_env`] follows the OpenTelemetry environment conventions
//! (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`).

use crate::config::{ConfigWarning, Env};
use crate::span::{Attributes, KeyValue, Value};

/// Environment variable naming the service (wins over `OTEL_RESOURCE_ATTRIBUTES`).
pub const ENV_SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
/// Environment variable with extra resource attributes, `k=v,k2=v2` (percent-encoded).
pub const ENV_RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";

/// A set of resource attributes, sorted by key.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Resource {
    attributes: Attributes,
}

impl Resource {
    /// A resource without attributes.
    pub fn empty() -> Self {
        Self::default()
    }

    /// The default resource, read from the process environment.
    ///
    /// `service.name` comes from `OTEL_SERVICE_NAME`, else from `OTEL_RESOURCE_ATTRIBUTES`,
    /// else is `unknown_service:<executable file name>`. The other `OTEL_RESOURCE_ATTRIBUTES`
    /// pairs are added (an unparseable value is discarded whole, with a warning), and
    /// `telemetry.sdk.{name,language,version}` identify this crate. Resolved by
    /// [`crate::config`], like every other `OTEL_*` variable.
    pub fn from_env() -> Self {
        Self::from_env_source(&Env::process()).0
    }

    /// [`Resource::from_env`] with an explicit variable lookup (used by tests and embedders
    /// that keep configuration elsewhere).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        Self::from_env_source(&Env::from_fn(lookup)).0
    }

    /// [`Resource::from_env`] from any variable source, with the warnings it produced
    /// (each also logged once).
    pub fn from_env_source(env: &Env) -> (Self, Vec<ConfigWarning>) {
        crate::config::resource_from(env)
    }

    /// Sets one attribute; it beats any value from the environment.
    #[must_use]
    pub fn with_attribute(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.attributes.insert(key, value);
        self
    }

    /// Sets several attributes; they beat values from the environment.
    #[must_use]
    pub fn with_attributes(mut self, attrs: impl IntoIterator<Item = KeyValue>) -> Self {
        self.attributes.extend(attrs);
        self
    }

    /// The attributes, sorted by key.
    pub fn attributes(&self) -> &Attributes {
        &self.attributes
    }

    /// The value of one attribute.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.attributes.get(key)
    }
}

/// The instrumentation scope written on exported spans: which library produced them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Scope {
    /// Scope name.
    pub name: String,
    /// Scope version.
    pub version: String,
}

impl Scope {
    /// A scope with any name and version.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
        }
    }
}

impl Default for Scope {
    /// `tracewire-otlp` at this crate's version.
    fn default() -> Self {
        Self::new("tracewire-otlp", env!("CARGO_PKG_VERSION"))
    }
}

pub(crate) fn unknown_service_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .filter(|n| !n.is_empty())
        .map_or_else(
            || "unknown_service".to_owned(),
            |n| format!("unknown_service:{n}"),
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_key_value_list;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + Send + Sync + 'static {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn s(r: &Resource, k: &str) -> Option<String> {
        r.get(k).and_then(|v| v.as_str()).map(str::to_owned)
    }

    #[test]
    fn resource_service_name_env_wins_over_attributes() {
        let r = Resource::from_lookup(env(&[
            ("OTEL_SERVICE_NAME", "svc"),
            ("OTEL_RESOURCE_ATTRIBUTES", "service.name=other,team=core"),
        ]));
        assert_eq!(s(&r, "service.name").as_deref(), Some("svc"));
        assert_eq!(s(&r, "team").as_deref(), Some("core"));
        assert_eq!(s(&r, "telemetry.sdk.name").as_deref(), Some("tracewire"));
        assert_eq!(s(&r, "telemetry.sdk.language").as_deref(), Some("rust"));
    }

    #[test]
    fn resource_percent_decoding_and_invalid_dropped_whole() {
        let r = Resource::from_lookup(env(&[(
            "OTEL_RESOURCE_ATTRIBUTES",
            " a = x%20y , b=%E2%9C%93",
        )]));
        assert_eq!(s(&r, "a").as_deref(), Some("x y"));
        assert_eq!(s(&r, "b").as_deref(), Some("✓"));
        let r = Resource::from_lookup(env(&[("OTEL_RESOURCE_ATTRIBUTES", "a=1,broken")]));
        assert!(r.get("a").is_none());
        let r = Resource::from_lookup(env(&[("OTEL_RESOURCE_ATTRIBUTES", "a=%FF")]));
        assert!(r.get("a").is_none());
    }

    #[test]
    fn resource_unknown_service_uses_exe_name() {
        let r = Resource::from_lookup(env(&[]));
        let name = s(&r, "service.name").unwrap_or_default();
        assert!(name.starts_with("unknown_service:"), "{name}");
        assert!(name.len() > "unknown_service:".len());
    }

    proptest::proptest! {
        #[test]
        fn key_value_list_never_panics(raw in ".*") {
            let _ = parse_key_value_list(&raw);
        }

        #[test]
        fn key_value_list_round_trips_percent_encoded_pairs(
            pairs in proptest::collection::vec(("[a-z][a-z0-9._]{0,12}", ".*"), 0..8)
        ) {
            use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
            let raw = pairs
                .iter()
                .map(|(k, v)| format!(" {k} = {} ", utf8_percent_encode(v, NON_ALPHANUMERIC)))
                .collect::<Vec<_>>()
                .join(",");
            let parsed = parse_key_value_list(&raw);
            proptest::prop_assert_eq!(parsed, Ok(pairs));
        }
    }

    #[test]
    fn builder_attributes_beat_env() {
        let r = Resource::from_lookup(env(&[("OTEL_SERVICE_NAME", "svc")]))
            .with_attribute("service.name", "mine");
        assert_eq!(s(&r, "service.name").as_deref(), Some("mine"));
    }
}
