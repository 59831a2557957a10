//! `init_tracer` driven through the shared table of `OTEL_*` cases: each case runs in a
//! child process (`init_tracer` reads the process environment and sets globals), which
//! exports one span to a real local OTLP receiver and reports its warnings and what the
//! global propagator injects.

use opentelemetry::baggage::BaggageExt as _;
use opentelemetry::propagation::Injector;
use opentelemetry::trace::{TraceContextExt as _, Tracer as _};
use opentelemetry::{global, Context, KeyValue};
use tracewire_otlp::init::{InitError, TracerInit};
use tracewire_test_support::child::{is_child, lines_with, run_test_in_child};
use tracewire_test_support::otel_env::{base_url, CASES, DEAD_ENDPOINT};
use tracewire_test_support::Receiver;

const SPAN: &str = "env-table-span";

/// Keeps injected headers in order.
struct Ordered(Vec<String>);

impl Injector for Ordered {
    fn set(&mut self, key: &str, _value: String) {
        self.0.push(key.to_owned());
    }
}

/// Runs only in a child started by the tests below.
#[test]
fn child_init_tracer_from_process_env() {
    if !is_child() {
        return;
    }
    let guard = match TracerInit::new().with_endpoint(DEAD_ENDPOINT).install() {
        Ok(g) => g,
        Err(e) => {
            println!("TW error: {e}");
            return;
        }
    };
    for w in guard.warnings() {
        println!("TW warning: {w}");
    }
    println!("TW disabled: {}", guard.is_disabled());
    let span = global::tracer("env-table").start(SPAN);
    let cx = Context::current_with_span(span).with_baggage([KeyValue::new("k", "v")]);
    let mut injected = Ordered(Vec::new());
    global::get_text_map_propagator(|p| p.inject_context(&cx, &mut injected));
    println!("TW injected: {}", injected.0.join(","));
    cx.span().end();
    drop(cx);
    match guard.shutdown() {
        Ok(()) => println!("TW shutdown: ok"),
        Err(e) => println!("TW shutdown: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_tracer_follows_the_env_table_in_child_processes() {
    let mut failures = Vec::new();
    for case in CASES {
        let rx = Receiver::start().await;
        case.script(&rx);
        let base = base_url(&rx);
        let vars = case.vars_for(&base);
        let out = tokio::task::spawn_blocking(move || {
            run_test_in_child("init_env::child_init_tracer_from_process_env", &vars)
        })
        .await
        .expect("child runner");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let warnings: Vec<String> = lines_with(&stdout, "TW warning: ")
            .into_iter()
            .map(str::to_owned)
            .collect();
        let mut problems = case.check(&base, &rx.requests(), &warnings, SPAN);
        let injected = lines_with(&stdout, "TW injected: ");
        let want = case.expect.injected.join(",");
        if injected != [want.as_str()] {
            problems.push(format!("injected {injected:?}, want [{want:?}]"));
        }
        let disabled = lines_with(&stdout, "TW disabled: ");
        if disabled
            != [if case.expect.exported {
                "false"
            } else {
                "true"
            }]
        {
            problems.push(format!("disabled {disabled:?}"));
        }
        if lines_with(&stdout, "TW shutdown: ") != ["ok"] || !out.status.success() {
            problems.push(format!(
                "child: {stdout} {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        if !problems.is_empty() {
            failures.push(format!("{}: {problems:#?}", case.name));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn grpc_without_the_feature_is_an_error_naming_it() {
    let result = TracerInit::new()
        .with_config(
            tracewire_otlp::OtlpConfig::new()
                .with_env_vars([("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]),
        )
        .install();
    let Err(err) = result else {
        panic!("gRPC must fail here")
    };
    if cfg!(feature = "grpc") {
        // No Tokio runtime on this thread: gRPC needs a multi-thread one.
        assert_eq!(err, InitError::Runtime);
    } else {
        assert!(
            matches!(&err, InitError::GrpcUnavailable { endpoint } if endpoint == "http://localhost:4317")
        );
        assert!(err.to_string().contains("`grpc` feature"), "{err}");
    }
}
