//! Fuzz target: `TraceContext::extract` from an `http::HeaderMap` — which finds its headers
//! in one pass over a small map and hands raw value bytes to the parsers — gives exactly
//! what extraction through `get_all` alone (the trait's default lookup, text values) gives,
//! for any headers: duplicates, values that are not visible ASCII, and maps large enough
//! to take the hashed path.
//!
//! Input: the first byte sets how many filler headers are added (0–63); the rest is split
//! at `\n` into headers whose first byte picks the name and whose remaining bytes are the
//! value (values `http` rejects are skipped).
#![no_main]

use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use tracewire_context::carrier::Extractor;
use tracewire_context::TraceContext;

const NAMES: [&str; 6] = [
    "traceparent",
    "tracestate",
    "baggage",
    "x-amzn-trace-id",
    "content-type",
    "x-other",
];

/// A carrier that answers only `get_all`, so `extract` takes the default lookup.
struct GetAllOnly<'a>(&'a HeaderMap);

impl Extractor for GetAllOnly<'_> {
    fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        Extractor::get_all(self.0, key)
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&fillers, rest)) = data.split_first() else {
        return;
    };
    let mut map = HeaderMap::new();
    for i in 0..usize::from(fillers % 64) {
        if let Ok(name) = HeaderName::from_bytes(format!("x-filler-{i}").as_bytes()) {
            map.append(name, HeaderValue::from_static("1"));
        }
    }
    for line in rest.split(|&b| b == b'\n') {
        let Some((&pick, value)) = line.split_first() else {
            continue;
        };
        let name = NAMES[usize::from(pick) % NAMES.len()];
        if let Ok(value) = HeaderValue::from_bytes(value) {
            map.append(name, value);
        }
    }
    let fast = TraceContext::extract(&map);
    let reference = TraceContext::extract(&GetAllOnly(&map));
    assert_eq!(fast.traceparent, reference.traceparent);
    assert_eq!(fast.tracestate, reference.tracestate);
    assert_eq!(fast.baggage, reference.baggage);
    assert_eq!(fast.xray, reference.xray);
    assert_eq!(fast.rejections(), reference.rejections());
    // Injection from either gives the same headers (the X-Ray stand-in parent is random,
    // so the derived traceparent is compared only when there is a real one).
    if fast.traceparent.is_some() {
        let (mut a, mut b) = (HeaderMap::new(), HeaderMap::new());
        fast.inject(&mut a);
        reference.inject(&mut b);
        assert_eq!(a, b);
    }
});
