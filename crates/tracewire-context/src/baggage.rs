//! W3C Baggage: application key/value pairs that travel with a trace.

use std::fmt;

use crate::ParseError;

/// At most this many members are propagated.
pub const MAX_MEMBERS: usize = 64;
/// At most this many bytes are propagated.
pub const MAX_BYTES: usize = 8192;

/// One baggage property: `key` or `key=value` after a member's `;`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BaggageProperty {
    /// The property key (an RFC 7230 token).
    pub key: String,
    /// The raw value, if any (kept as received).
    pub value: Option<String>,
}

/// One baggage member: `key=value;property;...`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BaggageMember {
    /// The key (an RFC 7230 token).
    pub key: String,
    /// The percent-decoded value (invalid UTF-8 became U+FFFD).
    pub value: String,
    /// Properties in order.
    pub properties: Vec<BaggageProperty>,
}

impl BaggageMember {
    /// A member without properties.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
            properties: Vec::new(),
        }
    }

    /// Appends `key=encoded-value;props` to `out`.
    fn write_to(&self, out: &mut String) {
        out.push_str(&self.key);
        out.push('=');
        percent_encode_into(&self.value, out);
        for p in &self.properties {
            out.push(';');
            out.push_str(&p.key);
            if let Some(v) = &p.value {
                out.push('=');
                out.push_str(v);
            }
        }
    }

    fn encoded(&self) -> String {
        let mut s = String::with_capacity(self.key.len() + self.value.len() + 1);
        self.write_to(&mut s);
        s
    }
}

/// An ordered list of baggage members.
///
/// Parsing skips invalid members (keeping the valid ones) and reports the first problem
/// through [`Baggage::parse_reporting`]; output applies the 64-member / 8192-byte limits by
/// dropping whole members from the end.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Baggage {
    members: Vec<BaggageMember>,
}

fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// RFC 7230 `token`.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(
                    c,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}

/// `baggage-octet`: `%x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E`.
fn is_baggage_octet(c: u8) -> bool {
    matches!(c, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e)
}

fn hex_val(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Decodes `%XX` escapes; a `%` not followed by two hex digits stays literal.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    if !b.contains(&b'%') {
        return s.to_owned();
    }
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex_val(b[i + 1]), hex_val(b[i + 2])) {
                out.push((h << 4) | l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes every byte outside `baggage-octet`, and `%` itself.
fn percent_encode_into(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &c in s.as_bytes() {
        if is_baggage_octet(c) && c != b'%' {
            out.push(c as char);
        } else {
            out.push('%');
            out.push(HEX[(c >> 4) as usize] as char);
            out.push(HEX[(c & 0xf) as usize] as char);
        }
    }
}

fn parse_member(member: &str, index: usize) -> Result<BaggageMember, ParseError> {
    let mut parts = member.split(';');
    let kv = parts.next().unwrap_or_default();
    let (key, value) = kv.split_once('=').ok_or(ParseError::MissingEquals {
        header: "baggage",
        index,
    })?;
    let key = key.trim_matches(is_ows);
    let value = value.trim_matches(is_ows);
    if !is_token(key) {
        return Err(ParseError::InvalidKey {
            header: "baggage",
            index,
        });
    }
    if !value.bytes().all(is_baggage_octet) {
        return Err(ParseError::InvalidValue {
            header: "baggage",
            index,
        });
    }
    let mut properties = Vec::new();
    for prop in parts {
        let prop = prop.trim_matches(is_ows);
        let (k, v) = match prop.split_once('=') {
            Some((k, v)) => (k.trim_matches(is_ows), Some(v.trim_matches(is_ows))),
            None => (prop, None),
        };
        let value_ok = v.is_none_or(|v| v.bytes().all(is_baggage_octet));
        if !is_token(k) || !value_ok {
            return Err(ParseError::InvalidProperty { index });
        }
        properties.push(BaggageProperty {
            key: k.to_owned(),
            value: v.map(str::to_owned),
        });
    }
    Ok(BaggageMember {
        key: key.to_owned(),
        value: percent_decode(value),
        properties,
    })
}

impl Baggage {
    /// An empty baggage.
    pub const fn new() -> Self {
        Self {
            members: Vec::new(),
        }
    }

    /// Parses one header value, skipping invalid members.
    pub fn parse(value: &str) -> Self {
        Self::parse_reporting([value]).0
    }

    /// Parses several `baggage` headers, combined in order. Invalid members are skipped;
    /// the first problem is returned beside the valid members so it can be reported.
    pub fn parse_reporting<'a>(
        values: impl IntoIterator<Item = &'a str>,
    ) -> (Self, Option<ParseError>) {
        let mut members = Vec::new();
        let mut first_error = None;
        let mut index = 0usize;
        let mut bytes = 0usize;
        // Once a valid member does not fit the limits, it and every later member are
        // dropped: members go from the end, never from the middle.
        let mut dropped = 0usize;
        for value in values {
            for raw in value.split(',') {
                let raw = raw.trim_matches(is_ows);
                if raw.is_empty() {
                    continue;
                }
                let i = index;
                index += 1;
                match parse_member(raw, i) {
                    Ok(m) => {
                        let len = raw.len() + usize::from(!members.is_empty());
                        if dropped == 0 && members.len() < MAX_MEMBERS && bytes + len <= MAX_BYTES {
                            bytes += len;
                            members.push(m);
                        } else {
                            dropped += 1;
                        }
                    }
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
            }
        }
        if dropped > 0 && first_error.is_none() {
            first_error = Some(ParseError::BaggageLimit {
                kept: members.len(),
                dropped,
            });
        }
        (Self { members }, first_error)
    }

    /// The value of the first member named `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.members
            .iter()
            .find(|m| m.key == key)
            .map(|m| m.value.as_str())
    }

    /// Sets `key` to `value`: replaces the first member with that key (dropping later
    /// duplicates) or appends a new one. The key must be an RFC 7230 token.
    pub fn insert(&mut self, key: &str, value: &str) -> Result<(), ParseError> {
        self.insert_member(BaggageMember::new(key, value))
    }

    /// Like [`insert`](Self::insert), with properties.
    pub fn insert_member(&mut self, member: BaggageMember) -> Result<(), ParseError> {
        if !is_token(&member.key) {
            return Err(ParseError::InvalidKey {
                header: "baggage",
                index: 0,
            });
        }
        match self.members.iter().position(|m| m.key == member.key) {
            Some(i) => {
                let key = member.key.clone();
                self.members[i] = member;
                let mut seen = false;
                self.members.retain(|m| {
                    if m.key != key {
                        return true;
                    }
                    let keep = !seen;
                    seen = true;
                    keep
                });
            }
            None => self.members.push(member),
        }
        Ok(())
    }

    /// Removes every member named `key`.
    pub fn remove(&mut self, key: &str) {
        self.members.retain(|m| m.key != key);
    }

    /// The members in order.
    pub fn iter(&self) -> impl Iterator<Item = &BaggageMember> + '_ {
        self.members.iter()
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// `true` when there is no member.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The header value: members in order while the result stays within 64 members and
    /// 8192 bytes; never a partial member.
    pub fn header(&self) -> String {
        let mut out = String::new();
        for (n, m) in self.members.iter().enumerate() {
            if n == MAX_MEMBERS {
                break;
            }
            let encoded = m.encoded();
            let extra = encoded.len() + usize::from(!out.is_empty());
            if out.len() + extra > MAX_BYTES {
                break;
            }
            if !out.is_empty() {
                out.push(',');
            }
            out.push_str(&encoded);
        }
        out
    }
}

impl fmt::Display for Baggage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.header())
    }
}

impl FromIterator<BaggageMember> for Baggage {
    fn from_iter<I: IntoIterator<Item = BaggageMember>>(iter: I) -> Self {
        let mut b = Baggage::new();
        for m in iter {
            // Invalid keys cannot be represented on the wire; they are skipped.
            let _ = b.insert_member(m);
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_members_and_properties() {
        let b = Baggage::parse("userId=alice, serverNode = DF%2028 ;p1;p2=v, isProduction=false");
        assert_eq!(b.len(), 3);
        assert_eq!(b.get("serverNode"), Some("DF 28"));
        let m = b.iter().nth(1).unwrap();
        assert_eq!(m.properties.len(), 2);
        assert_eq!(m.properties[1].value.as_deref(), Some("v"));
        assert_eq!(
            b.header(),
            "userId=alice,serverNode=DF%2028;p1;p2=v,isProduction=false"
        );
    }

    #[test]
    fn value_may_contain_equals() {
        let b = Baggage::parse("k=a=b==");
        assert_eq!(b.get("k"), Some("a=b=="));
        assert_eq!(b.header(), "k=a=b==");
    }

    #[test]
    fn percent_rules() {
        let b = Baggage::parse("k=%E2%9C%93%25%zz%4");
        assert_eq!(b.get("k"), Some("✓%%zz%4"));
        assert_eq!(b.header(), "k=%E2%9C%93%25%25zz%254");
        // Invalid UTF-8 after decoding becomes U+FFFD.
        assert_eq!(Baggage::parse("k=%FF").get("k"), Some("\u{FFFD}"));
        let mut b = Baggage::new();
        b.insert("k", "a b,c;d\"e\\f").unwrap();
        assert_eq!(b.header(), "k=a%20b%2Cc%3Bd%22e%5Cf");
        assert_eq!(Baggage::parse(&b.header()), b);
    }

    #[test]
    fn invalid_members_are_skipped_and_reported() {
        let (b, err) = Baggage::parse_reporting(["a=1,bad key=2,c=3,d"]);
        assert_eq!(b.header(), "a=1,c=3");
        assert_eq!(
            err,
            Some(ParseError::InvalidKey {
                header: "baggage",
                index: 1
            })
        );
    }

    #[test]
    fn combines_headers() {
        let (b, err) = Baggage::parse_reporting(["a=1", "b=2"]);
        assert!(err.is_none());
        assert_eq!(b.header(), "a=1,b=2");
    }

    #[test]
    fn parse_limits_drop_from_the_end() {
        let big = format!("a={},b={},c=1", "v".repeat(8000), "w".repeat(300));
        let (b, err) = Baggage::parse_reporting([big.as_str()]);
        assert_eq!(b.len(), 1, "b does not fit, so c goes too");
        assert_eq!(
            err,
            Some(ParseError::BaggageLimit {
                kept: 1,
                dropped: 2
            })
        );
        let many: Vec<String> = (0..70).map(|i| format!("k{i}=v")).collect();
        let (b, err) = Baggage::parse_reporting([many.join(",").as_str()]);
        assert_eq!(b.len(), 64);
        assert_eq!(
            err,
            Some(ParseError::BaggageLimit {
                kept: 64,
                dropped: 6
            })
        );
    }

    #[test]
    fn output_limits_drop_whole_members() {
        let mut b = Baggage::new();
        for i in 0..70 {
            b.insert(&format!("k{i}"), "v").unwrap();
        }
        assert_eq!(b.header().split(',').count(), 64);

        let mut b = Baggage::new();
        for i in 0..3 {
            b.insert(&format!("k{i}"), &"x".repeat(4000)).unwrap();
        }
        let h = b.header();
        assert!(h.len() <= MAX_BYTES);
        assert_eq!(h.split(',').count(), 2);
    }
}
