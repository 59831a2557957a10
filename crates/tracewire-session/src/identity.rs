//! The instrumentation scope and resource that session spans are exported under.

use tracewire_otlp::resource::{Resource, Scope};

/// `tracewire-session` at this crate's version: the scope of converted spans.
pub fn scope() -> Scope {
    Scope::new("tracewire-session", env!("CARGO_PKG_VERSION"))
}

/// `promptkit-telemetry` / `1.0.0`, the scope PromptKit's batch converter writes.
pub fn promptkit_scope() -> Scope {
    Scope::new("promptkit-telemetry", "1.0.0")
}

/// The resource PromptKit's batch converter writes: `service.name=promptkit`,
/// `service.version=1.0.0`, `telemetry.sdk=promptkit-telemetry`.
pub fn promptkit_resource() -> Resource {
    Resource::empty()
        .with_attribute("service.name", "promptkit")
        .with_attribute("service.version", "1.0.0")
        .with_attribute("telemetry.sdk", "promptkit-telemetry")
}

/// `resource` with PromptKit's prompt-pack key `pack.id` set to `id`.
#[must_use]
pub fn with_pack_id(resource: Resource, id: impl Into<String>) -> Resource {
    resource.with_attribute("pack.id", id.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(r: &Resource, key: &str) -> Option<String> {
        r.get(key).and_then(|v| v.as_str()).map(str::to_owned)
    }

    #[test]
    fn promptkit_resource_with_pack_id_keeps_the_rest() {
        let r = with_pack_id(promptkit_resource(), "pack-1");
        assert_eq!(text(&r, "pack.id").as_deref(), Some("pack-1"));
        assert_eq!(text(&r, "service.name").as_deref(), Some("promptkit"));
        assert_eq!(text(&r, "service.version").as_deref(), Some("1.0.0"));
        assert_eq!(
            text(&r, "telemetry.sdk").as_deref(),
            Some("promptkit-telemetry")
        );
    }
}
