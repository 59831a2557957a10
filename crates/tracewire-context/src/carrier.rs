//! Carriers: where a [`TraceContext`](crate::TraceContext) is read from and written to —
//! HTTP headers, and the string maps of queue and event metadata.

use std::collections::{BTreeMap, HashMap};

/// What a carrier holds under one key; see [`Extractor::lookup`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Lookup<'a> {
    /// No value.
    Absent,
    /// Exactly one value: the one [`Extractor::get_all`] would yield.
    One(&'a str),
    /// Exactly one value, as the raw bytes of an HTTP field value, which need not be text:
    /// [`Extractor::get_all`] yields it as text when every byte is visible ASCII, a space
    /// or a tab, else as U+FFFD. The parsers read the bytes directly, so a valid value is
    /// not checked twice.
    OneField(&'a [u8]),
    /// Two or more values (read them in order with [`Extractor::get_all`]).
    Several,
}

impl<'a> Lookup<'a> {
    /// The answer for the values [`Extractor::get_all`] yields.
    pub fn from_values(mut values: impl Iterator<Item = &'a str>) -> Self {
        let Some(first) = values.next() else {
            return Self::Absent;
        };
        match values.next() {
            None => Self::One(first),
            Some(_) => Self::Several,
        }
    }

    /// The same answer with a [`OneField`](Self::OneField) value turned into the text
    /// [`Extractor::get_all`] yields for it.
    #[must_use]
    pub fn to_text(self) -> Self {
        match self {
            Self::OneField(bytes) => Self::One(field_text(bytes)),
            other => other,
        }
    }
}

/// Field values that are not visible ASCII are handed to the parsers as U+FFFD, so the
/// header counts as present and is rejected (and reported) rather than ignored.
pub(crate) const INVALID_FIELD: &str = "\u{FFFD}";

/// An HTTP field value as text: itself when every byte is visible ASCII, a space or a tab
/// (the rule of `http::HeaderValue::to_str`), else [`INVALID_FIELD`].
pub(crate) fn field_text(bytes: &[u8]) -> &str {
    let visible = |b: u8| (b' '..=b'~').contains(&b) || b == b'\t';
    if bytes.iter().all(|&b| visible(b)) {
        std::str::from_utf8(bytes).unwrap_or(INVALID_FIELD)
    } else {
        INVALID_FIELD
    }
}

/// Reads header-like values. Keys are matched ASCII case-insensitively.
pub trait Extractor {
    /// Every value stored under `key` (any case), in carrier order. Several values mean
    /// the header appeared several times.
    fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a;

    /// For each of `keys`, whether the carrier holds no value, one value (given) or several
    /// under it — the same answer as [`Lookup::from_values`] on [`get_all`](Self::get_all).
    ///
    /// [`TraceContext::extract`](crate::TraceContext::extract) asks this for its four
    /// headers at once. The default calls `get_all` once per key; a carrier that can answer
    /// for every key in one pass over its entries (as `http::HeaderMap` does while it holds
    /// few headers) overrides it.
    fn lookup<'a, const N: usize>(&'a self, keys: [&'a str; N]) -> [Lookup<'a>; N] {
        keys.map(|key| Lookup::from_values(self.get_all(key)))
    }
}

/// Writes header-like values.
pub trait Injector {
    /// Sets `key` (lowercase) to `value`, replacing any value under the same key in any case.
    fn set(&mut self, key: &str, value: String);

    /// [`set`](Self::set) for a value given as ASCII bytes, as every header this crate
    /// formats is: [`TraceContext::inject`](crate::TraceContext::inject) writes through it.
    /// The default makes the `String` (skipping a value that is not UTF-8); carriers that
    /// store bytes (`http::HeaderMap`) take them without that check.
    fn set_ascii(&mut self, key: &str, value: &[u8]) {
        if let Ok(value) = std::str::from_utf8(value) {
            self.set(key, value.to_owned());
        }
    }
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
    use super::{Extractor, Injector, Lookup, INVALID_FIELD};
    use http::header::{HeaderMap, HeaderName, HeaderValue};

    const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
    const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");
    const BAGGAGE: HeaderName = HeaderName::from_static("baggage");
    const X_AMZN_TRACE_ID: HeaderName = HeaderName::from_static("x-amzn-trace-id");

    /// The propagation headers as prebuilt names: looking up by `&str` would parse and
    /// lowercase the name on every call, which costs more than the lookup itself.
    #[inline]
    fn known_name(key: &str) -> Option<HeaderName> {
        // Their lengths differ, so one comparison decides.
        let (name, text) = match key.len() {
            11 => (TRACEPARENT, "traceparent"),
            10 => (TRACESTATE, "tracestate"),
            7 => (BAGGAGE, "baggage"),
            15 => (X_AMZN_TRACE_ID, "x-amzn-trace-id"),
            _ => return None,
        };
        same_name(key.as_bytes(), text.as_bytes()).then_some(name)
    }

    fn header_name(key: &str) -> Option<HeaderName> {
        known_name(key).or_else(|| HeaderName::from_bytes(key.as_bytes()).ok())
    }

    /// A value as [`Extractor::get_all`] yields it.
    fn text(value: &HeaderValue) -> &str {
        value.to_str().unwrap_or(INVALID_FIELD)
    }

    /// Whether the header `name` is exactly `key` of the same length, compared eight bytes
    /// at a time.
    #[inline]
    fn same_name(name: &[u8], key: &[u8]) -> bool {
        match (name.first_chunk::<8>(), key.first_chunk::<8>()) {
            // The first and the last eight bytes cover names of 8 to 16 bytes; the rest of a
            // longer name is compared only when those match.
            (Some(n), Some(k)) => {
                let (nl, kl) = (name.len() - 8, key.len() - 8);
                u64::from_ne_bytes(*n) == u64::from_ne_bytes(*k)
                    && name[nl..] == key[kl..]
                    && (name.len() <= 16 || name == key)
            }
            _ => name == key,
        }
    }

    /// Up to this many distinct names per looked-up key, one pass over the entries costs
    /// less than hashing and probing for each key.
    const SCAN_KEYS_PER_LOOKUP: usize = 5;

    impl Extractor for HeaderMap {
        fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
            let values = match known_name(key) {
                Some(name) => HeaderMap::get_all(self, name),
                None => HeaderMap::get_all(self, key),
            };
            values.into_iter().map(text)
        }

        /// One pass over the entries while the map is small (names are compared by length
        /// first), else one hash lookup per key.
        #[inline]
        fn lookup<'a, const N: usize>(&'a self, keys: [&'a str; N]) -> [Lookup<'a>; N] {
            if self.keys_len() > SCAN_KEYS_PER_LOOKUP * N {
                return keys.map(|key| Lookup::from_values(Extractor::get_all(self, key)));
            }
            let mut found = [Lookup::Absent; N];
            // `iter` yields every value of a name together, in insertion order.
            for (name, value) in self.iter() {
                let name = name.as_str().as_bytes();
                for (key, slot) in keys.iter().zip(found.iter_mut()) {
                    if name.len() == key.len() && same_name(name, key.as_bytes()) {
                        *slot = match slot {
                            Lookup::Absent => Lookup::OneField(value.as_bytes()),
                            _ => Lookup::Several,
                        };
                    }
                }
            }
            // Names are lowercase, so a key with uppercase letters matched nothing above;
            // `get_all` matches it in any case.
            for (key, slot) in keys.iter().zip(found.iter_mut()) {
                if *slot == Lookup::Absent && key.bytes().any(|b| b.is_ascii_uppercase()) {
                    *slot = Lookup::from_values(Extractor::get_all(self, key));
                }
            }
            found
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

        /// As [`set`](Injector::set): values that are not valid in HTTP are skipped.
        #[inline]
        fn set_ascii(&mut self, key: &str, value: &[u8]) {
            if let (Some(name), Ok(value)) = (header_name(key), HeaderValue::from_bytes(value)) {
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

    #[test]
    fn set_ascii_writes_text_values() {
        let mut m: HashMap<String, String> = HashMap::new();
        m.set_ascii("traceparent", b"00-x");
        m.set_ascii("tracestate", b"\xff");
        assert_eq!(m.len(), 1, "a value that is not UTF-8 is skipped");
        assert_eq!(m["traceparent"], "00-x");
    }

    #[cfg(feature = "http")]
    #[test]
    fn header_map_set_ascii() {
        let mut h = http::HeaderMap::new();
        h.append("TraceParent", "old".parse().unwrap());
        h.set_ascii("traceparent", b"00-x");
        h.set_ascii("tracestate", b"a=1\n");
        h.set_ascii("bad key", b"1");
        assert_eq!(values(&h, "traceparent"), ["00-x"]);
        assert_eq!(h.len(), 1, "invalid values and names are skipped");
    }

    #[cfg(feature = "http")]
    #[test]
    fn header_map_lookup_in_one_pass() {
        let mut h = http::HeaderMap::new();
        h.append("traceparent", "tp".parse().unwrap());
        h.append("tracestate", "a=1".parse().unwrap());
        h.append("tracestate", "b=2".parse().unwrap());
        h.append("x-a-header-name-longer-than-16", "long".parse().unwrap());
        h.append("x-a-header-name-longer-than-17", "other".parse().unwrap());
        h.append("baggage", http::HeaderValue::from_bytes(b"k=\xff").unwrap());
        assert_eq!(
            h.lookup([
                "traceparent",
                "TraceState",
                "x-a-header-name-longer-than-16",
                "X-A-Header-Name-Longer-Than-17",
                "baggage",
                "absent",
                "not a header name",
            ]),
            [
                Lookup::OneField(b"tp"),
                Lookup::Several,
                Lookup::OneField(b"long"),
                // Keys with uppercase letters are answered by `get_all`.
                Lookup::One("other"),
                Lookup::OneField(b"k=\xff"),
                Lookup::Absent,
                Lookup::Absent,
            ]
        );
        assert_eq!(
            Lookup::OneField(b"k=\xff").to_text(),
            Lookup::One("\u{FFFD}")
        );
        assert_eq!(Lookup::OneField(b"k=\tv").to_text(), Lookup::One("k=\tv"));
        assert_eq!(Lookup::One("k=\u{1}").to_text(), Lookup::One("k=\u{1}"));
    }
}
