//! The OTLP/HTTP receiver (`docs/collector.md#otlp-receiver-and-forwarder`): `POST
//! /v1/traces` with protobuf or JSON (enum-name kinds, nanos as string or number),
//! optionally gzip; 404/405/415/413 otherwise. Spans arrive complete and go to the
//! assembler; invalid ones are counted and reported in `partial_success`.

use crate::server::accept::Acceptor;
use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use tracewire_otlp::proto::{encode_response, DecodeError, Encoding};

use super::parse::{parse_export_request, ParsedRequest};
use crate::server::Collector;

/// Largest accepted request body (compressed and decompressed): 16 MiB.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// How much of an over-large body is read and discarded before answering 413.
const MAX_DRAIN_BYTES: usize = 4 * MAX_BODY_BYTES;

fn plain(status: StatusCode, msg: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(msg.to_owned())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn encoding_of(req: &Request<Incoming>) -> Option<Encoding> {
    let ct = req.headers().get(header::CONTENT_TYPE)?.to_str().ok()?;
    Encoding::from_content_type(ct)
}

enum BodyError {
    TooLarge,
    Bad(&'static str),
}

fn answer(encoding: Encoding, rejected: u64, message: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(encode_response(
        encoding, rejected, message,
    ))));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(encoding.content_type()),
    );
    r
}

/// Reads the body up to [`MAX_BODY_BYTES`]. A larger body is read on and discarded (up to
/// [`MAX_DRAIN_BYTES`]) so the client, still sending, gets the 413 instead of a broken pipe.
async fn read_body(mut body: Incoming) -> Result<Vec<u8>, BodyError> {
    let mut out = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| BodyError::Bad("could not read the request body"))?;
        if let Ok(data) = frame.into_data() {
            total = total.saturating_add(data.len());
            if total <= MAX_BODY_BYTES {
                out.extend_from_slice(&data);
            } else {
                out = Vec::new();
                if total > MAX_DRAIN_BYTES {
                    break;
                }
            }
        }
    }
    if total > MAX_BODY_BYTES {
        return Err(BodyError::TooLarge);
    }
    Ok(out)
}

async fn handle(req: Request<Incoming>, collector: Collector) -> Response<Full<Bytes>> {
    if req.uri().path() != "/v1/traces" {
        return plain(
            StatusCode::NOT_FOUND,
            "not found: POST OTLP traces to /v1/traces\n",
        );
    }
    if req.method() != Method::POST {
        let mut r = plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed: use POST\n",
        );
        r.headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
        return r;
    }
    let Some(encoding) = encoding_of(&req) else {
        return plain(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported content type: use application/x-protobuf or application/json\n",
        );
    };
    let gzip = match req
        .headers()
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase())
    {
        None => false,
        Some(e) if e == "gzip" => true,
        Some(e) if e == "identity" => false,
        Some(_) => {
            return plain(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported content encoding: use gzip or none\n",
            )
        }
    };
    let body = match read_body(req.into_body()).await {
        Ok(b) => b,
        Err(BodyError::TooLarge) => {
            return plain(StatusCode::PAYLOAD_TOO_LARGE, "request body over 16 MiB\n")
        }
        Err(BodyError::Bad(msg)) => return plain(StatusCode::BAD_REQUEST, &format!("{msg}\n")),
    };
    let parsed = match parse_export_request(encoding, &body, gzip) {
        Ok(p) => p,
        Err(DecodeError::TooLarge { .. }) => {
            return plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                "decompressed body over 16 MiB\n",
            )
        }
        Err(e) => return plain(StatusCode::BAD_REQUEST, &format!("{e}\n")),
    };
    let ParsedRequest {
        spans: good,
        rejected,
        first_error,
        ..
    } = parsed;
    let counters = &collector.shared.counters;
    counters
        .otlp_rejected
        .fetch_add(rejected, Ordering::Relaxed);
    let accepted = good.len() as u64;
    let delivered = collector.ingest_completed_batch(good).await;
    if delivered {
        counters
            .otlp_accepted
            .fetch_add(accepted, Ordering::Relaxed);
    } else {
        return plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "collector is shutting down\n",
        );
    }
    answer(encoding, rejected, first_error.unwrap_or_default())
}

/// Serves HTTP/1 connections until `cancel`.
pub(crate) async fn serve(
    listener: TcpListener,
    collector: Collector,
    cancel: CancellationToken,
    tasks: TaskTracker,
) {
    let mut acceptor = Acceptor::new(cancel.clone());
    while let Some((stream, _)) = acceptor.next(|| listener.accept()).await {
        let collector = collector.clone();
        let cancel = cancel.clone();
        tasks.spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let c = collector.clone();
                async move { Ok::<_, Infallible>(handle(req, c).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = cancel.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
                }
            }
        });
    }
}
