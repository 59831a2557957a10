//! `Resource::from_env` against the real process environment (spec §10 item 30).
//! One test function, so nothing else in this process races on the environment.

use tracewire_otlp::resource::Resource;

fn service(r: &Resource) -> String {
    r.get("service.name")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn b30_resource_from_env() {
    std::env::remove_var("OTEL_SERVICE_NAME");
    std::env::remove_var("OTEL_RESOURCE_ATTRIBUTES");
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    assert_eq!(
        service(&Resource::from_env()),
        format!("unknown_service:{exe}")
    );

    std::env::set_var(
        "OTEL_RESOURCE_ATTRIBUTES",
        "service.name=from-attrs,team=a%2Cb%3Dc,region = eu ",
    );
    let r = Resource::from_env();
    assert_eq!(service(&r), "from-attrs");
    assert_eq!(
        r.get("team").and_then(|v| v.as_str()),
        Some("a,b=c"),
        "percent-decoded"
    );
    assert_eq!(
        r.get("region").and_then(|v| v.as_str()),
        Some("eu"),
        "trimmed"
    );

    std::env::set_var("OTEL_SERVICE_NAME", "svc");
    assert_eq!(
        service(&Resource::from_env()),
        "svc",
        "OTEL_SERVICE_NAME wins"
    );

    std::env::set_var("OTEL_RESOURCE_ATTRIBUTES", "team=ok,=novalue");
    let r = Resource::from_env();
    assert!(r.get("team").is_none(), "an invalid value is dropped whole");
    assert_eq!(service(&r), "svc");
    assert_eq!(
        r.get("telemetry.sdk.name").and_then(|v| v.as_str()),
        Some("tracewire")
    );
    assert_eq!(
        r.get("telemetry.sdk.language").and_then(|v| v.as_str()),
        Some("rust")
    );
    assert_eq!(
        r.get("telemetry.sdk.version").and_then(|v| v.as_str()),
        Some(env!("CARGO_PKG_VERSION"))
    );

    let r = r.with_attribute("pack.id", "pack-7");
    assert_eq!(r.get("pack.id").and_then(|v| v.as_str()), Some("pack-7"));
    assert_eq!(service(&r), "svc", "pack.id keeps the rest");
    let sdk = r.to_sdk();
    assert_eq!(
        sdk.get(&opentelemetry::Key::from_static_str("pack.id"))
            .map(|v| v.to_string()),
        Some("pack-7".to_owned())
    );
    std::env::remove_var("OTEL_SERVICE_NAME");
    std::env::remove_var("OTEL_RESOURCE_ATTRIBUTES");
}
