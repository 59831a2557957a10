//! The W3C `tracestate` header: an ordered list of vendor entries.

use std::fmt;

use crate::ascii_buf::AsciiBuf;
use crate::carrier::field_text;
use crate::ParseError;

/// At most this many members; more drops the whole header.
pub const MAX_MEMBERS: usize = 32;
/// Formatted headers longer than this are truncated by whole entries.
pub const MAX_HEADER_LEN: usize = 512;
/// Entries longer than this are the first to go when truncating.
const LONG_ENTRY: usize = 128;
const MAX_KEY_LEN: usize = 256;
const MAX_VALUE_LEN: usize = 256;

/// An ordered list of `key=value` entries (at most 32, keys unique).
///
/// Parsing is strict: any invalid member, or more than 32 members, rejects the whole
/// header, as the W3C test suite expects. Duplicate keys keep the first occurrence.
///
/// The entries live in one validated buffer in canonical form (`k=v,k=v`, no
/// whitespace), so parsing allocates once whatever the number of members, and formatting a
/// header that needs no truncation is one copy.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct TraceState {
    /// The entries joined as `k=v,k=v`, in order; every entry is valid and keys are unique.
    buf: AsciiBuf,
}

// Byte loops instead of `str::split` / `trim_matches`: members are a few dozen bytes, where
// `memchr`'s set-up and char decoding cost more than the scan. Every separator is ASCII, so
// each slice boundary is a char boundary.

/// `s` split at every `sep` byte.
fn split_bytes(s: &str, sep: u8) -> impl Iterator<Item = &str> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let r = rest?;
        match r.bytes().position(|b| b == sep) {
            Some(i) => {
                rest = Some(&r[i + 1..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// `s` split at its first `sep` byte.
fn split_once_byte(s: &str, sep: u8) -> Option<(&str, &str)> {
    let i = s.bytes().position(|b| b == sep)?;
    Some((&s[..i], &s[i + 1..]))
}

/// `s` without leading and trailing spaces and tabs.
fn trim_ows(s: &str) -> &str {
    let b = s.as_bytes();
    let ows = |c: &u8| *c == b' ' || *c == b'\t';
    let start = b.iter().position(|c| !ows(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !ows(c)).map_or(start, |i| i + 1);
    &s[start..end]
}

/// Byte classes of the tracestate grammar, looked up once per byte.
const KEY_FIRST: u8 = 1;
const KEY_REST: u8 = 2;
const VALUE: u8 = 4;
const CLASSES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut c = 0x20;
    while c <= 0x7e {
        let b = c as u8;
        if b != b',' && b != b'=' {
            table[c] |= VALUE;
        }
        if b.is_ascii_lowercase() || b.is_ascii_digit() {
            table[c] |= KEY_FIRST | KEY_REST;
        }
        if matches!(b, b'_' | b'-' | b'*' | b'/' | b'@') {
            table[c] |= KEY_REST;
        }
        c += 1;
    }
    table
};

/// Level 2 key grammar: 1–256 chars, first `a-z`/`0-9`, then `a-z 0-9 _ - * / @`.
pub(crate) fn valid_key(key: &str) -> bool {
    let b = key.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_KEY_LEN
        && CLASSES[b[0] as usize] & KEY_FIRST != 0
        && b[1..].iter().all(|&c| CLASSES[c as usize] & KEY_REST != 0)
}

/// 1–256 printable ASCII chars except `,` and `=`, not ending in a space.
pub(crate) fn valid_value(value: &str) -> bool {
    let b = value.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_VALUE_LEN
        && b[b.len() - 1] != b' '
        && b.iter().all(|&c| CLASSES[c as usize] & VALUE != 0)
}

/// The length of the longest prefix of `b` made of value characters (printable ASCII
/// except `,` and `=`): eight bytes at a time while they all are, then byte by byte.
fn value_prefix_len(b: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Top bit of each byte set iff the byte is zero (exact whenever any byte is).
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let mut done = 0;
    while let Some(word) = b.get(done..done + 8) {
        let Ok(word) = <[u8; 8]>::try_from(word) else {
            break;
        };
        let x = u64::from_le_bytes(word);
        // The top bit of every byte that is not a value character. Adding 0x80 - n sets a
        // byte's top bit iff it is >= n; it can carry into the next byte only from a byte
        // of 0x80 or more, which is flagged itself, so the lowest flag is always exact.
        // 0x20 ..= 0x7e (0x80 - 0x7f is one).
        let printable = x.wrapping_add((0x80 - 0x20) * ONES) & !x.wrapping_add(ONES) & !x;
        let bad = (!printable & HIGH)
            | zero_byte(x ^ (b',' as u64 * ONES))
            | zero_byte(x ^ (b'=' as u64 * ONES));
        if bad != 0 {
            return done + (bad.trailing_zeros() / 8) as usize;
        }
        done += 8;
    }
    done + b[done..]
        .iter()
        .position(|&c| CLASSES[c as usize] & VALUE == 0)
        .unwrap_or(b.len() - done)
}

/// The member count of `value` when it is already in canonical form — valid `key=value`
/// members joined by single commas, without whitespace or empty members, at most 32 of
/// them, no key twice — so that parsing it yields exactly `value`. `None` for anything
/// else, which the general parser then handles (and reports).
///
/// One pass over the bytes: this is the shape almost every tracestate arrives in.
fn canonical_members(b: &[u8]) -> Option<usize> {
    u32::try_from(b.len()).ok()?;
    // Keys seen so far as (offset, length), for the duplicate check.
    let mut keys = [(0u32, 0u32); MAX_MEMBERS];
    let mut count = 0;
    let mut pos = 0;
    loop {
        let rest = &b[pos..];
        let (&first, tail) = rest.split_first()?;
        if CLASSES[first as usize] & KEY_FIRST == 0 {
            return None;
        }
        // A key running to the end has no `=`.
        let key_len = 1 + tail
            .iter()
            .position(|&c| CLASSES[c as usize] & KEY_REST == 0)?;
        if key_len > MAX_KEY_LEN || rest[key_len] != b'=' {
            return None;
        }
        let key = &rest[..key_len];
        let after = &rest[key_len + 1..];
        let value_len = value_prefix_len(after);
        if value_len == 0 || value_len > MAX_VALUE_LEN || after[value_len - 1] == b' ' {
            return None;
        }
        if count == MAX_MEMBERS
            || keys[..count]
                .iter()
                .any(|&(at, len)| b[at as usize..][..len as usize] == *key)
        {
            return None;
        }
        // Both fit in `u32`: the whole value does.
        keys[count] = (pos as u32, key_len as u32);
        count += 1;
        pos += key_len + 1 + value_len;
        match b.get(pos) {
            None => return Some(count),
            // A comma must be followed by another member.
            Some(b',') if pos + 1 < b.len() => pos += 1,
            Some(_) => return None,
        }
    }
}

impl TraceState {
    /// An empty tracestate.
    pub const fn new() -> Self {
        Self {
            buf: AsciiBuf::new(),
        }
    }

    /// Appends a validated entry whose key is not present yet.
    fn push(&mut self, key: &str, value: &str) {
        if !self.buf.is_empty() {
            self.buf.push_str(",");
        }
        self.buf.push_str(key);
        self.buf.push_str("=");
        self.buf.push_str(value);
    }

    /// The entries as `k=v` slices of the buffer.
    fn raw_entries(&self) -> impl Iterator<Item = &str> + '_ {
        split_bytes(self.buf.as_str(), b',').filter(|e| !e.is_empty())
    }

    /// Whether an entry has `key` (compares the key bytes only).
    fn has_key(&self, key: &str) -> bool {
        self.raw_entries()
            .any(|e| e.as_bytes().get(key.len()) == Some(&b'=') && e.starts_with(key))
    }

    /// Parses one header value.
    pub fn parse(value: &str) -> Result<Self, ParseError> {
        Self::parse_headers([value])
    }

    /// [`parse`](Self::parse) of an HTTP field value given as raw bytes (see
    /// [`Lookup::OneField`](crate::carrier::Lookup::OneField)): the same result as parsing
    /// the text `get_all` yields for it.
    pub(crate) fn parse_field(value: &[u8]) -> Result<Self, ParseError> {
        // A canonical tracestate is printable ASCII, so the text is the bytes themselves.
        match canonical_members(value) {
            Some(_) => Ok(Self {
                buf: AsciiBuf::from_ascii(value),
            }),
            // Not canonical: the general parser, without scanning for the canonical form again.
            None => Self::parse_general(field_text(value)),
        }
    }

    /// One header value parsed the general way, without the canonical fast path.
    fn parse_general(value: &str) -> Result<Self, ParseError> {
        let mut ts = Self::new();
        ts.push_members(value, &mut 0).map(|()| ts)
    }

    /// Parses several `tracestate` headers, combined in order as if joined with `,`.
    pub fn parse_headers<'a>(
        values: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, ParseError> {
        let mut ts = Self::new();
        let mut count = 0usize;
        for value in values {
            if count == 0 {
                if let Some(members) = canonical_members(value.as_bytes()) {
                    // Nothing was kept yet (`count` is 0), so the buffer is empty.
                    ts.buf = AsciiBuf::from_ascii(value.as_bytes());
                    count = members;
                    continue;
                }
            }
            ts.push_members(value, &mut count)?;
        }
        Ok(ts)
    }

    /// Appends the members of one header value the general way (whitespace, empty members,
    /// duplicates), `count` counting the non-empty members of every value so far.
    fn push_members(&mut self, value: &str, count: &mut usize) -> Result<(), ParseError> {
        self.buf.reserve(value.len());
        for member in split_bytes(value, b',') {
            let member = trim_ows(member);
            if member.is_empty() {
                continue;
            }
            let index = *count;
            *count += 1;
            if *count > MAX_MEMBERS {
                return Err(ParseError::TooManyMembers {
                    header: "tracestate",
                    count: count_members_from(*count, value, member),
                    max: MAX_MEMBERS,
                });
            }
            let (key, val) = split_once_byte(member, b'=').ok_or(ParseError::MissingEquals {
                header: "tracestate",
                index,
            })?;
            if !valid_key(key) {
                return Err(ParseError::InvalidKey {
                    header: "tracestate",
                    index,
                });
            }
            if !valid_value(val) {
                return Err(ParseError::InvalidValue {
                    header: "tracestate",
                    index,
                });
            }
            if !self.has_key(key) {
                self.push(key, val);
            }
        }
        Ok(())
    }

    /// The value for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// Puts `key=value` first, removing an older entry for the key (a service updating
    /// its own entry). When that makes 33 entries, the rightmost one is dropped.
    pub fn insert(&mut self, key: &str, value: &str) -> Result<(), ParseError> {
        if !valid_key(key) {
            return Err(ParseError::InvalidKey {
                header: "tracestate",
                index: 0,
            });
        }
        if !valid_value(value) {
            return Err(ParseError::InvalidValue {
                header: "tracestate",
                index: 0,
            });
        }
        let mut out = Self::new();
        out.buf
            .reserve(self.buf.len() + key.len() + value.len() + 2);
        out.push(key, value);
        for (k, v) in self.iter().filter(|(k, _)| *k != key).take(MAX_MEMBERS - 1) {
            out.push(k, v);
        }
        *self = out;
        Ok(())
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let removed = self.get(key)?.to_owned();
        let mut out = Self::new();
        for (k, v) in self.iter().filter(|(k, _)| *k != key) {
            out.push(k, v);
        }
        *self = out;
        Some(removed)
    }

    /// The entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.raw_entries()
            .map(|e| split_once_byte(e, b'=').unwrap_or((e, "")))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.raw_entries().count()
    }

    /// `true` when there is no entry.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The header value when it needs no truncation (it is the buffer itself), as ASCII.
    pub(crate) fn untruncated_header(&self) -> Option<&[u8]> {
        (self.buf.len() <= MAX_HEADER_LEN).then_some(self.buf.as_bytes())
    }

    /// The header value. When it would exceed 512 characters, whole entries are dropped:
    /// first entries longer than 128 characters (from the right), then from the right.
    pub fn header(&self) -> String {
        if self.buf.len() <= MAX_HEADER_LEN {
            return self.buf.as_str().to_owned();
        }
        let entries: Vec<&str> = self.raw_entries().collect();
        let mut keep = vec![true; entries.len()];
        let total = |keep: &[bool]| {
            let (n, sum) = entries
                .iter()
                .zip(keep)
                .filter(|(_, k)| **k)
                .fold((0usize, 0usize), |(n, sum), (e, _)| (n + 1, sum + e.len()));
            sum + n.saturating_sub(1)
        };
        while total(&keep) > MAX_HEADER_LEN {
            let long = (0..keep.len())
                .rev()
                .find(|&i| keep[i] && entries[i].len() > LONG_ENTRY);
            let victim = long.or_else(|| (0..keep.len()).rev().find(|&i| keep[i]));
            match victim {
                Some(i) => keep[i] = false,
                None => break,
            }
        }
        let mut out = String::with_capacity(total(&keep));
        for (e, _) in entries.iter().zip(&keep).filter(|(_, k)| **k) {
            if !out.is_empty() {
                out.push(',');
            }
            out.push_str(e);
        }
        out
    }
}

impl fmt::Debug for TraceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Counts every non-empty member of the current value from `member` on, for the error.
fn count_members_from(seen: usize, value: &str, member: &str) -> usize {
    let offset = member.as_ptr() as usize - value.as_ptr() as usize;
    let rest = value.get(offset + member.len()..).unwrap_or_default();
    seen + rest.split(',').filter(|m| !trim_ows(m).is_empty()).count()
}

impl fmt::Display for TraceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.header())
    }
}

impl std::str::FromStr for TraceState {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Tracestate-shaped text: valid and invalid key and value bytes, separators, OWS.
    fn tracestate_like() -> impl Strategy<Value = String> {
        prop_oneof![
            proptest::collection::vec("[a-c0-9][a-c0-9_*@/-]{0,3}=[ !-~]{0,4}", 0..40)
                .prop_map(|members| members.join(",")),
            "[a-cA=, \t*@~\u{1}\u{e9}0-9]{0,60}",
            "[a-z]{1,3}=[a-z]{1,3}(,[a-z]{1,3}=[a-z ]{1,3}){0,34}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 512,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// The canonical fast path answers only for values the general parser keeps
        /// unchanged, and `parse` always equals the general parser.
        #[test]
        fn canonical_fast_path_agrees_with_general_parser(value in tracestate_like()) {
            let general = TraceState::parse_general(&value);
            if let Some(members) = canonical_members(value.as_bytes()) {
                let ts = general.clone().expect("canonical values are valid");
                prop_assert_eq!(ts.buf.as_str(), &value);
                prop_assert_eq!(ts.len(), members);
            }
            prop_assert_eq!(TraceState::parse(&value), general);
            prop_assert_eq!(
                TraceState::parse_field(value.as_bytes()),
                TraceState::parse_general(field_text(value.as_bytes()))
            );
        }
    }

    proptest! {
        #[test]
        fn value_prefix_len_agrees_with_the_byte_classes(b in proptest::collection::vec(
            prop_oneof![Just(b','), Just(b'='), Just(b' '), 0x1fu8..=0x22, 0x7du8..=0x81, any::<u8>()],
            0..40,
        )) {
            let expected = b.iter().position(|&c| !(0x20..=0x7e).contains(&c) || c == b',' || c == b'=');
            prop_assert_eq!(value_prefix_len(&b), expected.unwrap_or(b.len()));
        }
    }

    #[test]
    fn canonical_fast_path_declines_what_it_must() {
        let list = |n: usize| {
            (0..n)
                .map(|i| format!("k{i}=v"))
                .collect::<Vec<_>>()
                .join(",")
        };
        assert_eq!(canonical_members(list(32).as_bytes()), Some(32));
        assert_eq!(canonical_members(list(33).as_bytes()), None);
        for value in [
            "", "a=1,", ",a=1", "a=1,,b=2", "a=1 ,b=2", "a=1, b=2", "a=1,a=2", "a=", "a=b=c",
            "A=1", "a=1 ", "a", "a=\t1", "a=\u{e9}",
        ] {
            assert_eq!(canonical_members(value.as_bytes()), None, "{value:?}");
        }
        assert_eq!(canonical_members(b"a= 1,b=2"), Some(2));
        let long_key = format!("{}=1", "k".repeat(MAX_KEY_LEN));
        assert_eq!(canonical_members(long_key.as_bytes()), Some(1));
        assert_eq!(canonical_members(format!("k{long_key}").as_bytes()), None);
        let long_value = format!("k={}", "v".repeat(MAX_VALUE_LEN));
        assert_eq!(canonical_members(long_value.as_bytes()), Some(1));
        assert_eq!(canonical_members(format!("{long_value}v").as_bytes()), None);
        // Not text: the field is read as U+FFFD, as `get_all` would give it.
        assert_eq!(
            TraceState::parse_field(b"a=\xff"),
            TraceState::parse("\u{FFFD}")
        );
    }

    #[test]
    fn parses_with_ows_and_empty_members() {
        let ts = TraceState::parse(" congo=t61rcWkgMzE ,\t, rojo=00f067aa0ba902b7,").unwrap();
        assert_eq!(ts.len(), 2);
        assert_eq!(ts.get("congo"), Some("t61rcWkgMzE"));
        assert_eq!(ts.header(), "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
    }

    #[test]
    fn combines_headers_in_order() {
        let ts = TraceState::parse_headers(["a=1", "b=2,c=3"]).unwrap();
        assert_eq!(ts.header(), "a=1,b=2,c=3");
    }

    #[test]
    fn key_grammar() {
        for key in ["a", "0a", "tenant@system", "a_-*/@", &"a".repeat(256)] {
            assert!(valid_key(key), "{key}");
        }
        for key in ["", "A", "_a", "a.b", "a b", &"a".repeat(257)] {
            assert!(!valid_key(key), "{key}");
        }
    }

    #[test]
    fn any_invalid_member_drops_the_header() {
        assert_eq!(
            TraceState::parse("foo=,bar=3"),
            Err(ParseError::InvalidValue {
                header: "tracestate",
                index: 0
            })
        );
        assert_eq!(
            TraceState::parse("foo=1,bar=a\u{1}b"),
            Err(ParseError::InvalidValue {
                header: "tracestate",
                index: 1
            })
        );
        assert_eq!(
            TraceState::parse("foo=1,Bar=2"),
            Err(ParseError::InvalidKey {
                header: "tracestate",
                index: 1
            })
        );
        assert!(TraceState::parse("foo=a=b").is_err());
        // Trailing whitespace is OWS around the member, never part of the value.
        assert_eq!(
            TraceState::parse("foo=ends \t").unwrap().get("foo"),
            Some("ends")
        );
        assert!(!valid_value("ends "));
        assert!(TraceState::parse("foo").is_err());
    }

    #[test]
    fn member_limit() {
        let list = |n: usize| {
            (0..n)
                .map(|i| format!("k{i}=v"))
                .collect::<Vec<_>>()
                .join(",")
        };
        assert_eq!(TraceState::parse(&list(32)).unwrap().len(), 32);
        assert_eq!(
            TraceState::parse(&list(33)),
            Err(ParseError::TooManyMembers {
                header: "tracestate",
                count: 33,
                max: 32
            })
        );
    }

    #[test]
    fn duplicates_keep_first() {
        let ts = TraceState::parse("a=1,b=2,a=3").unwrap();
        assert_eq!(ts.header(), "a=1,b=2");
    }

    #[test]
    fn insert_moves_to_front() {
        let mut ts = TraceState::parse("a=1,b=2,c=3").unwrap();
        ts.insert("b", "9").unwrap();
        assert_eq!(ts.header(), "b=9,a=1,c=3");
        assert!(ts.insert("B", "1").is_err());
    }

    #[test]
    fn truncation_drops_long_entries_first_then_from_right() {
        let mut members = vec![format!("long={}", "x".repeat(200))];
        for i in 0..20 {
            members.push(format!("k{i:02}={}", "v".repeat(20)));
        }
        let ts = TraceState::parse(&members.join(",")).unwrap();
        let h = ts.header();
        assert!(h.len() <= MAX_HEADER_LEN);
        assert!(!h.contains("long="), "long entry dropped first");
        assert!(h.starts_with("k00="));
        // 24 chars per entry + comma: 20 entries = 499 chars, all fit once the long one is gone.
        assert_eq!(h.split(',').count(), 20);

        let many: Vec<String> = (0..30)
            .map(|i| format!("k{i:02}={}", "v".repeat(20)))
            .collect();
        let h = TraceState::parse(&many.join(",")).unwrap().header();
        assert_eq!(h.split(',').count(), 20);
        assert!(h.ends_with(&format!("k19={}", "v".repeat(20))));
    }
}
