//! The OTLP receiver and forwarder (`docs/collector.md#otlp-receiver-and-forwarder`): the
//! receiver accepts protobuf, JSON and enum-name kinds (and gzip) and answers
//! 404/405/413/415; the forwarder zero-pads 16-hex trace ids and sets error status (checked
//! by a second collector's receiver, decoding with opentelemetry-proto).
#![cfg(feature = "otlp")]

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    span, status, ResourceSpans, ScopeSpans, Span, Status,
};
use prost::Message;
use tokio_util::sync::CancellationToken;
use tracewire_collector::assemble::Limits;
use tracewire_collector::model::{StatusCode, WireKind, WireTraceId};
use tracewire_collector::server::{Collector, ServeReport};
use tracewire_collector::BindError;

struct Otlp {
    _dir: tempfile::TempDir,
    ingest: std::path::PathBuf,
    addr: SocketAddr,
    collector: Collector,
    token: CancellationToken,
    task: tokio::task::JoinHandle<ServeReport>,
}

async fn start(forward: Option<String>) -> Otlp {
    let dir = tempfile::tempdir().unwrap();
    let ingest = dir.path().join("in.sock");
    let mut limits = Limits::default();
    limits.grace = Duration::from_millis(20);
    let mut b = Collector::builder()
        .with_socket_path(&ingest)
        .with_limits(limits)
        .with_otlp_http("127.0.0.1:0".parse().unwrap());
    if let Some(url) = forward {
        b = b.with_forward(url, "fallback-service");
    }
    let bound = b.bind().await.unwrap();
    let addr = bound.otlp_http_addr().unwrap();
    let collector = bound.handle();
    let token = CancellationToken::new();
    let t = token.clone();
    let task = tokio::spawn(async move { bound.serve_with_token(t).await.unwrap() });
    Otlp {
        _dir: dir,
        ingest,
        addr,
        collector,
        token,
        task,
    }
}

impl Otlp {
    fn url(&self) -> String {
        format!("http://{}/v1/traces", self.addr)
    }
    async fn stop(self) -> ServeReport {
        self.token.cancel();
        tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .unwrap()
            .unwrap()
    }
}

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn request() -> ExportTraceServiceRequest {
    let trace_id = vec![0x4b; 16];
    let root = Span {
        trace_id: trace_id.clone(),
        span_id: vec![1; 8],
        name: "GET /users".into(),
        kind: span::SpanKind::Server as i32,
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: 1_700_000_000_010_000_000,
        attributes: vec![kv("http.method", "GET")],
        ..Default::default()
    };
    let child = Span {
        trace_id: trace_id.clone(),
        span_id: vec![2; 8],
        parent_span_id: vec![1; 8],
        name: "SELECT".into(),
        kind: span::SpanKind::Client as i32,
        start_time_unix_nano: 1_700_000_000_001_000_000,
        end_time_unix_nano: 1_700_000_000_002_000_000,
        status: Some(Status {
            code: status::StatusCode::Error as i32,
            message: "deadlock".into(),
        }),
        ..Default::default()
    };
    let invalid = Span {
        trace_id: vec![1, 2, 3],
        span_id: vec![3; 8],
        name: "bad".into(),
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", "users-api")],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![root, child, invalid],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

async fn wait_trace(c: &Collector, spans: usize) -> tracewire_collector::model::Trace {
    for _ in 0..1000 {
        if let Some(t) = c.snapshot().into_iter().find(|t| t.span_count() == spans) {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no trace with {spans} spans");
}

fn check_tree(t: &tracewire_collector::model::Trace) {
    assert_eq!(
        t.trace_id,
        WireTraceId::w3c(u128::from_be_bytes([0x4b; 16]))
    );
    assert!(!t.partial);
    assert_eq!(t.root.span.kind, WireKind::Server);
    assert_eq!(
        t.root.span.attrs.get("service.name").map(String::as_str),
        Some("users-api")
    );
    assert_eq!(t.root.span.duration, Duration::from_millis(10));
    let child = &t.root.children[0].span;
    assert_eq!(child.kind, WireKind::Client);
    assert_eq!(child.status.code, StatusCode::Error);
    assert_eq!(child.status.message, "deadlock");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protobuf_is_accepted_and_invalid_spans_are_reported() {
    let o = start(None).await;
    let client = reqwest::Client::new();
    let resp = client
        .post(o.url())
        .header("content-type", "application/x-protobuf")
        .body(request().encode_to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body = resp.bytes().await.unwrap();
    let decoded = ExportTraceServiceResponse::decode(body.as_ref()).unwrap();
    assert_eq!(decoded.partial_success.unwrap().rejected_spans, 1);
    check_tree(&wait_trace(&o.collector, 2).await);
    let st = o.collector.stats();
    assert_eq!(st.outputs.otlp_accepted, 2);
    assert_eq!(st.outputs.otlp_rejected, 1);
    o.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_protobuf_is_accepted() {
    let o = start(None).await;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&request().encode_to_vec()).unwrap();
    let resp = reqwest::Client::new()
        .post(o.url())
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "gzip")
        .body(gz.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    check_tree(&wait_trace(&o.collector, 2).await);
    o.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_with_enum_name_kinds_and_string_nanos_is_accepted() {
    let o = start(None).await;
    let body = serde_json::json!({
        "resourceSpans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "users-api"}}]},
            "scopeSpans": [{"spans": [
                {"traceId": "4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b", "spanId": "0101010101010101",
                 "name": "GET /users", "kind": "SPAN_KIND_SERVER",
                 "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000000010000000"},
                {"traceId": "4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b", "spanId": "0202020202020202",
                 "parentSpanId": "0101010101010101", "name": "SELECT", "kind": 3,
                 "startTimeUnixNano": 1700000000001000000u64, "endTimeUnixNano": 1700000000002000000u64,
                 "status": {"code": "STATUS_CODE_ERROR", "message": "deadlock"}}
            ]}]
        }]
    });
    let resp = reqwest::Client::new()
        .post(o.url())
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&body).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap(),
        "application/json"
    );
    check_tree(&wait_trace(&o.collector, 2).await);
    o.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_path_method_type_and_size_get_404_405_415_413() {
    let o = start(None).await;
    let c = reqwest::Client::new();
    let base = format!("http://{}", o.addr);
    let r = c
        .post(format!("{base}/v1/metrics"))
        .header("content-type", "application/x-protobuf")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = c.get(o.url()).send().await.unwrap();
    assert_eq!(r.status(), 405);
    let r = c
        .post(o.url())
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let big = vec![0u8; 16 * 1024 * 1024 + 1];
    let r = c
        .post(o.url())
        .header("content-type", "application/x-protobuf")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let r = c
        .post(o.url())
        .header("content-type", "application/x-protobuf")
        .body(vec![0xff, 0xff, 0xff])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(o.collector.stats().outputs.otlp_accepted, 0);
    o.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarder_zero_pads_short_trace_ids_and_sets_error_status() {
    let target = start(None).await;
    let source = start(Some(format!("http://{}", target.addr))).await;
    let t = "3a7bd3e2360a3d29";
    let data = format!(
        "{}{}",
        crate::common::start_line(t, "9f86d081884c7d65", None, "GET /users", 0)
            .replace("\"kind\":0", "\"kind\":1"),
        "{\"type\":1,\"span_id\":\"9f86d081884c7d65\",\"trace_id\":\"3a7bd3e2360a3d29\",\"name\":\"\",\"kind\":0,\"time\":\"2025-06-01T10:00:00.5Z\",\"attrs\":{\"method\":\"GET\",\"path\":\"/users\",\"status\":\"503\"}}\n"
    );
    crate::common::send(&source.ingest, &data).await;
    let got = wait_trace(&target.collector, 1).await;
    assert_eq!(got.trace_id, WireTraceId::w3c(0x3a7bd3e2360a3d29));
    assert_eq!(got.trace_id.to_string(), format!("0000000000000000{t}"));
    let span = &got.root.span;
    assert_eq!(span.kind, WireKind::Server, "http → SERVER");
    assert_eq!(
        span.status.code,
        StatusCode::Error,
        "status 503 is an error span"
    );
    assert_eq!(
        span.attrs.get("http.request.method").map(String::as_str),
        Some("GET")
    );
    assert_eq!(
        span.attrs.get("url.path").map(String::as_str),
        Some("/users")
    );
    assert_eq!(
        span.attrs
            .get("http.response.status_code")
            .map(String::as_str),
        Some("503")
    );
    assert_eq!(
        span.attrs.get("service.name").map(String::as_str),
        Some("fallback-service")
    );
    let report = source.stop().await;
    assert_eq!(report.stats.outputs.forward_enqueued, 1);
    assert_eq!(report.stats.outputs.forward_exported, 1);
    target.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forward_url_pointing_at_our_own_receiver_is_refused() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let err = Collector::builder()
        .with_socket_path(dir.path().join("in.sock"))
        .with_otlp_http(format!("127.0.0.1:{port}").parse().unwrap())
        .with_forward(format!("http://localhost:{port}"), "x")
        .bind()
        .await
        .expect_err("loop refused");
    assert!(matches!(err, BindError::ForwardLoop { .. }), "{err}");
}
