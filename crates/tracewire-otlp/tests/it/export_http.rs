//! Exporter behaviours against a real local receiver: the requests
//! (`docs/exporter.md#requests`, bodies decoded with opentelemetry-proto), partial success
//! (`docs/exporter.md#partial-success`), splitting (`docs/exporter.md#splitting`) and which
//! failures are retried (`docs/exporter.md#retry`).

use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use tracewire_otlp::export::{Compression, ExportError, OtlpHttpExporter, Protocol, RetryPolicy};
use tracewire_otlp::resource::Resource;
use tracewire_test_support::spans::{id_of, spans};
use tracewire_test_support::{Receiver, Reply};

fn exporter(rx: &Receiver) -> tracewire_otlp::export::OtlpHttpExporterBuilder {
    OtlpHttpExporter::builder()
        .with_env_vars(Vec::<(String, String)>::new())
        .with_endpoint(rx.endpoint())
        .with_resource(Resource::empty().with_attribute("service.name", "promptkit"))
        .with_retry(RetryPolicy::default().with_initial(Duration::from_millis(10)))
}

#[tokio::test]
async fn protobuf_body_decodes_with_headers() {
    let rx = Receiver::start().await;
    let exp = exporter(&rx)
        .with_header("x-api-key", "secret-1")
        .build()
        .expect("build");
    let outcome = exp.export(&spans(5)).await.expect("export");
    assert_eq!(
        (outcome.sent, outcome.requests, outcome.attempts),
        (5, 1, 1)
    );
    let reqs = rx.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(
        r.headers.get("content-type").map(|v| v.as_bytes()),
        Some(&b"application/x-protobuf"[..])
    );
    let ua = r
        .headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert_eq!(ua, concat!("tracewire-otlp/", env!("CARGO_PKG_VERSION")));
    assert_eq!(
        r.headers.get("x-api-key").map(|v| v.as_bytes()),
        Some(&b"secret-1"[..])
    );
    assert!(r.headers.get("content-encoding").is_none());
    let req = ExportTraceServiceRequest::decode(r.body.clone()).expect("decode protobuf");
    let rs = &req.resource_spans[0];
    let svc = rs
        .resource
        .as_ref()
        .and_then(|res| res.attributes.iter().find(|kv| kv.key == "service.name"))
        .map(|kv| format!("{:?}", kv.value));
    assert!(svc.unwrap_or_default().contains("promptkit"));
    assert_eq!(
        rs.scope_spans[0].scope.as_ref().map(|s| s.name.as_str()),
        Some("tracewire-otlp")
    );
    assert_eq!(r.span_ids(), (0..5).map(id_of).collect::<Vec<_>>());
}

#[tokio::test]
async fn gzip_bodies_decode() {
    let rx = Receiver::start().await;
    let exp = exporter(&rx)
        .with_compression(Compression::Gzip)
        .build()
        .expect("build");
    exp.export(&spans(50)).await.expect("export");
    let r = &rx.requests()[0];
    assert_eq!(
        r.headers.get("content-encoding").map(|v| v.as_bytes()),
        Some(&b"gzip"[..])
    );
    assert_ne!(r.raw, r.body, "the wire body is compressed");
    assert_eq!(r.span_ids().len(), 50);
}

#[tokio::test]
async fn json_writes_int64s_as_strings() {
    let rx = Receiver::start().await;
    let exp = exporter(&rx)
        .with_protocol(Protocol::HttpJson)
        .build()
        .expect("build");
    exp.export(&spans(2)).await.expect("export");
    let r = &rx.requests()[0];
    assert_eq!(
        r.headers.get("content-type").map(|v| v.as_bytes()),
        Some(&b"application/json"[..])
    );
    let text = String::from_utf8(r.body.to_vec()).expect("utf8");
    assert!(
        text.contains("\"startTimeUnixNano\":\"1700000000000000000\""),
        "{text}"
    );
    assert!(text.contains("\"intValue\":\"1\""), "{text}");
    assert!(
        text.contains("\"traceId\":\"0af7651916cd43dd8448eb211c80319c\""),
        "{text}"
    );
    assert_eq!(
        r.span_ids().len(),
        2,
        "decodes with opentelemetry-proto serde"
    );
}

#[tokio::test]
async fn empty_input_sends_no_request() {
    let rx = Receiver::start().await;
    let exp = exporter(&rx).build().expect("build");
    let outcome = exp.export(&[]).await.expect("export");
    assert_eq!((outcome.sent, outcome.requests), (0, 0));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(rx.request_count(), 0);
}

#[tokio::test]
async fn partial_success_counts_rejected_and_surfaces_the_message() {
    for protocol in [Protocol::HttpProtobuf, Protocol::HttpJson] {
        let rx = Receiver::start().await;
        rx.script([Reply::Partial {
            rejected: 3,
            message: "3 spans too old".into(),
        }]);
        let exp = exporter(&rx)
            .with_protocol(protocol)
            .build()
            .expect("build");
        let report = exp.export_report(&spans(10)).await;
        assert_eq!(report.outcome.sent, 7, "{protocol}");
        assert_eq!(report.outcome.rejected, 3);
        assert_eq!(
            report.outcome.rejection_message.as_deref(),
            Some("3 spans too old")
        );
        assert_eq!(report.outcome.attempts, 1, "partial success is not retried");
        assert!(!report.is_success());
    }
}

#[tokio::test]
async fn size_limit_splits_and_every_span_arrives_once() {
    let rx = Receiver::start().await;
    let limit = 256 << 10;
    let exp = exporter(&rx)
        .with_max_request_bytes(limit)
        .build()
        .expect("build");
    let outcome = exp.export(&spans(10_000)).await.expect("export");
    assert_eq!(outcome.sent, 10_000);
    let reqs = rx.requests();
    assert!(reqs.len() > 1, "the batch was split");
    assert_eq!(outcome.requests as usize, reqs.len());
    for r in &reqs {
        assert!(
            r.body.len() <= limit,
            "request of {} bytes over the limit",
            r.body.len()
        );
    }
    let ids = rx.accepted_span_ids();
    assert_eq!(
        ids,
        (0..10_000).map(id_of).collect::<Vec<_>>(),
        "each span exactly once, in order"
    );
}

#[tokio::test]
async fn oversize_span_is_too_large_and_the_others_are_sent() {
    let rx = Receiver::start().await;
    let exp = exporter(&rx)
        .with_max_request_bytes(4096)
        .build()
        .expect("build");
    let mut batch = spans(5);
    batch[2].attributes.insert("huge", "x".repeat(10_000));
    let report = exp.export_report(&batch).await;
    assert_eq!(report.outcome.sent, 4);
    assert_eq!(report.dropped, 1);
    assert!(matches!(
        report.errors.as_slice(),
        [ExportError::SpanTooLarge { limit: 4096, .. }]
    ));
    let ids = rx.accepted_span_ids();
    assert_eq!(ids, vec![id_of(0), id_of(1), id_of(3), id_of(4)]);
    assert!(matches!(
        exp.export(&batch).await,
        Err(ExportError::SpanTooLarge { .. })
    ));
}

#[tokio::test]
async fn non_retryable_statuses_make_one_attempt() {
    for code in [400u16, 401, 500] {
        let rx = Receiver::start().await;
        rx.set_default(Reply::Status(code));
        let exp = exporter(&rx).build().expect("build");
        match exp.export(&spans(3)).await {
            Err(ExportError::Status {
                code: c,
                retry,
                body_excerpt,
            }) => {
                assert_eq!(c, code);
                assert_eq!(retry.attempt, 1);
                assert!(!retry.will_retry);
                assert_eq!(body_excerpt, "receiver error");
            }
            other => panic!("expected a status error for {code}, got {other:?}"),
        }
        assert_eq!(rx.request_count(), 1, "status {code}");
    }
}

#[tokio::test]
async fn connection_refused_is_retried() {
    // Bind, note the port, close it: connections are refused.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let exp = OtlpHttpExporter::builder()
        .with_env_vars(Vec::<(String, String)>::new())
        .with_endpoint(format!("http://{addr}/v1/traces"))
        .with_retry(
            RetryPolicy::default()
                .with_initial(Duration::from_millis(20))
                .with_window(Duration::from_millis(300)),
        )
        .build()
        .expect("build");
    let report = exp.export_report(&spans(2)).await;
    assert!(report.outcome.attempts >= 2, "retried: {report:?}");
    assert_eq!(report.failed, 2);
    match report.errors.as_slice() {
        [ExportError::RetryWindowExceeded { last, retry }] => {
            assert!(!retry.will_retry);
            assert!(
                matches!(
                    &**last,
                    ExportError::Transport { source, .. } if source.kind == tracewire_otlp::export::TransportErrorKind::Connect
                ),
                "{last:?}"
            );
        }
        other => panic!("unexpected errors {other:?}"),
    }
}

#[tokio::test]
async fn partial_success_with_a_protojson_string_int64_is_read() {
    // Receivers built on protojson (the OpenTelemetry Collector) write int64 as a string.
    let rx = Receiver::start().await;
    rx.script([Reply::Raw(
        200,
        "application/json",
        r#"{"partialSuccess":{"rejectedSpans":"2","errorMessage":"dropped by filter"}}"#,
    )]);
    let exp = exporter(&rx)
        .with_protocol(Protocol::HttpJson)
        .build()
        .expect("build");
    let report = exp.export_report(&spans(5)).await;
    assert_eq!((report.outcome.sent, report.outcome.rejected), (3, 2));
    assert_eq!(
        report.outcome.rejection_message.as_deref(),
        Some("dropped by filter")
    );
}

#[tokio::test]
async fn empty_or_undecodable_2xx_is_full_success() {
    let rx = Receiver::start().await;
    rx.script([Reply::Raw(
        200,
        "application/x-protobuf",
        "\x07\x7f garbage",
    )]);
    let exp = exporter(&rx).build().expect("build");
    let outcome = exp.export(&spans(4)).await.expect("full success");
    assert_eq!((outcome.sent, outcome.rejected), (4, 0));
}
