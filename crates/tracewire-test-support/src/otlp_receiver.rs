//! A real OTLP/HTTP receiver for tests: hyper HTTP/1 on 127.0.0.1, decoding every request
//! with opentelemetry-proto (protobuf or JSON, gzip-aware), scriptable to answer with
//! errors, `Retry-After`, partial success, to hang, or to refuse connections.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// How the receiver answers one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// 200 with an empty body.
    Ok,
    /// This status with a short text body.
    Status(u16),
    /// This status with a `Retry-After` header of this value.
    RetryAfter(u16, String),
    /// 200 with a `partial_success` rejecting spans.
    Partial {
        /// `rejected_spans`.
        rejected: i64,
        /// `error_message`.
        message: String,
    },
    /// Any status, content type and body, verbatim.
    Raw(u16, &'static str, &'static str),
    /// Never answers.
    Hang,
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Request path and query, e.g. `/v1/traces`.
    pub path: String,
    /// Request headers.
    pub headers: http::HeaderMap,
    /// Body as on the wire (possibly gzip).
    pub raw: Bytes,
    /// Body after gzip decoding.
    pub body: Bytes,
    /// The decoded request, when the body decoded.
    pub request: Option<ExportTraceServiceRequest>,
    /// How it was answered (`ok`, `status 503`, `partial 2`, `hang`, ...).
    pub reply: String,
    /// When it arrived.
    pub at: std::time::Instant,
}

impl Recorded {
    /// The span ids of the decoded request, in order.
    pub fn span_ids(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        if let Some(r) = &self.request {
            for rs in &r.resource_spans {
                for ss in &rs.scope_spans {
                    out.extend(ss.spans.iter().map(|s| s.span_id.clone()));
                }
            }
        }
        out
    }
}

#[derive(Debug)]
struct State {
    script: VecDeque<Reply>,
    default: Reply,
    requests: Vec<Recorded>,
    /// Keep every request (tests) or only count spans (benchmarks).
    record: bool,
    spans_received: u64,
}

/// The receiver; stops when dropped.
#[derive(Debug)]
pub struct Receiver {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    server: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Ok(mut s) = self.server.lock() {
            if let Some(h) = s.take() {
                h.abort();
            }
        }
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    match state.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl Receiver {
    /// Starts a receiver on an ephemeral port of 127.0.0.1, answering `Reply::Ok`.
    pub async fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(Mutex::new(State {
            script: VecDeque::new(),
            default: Reply::Ok,
            requests: Vec::new(),
            record: true,
            spans_received: 0,
        }));
        let server = tokio::spawn(serve(listener, Arc::clone(&state)));
        Receiver {
            addr,
            state,
            server: Mutex::new(Some(server)),
        }
    }

    /// The traces URL (`http://127.0.0.1:PORT/v1/traces`).
    pub fn endpoint(&self) -> String {
        format!("http://{}/v1/traces", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Replies for the next requests, in order; then the default.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        lock(&self.state).script.extend(replies);
    }

    /// The reply once the script is used up.
    pub fn set_default(&self, reply: Reply) {
        lock(&self.state).default = reply;
    }

    /// Stop keeping requests (only count spans), for long benchmark runs.
    pub fn set_record(&self, record: bool) {
        lock(&self.state).record = record;
    }

    /// Spans decoded from every request so far (whatever the reply).
    pub fn spans_received(&self) -> u64 {
        lock(&self.state).spans_received
    }

    /// Every request kept so far.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.state).requests.clone()
    }

    /// How many requests were kept.
    pub fn request_count(&self) -> usize {
        lock(&self.state).requests.len()
    }

    /// Span ids of requests answered 2xx, in arrival order.
    pub fn accepted_span_ids(&self) -> Vec<Vec<u8>> {
        lock(&self.state)
            .requests
            .iter()
            .filter(|r| r.reply == "ok" || r.reply.starts_with("partial"))
            .flat_map(|r| r.span_ids())
            .collect()
    }

    /// Closes the listener and every open connection: new connections are refused.
    pub async fn refuse(&self) {
        let h = self.server.lock().ok().and_then(|mut s| s.take());
        if let Some(h) = h {
            h.abort();
            let _ = h.await;
        }
    }

    /// Listens again on the same port.
    pub async fn resume(&self) {
        let mut listener = None;
        for _ in 0..50 {
            match TcpListener::bind(self.addr).await {
                Ok(l) => {
                    listener = Some(l);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        let listener = listener.expect("rebind the receiver port");
        let h = tokio::spawn(serve(listener, Arc::clone(&self.state)));
        if let Ok(mut s) = self.server.lock() {
            *s = Some(h);
        }
    }
}

async fn serve(listener: TcpListener, state: Arc<Mutex<State>>) {
    let mut conns = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let state = Arc::clone(&state);
        conns.spawn(async move {
            let svc = service_fn(move |req| handle(req, Arc::clone(&state)));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
        while conns.try_join_next().is_some() {}
    }
}

fn gunzip(raw: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    let mut d = flate2::read::GzDecoder::new(raw);
    match d.read_to_end(&mut out) {
        Ok(_) => out,
        Err(_) => raw.to_vec(),
    }
}

async fn handle(
    req: http::Request<Incoming>,
    state: Arc<Mutex<State>>,
) -> Result<http::Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let raw = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let gz = parts
        .headers
        .get("content-encoding")
        .is_some_and(|v| v.as_bytes() == b"gzip");
    let body = if gz {
        Bytes::from(gunzip(&raw))
    } else {
        raw.clone()
    };
    let json = parts
        .headers
        .get("content-type")
        .is_some_and(|v| v.as_bytes() == b"application/json");
    let request = if json {
        serde_json::from_slice::<ExportTraceServiceRequest>(&body).ok()
    } else {
        ExportTraceServiceRequest::decode(body.clone()).ok()
    };
    let reply = {
        let mut st = lock(&state);
        let reply = st.script.pop_front().unwrap_or_else(|| st.default.clone());
        let label = match &reply {
            Reply::Raw(c, _, b) if (200..300).contains(c) && b.contains("rejected") => {
                "partial raw".to_owned()
            }
            Reply::Ok | Reply::Raw(200..300, _, _) => "ok".to_owned(),
            Reply::Status(c) | Reply::Raw(c, _, _) => format!("status {c}"),
            Reply::RetryAfter(c, v) => format!("status {c} retry-after {v}"),
            Reply::Partial { rejected, .. } => format!("partial {rejected}"),
            Reply::Hang => "hang".to_owned(),
        };
        let record = Recorded {
            path: parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default(),
            headers: parts.headers.clone(),
            raw,
            body,
            request,
            reply: label,
            at: std::time::Instant::now(),
        };
        st.spans_received += record.span_ids().len() as u64;
        if st.record {
            st.requests.push(record);
        }
        reply
    };
    let ct = if json {
        "application/json"
    } else {
        "application/x-protobuf"
    };
    let resp = http::Response::builder().header("content-type", ct);
    let resp = match reply {
        Reply::Ok => resp.status(200).body(Full::new(Bytes::new())),
        Reply::Status(c) => resp
            .status(c)
            .body(Full::new(Bytes::from_static(b"receiver error"))),
        Reply::RetryAfter(c, v) => resp
            .status(c)
            .header("retry-after", v)
            .body(Full::new(Bytes::from_static(b"slow down"))),
        Reply::Partial { rejected, message } => {
            let r = ExportTraceServiceResponse {
                partial_success: Some(ExportTracePartialSuccess {
                    rejected_spans: rejected,
                    error_message: message,
                }),
            };
            let b = if json {
                serde_json::to_vec(&r).unwrap_or_default()
            } else {
                r.encode_to_vec()
            };
            resp.status(200).body(Full::new(Bytes::from(b)))
        }
        Reply::Raw(c, ct, b) => http::Response::builder()
            .status(c)
            .header("content-type", ct)
            .body(Full::new(Bytes::from_static(b.as_bytes()))),
        Reply::Hang => {
            std::future::pending::<()>().await;
            resp.status(200).body(Full::new(Bytes::new()))
        }
    };
    Ok(resp.unwrap_or_else(|_| http::Response::new(Full::new(Bytes::new()))))
}
