//! Shared pieces of the HTTP integration tests: a real hyper server on 127.0.0.1 and a
//! reqwest client that never goes through a proxy.
#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tower::{Service, ServiceExt as _};

/// Upper bound on connections one test server accepts (tests make a handful).
const MAX_CONNECTIONS: usize = 64;
/// Every network step of a test gives up after this long.
pub(crate) const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `service` over HTTP/1 on an ephemeral 127.0.0.1 port until the test's runtime
/// ends (or `MAX_CONNECTIONS` connections were accepted).
pub(crate) async fn serve<S>(service: S) -> SocketAddr
where
    S: Service<http::Request<Incoming>, Response = http::Response<Full<Bytes>>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        for _ in 0..MAX_CONNECTIONS {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let service = service.clone();
            tokio::spawn(async move {
                let hyper_service =
                    hyper::service::service_fn(move |request| service.clone().oneshot(request));
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), hyper_service)
                    .await;
            });
        }
    });
    addr
}

/// A reqwest client for loopback tests: no proxy from the environment, bounded time.
pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(STEP_TIMEOUT)
        .build()
        .expect("build reqwest client")
}

/// A 200 response with a JSON body.
pub(crate) fn json_response(value: &serde_json::Value) -> http::Response<Full<Bytes>> {
    http::Response::builder()
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(value.to_string())))
        .expect("static response parts are valid")
}

/// Sends `request` and decodes the JSON answer, with a timeout.
pub(crate) async fn send_json(request: reqwest::RequestBuilder) -> serde_json::Value {
    let response = tokio::time::timeout(STEP_TIMEOUT, request.send())
        .await
        .expect("request timed out")
        .expect("request failed");
    assert_eq!(response.status(), 200);
    let body = response.bytes().await.expect("read body");
    serde_json::from_slice(&body).expect("JSON body")
}
