//! The TLS stack of `wss://` connections, chosen by features: `native-tls` (the platform's
//! library) over `rustls-aws-lc` over `rustls-ring` when several are on; rustls verifies
//! against the platform's trust store. With none, `connect` speaks `ws://` only and a
//! `wss://` URL fails with tokio-tungstenite's TLS-feature error.

use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::client::{Request, Response};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

use crate::Error;

/// What a client connection over TCP gives.
pub(crate) type Connected = (WebSocketStream<MaybeTlsStream<TcpStream>>, Response);

/// Connects over TCP, with TLS through `connector` for `wss://`.
#[cfg(any(
    feature = "native-tls",
    feature = "rustls-ring",
    feature = "rustls-aws-lc"
))]
pub(crate) async fn connect_async(
    request: Request,
    config: Option<WebSocketConfig>,
    connector: Option<Connector>,
) -> Result<Connected, tungstenite::Error> {
    tokio_tungstenite::connect_async_tls_with_config(request, config, false, connector).await
}

/// Connects over TCP; without a TLS feature, `wss://` is tokio-tungstenite's error.
#[cfg(not(any(
    feature = "native-tls",
    feature = "rustls-ring",
    feature = "rustls-aws-lc"
)))]
pub(crate) async fn connect_async(
    request: Request,
    config: Option<WebSocketConfig>,
    _connector: Option<Connector>,
) -> Result<Connected, tungstenite::Error> {
    tokio_tungstenite::connect_async_with_config(request, config, false).await
}

/// The connector for [`connect`](crate::connect); `None` lets tokio-tungstenite decide
/// (plain TCP, or its error for `wss://` without TLS).
#[cfg(feature = "native-tls")]
pub(crate) fn connector() -> Result<Option<Connector>, Error> {
    let tls = native_tls::TlsConnector::new().map_err(|e| Error::Tls(e.to_string()))?;
    Ok(Some(Connector::NativeTls(tls)))
}

/// rustls with an explicit provider: when another crate of the program enables the other
/// provider too, rustls would otherwise have no single default and refuse to build.
#[cfg(all(
    any(feature = "rustls-ring", feature = "rustls-aws-lc"),
    not(feature = "native-tls")
))]
pub(crate) fn connector() -> Result<Option<Connector>, Error> {
    use rustls_platform_verifier::BuilderVerifierExt as _;
    #[cfg(feature = "rustls-aws-lc")]
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    #[cfg(not(feature = "rustls-aws-lc"))]
    let provider = rustls::crypto::ring::default_provider();
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(provider))
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_platform_verifier())
        .map_err(|e| Error::Tls(e.to_string()))?
        .with_no_client_auth();
    Ok(Some(Connector::Rustls(std::sync::Arc::new(config))))
}

#[cfg(not(any(
    feature = "native-tls",
    feature = "rustls-ring",
    feature = "rustls-aws-lc"
)))]
pub(crate) fn connector() -> Result<Option<Connector>, Error> {
    Ok(None)
}
