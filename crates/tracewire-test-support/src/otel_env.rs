//! ONE table of `OTEL_*` environment cases, driven through `OtlpHttpExporter` (injected
//! variables), through `init_tracer` (a child test process) and through
//! `tracewire collect --forward` (the real binary), all against [`Receiver`]; each driver
//! checks what the receiver decoded and the warnings with [`EnvCase::check`].
//!
//! In every case the variables name the receiver, so a driver that also sets an endpoint
//! in code (pointing at [`DEAD_ENDPOINT`]) proves that variables beat code.

use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;

use crate::otlp_receiver::{Receiver, Recorded};

/// An endpoint nobody listens on (the discard port): set in code by the drivers.
pub const DEAD_ENDPOINT: &str = "http://127.0.0.1:9/v1/traces";
/// The `OTEL_SERVICE_NAME` of every case.
pub const SERVICE: &str = "env-table";
/// `{rx}` in a case is replaced by the receiver's base URL, `http://127.0.0.1:PORT`.
pub const RX: &str = "{rx}";

/// What the receiver and the warnings must show for one case.
#[derive(Debug, Clone, Copy)]
pub struct Expect {
    /// Whether spans reach the receiver (`false`: no request at all).
    pub exported: bool,
    /// Request path.
    pub path: &'static str,
    /// Request `Content-Type`.
    pub content_type: &'static str,
    /// Whether the body is gzip (`Content-Encoding: gzip`).
    pub gzip: bool,
    /// Headers that must be on the request.
    pub headers: &'static [(&'static str, &'static str)],
    /// Headers that must not be.
    pub absent_headers: &'static [&'static str],
    /// The receiver never answers the first request: the export succeeds only by a retry
    /// after the configured per-request timeout.
    pub hang_first: bool,
    /// The per-request timeout the configuration must resolve to, in milliseconds (for
    /// drivers that can read it; the others see it through `hang_first`).
    pub timeout_ms: Option<u64>,
    /// The configuration warnings, exactly (with `{rx}` substituted).
    pub warnings: &'static [&'static str],
    /// Header names the global propagator injects, in order, for a sampled span with a
    /// baggage entry (checked by the `init_tracer` driver).
    pub injected: &'static [&'static str],
}

/// One environment case.
#[derive(Debug, Clone, Copy)]
pub struct EnvCase {
    /// Name, for failure messages.
    pub name: &'static str,
    /// Variables besides `OTEL_SERVICE_NAME`; `{rx}` is the receiver's base URL.
    pub vars: &'static [(&'static str, &'static str)],
    /// What must happen.
    pub expect: Expect,
}

const PB: &str = "application/x-protobuf";
const JSON: &str = "application/json";
const DEFAULT_INJECTED: &[&str] = &["traceparent", "baggage"];

const BASE: Expect = Expect {
    exported: true,
    path: "/v1/traces",
    content_type: PB,
    gzip: false,
    headers: &[],
    absent_headers: &[],
    hang_first: false,
    timeout_ms: None,
    warnings: &[],
    injected: DEFAULT_INJECTED,
};

/// The table.
pub const CASES: &[EnvCase] = &[
    EnvCase {
        name: "generic endpoint gets /v1/traces after its base path",
        vars: &[("OTEL_EXPORTER_OTLP_ENDPOINT", "{rx}/base")],
        expect: Expect {
            path: "/base/v1/traces",
            ..BASE
        },
    },
    EnvCase {
        name: "traces endpoint beats the generic one and is used as-is",
        vars: &[
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "{rx}/custom/traces"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9"),
        ],
        expect: Expect {
            path: "/custom/traces",
            ..BASE
        },
    },
    EnvCase {
        name: "http/json",
        vars: &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "{rx}"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ],
        expect: Expect {
            content_type: JSON,
            ..BASE
        },
    },
    EnvCase {
        name: "gzip",
        vars: &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "{rx}"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
        ],
        expect: Expect {
            gzip: true,
            ..BASE
        },
    },
    EnvCase {
        name: "traces headers replace the generic ones, percent-decoded",
        vars: &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "{rx}"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-generic=1"),
            ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-team=core, x-note=a%20b"),
        ],
        expect: Expect {
            headers: &[("x-team", "core"), ("x-note", "a b")],
            absent_headers: &["x-generic"],
            ..BASE
        },
    },
    EnvCase {
        name: "traces timeout bounds a request that gets no answer",
        vars: &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "{rx}"),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "300"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "600000"),
        ],
        expect: Expect {
            hang_first: true,
            timeout_ms: Some(300),
            ..BASE
        },
    },
    EnvCase {
        name: "OTEL_SDK_DISABLED=true exports nothing and fails nothing",
        vars: &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "{rx}"),
            ("OTEL_SDK_DISABLED", "true"),
        ],
        expect: Expect {
            exported: false,
            injected: &[],
            ..BASE
        },
    },
    EnvCase {
        name: "OTEL_PROPAGATORS=xray,tracecontext in that order",
        vars: &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "{rx}"),
            ("OTEL_PROPAGATORS", "xray,tracecontext"),
        ],
        expect: Expect {
            injected: &["x-amzn-trace-id", "traceparent"],
            ..BASE
        },
    },
    EnvCase {
        name: "invalid values warn once each and fall back exactly",
        vars: &[
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "ftp://nowhere/v1/traces"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "{rx}"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "carrier-pigeon"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "brotli"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "ten"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "broken"),
            ("OTEL_SDK_DISABLED", "maybe"),
            ("OTEL_PROPAGATORS", "b3,tracecontext"),
            ("OTEL_TRACES_SAMPLER", "xray"),
        ],
        expect: Expect {
            content_type: JSON,
            warnings: &[
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=\"carrier-pigeon\": not one of grpc, http/protobuf, http/json; using http/json (from OTEL_EXPORTER_OTLP_PROTOCOL)",
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=\"ftp://nowhere/v1/traces\": scheme \"ftp\" is not http or https; using {rx}/v1/traces (from OTEL_EXPORTER_OTLP_ENDPOINT)",
                "OTEL_EXPORTER_OTLP_COMPRESSION=\"brotli\": not one of gzip, none; using none (the default)",
                "OTEL_EXPORTER_OTLP_HEADERS=\"broken\": member 0 has no '='; using no headers (the default)",
                "OTEL_EXPORTER_OTLP_TIMEOUT=\"ten\": not a whole number of milliseconds; using 10000 ms (the default)",
                "OTEL_SDK_DISABLED=\"maybe\": neither true nor false; using false (the default)",
                "OTEL_PROPAGATORS=\"b3\": not a propagator tracewire has (tracecontext, baggage, xray, none); skipped",
                "OTEL_TRACES_SAMPLER=\"xray\": sampler not supported by tracewire; using parentbased_always_on (the default)",
            ],
            injected: &["traceparent"],
            ..BASE
        },
    },
];

impl EnvCase {
    /// The case's variables for the receiver at `base` (`http://127.0.0.1:PORT`), with
    /// `OTEL_SERVICE_NAME`.
    pub fn vars_for(&self, base: &str) -> Vec<(String, String)> {
        let mut out = vec![("OTEL_SERVICE_NAME".to_owned(), SERVICE.to_owned())];
        out.extend(
            self.vars
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.replace(RX, base))),
        );
        out
    }

    /// Every variable name any case sets (for drivers that clear them in a child).
    pub fn all_variable_names() -> Vec<&'static str> {
        let mut names: Vec<&'static str> = CASES
            .iter()
            .flat_map(|c| c.vars.iter().map(|(k, _)| *k))
            .chain(["OTEL_SERVICE_NAME"])
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// Prepares the receiver for the case (a hang first, when the case needs one).
    pub fn script(&self, rx: &Receiver) {
        if self.expect.hang_first {
            rx.script([crate::Reply::Hang]);
        }
    }

    /// Checks the requests the receiver got and the warnings a driver saw; returns every
    /// mismatch (empty when the case holds). `span_name` is a span the driver exported.
    pub fn check(
        &self,
        base: &str,
        requests: &[Recorded],
        warnings: &[String],
        span_name: &str,
    ) -> Vec<String> {
        let e = &self.expect;
        let mut problems = Vec::new();
        let want: Vec<String> = e.warnings.iter().map(|w| w.replace(RX, base)).collect();
        let mut got = warnings.to_vec();
        let mut want_sorted = want.clone();
        got.sort();
        want_sorted.sort();
        if got != want_sorted {
            problems.push(format!("warnings: got {got:#?}, want {want_sorted:#?}"));
        }
        if !e.exported {
            if !requests.is_empty() {
                problems.push(format!("{} requests, want none", requests.len()));
            }
            return problems;
        }
        if e.hang_first && requests.len() < 2 {
            problems.push(format!(
                "{} requests: the unanswered first one was not retried after the timeout",
                requests.len()
            ));
        }
        let Some(accepted) = requests.iter().find(|r| r.reply == "ok") else {
            problems.push(format!("no request was accepted: {requests:?}"));
            return problems;
        };
        for r in requests {
            if r.path != e.path {
                problems.push(format!("path {}, want {}", r.path, e.path));
            }
        }
        let header = |name: &str| {
            accepted
                .headers
                .get(name)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        };
        if header("content-type").as_deref() != Some(e.content_type) {
            problems.push(format!(
                "content-type {:?}, want {}",
                header("content-type"),
                e.content_type
            ));
        }
        let gzip = header("content-encoding").as_deref() == Some("gzip");
        if gzip != e.gzip {
            problems.push(format!("gzip {gzip}, want {}", e.gzip));
        }
        for (k, v) in e.headers {
            if header(k).as_deref() != Some(*v) {
                problems.push(format!("header {k}: {:?}, want {v:?}", header(k)));
            }
        }
        for k in e.absent_headers {
            if header(k).is_some() {
                problems.push(format!("header {k} present, want absent"));
            }
        }
        match &accepted.request {
            None => problems.push("the accepted body did not decode".to_owned()),
            Some(req) => {
                let names: Vec<&str> = req
                    .resource_spans
                    .iter()
                    .flat_map(|rs| rs.scope_spans.iter())
                    .flat_map(|ss| ss.spans.iter())
                    .map(|s| s.name.as_str())
                    .collect();
                if !names.contains(&span_name) {
                    problems.push(format!("span {span_name:?} not in {names:?}"));
                }
                let services: Vec<String> = req
                    .resource_spans
                    .iter()
                    .filter_map(|rs| rs.resource.as_ref())
                    .flat_map(|r| r.attributes.iter())
                    .filter(|kv| kv.key == "service.name")
                    .filter_map(|kv| match kv.value.as_ref()?.value.as_ref()? {
                        AnyValue::StringValue(s) => Some(s.clone()),
                        _ => None,
                    })
                    .collect();
                if services.is_empty() || services.iter().any(|s| s != SERVICE) {
                    problems.push(format!("service.name {services:?}, want {SERVICE}"));
                }
            }
        }
        problems
    }
}

/// The base URL of a receiver (`http://127.0.0.1:PORT`).
pub fn base_url(rx: &Receiver) -> String {
    format!("http://{}", rx.addr())
}
