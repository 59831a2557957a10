//! Carriers: where a [`TraceContext`](crate::TraceContext) is read from and written to —
//! HTTP headers, and the string maps of queue and event metadata.

use std::collections::{BTreeMap, HashMap};

/// Reads header-like values. Keys are matched ASCII case-insensitively.
pub trait Extractor {
    /// Every value stored under `key` (any case), in carrier order. Several values mean
    /// the header appeared several times.
    fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a;
}

/// Writes header-like values.
pub trait Injector {
    /// Sets `key` (lowercase) to `value`, replacing any value under the same key in any case.
    fn set(&mut self, key: &str, value: String);
}

impl<S: std::hash::BuildHasher> Extractor for HashMap<String, String, S> {
    fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }
}

impl<S: std::hash::BuildHasher> Injector for HashMap<String, String, S> {
    fn set(&mut self, key: &str, value: String) {
        if self.keys().any(|k| k != key && k.eq_ignore_ascii_case(key)) {
            self.retain(|k, _| !k.eq_ignore_ascii_case(key));
        }
        self.insert(key.to_owned(), value);
    }
}

impl Extractor for BTreeMap<String, String> {
    fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }
}

impl Injector for BTreeMap<String, String> {
    fn set(&mut self, key: &str, value: String) {
        if self.keys().any(|k| k != key && k.eq_ignore_ascii_case(key)) {
            self.retain(|k, _| !k.eq_ignore_ascii_case(key));
        }
        self.insert(key.to_owned(), value);
    }
}

impl Extractor for Vec<(String, String)> {
    fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }
}

impl Injector for Vec<(String, String)> {
    fn set(&mut self, key: &str, value: String) {
        self.retain(|(k, _)| !k.eq_ignore_ascii_case(key));
        self.push((key.to_owned(), value));
    }
}

#[cfg(feature = "http")]
mod http_impl {
    use super::{Extractor, Injector};
    use http::header::{HeaderMap, HeaderName, HeaderValue};

    /// Header values that are not visible ASCII are handed to the parsers as U+FFFD, so the
    /// header counts as present and is rejected (and reported) rather than ignored.
    const INVALID_VALUE: &str = "\u{FFFD}";

    const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
    const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");
    const BAGGAGE: HeaderName = HeaderName::from_static("baggage");
    const X_AMZN_TRACE_ID: HeaderName = HeaderName::from_static("x-amzn-trace-id");

    /// The propagation headers as prebuilt names: looking up by `&str` would parse and
    /// lowercase the name on every call, which costs more than the lookup itself.
    fn known_name(key: &str) -> Option<HeaderName> {
        match key {
            "traceparent" => Some(TRACEPARENT),
            "tracestate" => Some(TRACESTATE),
            "baggage" => Some(BAGGAGE),
            "x-amzn-trace-id" => Some(X_AMZN_TRACE_ID),
            _ => None,
        }
    }

    fn header_name(key: &str) -> Option<HeaderName> {
        known_name(key).or_else(|| HeaderName::from_bytes(key.as_bytes()).ok())
    }

    impl Extractor for HeaderMap {
        fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
            let values = match known_name(key) {
                Some(name) => HeaderMap::get_all(self, name),
                None => HeaderMap::get_all(self, key),
            };
            values
                .into_iter()
                .map(|v| v.to_str().unwrap_or(INVALID_VALUE))
        }
    }

    impl Injector for HeaderMap {
        /// Keys or values that are not valid in HTTP are skipped (this crate never
        /// produces them).
        fn set(&mut self, key: &str, value: String) {
            if let (Some(name), Ok(value)) = (header_name(key), HeaderValue::try_from(value)) {
                self.insert(name, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values<E: Extractor>(e: &E, key: &str) -> Vec<String> {
        e.get_all(key).map(str::to_owned).collect()
    }

    #[test]
    fn maps_are_case_insensitive() {
        let mut m: HashMap<String, String> = HashMap::new();
        m.insert("TraceParent".into(), "x".into());
        assert_eq!(values(&m, "traceparent"), ["x"]);
        m.set("traceparent", "y".into());
        assert_eq!(m.len(), 1);
        assert_eq!(m["traceparent"], "y");

        let mut b: BTreeMap<String, String> = BTreeMap::new();
        b.insert("BAGGAGE".into(), "a=1".into());
        b.set("baggage", "b=2".into());
        assert_eq!(values(&b, "baggage"), ["b=2"]);

        let mut v: Vec<(String, String)> = vec![("Tracestate".into(), "a=1".into())];
        v.push(("tracestate".into(), "b=2".into()));
        assert_eq!(values(&v, "tracestate"), ["a=1", "b=2"]);
        v.set("tracestate", "c=3".into());
        assert_eq!(v, [("tracestate".to_owned(), "c=3".to_owned())]);
    }

    #[cfg(feature = "http")]
    #[test]
    fn header_map_multi_value() {
        let mut h = http::HeaderMap::new();
        h.append("tracestate", "a=1".parse().unwrap());
        h.append("TraceState", "b=2".parse().unwrap());
        h.append("baggage", http::HeaderValue::from_bytes(b"k=\xff").unwrap());
        assert_eq!(values(&h, "tracestate"), ["a=1", "b=2"]);
        assert_eq!(values(&h, "baggage"), ["\u{FFFD}"]);
        h.set("tracestate", "c=3".into());
        assert_eq!(values(&h, "tracestate"), ["c=3"]);
    }
}
