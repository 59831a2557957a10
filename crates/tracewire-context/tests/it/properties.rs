//! Property tests of every parser: arbitrary input never panics, generated valid values
//! round-trip through format → parse, and the `tracestate` / baggage limits hold.

use std::collections::{BTreeMap, HashSet};

use proptest::collection::vec;
use proptest::prelude::*;
use tracewire_context::{
    Baggage, BaggageMember, BaggageProperty, ParseError, SpanId, TraceContext, TraceFlags, TraceId,
    TraceState, Traceparent, XRayField, XRayHeader, XRaySampled,
};

fn config() -> ProptestConfig {
    // The machine is shared: enough cases to find shallow bugs, fuzzing does the rest.
    ProptestConfig {
        cases: 256,
        // Failures are turned into named unit tests instead of files in the tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------- generators

fn trace_id() -> impl Strategy<Value = TraceId> {
    (1..=u128::MAX).prop_map(TraceId::from_u128)
}

fn span_id() -> impl Strategy<Value = SpanId> {
    (1..=u64::MAX).prop_map(SpanId::from_u64)
}

/// Strings shaped like traceparents: hex, dashes, spaces, a few other bytes.
fn traceparent_like() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9a-fA-F\\- \t,]{0,80}",
        "[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}.{0,20}",
        ".{0,80}",
    ]
}

const TS_KEY: &str = "[a-z0-9][a-z0-9_\\-*/@]{0,20}";
const TS_VALUE: &str =
    "[\\x20-\\x2b\\x2d-\\x3c\\x3e-\\x7e]{0,20}[\\x21-\\x2b\\x2d-\\x3c\\x3e-\\x7e]";

/// Up to `max` tracestate entries with distinct keys.
fn tracestate_entries(max: usize) -> impl Strategy<Value = Vec<(String, String)>> {
    vec((TS_KEY, TS_VALUE), 0..=max).prop_map(|entries| {
        let mut seen = HashSet::new();
        entries
            .into_iter()
            .filter(|(k, _)| seen.insert(k.clone()))
            .collect()
    })
}

fn join_tracestate(entries: &[(String, String)]) -> String {
    entries
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

const TOKEN: &str = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]{1,12}";
const BAGGAGE_OCTETS: &str = "[\\x21\\x23-\\x2b\\x2d-\\x3a\\x3c-\\x5b\\x5d-\\x7e]{0,12}";

fn baggage_member() -> impl Strategy<Value = BaggageMember> {
    (
        TOKEN,
        // Any Unicode text: it is percent-encoded on the wire.
        "\\PC{0,16}|[ %=;,\"\\\\]{0,6}",
        vec((TOKEN, proptest::option::of(BAGGAGE_OCTETS)), 0..3),
    )
        .prop_map(|(key, value, props)| BaggageMember {
            key,
            value,
            properties: props
                .into_iter()
                .map(|(key, value)| BaggageProperty { key, value })
                .collect(),
        })
}

fn xray_sampled() -> impl Strategy<Value = XRaySampled> {
    prop_oneof![
        Just(XRaySampled::Sampled),
        Just(XRaySampled::NotSampled),
        Just(XRaySampled::Requested),
    ]
}

fn xray_field() -> impl Strategy<Value = XRayField> {
    prop_oneof![
        "[A-Za-z][A-Za-z0-9_]{0,10}".prop_filter("reserved X-Ray keys", |k| {
            !["root", "parent", "sampled", "self", "lineage"]
                .iter()
                .any(|r| k.eq_ignore_ascii_case(r))
        }),
        Just("Self".to_owned()),
        Just("Lineage".to_owned()),
    ]
    .prop_flat_map(|key| {
        "[A-Za-z0-9:|._=\\-]{0,16}".prop_map(move |value| XRayField {
            key: key.clone(),
            value,
        })
    })
}

fn xray_header() -> impl Strategy<Value = XRayHeader> {
    (
        trace_id(),
        proptest::option::of(span_id()),
        xray_sampled(),
        vec(xray_field(), 0..4),
    )
        .prop_map(|(trace_id, parent, sampled, fields)| XRayHeader {
            trace_id,
            parent,
            sampled,
            fields,
        })
}

/// Randomly changes the ASCII case of each letter.
fn recase(s: &str, mask: u64) -> String {
    s.chars()
        .enumerate()
        .map(|(i, c)| {
            if mask >> (i % 64) & 1 == 1 {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

// ---------------------------------------------------------------- traceparent

proptest! {
    #![proptest_config(config())]

    #[test]
    fn traceparent_parse_never_panics(s in traceparent_like()) {
        let _ = Traceparent::parse(&s);
    }

    #[test]
    fn traceparent_parse_never_panics_on_bytes(bytes in vec(any::<u8>(), 0..80)) {
        let s = String::from_utf8_lossy(&bytes);
        let _ = Traceparent::parse(&s);
    }

    #[test]
    fn traceparent_version_00_round_trips(t in trace_id(), p in span_id(), flags in any::<u8>()) {
        let tp = Traceparent::new(t, p, TraceFlags::from_bits(flags));
        let text = tp.to_string();
        prop_assert_eq!(text.len(), 55);
        prop_assert_eq!(&text, &format!("00-{t}-{p}-{:02x}", flags & 0x03));
        let back = Traceparent::parse(&text).expect("formatted traceparent parses");
        prop_assert_eq!(back, Traceparent::new(t, p, TraceFlags::from_bits(flags & 0x03)));
    }

    #[test]
    fn traceparent_parse_keeps_all_flag_bits_and_tolerates_ows(
        t in trace_id(), p in span_id(), flags in any::<u8>(),
        lead in "[ \t]{0,3}", trail in "[ \t]{0,3}",
    ) {
        let text = format!("{lead}00-{t}-{p}-{flags:02x}{trail}");
        let tp = Traceparent::parse(&text).expect("valid");
        prop_assert_eq!(tp.flags.bits(), flags);
        prop_assert_eq!((tp.trace_id, tp.parent_id, tp.version), (t, p, 0));
    }

    #[test]
    fn traceparent_future_versions_parse_and_reemit_as_00(
        version in 1u8..=0xfe, t in trace_id(), p in span_id(), flags in any::<u8>(),
        suffix in proptest::option::of("-[a-z0-9\\-]{0,30}"),
    ) {
        let text = format!("{version:02x}-{t}-{p}-{flags:02x}{}", suffix.unwrap_or_default());
        let tp = Traceparent::parse(&text).expect("future version is valid");
        prop_assert_eq!(tp.version, version);
        prop_assert_eq!(tp.to_string(), format!("00-{t}-{p}-{:02x}", flags & 0x03));
    }

    #[test]
    fn traceparent_rejects_any_single_uppercased_hex_digit(
        t in trace_id(), p in span_id(), at in 0usize..55,
    ) {
        let text = format!("00-{t}-{p}-0a");
        let c = text.as_bytes()[at];
        prop_assume!(c.is_ascii_lowercase());
        let mut bytes = text.into_bytes();
        bytes[at] = c.to_ascii_uppercase();
        let s = String::from_utf8(bytes).expect("ascii");
        prop_assert!(Traceparent::parse(&s).is_err(), "{} accepted", s);
    }

    #[test]
    fn traceparent_rejects_wrong_lengths(t in trace_id(), p in span_id(), cut in 1usize..55) {
        let text = format!("00-{t}-{p}-01");
        // Drop one character anywhere, or add one digit: never valid.
        let mut shorter = text.clone();
        shorter.remove(cut);
        prop_assert!(Traceparent::parse(&shorter).is_err(), "{} accepted", shorter);
        let mut longer = text;
        longer.insert(cut, '0');
        prop_assert!(Traceparent::parse(&longer).is_err(), "{} accepted", longer);
    }
}

// ---------------------------------------------------------------- tracestate

proptest! {
    #![proptest_config(config())]

    #[test]
    fn tracestate_parse_never_panics(s in ".{0,200}", t in "[a-z0-9=,@ \t*/_-]{0,200}") {
        let _ = TraceState::parse(&s);
        let _ = TraceState::parse_headers([s.as_str(), t.as_str()]);
    }

    #[test]
    fn tracestate_valid_lists_round_trip(entries in tracestate_entries(32)) {
        let text = join_tracestate(&entries);
        let ts = TraceState::parse(&text).expect("valid tracestate");
        let parsed: Vec<(String, String)> =
            ts.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        prop_assert_eq!(&parsed, &entries);
        if text.len() <= 512 {
            prop_assert_eq!(ts.header(), text);
        }
        prop_assert_eq!(TraceState::parse(&ts.header()).expect("reparse").header(), ts.header());
    }

    #[test]
    fn tracestate_split_across_headers_equals_joined(entries in tracestate_entries(32), at in 0usize..33) {
        let at = at.min(entries.len());
        let (a, b) = entries.split_at(at);
        let (a, b) = (join_tracestate(a), join_tracestate(b));
        let split = TraceState::parse_headers([a.as_str(), b.as_str()]).expect("valid");
        let joined = TraceState::parse(&join_tracestate(&entries)).expect("valid");
        prop_assert_eq!(split, joined);
    }

    #[test]
    fn tracestate_over_32_members_drops_the_whole_header(
        values in vec(TS_VALUE, 33..48), split in 0usize..48,
    ) {
        let entries: Vec<(String, String)> =
            values.into_iter().enumerate().map(|(i, v)| (format!("k{i}"), v)).collect();
        let result = TraceState::parse(&join_tracestate(&entries));
        let is_too_many = matches!(result, Err(ParseError::TooManyMembers { .. }));
        prop_assert!(is_too_many, "{:?}", result);
        // Also when the members arrive in two headers.
        let (a, b) = entries.split_at(split.min(entries.len()));
        let result = TraceState::parse_headers([join_tracestate(a).as_str(), join_tracestate(b).as_str()]);
        let is_too_many = matches!(result, Err(ParseError::TooManyMembers { .. }));
        prop_assert!(is_too_many, "{:?}", result);
    }

    #[test]
    fn tracestate_one_invalid_member_drops_the_whole_header(
        entries in tracestate_entries(10), at in 0usize..11,
        bad in prop_oneof![
            Just("UPPER=1".to_owned()), Just("k=".to_owned()), Just("=v".to_owned()),
            Just("k=a=b".to_owned()), Just("k=v\tw".to_owned()), Just("k=\u{7}".to_owned()),
            Just("novalue".to_owned()), Just("_k=1".to_owned()),
        ],
    ) {
        let mut members: Vec<String> = entries.iter().map(|(k, v)| format!("{k}={v}")).collect();
        members.insert(at.min(members.len()), bad);
        prop_assert!(TraceState::parse(&members.join(",")).is_err());
    }

    #[test]
    fn tracestate_header_never_exceeds_512_and_keeps_order(
        entries in vec((TS_KEY, "[a-z0-9]{1,250}"), 0..=32),
    ) {
        let mut seen = HashSet::new();
        let entries: Vec<_> = entries.into_iter().filter(|(k, _)| seen.insert(k.clone())).collect();
        let ts = TraceState::parse(&join_tracestate(&entries)).expect("valid");
        let header = ts.header();
        prop_assert!(header.len() <= 512, "{} chars", header.len());
        let kept = TraceState::parse(&header).expect("header reparses");
        // In-order subsequence of the input.
        let mut rest = entries.iter();
        for (k, v) in kept.iter() {
            prop_assert!(rest.any(|(k2, v2)| k2 == k && v2 == v));
        }
        // Entries over 128 chars go first: a short entry is only dropped once every
        // long entry is gone.
        let dropped_short = entries.iter().any(|(k, v)| {
            k.len() + 1 + v.len() <= 128 && kept.get(k).is_none()
        });
        if dropped_short {
            prop_assert!(kept.iter().all(|(k, v)| k.len() + 1 + v.len() <= 128));
        }
    }

    #[test]
    fn tracestate_insert_moves_key_to_front_without_duplicates(
        entries in tracestate_entries(32), pick in any::<prop::sample::Index>(), value in TS_VALUE,
    ) {
        prop_assume!(!entries.is_empty());
        let mut ts = TraceState::parse(&join_tracestate(&entries)).expect("valid");
        let key = entries[pick.index(entries.len())].0.clone();
        ts.insert(&key, &value).expect("valid entry");
        prop_assert_eq!(ts.iter().next(), Some((key.as_str(), value.as_str())));
        prop_assert_eq!(ts.iter().filter(|(k, _)| *k == key).count(), 1);
        prop_assert_eq!(ts.len(), entries.len());
    }
}

// ---------------------------------------------------------------- baggage

proptest! {
    #![proptest_config(config())]

    #[test]
    fn baggage_parse_never_panics(s in ".{0,200}", t in "[a-z0-9=,;% \t]{0,200}") {
        let _ = Baggage::parse(&s);
        let _ = Baggage::parse_reporting([s.as_str(), t.as_str()]);
    }

    #[test]
    fn baggage_members_round_trip_with_percent_encoding(members in vec(baggage_member(), 0..10)) {
        let baggage: Baggage = members.into_iter().collect();
        let header = baggage.header();
        // Only the allowed octets appear raw on the wire.
        prop_assert!(header.is_ascii());
        prop_assert!(!header.contains(' ') && !header.contains('"') && !header.contains('\\'));
        let (back, error) = Baggage::parse_reporting([header.as_str()]);
        prop_assert_eq!(error, None);
        prop_assert_eq!(back, baggage);
    }

    #[test]
    fn baggage_value_may_contain_equals_signs(key in TOKEN, value in "[a-z=]{0,12}") {
        let b = Baggage::parse(&format!("{key}={value}"));
        prop_assert_eq!(b.get(&key), Some(value.as_str()));
    }

    #[test]
    fn baggage_invalid_utf8_decodes_to_replacement_character(byte in 0x80u8..=0xff) {
        let b = Baggage::parse(&format!("k=a%{byte:02X}b"));
        prop_assert_eq!(b.get("k"), Some("a\u{FFFD}b"));
    }

    #[test]
    fn baggage_several_headers_combine_in_order(
        a in vec(baggage_member(), 0..5), b in vec(baggage_member(), 0..5),
    ) {
        let (a, b): (Baggage, Baggage) = (a.into_iter().collect(), b.into_iter().collect());
        prop_assume!(!a.is_empty() && !b.is_empty());
        let (ha, hb) = (a.header(), b.header());
        let (split, _) = Baggage::parse_reporting([ha.as_str(), hb.as_str()]);
        let (joined, _) = Baggage::parse_reporting([format!("{ha},{hb}").as_str()]);
        prop_assert_eq!(split, joined);
    }

    #[test]
    fn baggage_header_limits_hold_and_drop_whole_members_from_the_end(
        sizes in vec(1usize..600, 1..120),
    ) {
        let baggage: Baggage = sizes
            .iter()
            .enumerate()
            .map(|(i, n)| BaggageMember::new(format!("k{i}"), "v".repeat(*n)))
            .collect();
        let header = baggage.header();
        prop_assert!(header.len() <= 8192, "{} bytes", header.len());
        let (back, error) = Baggage::parse_reporting([header.as_str()]);
        prop_assert_eq!(error, None);
        prop_assert!(back.len() <= 64);
        // A prefix of the members, each whole.
        for (a, b) in baggage.iter().zip(back.iter()) {
            prop_assert_eq!(a, b);
        }
        // Nothing dropped that would have fitted.
        let next_len = baggage
            .iter()
            .nth(back.len())
            .map(|next| next.key.len() + 1 + next.value.len());
        if let (Some(next_len), true) = (next_len, back.len() < 64) {
            let needed = header.len() + 1 + next_len;
            prop_assert!(needed > 8192, "member {} dropped although it fits", back.len());
        }
    }

    /// Fails today: see `baggage_parse_over_byte_limit_drops_from_the_end`.
    #[test]
    fn baggage_parse_limits_keep_a_prefix(sizes in vec(1usize..600, 1..120)) {
        let text = sizes
            .iter()
            .enumerate()
            .map(|(i, n)| format!("k{i}={}", "v".repeat(*n)))
            .collect::<Vec<_>>()
            .join(",");
        let (parsed, _) = Baggage::parse_reporting([text.as_str()]);
        prop_assert!(parsed.len() <= 64);
        prop_assert!(parsed.header().len() <= 8192);
        for (i, member) in parsed.iter().enumerate() {
            prop_assert_eq!(&member.key, &format!("k{i}"), "members dropped from the end only");
        }
    }
}

// ---------------------------------------------------------------- X-Ray

proptest! {
    #![proptest_config(config())]

    #[test]
    fn xray_parse_never_panics(s in ".{0,200}", t in "[A-Za-z0-9=;?\\- ]{0,120}") {
        let _ = XRayHeader::parse(&s);
        let _ = XRayHeader::parse(&t);
    }

    #[test]
    fn xray_headers_round_trip(h in xray_header()) {
        let text = h.to_string();
        let back = XRayHeader::parse(&text).expect("formatted X-Ray header parses");
        prop_assert_eq!(&back, &h);
        prop_assert_eq!(back.to_string(), text);
    }

    #[test]
    fn xray_keys_are_case_insensitive_and_hex_is_normalised(
        h in xray_header(), key_mask in any::<u64>(), hex_mask in any::<u64>(),
    ) {
        let mut text = format!("{}={}", recase("root", key_mask), recase(&h.root(), hex_mask));
        if let Some(p) = h.parent {
            text += &format!("; {}={}", recase("parent", key_mask >> 4), recase(&p.to_string(), hex_mask >> 8));
        }
        let back = XRayHeader::parse(&text).expect("valid");
        prop_assert_eq!(back.trace_id, h.trace_id);
        prop_assert_eq!(back.parent, h.parent);
        prop_assert_eq!(back.sampled, XRaySampled::Requested);
        let expected_start = format!("Root={}", h.root());
        prop_assert!(back.to_string().starts_with(&expected_start));
    }

    #[test]
    fn xray_w3c_trace_id_is_epoch_plus_random_part(h in xray_header()) {
        let root = h.root();
        let hex = h.trace_id.to_string();
        prop_assert_eq!(root, format!("1-{}-{}", &hex[..8], &hex[8..]));
    }

    #[test]
    fn xray_root_only_keeps_the_trace_id_through_a_hop(t in trace_id(), sampled in xray_sampled()) {
        let header = XRayHeader::new(t, None, sampled).to_string();
        let mut carrier = BTreeMap::new();
        carrier.insert("X-Amzn-Trace-Id".to_owned(), header);
        let incoming = TraceContext::extract(&carrier);
        prop_assert_eq!(incoming.trace_id(), Some(t));
        let mut out = BTreeMap::new();
        incoming.child_random().inject(&mut out);
        let next = TraceContext::extract(&out);
        prop_assert_eq!(next.trace_id(), Some(t));
        prop_assert!(next.traceparent.is_some_and(|tp| tp.trace_id == t));
    }
}

// ---------------------------------------------------------------- carriers

proptest! {
    #![proptest_config(config())]

    #[test]
    fn extract_never_panics_on_arbitrary_carriers(
        pairs in vec((
            prop_oneof![
                Just("traceparent".to_owned()), Just("TraceParent".to_owned()),
                Just("tracestate".to_owned()), Just("baggage".to_owned()),
                Just("x-amzn-trace-id".to_owned()), "[a-z-]{1,12}",
            ],
            ".{0,80}",
        ), 0..8),
    ) {
        let context = TraceContext::extract(&pairs);
        let mut out: Vec<(String, String)> = Vec::new();
        context.inject(&mut out);
        // What we write, we read back without rejections.
        let again = TraceContext::extract(&out);
        prop_assert!(again.rejections().is_empty(), "{:?} from {:?}", again.rejections(), out);
        prop_assert_eq!(again.trace_id(), context.trace_id());
    }

    #[test]
    fn inject_extract_round_trips_through_every_carrier(
        t in trace_id(), p in span_id(), flags in 0u8..4, entries in tracestate_entries(8),
        members in vec(baggage_member(), 0..4),
    ) {
        let mut context = TraceContext::from_traceparent(
            Traceparent::new(t, p, TraceFlags::from_bits(flags)),
        );
        context.tracestate = TraceState::parse(&join_tracestate(&entries)).expect("valid");
        context.baggage = members.into_iter().collect();

        let mut map = std::collections::HashMap::new();
        context.inject(&mut map);
        prop_assert_eq!(TraceContext::extract(&map), context.clone());
        let mut btree = BTreeMap::new();
        context.inject(&mut btree);
        prop_assert_eq!(TraceContext::extract(&btree), context.clone());
        let mut pairs: Vec<(String, String)> = Vec::new();
        context.inject(&mut pairs);
        prop_assert_eq!(TraceContext::extract(&pairs), context.clone());
        #[cfg(feature = "http")]
        {
            let mut headers = http::HeaderMap::new();
            context.inject(&mut headers);
            prop_assert_eq!(TraceContext::extract(&headers), context);
        }
    }
}

/// Extracts through `get_all` only (the trait's default `lookup`), as every carrier did
/// before `http::HeaderMap` got its single-pass `lookup`.
#[cfg(feature = "http")]
struct ByGetAll<'h>(&'h http::HeaderMap);

#[cfg(feature = "http")]
impl tracewire_context::carrier::Extractor for ByGetAll<'_> {
    fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        tracewire_context::carrier::Extractor::get_all(self.0, key)
    }
}

/// Header names for the carrier properties: the four propagation headers in several
/// cases, a neighbour of the same length as `tracestate`, and arbitrary names.
#[cfg(feature = "http")]
fn header_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("traceparent".to_owned()),
        Just("TraceParent".to_owned()),
        Just("tracestate".to_owned()),
        Just("TRACESTATE".to_owned()),
        Just("baggage".to_owned()),
        Just("X-Amzn-Trace-Id".to_owned()),
        Just("user-agent".to_owned()),
        "[a-z][a-z0-9-]{0,16}",
    ]
}

/// Header values: valid propagation values, text, and bytes that are not visible ASCII
/// (obs-text and invalid UTF-8), which `get_all` yields as U+FFFD.
#[cfg(feature = "http")]
fn header_value() -> impl Strategy<Value = http::HeaderValue> {
    prop_oneof![
        Just(http::HeaderValue::from_static(
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        )),
        Just(http::HeaderValue::from_static(
            "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
        )),
        Just(http::HeaderValue::from_static("k=v")),
        // Valid once read as bytes, but not visible ASCII: `get_all` yields U+FFFD.
        Just(
            http::HeaderValue::from_bytes(
                b"cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-\xff"
            )
            .expect("no control bytes")
        ),
        Just(http::HeaderValue::from_static(
            "cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-future"
        )),
        Just(http::HeaderValue::from_static(
            " \t00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\t"
        )),
        Just(
            http::HeaderValue::from_bytes(b"congo=t61rcWkgMzE,rojo=\xff")
                .expect("no control bytes")
        ),
        Just(http::HeaderValue::from_static(
            "congo=t61rcWkgMzE, rojo=00f067aa0ba902b7,congo=1"
        )),
        Just(http::HeaderValue::from_static(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
        )),
        "[ -~\t]{0,60}".prop_map(|s| http::HeaderValue::from_str(&s).expect("visible ASCII")),
        vec(any::<u8>(), 0..60).prop_map(|mut bytes| {
            for b in &mut bytes {
                if (*b < 0x20 && *b != b'\t') || *b == 0x7f {
                    *b = 0xff;
                }
            }
            http::HeaderValue::from_bytes(&bytes).expect("no control bytes")
        }),
    ]
}

#[cfg(feature = "http")]
proptest! {
    #![proptest_config(config())]

    /// `HeaderMap`'s single-pass `lookup` (and the hash lookups it falls back to for big
    /// maps) gives exactly what `get_all` gives: none, the one value, or several.
    #[test]
    fn header_map_lookup_agrees_with_get_all(
        pairs in vec((header_name(), header_value()), 0..12),
        filler in 0usize..40,
        keys in [
            prop_oneof![Just("traceparent"), Just("TRACEPARENT"), Just("accept")],
            prop_oneof![Just("tracestate"), Just("TraceState"), Just("user-agent")],
            prop_oneof![Just("baggage"), Just("x-amzn-trace-id"), Just("not a name")],
            prop_oneof![Just("x-amzn-trace-id"), Just("X-Amzn-Trace-Id"), Just("traceparent")],
        ],
    ) {
        use tracewire_context::carrier::{Extractor, Lookup};
        let mut headers = http::HeaderMap::new();
        for i in 0..filler {
            headers.append(
                http::HeaderName::from_bytes(format!("x-filler-{i}").as_bytes()).expect("valid"),
                http::HeaderValue::from_static("1"),
            );
        }
        for (name, value) in pairs {
            let name = http::HeaderName::from_bytes(name.as_bytes()).expect("valid name");
            headers.append(name, value);
        }
        let expected = keys.map(|key| Lookup::from_values(Extractor::get_all(&headers, key)));
        prop_assert_eq!(headers.lookup(keys).map(Lookup::to_text), expected);
    }

    /// Extraction through the single-pass lookup equals extraction through `get_all`:
    /// duplicates, mixed case, invalid UTF-8 and several tracestate values included.
    #[test]
    fn header_map_extract_agrees_with_get_all_extraction(
        pairs in vec((header_name(), header_value()), 0..10),
        filler in 0usize..30,
    ) {
        let mut headers = http::HeaderMap::new();
        for (i, (name, value)) in pairs.into_iter().enumerate() {
            if i < filler {
                headers.append(
                    http::HeaderName::from_bytes(format!("x-filler-{i}").as_bytes())
                        .expect("valid"),
                    http::HeaderValue::from_static("1"),
                );
            }
            let name = http::HeaderName::from_bytes(name.as_bytes()).expect("valid name");
            headers.append(name, value);
        }
        let fast = TraceContext::extract(&headers);
        let reference = TraceContext::extract(&ByGetAll(&headers));
        prop_assert_eq!(fast.traceparent, reference.traceparent);
        prop_assert_eq!(&fast.tracestate, &reference.tracestate);
        prop_assert_eq!(&fast.baggage, &reference.baggage);
        prop_assert_eq!(&fast.xray, &reference.xray);
        prop_assert_eq!(fast.rejections(), reference.rejections());
        let (mut a, mut b) = (http::HeaderMap::new(), http::HeaderMap::new());
        fast.inject(&mut a);
        reference.inject(&mut b);
        prop_assert_eq!(a.get("traceparent"), b.get("traceparent"));
        prop_assert_eq!(a.get("tracestate"), b.get("tracestate"));
        prop_assert_eq!(a.get("baggage"), b.get("baggage"));
    }
}

/// Baggage limits (`docs/wire-formats.md#w3c-baggage`): members beyond 64 or 8192 bytes
/// are dropped from the end, never from the middle. A member that does not fit
/// in 8192 bytes ends the list: a smaller member after it must not be admitted.
#[test]
fn baggage_parse_over_byte_limit_drops_from_the_end() {
    let text = format!("a={},b={},c=1", "v".repeat(8000), "v".repeat(300));
    let (parsed, error) = Baggage::parse_reporting([text.as_str()]);
    let keys: Vec<&str> = parsed.iter().map(|m| m.key.as_str()).collect();
    assert_eq!(keys, ["a"], "only the leading members that fit are kept");
    assert_eq!(
        error,
        Some(ParseError::BaggageLimit {
            kept: 1,
            dropped: 2
        })
    );
}

/// The same rule for the 64-member limit.
#[test]
fn baggage_parse_over_64_members_keeps_the_first_64() {
    let text = (0..70)
        .map(|i| format!("k{i}=v"))
        .collect::<Vec<_>>()
        .join(",");
    let (parsed, error) = Baggage::parse_reporting([text.as_str()]);
    assert_eq!(parsed.len(), 64);
    assert_eq!(parsed.iter().last().map(|m| m.key.as_str()), Some("k63"));
    assert_eq!(
        error,
        Some(ParseError::BaggageLimit {
            kept: 64,
            dropped: 6
        })
    );
}
