//! `https://` endpoints go out over TLS with the stack the features choose
//! (`docs/exporter.md#tls`); a plain listener sees the TLS handshake, and the failed
//! connection is an export failure, not a success. Without a TLS feature, building an
//! exporter for an `https://` endpoint fails and names the features.

use tracewire_otlp::export::{OtlpHttpExporter, RetryPolicy};

#[cfg(any(
    feature = "rustls-ring",
    feature = "rustls-aws-lc",
    feature = "native-tls"
))]
#[tokio::test]
async fn https_endpoint_starts_a_tls_handshake() {
    use tracewire_test_support::spans::spans;
    use tracewire_test_support::tls_probe::{is_tls_handshake, TlsProbe};

    let probe = TlsProbe::start().await;
    let exporter = OtlpHttpExporter::builder()
        .with_env_vars::<&str, &str>([])
        .with_endpoint(format!("https://{}/v1/traces", probe.addr()))
        .with_retry(RetryPolicy::disabled())
        .build()
        .expect("an https endpoint builds with a TLS feature");
    let result = exporter.export(&spans(1)).await;
    assert!(result.is_err(), "a handshake nobody answers is no success");
    let first = probe.first_bytes().await;
    assert!(
        is_tls_handshake(&first),
        "the exporter's first bytes are a TLS handshake record: {first:02x?}"
    );
}

#[cfg(not(any(
    feature = "rustls-ring",
    feature = "rustls-aws-lc",
    feature = "native-tls"
)))]
#[test]
fn https_endpoint_without_a_tls_feature_is_refused_naming_the_features() {
    let err = OtlpHttpExporter::builder()
        .with_env_vars::<&str, &str>([])
        .with_endpoint("https://127.0.0.1:9/v1/traces")
        .with_retry(RetryPolicy::disabled())
        .build()
        .expect_err("no TLS stack for https");
    let text = err.to_string();
    assert!(
        text.contains("rustls-ring") && text.contains("native-tls"),
        "{text}"
    );
}

/// With ring alone, reqwest is built without a provider of its own; building our client
/// must leave a process default behind, so the program's other reqwest clients work.
#[cfg(all(
    feature = "rustls-ring",
    not(any(feature = "rustls-aws-lc", feature = "native-tls"))
))]
#[test]
fn ring_alone_leaves_a_default_provider_for_other_reqwest_clients() {
    OtlpHttpExporter::builder()
        .with_env_vars::<&str, &str>([])
        .with_endpoint("https://127.0.0.1:9/v1/traces")
        .build()
        .expect("the exporter builds");
    let other = std::panic::catch_unwind(|| reqwest::Client::builder().build().is_ok());
    assert_eq!(other.ok(), Some(true), "another reqwest client builds");
}
