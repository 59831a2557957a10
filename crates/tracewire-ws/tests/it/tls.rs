//! `wss://` connects over TLS with the stack the features choose (`docs/websocket.md#tls`):
//! a plain listener sees the TLS handshake, and `connect` fails instead of hanging.
#![cfg(any(
    feature = "rustls-ring",
    feature = "rustls-aws-lc",
    feature = "native-tls"
))]

use std::time::Duration;

use tracewire_test_support::tls_probe::{is_tls_handshake, TlsProbe};
use tracewire_ws::{connect, Options};

#[tokio::test]
async fn wss_url_starts_a_tls_handshake() {
    let probe = TlsProbe::start().await;
    let url = format!("wss://127.0.0.1:{}/", probe.addr().port());
    let result = tokio::time::timeout(Duration::from_secs(10), connect(url, Options::default()))
        .await
        .expect("connect ends once the listener closes");
    assert!(
        result.is_err(),
        "a handshake nobody answers is no connection"
    );
    let first = probe.first_bytes().await;
    assert!(
        is_tls_handshake(&first),
        "the client's first bytes are a TLS handshake record: {first:02x?}"
    );
}
