//! Global set-up (feature `otlp`, `docs/websocket.md#global-set-up`). These tests touch the
//! OpenTelemetry globals, so they run one at a time (`serial`); none reads or changes this
//! process's environment: the `OTEL_*` variables are injected, and the implicit-init test,
//! which must read the process environment, runs in a child process.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use opentelemetry::trace::{Span as _, Tracer as _};
use opentelemetry::{global, KeyValue};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use prost::Message as _;
use tracewire_test_support::child::{is_child, lines_with, run_test_in_child};
use tracewire_ws::{
    init_tracer_with_provider, shutdown_tracer, InitError, Options, OtlpConfig, TracerInit,
};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// `init_tracer` with no variable at all (the process environment is not read), sending
/// to `endpoint`.
fn init_at(endpoint: &str) -> TracerInit {
    TracerInit::new()
        .with_config(OtlpConfig::new().with_env_vars(Vec::<(String, String)>::new()))
        .with_endpoint(endpoint)
}

/// A mock OTLP/HTTP collector on its own thread and runtime (so it answers while a test
/// blocks its own runtime on the guard).
struct Collector {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<ExportTraceServiceRequest>>>,
}

impl Collector {
    fn start(answer: bool) -> Self {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let reqs = requests.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(l.local_addr().unwrap()).unwrap();
                loop {
                    let Ok((tcp, _)) = l.accept().await else {
                        return;
                    };
                    let reqs = reqs.clone();
                    tokio::spawn(async move {
                        if !answer {
                            // Hold the connection open and never answer.
                            tokio::time::sleep(Duration::from_secs(60)).await;
                            drop(tcp);
                            return;
                        }
                        let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                            let reqs = reqs.clone();
                            async move {
                                let path = req.uri().path().to_owned();
                                let body = req.into_body().collect().await?.to_bytes();
                                if path == "/v1/traces" {
                                    if let Ok(r) = ExportTraceServiceRequest::decode(body) {
                                        reqs.lock().unwrap().push(r);
                                    }
                                }
                                Ok::<_, hyper::Error>(
                                    hyper::Response::builder()
                                        .header("content-type", "application/x-protobuf")
                                        .body(Full::new(Bytes::new()))
                                        .unwrap(),
                                )
                            }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(tcp), svc)
                            .await;
                    });
                }
            });
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("collector up");
        Collector { addr, requests }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn span_names(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .flat_map(|r| r.resource_spans.iter())
            .flat_map(|rs| rs.scope_spans.iter())
            .flat_map(|ss| ss.spans.iter())
            .map(|s| s.name.clone())
            .collect()
    }

    fn resource_attr(&self, key: &str) -> Option<String> {
        let reqs = self.requests.lock().unwrap();
        let rs = reqs.first()?.resource_spans.first()?;
        let res = rs.resource.as_ref()?;
        res.attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                AnyValue::StringValue(s) => Some(s.clone()),
                _ => None,
            })
    }
}

fn global_is_noop() -> bool {
    !global::tracer("probe").start("probe").is_recording()
}

#[test]
fn init_lifecycle_once_shutdown_reinit() {
    let _s = serial();
    let spans = crate::common::Spans::new();
    let cx = spans.root("op");
    let guard = init_tracer_with_provider(spans.provider.clone()).expect("first init");
    assert!(!global_is_noop());
    assert_eq!(
        init_at("http://127.0.0.1:9/").install().err(),
        Some(InitError::AlreadyInitialized)
    );
    assert_eq!(
        init_tracer_with_provider(spans.provider.clone()).err(),
        Some(InitError::AlreadyInitialized)
    );
    shutdown_tracer().expect("shutdown");
    assert!(
        global_is_noop(),
        "shutdown_tracer resets the global provider"
    );
    let mut carrier = std::collections::HashMap::new();
    global::get_text_map_propagator(|p| p.inject_context(&cx, &mut carrier));
    assert!(carrier.is_empty(), "global propagator reset");
    drop(guard); // does nothing now
    assert_eq!(shutdown_tracer(), Ok(()), "nothing installed: Ok");
    let spans2 = crate::common::Spans::new();
    let guard2 =
        init_tracer_with_provider(spans2.provider.clone()).expect("re-init after shutdown");
    let cx2 = spans2.root("op2");
    global::get_text_map_propagator(|p| p.inject_context(&cx2, &mut carrier));
    assert!(
        carrier.contains_key("traceparent"),
        "the strict propagator is installed globally"
    );
    guard2.shutdown().expect("guard shutdown");
    assert!(global_is_noop());
}

#[test]
fn resource_honours_injected_env_and_code_attributes_win() {
    let _s = serial();
    let collector = Collector::start(true);
    let guard = TracerInit::new()
        .with_config(OtlpConfig::new().with_env_vars([
            ("OTEL_SERVICE_NAME", "svc-from-env"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment=env,team=blue",
            ),
        ]))
        .with_endpoint(format!("{}/v1/traces", collector.url()))
        .with_attributes([KeyValue::new("deployment.environment", "explicit")])
        .install()
        .expect("init");
    global::tracer("t").start("resource-probe").end();
    guard.shutdown().expect("flush");
    assert_eq!(collector.span_names(), ["resource-probe"]);
    assert_eq!(
        collector.resource_attr("service.name").as_deref(),
        Some("svc-from-env")
    );
    assert_eq!(collector.resource_attr("team").as_deref(), Some("blue"));
    assert_eq!(
        collector.resource_attr("deployment.environment").as_deref(),
        Some("explicit")
    );

    // Without OTEL_SERVICE_NAME no service name is invented.
    let collector = Collector::start(true);
    let guard = init_at(&format!("{}/v1/traces", collector.url()))
        .install()
        .expect("init");
    global::tracer("t").start("unnamed").end();
    guard.shutdown().expect("flush");
    let name = collector.resource_attr("service.name").unwrap_or_default();
    assert!(name.starts_with("unknown_service"), "{name}");
}

#[test]
fn grpc_without_feature_or_runtime_is_an_error() {
    let _s = serial();
    let Err(err) = TracerInit::new()
        .with_config(OtlpConfig::new().with_env_vars([("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]))
        .with_endpoint("http://127.0.0.1:4317")
        .install()
    else {
        panic!("gRPC must fail here")
    };
    if cfg!(feature = "grpc") {
        // No Tokio runtime on this thread: gRPC needs a multi-thread one.
        assert_eq!(err, InitError::Runtime);
    } else {
        assert!(
            matches!(&err, InitError::GrpcUnavailable { endpoint } if endpoint == "http://127.0.0.1:4317")
        );
        assert!(err.to_string().contains("`grpc` feature"), "{err}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn guard_drop_exports_on_current_thread_runtime() {
    let _s = serial();
    let collector = Collector::start(true);
    let guard = init_at(&format!("{}/v1/traces", collector.url()))
        .install()
        .expect("init");
    global::tracer("t").start("on-drop").end();
    let started = Instant::now();
    drop(guard.with_shutdown_timeout(Duration::from_secs(5)));
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "guard drop is bounded"
    );
    assert_eq!(collector.span_names(), ["on-drop"]);
    assert!(global_is_noop());

    // A collector that never answers: the drop still returns (generous bound).
    let silent = Collector::start(false);
    let guard = init_at(&format!("{}/v1/traces", silent.url()))
        .install()
        .expect("init");
    global::tracer("t").start("lost").end();
    let started = Instant::now();
    let res = guard
        .with_shutdown_timeout(Duration::from_secs(2))
        .shutdown();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "shutdown is bounded: {:?}",
        started.elapsed()
    );
    assert!(res.is_err(), "a failed flush is reported: {res:?}");
}

/// Runs only in the child started by `implicit_init_only_when_opted_in`: the implicit
/// `init_tracer()` reads the process environment, which the child has to itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_implicit_init() {
    if !is_child() {
        return;
    }
    // Default options: no init, no globals.
    let (c, s) = crate::common::traced_pair(Options::default(), Options::default()).await;
    drop((c, s));
    println!("TW default options set a global: {}", !global_is_noop());
    // Opted in: the first connection installs the provider.
    let (mut c, mut s) = crate::common::traced_pair(
        Options::default().with_implicit_init(true),
        Options::default(),
    )
    .await;
    println!("TW implicit init installed: {}", !global_is_noop());
    c.send(
        &opentelemetry::Context::new(),
        tracewire_ws::Message::text("x"),
    )
    .await
    .expect("send");
    crate::common::recv(&mut s).await.expect("recv");
    let shut = tokio::task::spawn_blocking(shutdown_tracer)
        .await
        .expect("join");
    println!("TW shutdown ok: {}", shut.is_ok());
    println!("TW noop after shutdown: {}", global_is_noop());
}

#[test]
fn implicit_init_only_when_opted_in() {
    let collector = Collector::start(true);
    let out = run_test_in_child(
        "global_init::child_implicit_init",
        &[("OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(), collector.url())],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    for (line, want) in [
        ("TW default options set a global: ", "false"),
        ("TW implicit init installed: ", "true"),
        ("TW shutdown ok: ", "true"),
        ("TW noop after shutdown: ", "true"),
    ] {
        assert_eq!(lines_with(&stdout, line), [want], "{stdout}");
    }
    let names = collector.span_names();
    assert!(names.contains(&"websocket.send".to_owned()), "{names:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::await_holding_lock)] // the lock serialises tests of this binary on purpose
async fn global_propagator_is_read_per_message() {
    let _s = serial();
    let spans = crate::common::Spans::new();
    let opts = || spans.options().with_global_propagator();
    let (mut c, mut raw) = crate::common::traced_client_raw_server(opts()).await;
    // The default global propagator injects nothing.
    c.send(&spans.root("a"), tracewire_ws::Message::text("x"))
        .await
        .unwrap();
    let wire = crate::common::raw_next(&mut raw).await.into_text().unwrap();
    assert_eq!(wire.as_str(), r#"{"headers":{},"payload":"eA=="}"#);
    // After init the same connection picks up the installed propagator.
    let guard = init_tracer_with_provider(crate::common::Spans::new().provider).unwrap();
    c.send(&spans.root("b"), tracewire_ws::Message::text("x"))
        .await
        .unwrap();
    let wire = crate::common::raw_next(&mut raw).await.into_text().unwrap();
    assert!(wire.contains("traceparent"), "{wire}");
    tokio::task::spawn_blocking(move || guard.shutdown())
        .await
        .unwrap()
        .unwrap();
}
