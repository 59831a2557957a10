//! Differential test against the OpenTelemetry Python propagators
//! (`opentelemetry-sdk`'s `TraceContextTextMapPropagator` and `W3CBaggagePropagator`,
//! `opentelemetry-propagator-aws-xray`'s `AwsXRayPropagator`, versions pinned in
//! `scripts/install-python-peers.sh`).
//!
//! A corpus of valid and invalid `traceparent`, `tracestate`, `baggage` and
//! `X-Amzn-Trace-Id` headers — every item of `docs/conformance.md#known-gaps-of-other-implementations`
//! included — is run through both sides; each case is compared on what was extracted and
//! what the extracted context injects back. Every disagreement must appear in
//! [`JUSTIFIED`] with the rule (`docs/wire-formats.md`, which cites the W3C and AWS texts)
//! that makes our result the right one; an unlisted disagreement fails the test, and so
//! does a listed case that no longer disagrees (a stale entry).
//!
//! The test installs the peers itself (into `target/python-peers`) and is skipped,
//! with a printed reason, only when `python3` is absent.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngExt as _, SeedableRng as _};
use serde_json::{json, Value};
use tracewire_context::{TraceContext, XRaySampled};

/// Case id → why our result is the right one (the rule, under its heading in
/// `docs/wire-formats.md`: traceparent, tracestate, baggage or X-Ray). Keep sorted by id.
const JUSTIFIED: &[(&str, &str)] = &[
    ("bg_65_members", "baggage: at most 64 members are propagated (Python keeps 180)"),
    ("bg_duplicate_keys", "baggage: baggage is an ordered list of members; both valid members are kept in order (Python keeps the last value under the first position)"),
    ("bg_plus_is_literal", "baggage: values are percent-decoded only; '+' is a literal octet (Python's unquote_plus turns it into a space)"),
    ("bg_properties", "baggage: `key = value *(; property)`: properties are not part of the value (Python returns them inside the value and re-encodes ';' and '=')"),
    ("bg_simple", "baggage: output percent-encodes a space as %20 (Python writes '+', which a W3C reader decodes as a literal '+')"),
    ("bg_space_injected", "baggage: output percent-encodes a space as %20 (Python writes '+', which a W3C reader decodes as a literal '+')"),
    ("bg_two_headers", "baggage: several baggage headers are combined in order (Python reads only the first)"),
    ("tp_flags_ff", "traceparent: unknown flag bits are kept on parse and zeroed on output (Python re-emits ff)"),
    ("tp_flags_random_and_unknown", "traceparent: unknown flag bits are zeroed on output, sampled and random kept (Python re-emits 07)"),
    ("tp_future_version_long", "traceparent: a higher version needs at least 55 characters and ignores what follows `-` after the flags, with no upper bound (Python rejects over 512)"),
    ("tp_two_headers_different", "traceparent: two traceparent headers are invalid (Python takes the first)"),
    ("tp_two_headers_same", "traceparent: two traceparent headers are invalid (Python takes the first)"),
    ("ts_dup_keys", "tracestate: duplicate keys keep the first entry and drop later ones (Python drops the whole header)"),
    ("ts_key_l2_digit_first", "tracestate: Level 2 key grammar allows a digit first (Python implements Level 1)"),
    ("ts_key_l2_two_at", "tracestate: Level 2 key grammar: '@' is an ordinary key character (Python implements Level 1's single tenant@system)"),
    ("ts_key_l2_long_tenant", "tracestate: Level 2 key grammar: a key is 1-256 chars of the grammar, whatever its '@' (Python limits the system part to 14 chars)"),
    ("ts_over_512_chars", "tracestate: output over 512 characters drops whole entries, long (>128) ones first (Python emits everything)"),
    ("ts_over_8192_chars", "tracestate: a tracestate of at most 32 valid members is accepted whatever its length and truncated on output (Python drops headers over 8192 chars)"),
    ("xr_custom_fields", "X-Ray: Self, Lineage and custom fields are preserved in order on injection (Python drops them)"),
    ("xr_duplicate_root", "X-Ray: a second Root makes the trace id ambiguous, so the header is rejected (Python takes the last)"),
    ("xr_keys_lowercase", "X-Ray: keys are matched case-insensitively on read (Python ignores 'root'/'parent'/'sampled' and loses the trace)"),
    ("xr_parent_plus_sign", "X-Ray: Parent is exactly 16 hex digits (Python's int() accepts a '+' sign)"),
    ("xr_root_only", "X-Ray: a Root without Parent is valid and keeps the trace id (Python loses the trace)"),
    ("xr_root_only_requested", "X-Ray: a Root without Parent is valid and keeps the trace id; Sampled=? is 'decision requested' (Python rejects both)"),
    ("xr_root_plus_sign", "X-Ray: the Root parts are exactly 8 and 24 hex digits (Python's int() accepts a '+' sign)"),
    ("xr_root_space_inside", "X-Ray: the Root parts are exactly 8 and 24 hex digits (Python's int() strips inner spaces)"),
    ("xr_root_underscore", "X-Ray: the Root parts are exactly 8 and 24 hex digits (Python's int() accepts '_' digit separators)"),
    ("xr_sampled_requested", "X-Ray: Sampled=? is valid ('decision requested') (Python rejects the header)"),
    ("xr_trailing_semicolon", "X-Ray: fields are separated by ';' with optional spaces; an empty field carries nothing (Python rejects the header)"),
    ("xr_value_with_equals", "X-Ray: any custom Key=Value field is kept; the value is everything after the first '=' (Python rejects the header)"),
];

/// Which propagator a case is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// traceparent + tracestate.
    W3c,
    Baggage,
    XRay,
}

#[derive(Debug, Clone)]
struct Case {
    id: String,
    kind: Kind,
    headers: Vec<(String, String)>,
}

fn case(id: impl Into<String>, kind: Kind, headers: &[(&str, &str)]) -> Case {
    Case {
        id: id.into(),
        kind,
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

const TP: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const TS: &str = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7";
const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";

fn hex(rng: &mut StdRng, digits: usize) -> String {
    loop {
        let s: String = (0..digits)
            .map(|_| char::from(b"0123456789abcdef"[rng.random_range(0..16)]))
            .collect();
        if s.bytes().any(|b| b != b'0') {
            return s;
        }
    }
}

fn traceparent_cases(rng: &mut StdRng) -> Vec<Case> {
    use Kind::W3c;
    let mut cases = Vec::new();
    for i in 0..40 {
        let tp = format!(
            "00-{}-{}-{:02x}",
            hex(rng, 32),
            hex(rng, 16),
            rng.random_range(0..4u8)
        );
        cases.push(case(
            format!("tp_valid_random_{i}"),
            W3c,
            &[("traceparent", &tp), ("tracestate", TS)],
        ));
    }
    let t = "0af7651916cd43dd8448eb211c80319c";
    let p = "b7ad6b7169203331";
    let named: Vec<(&str, String)> = vec![
        ("tp_valid", TP.to_owned()),
        ("tp_not_sampled", format!("00-{t}-{p}-00")),
        ("tp_random_flag", format!("00-{t}-{p}-02")),
        ("tp_sampled_random", format!("00-{t}-{p}-03")),
        ("tp_flags_ff", format!("00-{t}-{p}-ff")),
        ("tp_flags_random_and_unknown", format!("00-{t}-{p}-07")),
        // Known gaps of other implementations (docs/conformance.md): what
        // opentelemetry_sdk (Rust) accepts.
        ("tp_version_1_digit", format!("0-{t}-{p}-01")),
        ("tp_version_3_digits", format!("000-{t}-{p}-01")),
        ("tp_trace_id_31_hex", format!("00-{}-{p}-01", &t[1..])),
        ("tp_trace_id_33_hex", format!("00-0{t}-{p}-01")),
        ("tp_parent_15_hex", format!("00-{t}-{}-01", &p[1..])),
        ("tp_parent_17_hex", format!("00-{t}-0{p}-01")),
        ("tp_flags_1_digit", format!("00-{t}-{p}-1")),
        ("tp_flags_3_digits", format!("00-{t}-{p}-001")),
        ("tp_plus_signed_hex", format!("00-+{}-{p}-01", &t[1..])),
        ("tp_tiny_fields", "00-1-2-01".to_owned()),
        // The traceparent rules (docs/wire-formats.md#w3c-traceparent).
        (
            "tp_uppercase_trace_id",
            format!("00-{}-{p}-01", t.to_uppercase()),
        ),
        (
            "tp_uppercase_parent",
            format!("00-{t}-{}-01", p.to_uppercase()),
        ),
        ("tp_uppercase_version", format!("0A-{t}-{p}-01")),
        ("tp_uppercase_flags", format!("00-{t}-{p}-0A")),
        ("tp_version_ff", format!("ff-{t}-{p}-01")),
        ("tp_version_00_trailing_dash", format!("00-{t}-{p}-01-")),
        ("tp_version_00_trailing_data", format!("00-{t}-{p}-01-what")),
        ("tp_version_00_trailing_dot", format!("00-{t}-{p}-01.")),
        (
            "tp_future_version",
            format!("cc-{t}-{p}-01-what-the-future-will-be-like"),
        ),
        ("tp_future_version_exact", format!("cc-{t}-{p}-01")),
        ("tp_future_version_no_dash", format!("cc-{t}-{p}-01.what")),
        (
            "tp_future_version_long",
            format!("cc-{t}-{p}-01-{}", "x".repeat(600)),
        ),
        ("tp_zero_trace_id", format!("00-{}-{p}-01", "0".repeat(32))),
        ("tp_zero_parent", format!("00-{t}-{}-01", "0".repeat(16))),
        (
            "tp_leading_ows",
            format!(" \t{t}").replace(t, &format!("00-{t}-{p}-01")),
        ),
        ("tp_trailing_ows", format!("00-{t}-{p}-01 \t")),
        ("tp_comma_joined", format!("00-{t}-{p}-01,00-{t}-{p}-01")),
        ("tp_empty", String::new()),
        ("tp_only_spaces", "   ".to_owned()),
        ("tp_non_hex", format!("00-{}g-{p}-01", &t[1..])),
        ("tp_wrong_delimiter", format!("00_{t}-{p}-01")),
        ("tp_missing_field", format!("00-{t}-01")),
        ("tp_no_delimiters", format!("00{t}{p}01")),
    ];
    for (id, tp) in named {
        cases.push(case(id, W3c, &[("traceparent", &tp), ("tracestate", TS)]));
    }
    cases.push(case(
        "tp_two_headers_same",
        W3c,
        &[("traceparent", TP), ("traceparent", TP)],
    ));
    cases.push(case(
        "tp_two_headers_different",
        W3c,
        &[
            ("traceparent", TP),
            (
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
        ],
    ));
    cases.push(case(
        "tp_absent_tracestate_only",
        W3c,
        &[("tracestate", TS)],
    ));
    cases.push(case("tp_header_name_case", W3c, &[("TraceParent", TP)]));
    cases
}

fn l1_key(rng: &mut StdRng) -> String {
    const FIRST: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
    const REST: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789_-*/";
    let len = rng.random_range(0..12);
    let mut key = String::from(char::from(FIRST[rng.random_range(0..FIRST.len())]));
    key.extend((0..len).map(|_| char::from(REST[rng.random_range(0..REST.len())])));
    key
}

fn ts_value(rng: &mut StdRng) -> String {
    let len = rng.random_range(1..20);
    let mut value: String = (0..len)
        .map(|_| loop {
            let c = rng.random_range(0x20u8..=0x7e);
            if c != b',' && c != b'=' {
                break char::from(c);
            }
        })
        .collect();
    if value.ends_with(' ') || value.starts_with(' ') {
        value = format!("x{}x", value.trim());
    }
    value
}

fn tracestate_cases(rng: &mut StdRng) -> Vec<Case> {
    use Kind::W3c;
    let mut cases = Vec::new();
    for i in 0..30 {
        let n = rng.random_range(1..=32);
        let mut keys = Vec::new();
        while keys.len() < n {
            let k = l1_key(rng);
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        let ts = keys
            .iter()
            .map(|k| format!("{k}={}", ts_value(rng)))
            .collect::<Vec<_>>()
            .join(",");
        if ts.len() <= 512 {
            cases.push(case(
                format!("ts_valid_random_{i}"),
                W3c,
                &[("traceparent", TP), ("tracestate", &ts)],
            ));
        }
    }
    let members = |n: usize| {
        (0..n)
            .map(|i| format!("k{i}=v{i}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let long_entries = (0..6)
        .map(|i| format!("k{i}={}", "v".repeat(100 + 20 * i)))
        .collect::<Vec<_>>()
        .join(",");
    let huge = (0..32)
        .map(|i| format!("k{i}={}", "v".repeat(256)))
        .collect::<Vec<_>>()
        .join(",");
    let named: Vec<(&str, String)> = vec![
        // Known gaps of other implementations (docs/conformance.md): what
        // opentelemetry_sdk (Rust) gets wrong.
        ("ts_empty_value", "foo=,bar=3".to_owned()),
        ("ts_control_char", "foo=a\u{1}b,bar=3".to_owned()),
        ("ts_33_members", members(33)),
        ("ts_32_members", members(32)),
        // The tracestate rules (docs/wire-formats.md#w3c-tracestate).
        ("ts_dup_keys", "a=1,b=2,a=3".to_owned()),
        ("ts_key_uppercase", "Foo=1".to_owned()),
        ("ts_key_l2_digit_first", "1a=b".to_owned()),
        ("ts_key_tenant", "tenant@system=1".to_owned()),
        ("ts_key_tenant_digit_first", "1tenant@system=1".to_owned()),
        ("ts_key_l2_two_at", "a@b@c=1".to_owned()),
        ("ts_key_l2_long_tenant", "t@abcdefghijklmnopq=1".to_owned()),
        ("ts_key_256", format!("{}=1", "k".repeat(256))),
        ("ts_key_257", format!("{}=1", "k".repeat(257))),
        ("ts_key_underscore_first", "_k=1".to_owned()),
        ("ts_value_256", format!("k={}", "v".repeat(256))),
        ("ts_value_257", format!("k={}", "v".repeat(257))),
        ("ts_value_leading_space", "k= v".to_owned()),
        ("ts_value_inner_space", "k=a b".to_owned()),
        ("ts_value_with_equals", "k=a=b".to_owned()),
        ("ts_value_tab", "k=a\tb".to_owned()),
        ("ts_value_non_ascii", "k=\u{e9}".to_owned()),
        ("ts_member_no_equals", "a=1,novalue".to_owned()),
        ("ts_empty_members", "a=1,,b=2, ,".to_owned()),
        ("ts_ows_around_members", " a=1 ,\tb=2\t".to_owned()),
        ("ts_only_commas", ",,,".to_owned()),
        ("ts_empty_header", String::new()),
        ("ts_over_512_chars", long_entries),
        ("ts_over_8192_chars", huge),
    ];
    for (id, ts) in named {
        cases.push(case(id, W3c, &[("traceparent", TP), ("tracestate", &ts)]));
    }
    cases.push(case(
        "ts_two_headers",
        W3c,
        &[
            ("traceparent", TP),
            ("tracestate", "a=1"),
            ("tracestate", "b=2"),
        ],
    ));
    cases.push(case(
        "ts_two_headers_33_members",
        W3c,
        &[
            ("traceparent", TP),
            ("tracestate", &members(20)),
            ("tracestate", &members(33).replace('k', "j")),
        ],
    ));
    cases.push(case(
        "ts_invalid_traceparent_discards_tracestate",
        W3c,
        &[
            (
                "traceparent",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-",
            ),
            ("tracestate", TS),
        ],
    ));
    cases
}

fn baggage_cases(rng: &mut StdRng) -> Vec<Case> {
    use Kind::Baggage;
    const KEY: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.";
    const VALUE: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789-_.~";
    let mut cases = Vec::new();
    for i in 0..30 {
        let n = rng.random_range(1..8);
        let mut keys: Vec<String> = Vec::new();
        while keys.len() < n {
            let len = rng.random_range(1..10);
            let k: String = (0..len)
                .map(|_| char::from(KEY[rng.random_range(0..KEY.len())]))
                .collect();
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        let header = keys
            .iter()
            .map(|k| {
                let len = rng.random_range(0..12);
                let v: String = (0..len)
                    .map(|_| char::from(VALUE[rng.random_range(0..VALUE.len())]))
                    .collect();
                // Some percent-encoded octets, decoded by both sides.
                if rng.random_range(0..3) == 0 {
                    format!("{k}={v}%2C%3D%25")
                } else {
                    format!("{k}={v}")
                }
            })
            .collect::<Vec<_>>()
            .join(",");
        cases.push(case(
            format!("bg_valid_random_{i}"),
            Baggage,
            &[("baggage", &header)],
        ));
    }
    let many = |n: usize| {
        (0..n)
            .map(|i| format!("k{i}=v"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let named: Vec<(&str, String)> = vec![
        (
            "bg_simple",
            "userId=alice,serverNode=DF%2028,isProduction=false".to_owned(),
        ),
        ("bg_properties", "k=v;p1;p2=x".to_owned()),
        ("bg_plus_is_literal", "k=a+b".to_owned()),
        ("bg_space_injected", "k=a%20b".to_owned()),
        ("bg_invalid_utf8", "k=a%FFb".to_owned()),
        ("bg_utf8", "k=%C3%A9t%C3%A9".to_owned()),
        ("bg_equals_in_value", "k=a=b".to_owned()),
        ("bg_64_members", many(64)),
        ("bg_65_members", many(65)),
        ("bg_ows", " k = v , l\t=\tw ".to_owned()),
        ("bg_empty_value", "k=".to_owned()),
        ("bg_invalid_key_space", "k k=v".to_owned()),
        ("bg_no_equals", "k".to_owned()),
        ("bg_non_ascii_raw", "k=\u{e9}".to_owned()),
        ("bg_percent_lowercase", "k=%2c".to_owned()),
        ("bg_percent_incomplete", "k=%2".to_owned()),
        ("bg_dquote", "k=\"v\"".to_owned()),
        ("bg_duplicate_keys", "k=1,l=2,k=3".to_owned()),
        ("bg_empty_members", "a=1,,b=2".to_owned()),
        ("bg_invalid_member_then_valid", "a=1,b c=2,d=3".to_owned()),
    ];
    for (id, b) in named {
        cases.push(case(id, Baggage, &[("baggage", &b)]));
    }
    cases.push(case(
        "bg_two_headers",
        Baggage,
        &[("baggage", "a=1"), ("baggage", "b=2")],
    ));
    cases
}

fn xray_cases(rng: &mut StdRng) -> Vec<Case> {
    use Kind::XRay;
    const NAME: &str = "X-Amzn-Trace-Id";
    let mut cases = Vec::new();
    for i in 0..30 {
        let header = format!(
            "Root=1-{}-{};Parent={};Sampled={}",
            hex(rng, 8),
            hex(rng, 24),
            hex(rng, 16),
            rng.random_range(0..2)
        );
        cases.push(case(
            format!("xr_valid_random_{i}"),
            XRay,
            &[(NAME, &header)],
        ));
    }
    let named: Vec<(&str, String)> = vec![
        ("xr_valid", format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1")),
        ("xr_not_sampled", format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=0")),
        ("xr_sampled_missing", format!("Root={ROOT};Parent=53995c3f42cd8ad8")),
        ("xr_sampled_requested", format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=?")),
        ("xr_sampled_2", format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=2")),
        ("xr_order_parent_first", format!("Parent=53995c3f42cd8ad8;Sampled=1;Root={ROOT}")),
        ("xr_spaces", format!("Root={ROOT} ; Parent=53995c3f42cd8ad8 ; Sampled=1")),
        ("xr_uppercase_hex", format!("Root={};Parent=53995C3F42CD8AD8;Sampled=1", ROOT.to_uppercase())),
        // Known gaps of other implementations (docs/conformance.md): what
        // opentelemetry-aws (Rust) gets wrong.
        ("xr_root_only", format!("Root={ROOT}")),
        ("xr_root_only_requested", format!("Root={ROOT};Sampled=?")),
        ("xr_version_2", "Root=2-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".to_owned()),
        ("xr_no_version", "Root=5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".to_owned()),
        ("xr_short_epoch", "Root=1-759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".to_owned()),
        ("xr_short_unique", "Root=1-5759e988-d862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".to_owned()),
        ("xr_short_parent", format!("Root={ROOT};Parent=3995c3f42cd8ad8;Sampled=1")),
        ("xr_long_parent", format!("Root={ROOT};Parent=053995c3f42cd8ad8;Sampled=1")),
        // The X-Ray rules (docs/wire-formats.md#aws-x-ray).
        ("xr_parent_non_hex", format!("Root={ROOT};Parent=53995c3f42cd8adz;Sampled=1")),
        ("xr_parent_plus_sign", format!("Root={ROOT};Parent=+3995c3f42cd8ad8;Sampled=1")),
        ("xr_root_plus_sign", "Root=1-+759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".to_owned()),
        ("xr_root_space_inside", "Root=1- 759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".to_owned()),
        ("xr_root_underscore", "Root=1-5759_988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".to_owned()),
        ("xr_keys_lowercase", format!("root={ROOT};parent=53995c3f42cd8ad8;sampled=1")),
        ("xr_custom_fields", format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1;Self=1-67891233-abcdef012345678912345678;Lineage=a87bd80c:1|68fd508a:5;Foo=bar")),
        ("xr_missing_root", "Parent=53995c3f42cd8ad8;Sampled=1".to_owned()),
        ("xr_field_without_equals", format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1;garbage")),
        ("xr_trailing_semicolon", format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1;")),
        ("xr_value_with_equals", format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1;Foo=a=b")),
        ("xr_duplicate_root", format!("Root={ROOT};Parent=53995c3f42cd8ad8;Root=1-5759e988-00000000000000000000000a")),
        ("xr_zero_root", "Root=1-00000000-000000000000000000000000;Parent=53995c3f42cd8ad8;Sampled=1".to_owned()),
        ("xr_zero_parent", format!("Root={ROOT};Parent=0000000000000000;Sampled=1")),
        ("xr_empty", String::new()),
    ];
    for (id, h) in named {
        cases.push(case(id, XRay, &[(NAME, &h)]));
    }
    let valid = format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1");
    cases.push(case(
        "xr_two_headers",
        XRay,
        &[(NAME, &valid), (NAME, &valid)],
    ));
    cases
}

fn corpus() -> Vec<Case> {
    let mut rng = StdRng::seed_from_u64(0x7472_6163_6577_6972);
    let mut cases = traceparent_cases(&mut rng);
    cases.extend(tracestate_cases(&mut rng));
    cases.extend(baggage_cases(&mut rng));
    cases.extend(xray_cases(&mut rng));
    cases
}

// ---------------------------------------------------------------- our side

/// Our view of a case, in the same shape as the Python driver's answer.
fn ours(case: &Case) -> Value {
    let pairs: Vec<(String, String)> = case.headers.clone();
    let context = TraceContext::extract(&pairs);
    match case.kind {
        Kind::W3c => {
            let extracted = context.traceparent.map(|tp| {
                json!({
                    "trace_id": tp.trace_id.to_string(),
                    "span_id": tp.parent_id.to_string(),
                    "flags": tp.flags.bits(),
                    "tracestate": context.tracestate.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
                })
            });
            let mut injected = BTreeMap::new();
            let mut w3c_only = TraceContext::new();
            w3c_only.traceparent = context.traceparent;
            w3c_only.tracestate = context.tracestate.clone();
            w3c_only.inject(&mut injected);
            json!({"extracted": extracted, "inject": injected})
        }
        Kind::Baggage => {
            let members: Vec<Value> = context
                .baggage
                .iter()
                .map(|m| json!([m.key, m.value]))
                .collect();
            let header = (!context.baggage.is_empty()).then(|| context.baggage.header());
            json!({"extracted": members, "inject": decode_baggage_header(header.as_deref())})
        }
        Kind::XRay => {
            let extracted = context.xray.as_ref().map(|x| {
                json!({
                    "trace_id": x.trace_id.to_string(),
                    "span_id": x.parent.map(|p| p.to_string()),
                    "sampled": x.sampled == XRaySampled::Sampled,
                })
            });
            let mut injected = BTreeMap::new();
            context.inject(&mut injected);
            json!({"extracted": extracted, "inject": injected.get("x-amzn-trace-id")})
        }
    }
}

/// The Python answer, reduced to the same shape.
fn theirs(case: &Case, answer: &Value) -> Value {
    match case.kind {
        Kind::W3c => json!({"extracted": answer["w3c"], "inject": answer["w3c_inject"]}),
        Kind::Baggage => json!({
            "extracted": answer["baggage"],
            "inject": decode_baggage_header(answer["baggage_inject"].as_str()),
        }),
        Kind::XRay => json!({"extracted": answer["xray"], "inject": answer["xray_inject"]}),
    }
}

/// An injected baggage header as (key, value, properties) with plain percent-decoding,
/// so the two sides' encoding choices (upper/lower case hex, which octets they escape)
/// compare equal when they mean the same thing.
fn decode_baggage_header(header: Option<&str>) -> Value {
    let Some(header) = header else {
        return Value::Null;
    };
    let members: Vec<Value> = header
        .split(',')
        .map(|member| {
            let mut parts = member.split(';');
            let kv = parts.next().unwrap_or_default();
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let props: Vec<&str> = parts.collect();
            json!([percent_decode(k.trim()), percent_decode(v.trim()), props])
        })
        .collect();
    Value::from(members)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let escaped = (b[i] == b'%')
            .then(|| s.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------- running Python

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `command` with `input` on stdin; gives up after `limit`.
fn run_bounded(mut command: Command, input: String, limit: Duration) -> Result<String, String> {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn {command:?}: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let (tx, rx) = mpsc::channel();
    let err_tx = tx.clone();
    std::thread::spawn(move || {
        let mut out = String::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            out.push_str(&line);
            out.push('\n');
        }
        let _ = tx.send((true, out));
    });
    std::thread::spawn(move || {
        let mut out = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            out.push_str(&line);
            out.push('\n');
        }
        let _ = err_tx.send((false, out));
    });
    let deadline = Instant::now() + limit;
    let (mut stdout_text, mut stderr_text) = (None, None);
    while stdout_text.is_none() || stderr_text.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((true, text)) => stdout_text = Some(text),
            Ok((false, text)) => stderr_text = Some(text),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{command:?} did not finish within {limit:?}"));
            }
        }
    }
    let _ = writer.join();
    let status = child.wait().map_err(|e| format!("wait: {e}"))?;
    if !status.success() {
        return Err(format!(
            "{command:?} failed with {status}: {}",
            stderr_text.unwrap_or_default()
        ));
    }
    Ok(stdout_text.unwrap_or_default())
}

fn python3_available() -> bool {
    Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn differential_against_opentelemetry_python_propagators() {
    if !python3_available() {
        println!(
            "SKIPPED differential_against_opentelemetry_python_propagators: python3 not found"
        );
        return;
    }
    let root = repo_root();
    let mut install = Command::new("bash");
    install.arg(root.join("scripts/install-python-peers.sh"));
    let installed = run_bounded(install, String::new(), Duration::from_secs(600))
        .expect("scripts/install-python-peers.sh failed");
    let python = installed
        .lines()
        .last()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .expect("install script prints the venv's python");

    let cases = corpus();
    let mut input = String::new();
    for c in &cases {
        let headers: Vec<Value> = c.headers.iter().map(|(k, v)| json!([k, v])).collect();
        input.push_str(&json!({"id": c.id, "headers": headers}).to_string());
        input.push('\n');
    }
    let mut driver = Command::new(python);
    driver.arg(root.join("scripts/otel_python_peer.py"));
    let output = run_bounded(driver, input, Duration::from_secs(120))
        .expect("scripts/otel_python_peer.py failed");
    let answers: Vec<Value> = output
        .lines()
        .map(|l| serde_json::from_str(l).expect("driver prints JSON lines"))
        .collect();
    assert_eq!(answers.len(), cases.len(), "one answer per case");

    let justified: BTreeMap<&str, &str> = JUSTIFIED.iter().copied().collect();
    assert_eq!(
        justified.len(),
        JUSTIFIED.len(),
        "duplicate ids in JUSTIFIED"
    );
    let mut ids = std::collections::HashSet::new();
    let mut agreements = 0;
    let mut justified_disagreements = 0;
    let mut unlisted = Vec::new();
    let mut stale = Vec::new();
    for (c, answer) in cases.iter().zip(&answers) {
        assert!(ids.insert(c.id.as_str()), "duplicate case id {}", c.id);
        assert_eq!(answer["id"], c.id, "answers in order");
        let errors = answer["errors"].as_object().map_or(0, |e| e.len());
        let (a, b) = (ours(c), theirs(c, answer));
        let agree = a == b && errors == 0;
        match (agree, justified.get(c.id.as_str())) {
            (true, None) => agreements += 1,
            (false, Some(clause)) => {
                justified_disagreements += 1;
                println!(
                    "justified {}: {clause}\n    ours:   {a}\n    python: {b}",
                    c.id
                );
            }
            (true, Some(_)) => stale.push(c.id.clone()),
            (false, None) => unlisted.push(format!(
                "{}: headers {:?}\n    ours:   {a}\n    python: {b}\n    python errors: {}",
                c.id, c.headers, answer["errors"]
            )),
        }
    }
    for id in justified.keys() {
        assert!(
            ids.contains(id),
            "JUSTIFIED lists {id}, which is not in the corpus"
        );
    }
    let per_kind = |k: Kind| cases.iter().filter(|c| c.kind == k).count();
    println!(
        "differential: {} cases ({} traceparent/tracestate, {} baggage, {} X-Ray), \
         {agreements} agreements, {justified_disagreements} justified disagreements",
        cases.len(),
        per_kind(Kind::W3c),
        per_kind(Kind::Baggage),
        per_kind(Kind::XRay),
    );
    assert!(
        unlisted.is_empty(),
        "{} unlisted disagreement(s) with the Python propagators:\n{}",
        unlisted.len(),
        unlisted.join("\n")
    );
    assert!(
        stale.is_empty(),
        "listed in JUSTIFIED but the peers now agree (remove them): {stale:?}"
    );
}

/// The corpus covers every item of `docs/conformance.md#known-gaps-of-other-implementations`
/// (by case id).
#[test]
fn corpus_covers_the_known_gaps_of_other_implementations() {
    let ids: Vec<String> = corpus().into_iter().map(|c| c.id).collect();
    for gap in [
        "tp_version_1_digit",
        "tp_version_3_digits",
        "tp_trace_id_31_hex",
        "tp_parent_15_hex",
        "tp_flags_1_digit",
        "tp_flags_3_digits",
        "tp_plus_signed_hex",
        "tp_tiny_fields",
        "tp_random_flag",
        "ts_two_headers",
        "ts_empty_value",
        "ts_control_char",
        "ts_33_members",
        "xr_no_version",
        "xr_version_2",
        "xr_short_epoch",
        "xr_short_parent",
        "xr_root_only",
    ] {
        assert!(ids.iter().any(|id| id == gap), "corpus lacks {gap}");
    }
    // And our side gives the strict outcome for each of them.
    let strict_rejects = [
        "tp_version_1_digit",
        "tp_version_3_digits",
        "tp_trace_id_31_hex",
        "tp_parent_15_hex",
        "tp_flags_1_digit",
        "tp_flags_3_digits",
        "tp_plus_signed_hex",
        "tp_tiny_fields",
    ];
    for c in corpus() {
        let context = TraceContext::extract(&c.headers);
        if strict_rejects.contains(&c.id.as_str()) {
            assert!(context.traceparent.is_none(), "{} accepted", c.id);
            assert!(context.tracestate.is_empty(), "{}: tracestate kept", c.id);
        }
        match c.id.as_str() {
            "tp_random_flag" => assert!(context.traceparent.is_some_and(|t| t.flags.is_random())),
            "ts_two_headers" => assert_eq!(context.tracestate.header(), "a=1,b=2"),
            "ts_empty_value" | "ts_control_char" | "ts_33_members" => {
                assert!(context.tracestate.is_empty(), "{}", c.id);
                assert_eq!(context.rejections().len(), 1, "{}", c.id);
            }
            "xr_no_version" | "xr_version_2" | "xr_short_epoch" | "xr_short_parent" => {
                assert!(context.xray.is_none(), "{} accepted", c.id)
            }
            "xr_root_only" => assert_eq!(
                context.trace_id().map(|t| t.to_string()).as_deref(),
                Some("5759e988bd862e3fe1be46a994272793")
            ),
            _ => {}
        }
    }
}
