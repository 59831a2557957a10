//! `Resource::from_env`: the variables injected, and once against the real process
//! environment of a child process (this binary's other tests never change it).

use tracewire_otlp::config::Env;
use tracewire_otlp::resource::Resource;
use tracewire_test_support::child::{is_child, lines_with, run_test_in_child};

fn service(r: &Resource) -> String {
    r.get("service.name")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned()
}

fn from(vars: &[(&str, &str)]) -> (Resource, Vec<String>) {
    let (r, w) = Resource::from_env_source(&Env::from_vars(vars.iter().copied()));
    (r, w.iter().map(ToString::to_string).collect())
}

#[test]
fn resource_reads_service_name_and_attributes_percent_decoded() {
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    assert_eq!(service(&from(&[]).0), format!("unknown_service:{exe}"));

    let (r, w) = from(&[(
        "OTEL_RESOURCE_ATTRIBUTES",
        "service.name=from-attrs,team=a%2Cb%3Dc,region = eu ",
    )]);
    assert!(w.is_empty());
    assert_eq!(service(&r), "from-attrs");
    assert_eq!(r.get("team").and_then(|v| v.as_str()), Some("a,b=c"));
    assert_eq!(r.get("region").and_then(|v| v.as_str()), Some("eu"));

    let (r, _) = from(&[
        ("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs"),
        ("OTEL_SERVICE_NAME", "svc"),
    ]);
    assert_eq!(service(&r), "svc", "OTEL_SERVICE_NAME wins");

    let (r, w) = from(&[
        ("OTEL_RESOURCE_ATTRIBUTES", "team=ok,=novalue"),
        ("OTEL_SERVICE_NAME", "svc"),
    ]);
    assert!(r.get("team").is_none(), "an invalid value is dropped whole");
    assert_eq!(
        w,
        ["OTEL_RESOURCE_ATTRIBUTES=\"team=ok,=novalue\": member 1 has an empty key; the whole variable is ignored"]
    );
    assert_eq!(service(&r), "svc");
    for (k, v) in [
        ("telemetry.sdk.name", "tracewire"),
        ("telemetry.sdk.language", "rust"),
        ("telemetry.sdk.version", env!("CARGO_PKG_VERSION")),
    ] {
        assert_eq!(r.get(k).and_then(|x| x.as_str()), Some(v));
    }
    let r = r.with_attribute("pack.id", "pack-7");
    assert_eq!(r.get("pack.id").and_then(|v| v.as_str()), Some("pack-7"));
    assert_eq!(service(&r), "svc", "pack.id keeps the rest");
    let sdk = r.to_sdk();
    assert_eq!(
        sdk.get(&opentelemetry::Key::from_static_str("pack.id"))
            .map(|v| v.to_string()),
        Some("pack-7".to_owned())
    );
}

/// Runs only in the child started by `resource_from_env_reads_the_process_environment`.
#[test]
fn child_resource_from_process_env() {
    if !is_child() {
        return;
    }
    let r = Resource::from_env();
    println!("TW service: {}", service(&r));
    println!(
        "TW team: {}",
        r.get("team").and_then(|v| v.as_str()).unwrap_or("-")
    );
}

#[test]
fn resource_from_env_reads_the_process_environment() {
    let out = run_test_in_child(
        "resource_env::child_resource_from_process_env",
        &[
            ("OTEL_SERVICE_NAME".to_owned(), "child-svc".to_owned()),
            (
                "OTEL_RESOURCE_ATTRIBUTES".to_owned(),
                "team=core".to_owned(),
            ),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert_eq!(lines_with(&stdout, "TW service: "), ["child-svc"]);
    assert_eq!(lines_with(&stdout, "TW team: "), ["core"]);
}
