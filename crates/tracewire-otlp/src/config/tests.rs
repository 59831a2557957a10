//! The resolver over tables of variable maps: precedence rows and every warning case.

use std::time::Duration;

use super::*;

fn resolve(env: &[(&str, &str)], code: OtlpConfig) -> ResolvedConfig {
    match code.with_env_vars(env.iter().copied()).resolve() {
        Ok(r) => r,
        Err(e) => panic!("resolve failed: {e}"),
    }
}

fn texts(r: &ResolvedConfig) -> Vec<String> {
    r.warnings.iter().map(ToString::to_string).collect()
}

/// A table's variables.
type Vars = &'static [(&'static str, &'static str)];

const TE: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
const GE: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

#[test]
fn defaults_without_variables_or_code() {
    let r = resolve(&[], OtlpConfig::new());
    assert_eq!(r.traces_endpoint, "http://localhost:4318/v1/traces");
    assert_eq!(r.protocol, Protocol::HttpProtobuf);
    assert_eq!(r.compression, Compression::None);
    assert!(r.headers.is_empty());
    assert_eq!(r.timeout, Duration::from_secs(10));
    assert!(!r.sdk_disabled);
    assert_eq!(r.propagators, Propagator::DEFAULT);
    assert_eq!(r.sampler, Sampler::ParentBasedAlwaysOn);
    assert_eq!(r.batch, BatchSettings::default());
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

#[test]
fn endpoint_precedence_signal_then_generic_then_code_then_default() {
    let code = || OtlpConfig::new().with_endpoint("http://code:1/x");
    // (env, code?, expected)
    let rows: &[(Vars, bool, &str)] = &[
        (
            &[(TE, "http://t:1/custom"), (GE, "http://g:2")],
            true,
            "http://t:1/custom",
        ),
        (&[(GE, "http://g:2")], true, "http://g:2/v1/traces"),
        (&[(GE, "http://g:2/")], false, "http://g:2/v1/traces"),
        (
            &[(GE, "http://g:2/base/")],
            false,
            "http://g:2/base/v1/traces",
        ),
        (
            &[(GE, "http://g:2/base")],
            false,
            "http://g:2/base/v1/traces",
        ),
        (
            &[(GE, "https://g/base?x=1")],
            false,
            "https://g/base/v1/traces?x=1",
        ),
        (
            &[(TE, ""), (GE, "http://g:2")],
            false,
            "http://g:2/v1/traces",
        ),
        (&[(TE, "  ")], true, "http://code:1/x"),
        (&[], true, "http://code:1/x"),
        (&[], false, "http://localhost:4318/v1/traces"),
    ];
    for (env, with_code, expected) in rows {
        let c = if *with_code {
            code()
        } else {
            OtlpConfig::new()
        };
        let r = resolve(env, c);
        assert_eq!(&r.traces_endpoint, expected, "{env:?} code={with_code}");
        assert!(r.warnings.is_empty(), "{env:?}: {:?}", r.warnings);
    }
}

#[test]
fn grpc_endpoints_are_used_as_is_with_the_grpc_default() {
    let r = resolve(
        &[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")],
        OtlpConfig::new(),
    );
    assert_eq!(r.traces_endpoint, "http://localhost:4317");
    let r = resolve(
        &[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            (GE, "http://g:4317"),
        ],
        OtlpConfig::new(),
    );
    assert_eq!(r.traces_endpoint, "http://g:4317");
}

#[test]
fn code_first_lets_explicit_settings_win_and_warns_about_each_overridden_variable() {
    let r = resolve(
        &[
            (TE, "http://t:1/x"),
            (GE, "http://g:2"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "5"),
        ],
        OtlpConfig::new()
            .with_endpoint("http://flag:3/v1/traces")
            .with_precedence(Precedence::CodeFirst),
    );
    assert_eq!(r.traces_endpoint, "http://flag:3/v1/traces");
    assert_eq!(r.timeout, Duration::from_millis(5), "no flag: the variable");
    assert_eq!(
        texts(&r),
        [
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=\"http://t:1/x\": overridden by an explicit setting; using http://flag:3/v1/traces (set explicitly)",
            "OTEL_EXPORTER_OTLP_ENDPOINT=\"http://g:2\": overridden by an explicit setting; using http://flag:3/v1/traces (set explicitly)",
        ]
    );
}

#[test]
fn signal_variables_beat_generic_ones_for_every_exporter_option() {
    let r = resolve(
        &[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "none"),
            ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "GZIP"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "1000"),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "2500"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "a=generic,b=1"),
            ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "a=traces, c = x%20y "),
        ],
        OtlpConfig::new()
            .with_protocol(Protocol::HttpProtobuf)
            .with_timeout(Duration::from_secs(3))
            .with_header("d", "code"),
    );
    assert_eq!(r.protocol, Protocol::HttpJson);
    assert_eq!(r.compression, Compression::Gzip);
    assert_eq!(r.timeout, Duration::from_millis(2500));
    // Headers are one option: the traces variable gives all of them.
    let h = |k: &str| r.headers.get(k).map(|v| v.as_bytes().to_vec());
    assert_eq!(h("a").as_deref(), Some(&b"traces"[..]));
    assert_eq!(h("c").as_deref(), Some(&b"x y"[..]));
    assert_eq!((h("b"), h("d")), (None, None));
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

#[test]
fn code_applies_when_no_variable_is_set() {
    let r = resolve(
        &[],
        OtlpConfig::new()
            .with_protocol(Protocol::HttpJson)
            .with_compression(Compression::Gzip)
            .with_timeout(Duration::from_millis(1500))
            .with_header("x-k", "v")
            .with_sdk_disabled(true)
            .with_propagators([Propagator::XRay])
            .with_sampler(Sampler::TraceIdRatio(0.5))
            .with_max_queue_size(10)
            .with_max_export_batch_size(20)
            .with_scheduled_delay(Duration::from_millis(7))
            .with_export_timeout(Duration::from_millis(9)),
    );
    assert_eq!(r.protocol, Protocol::HttpJson);
    assert_eq!(r.compression, Compression::Gzip);
    assert_eq!(r.timeout, Duration::from_millis(1500));
    assert_eq!(r.headers.get("x-k").map(|v| v.as_bytes()), Some(&b"v"[..]));
    assert!(r.sdk_disabled);
    assert_eq!(r.propagators, [Propagator::XRay]);
    assert_eq!(r.sampler, Sampler::TraceIdRatio(0.5));
    assert_eq!(r.batch.max_queue_size, 10);
    assert_eq!(
        r.batch.max_export_batch_size, 10,
        "clamped to the queue size"
    );
    assert_eq!(r.batch.scheduled_delay, Duration::from_millis(7));
    assert_eq!(r.batch.export_timeout, Some(Duration::from_millis(9)));
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

/// Every invalid variable: (env, expected warning texts, check of the fallback).
#[test]
fn every_invalid_value_warns_once_naming_variable_and_value_and_falls_back() {
    type Check = fn(&ResolvedConfig) -> bool;
    let rows: &[(Vars, &[&str], Check)] = &[
        (
            &[(TE, "ftp://t/x"), (GE, "http://g:2")],
            &["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=\"ftp://t/x\": scheme \"ftp\" is not http or https; using http://g:2/v1/traces (from OTEL_EXPORTER_OTLP_ENDPOINT)"],
            |r| r.traces_endpoint == "http://g:2/v1/traces",
        ),
        (
            &[(GE, "not a url")],
            &["OTEL_EXPORTER_OTLP_ENDPOINT=\"not a url\": not a URL (invalid uri character); using http://localhost:4318/v1/traces (the default)"],
            |r| r.traces_endpoint == "http://localhost:4318/v1/traces",
        ),
        (
            &[(GE, "localhost:4318")],
            &["OTEL_EXPORTER_OTLP_ENDPOINT=\"localhost:4318\": not an absolute http:// or https:// URL; using http://localhost:4318/v1/traces (the default)"],
            |r| r.traces_endpoint == "http://localhost:4318/v1/traces",
        ),
        (
            &[("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "carrier-pigeon"), ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")],
            &["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=\"carrier-pigeon\": not one of grpc, http/protobuf, http/json; using http/json (from OTEL_EXPORTER_OTLP_PROTOCOL)"],
            |r| r.protocol == Protocol::HttpJson,
        ),
        (
            &[("OTEL_EXPORTER_OTLP_COMPRESSION", "brotli")],
            &["OTEL_EXPORTER_OTLP_COMPRESSION=\"brotli\": not one of gzip, none; using none (the default)"],
            |r| r.compression == Compression::None,
        ),
        (
            &[("OTEL_EXPORTER_OTLP_TIMEOUT", "ten")],
            &["OTEL_EXPORTER_OTLP_TIMEOUT=\"ten\": not a whole number of milliseconds; using 10000 ms (the default)"],
            |r| r.timeout == Duration::from_secs(10),
        ),
        (
            &[("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "0"), ("OTEL_EXPORTER_OTLP_TIMEOUT", "-5")],
            &[
                "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT=\"0\": must be at least 1 millisecond; using 10000 ms (the default)",
                "OTEL_EXPORTER_OTLP_TIMEOUT=\"-5\": not a whole number of milliseconds; using 10000 ms (the default)",
            ],
            |r| r.timeout == Duration::from_secs(10),
        ),
        (
            &[("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "good=1,broken"), ("OTEL_EXPORTER_OTLP_HEADERS", "g=2")],
            &["OTEL_EXPORTER_OTLP_TRACES_HEADERS=\"good=1,broken\": member 1 has no '='; using headers g (from OTEL_EXPORTER_OTLP_HEADERS)"],
            |r| r.headers.len() == 1 && r.headers.contains_key("g"),
        ),
        (
            &[("OTEL_EXPORTER_OTLP_HEADERS", "bad name=1")],
            &["OTEL_EXPORTER_OTLP_HEADERS=\"bad name=1\": \"bad name\" is not a valid header name; using no headers (the default)"],
            |r| r.headers.is_empty(),
        ),
        (
            &[("OTEL_EXPORTER_OTLP_HEADERS", "content-type=text/plain,x=1")],
            &["OTEL_EXPORTER_OTLP_HEADERS=\"content-type\": header is reserved (the exporter sets it); this header is skipped"],
            |r| r.headers.len() == 1 && r.headers.contains_key("x"),
        ),
        (
            &[("OTEL_SDK_DISABLED", "maybe")],
            &["OTEL_SDK_DISABLED=\"maybe\": neither true nor false; using false (the default)"],
            |r| !r.sdk_disabled,
        ),
        (
            &[("OTEL_PROPAGATORS", "b3,tracecontext,tracecontext")],
            &[
                "OTEL_PROPAGATORS=\"b3\": not a propagator tracewire has (tracecontext, baggage, xray, none); skipped",
                "OTEL_PROPAGATORS=\"tracecontext\": listed twice; skipped",
            ],
            |r| r.propagators == [Propagator::TraceContext],
        ),
        (
            &[("OTEL_PROPAGATORS", "jaeger,b3multi")],
            &[
                "OTEL_PROPAGATORS=\"jaeger,b3multi\": names no propagator tracewire has; using tracecontext,baggage (the default)",
                "OTEL_PROPAGATORS=\"jaeger\": not a propagator tracewire has (tracecontext, baggage, xray, none); skipped",
                "OTEL_PROPAGATORS=\"b3multi\": not a propagator tracewire has (tracecontext, baggage, xray, none); skipped",
            ],
            |r| r.propagators == Propagator::DEFAULT,
        ),
        (
            &[("OTEL_PROPAGATORS", "none,xray")],
            &["OTEL_PROPAGATORS=\"xray\": listed with none; skipped"],
            |r| r.propagators.is_empty(),
        ),
        (
            &[("OTEL_TRACES_SAMPLER", "xray")],
            &["OTEL_TRACES_SAMPLER=\"xray\": sampler not supported by tracewire; using parentbased_always_on (the default)"],
            |r| r.sampler == Sampler::ParentBasedAlwaysOn,
        ),
        (
            &[("OTEL_TRACES_SAMPLER", "sometimes")],
            &["OTEL_TRACES_SAMPLER=\"sometimes\": not a sampler name of the OpenTelemetry specification; using parentbased_always_on (the default)"],
            |r| r.sampler == Sampler::ParentBasedAlwaysOn,
        ),
        (
            &[("OTEL_TRACES_SAMPLER", "traceidratio"), ("OTEL_TRACES_SAMPLER_ARG", "1.5")],
            &["OTEL_TRACES_SAMPLER_ARG=\"1.5\": not a number between 0 and 1; using 1.0 (the default)"],
            |r| r.sampler == Sampler::TraceIdRatio(1.0),
        ),
        (
            &[("OTEL_TRACES_SAMPLER", "always_on"), ("OTEL_TRACES_SAMPLER_ARG", "0.5")],
            &["OTEL_TRACES_SAMPLER_ARG=\"0.5\": ignored: the sampler in use (always_on) takes no argument from the environment"],
            |r| r.sampler == Sampler::AlwaysOn,
        ),
        (
            &[("OTEL_TRACES_SAMPLER_ARG", "0.5")],
            &["OTEL_TRACES_SAMPLER_ARG=\"0.5\": ignored: the sampler in use (parentbased_always_on) takes no argument from the environment"],
            |r| r.sampler == Sampler::ParentBasedAlwaysOn,
        ),
        (
            &[("OTEL_BSP_MAX_QUEUE_SIZE", "0"), ("OTEL_BSP_SCHEDULE_DELAY", "soon"), ("OTEL_BSP_EXPORT_TIMEOUT", "1s"), ("OTEL_BSP_MAX_CONCURRENT_EXPORTS", "many")],
            &[
                "OTEL_BSP_MAX_QUEUE_SIZE=\"0\": must be at least 1; using 2048 (the default)",
                "OTEL_BSP_SCHEDULE_DELAY=\"soon\": not a whole number of milliseconds; using 5000 ms (the default)",
                "OTEL_BSP_EXPORT_TIMEOUT=\"1s\": not a whole number of milliseconds; using the exporter's retry window (the default)",
                "OTEL_BSP_MAX_CONCURRENT_EXPORTS=\"many\": not a whole number; using 1 (the default)",
            ],
            |r| r.batch == BatchSettings::default(),
        ),
        (
            &[("OTEL_BSP_MAX_QUEUE_SIZE", "100"), ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "200")],
            &["OTEL_BSP_MAX_EXPORT_BATCH_SIZE=\"200\": larger than the queue size; using 100 (the queue size)"],
            |r| r.batch.max_queue_size == 100 && r.batch.max_export_batch_size == 100,
        ),
        (
            &[("OTEL_RESOURCE_ATTRIBUTES", "team=a,broken")],
            &["OTEL_RESOURCE_ATTRIBUTES=\"team=a,broken\": member 1 has no '='; the whole variable is ignored"],
            |r| r.resource.get("team").is_none(),
        ),
    ];
    for (env, expected, check) in rows {
        let r = resolve(env, OtlpConfig::new());
        let mut got = texts(&r);
        let mut want: Vec<String> = expected.iter().map(|s| (*s).to_owned()).collect();
        got.sort();
        want.sort();
        assert_eq!(got, want, "{env:?}");
        assert!(check(&r), "fallback of {env:?}: {r:?}");
        for w in &r.warnings {
            assert!(env.iter().any(|(k, _)| *k == w.variable()), "{w}");
        }
    }
}

#[test]
fn enum_and_boolean_values_are_case_insensitive() {
    let r = resolve(
        &[
            ("OTEL_SDK_DISABLED", "TRUE"),
            ("OTEL_PROPAGATORS", "XRay, TraceContext"),
            ("OTEL_TRACES_SAMPLER", "ParentBased_TraceIdRatio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "HTTP/JSON"),
        ],
        OtlpConfig::new(),
    );
    assert!(r.sdk_disabled);
    assert_eq!(r.propagators, [Propagator::XRay, Propagator::TraceContext]);
    assert_eq!(r.sampler, Sampler::ParentBasedTraceIdRatio(0.25));
    assert_eq!(r.protocol, Protocol::HttpJson);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let r = resolve(
        &[("OTEL_SDK_DISABLED", "False")],
        OtlpConfig::new().with_sdk_disabled(true),
    );
    assert!(!r.sdk_disabled, "the variable beats code");
    let r = resolve(&[("OTEL_PROPAGATORS", "none")], OtlpConfig::new());
    assert!(r.propagators.is_empty());
    assert!(r.warnings.is_empty());
}

#[test]
fn ratio_samplers_default_to_one_without_an_argument() {
    for (name, expected) in [
        ("traceidratio", Sampler::TraceIdRatio(1.0)),
        (
            "parentbased_traceidratio",
            Sampler::ParentBasedTraceIdRatio(1.0),
        ),
        ("always_off", Sampler::AlwaysOff),
        ("parentbased_always_off", Sampler::ParentBasedAlwaysOff),
    ] {
        let r = resolve(&[("OTEL_TRACES_SAMPLER", name)], OtlpConfig::new());
        assert_eq!(r.sampler, expected);
        assert!(r.warnings.is_empty());
    }
}

#[test]
fn resource_code_attributes_win_over_service_name_and_attributes_variables() {
    let env: &[(&str, &str)] = &[
        ("OTEL_SERVICE_NAME", "svc"),
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "service.name=other,team=core,deployment.environment=env",
        ),
    ];
    let s = |r: &ResolvedConfig, k: &str| {
        r.resource
            .get(k)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    let r = resolve(env, OtlpConfig::new());
    assert_eq!(s(&r, "service.name").as_deref(), Some("svc"));
    assert_eq!(s(&r, "team").as_deref(), Some("core"));
    let r = resolve(
        env,
        OtlpConfig::new().with_resource(
            Resource::empty()
                .with_attribute("deployment.environment", "code")
                .with_attribute("service.name", "code-svc"),
        ),
    );
    assert_eq!(s(&r, "service.name").as_deref(), Some("code-svc"));
    assert_eq!(s(&r, "deployment.environment").as_deref(), Some("code"));
    assert_eq!(s(&r, "team").as_deref(), Some("core"));
    assert_eq!(s(&r, "telemetry.sdk.name").as_deref(), Some("tracewire"));
}

#[test]
fn invalid_code_settings_are_errors_not_warnings() {
    let bad = [
        OtlpConfig::new().with_endpoint("ftp://x/"),
        OtlpConfig::new().with_endpoint("localhost:4318"),
        OtlpConfig::new().with_header("content-type", "x"),
        OtlpConfig::new().with_header("bad name", "x"),
        OtlpConfig::new().with_timeout(Duration::ZERO),
        OtlpConfig::new().with_sampler(Sampler::TraceIdRatio(2.0)),
        OtlpConfig::new().with_max_queue_size(0),
    ];
    for c in bad {
        let desc = format!("{c:?}");
        assert!(
            c.with_env_vars(Vec::<(String, String)>::new())
                .resolve()
                .is_err(),
            "{desc}"
        );
    }
}

#[test]
fn warnings_are_logged_once_per_process() {
    let w = ConfigWarning::new("OTEL_X", "v", "m");
    log_warnings(std::slice::from_ref(&w));
    log_warnings(std::slice::from_ref(&w));
    assert_eq!(w.to_string(), "OTEL_X=\"v\": m");
    assert_eq!((w.variable(), w.value(), w.message()), ("OTEL_X", "v", "m"));
}
