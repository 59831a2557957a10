//! Small JSON helpers of the codec: whitespace, the "embeddable JSON" test, borrowed keys
//! and strings, objects of strings.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};

use super::fields::FieldView;
use super::validate::is_json_value;

/// Deepest nesting of an embedded `data` value: the envelope adds one level and
/// serde_json stops at 128.
pub(crate) const MAX_EMBED_DEPTH: usize = 126;

/// RFC 8259 insignificant whitespace.
pub(crate) fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// The first byte that is not JSON whitespace.
pub(crate) fn first_non_ws(bytes: &[u8]) -> Option<u8> {
    bytes.iter().copied().find(|b| !is_ws(*b))
}

/// `true` when `text` is exactly one JSON value that is an object, array, number, `true`,
/// `false` or `null`, without surrounding whitespace and nested at most 126 deep
/// (`docs/wire-formats.md#otelws-envelope`): such text is embedded verbatim as OtelWs `data`.
pub(crate) fn is_embeddable(text: &str) -> bool {
    let bytes = text.as_bytes();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    if is_ws(last) || !matches!(first, b'{' | b'[' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n') {
        return false;
    }
    is_json_value(bytes, MAX_EMBED_DEPTH)
}

/// Byte offset of `part` inside `base` (`part` must be a sub-slice of `base`).
pub(crate) fn offset_in(base: &str, part: &str) -> usize {
    (part.as_ptr() as usize).saturating_sub(base.as_ptr() as usize)
}

/// A JSON string, borrowed when it has no escapes.
#[derive(Debug)]
pub(crate) struct Str<'a>(pub(crate) Cow<'a, str>);

impl<'de> Deserialize<'de> for Str<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// An object whose values are all strings, as a borrowed field view.
struct StringObject<'a>(FieldView<'a>);

impl<'de> Deserialize<'de> for StringObject<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StringObject<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of strings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut view = FieldView::with_capacity(map.size_hint().unwrap_or(3).min(8));
                while let Some(Str(key)) = map.next_key::<Str<'de>>()? {
                    let Str(value) = map.next_value::<Str<'de>>()?;
                    view.push(key, value);
                }
                Ok(StringObject(view))
            }
        }
        d.deserialize_map(V)
    }
}

/// Parses `{"name":"value",…}`; anything else (including `null`) is an error.
pub(crate) fn parse_string_object(raw: &str) -> Option<FieldView<'_>> {
    match plain_string_object(raw) {
        Plain::Parsed(view) => Some(view),
        Plain::Invalid => None,
        Plain::Unsure => serde_json::from_str::<StringObject<'_>>(raw)
            .ok()
            .map(|o| o.0),
    }
}

/// The outcome of the escape-free scan of a string object.
enum Plain<'a> {
    Parsed(FieldView<'a>),
    /// Not JSON at all (a control character inside a string).
    Invalid,
    /// Escapes, other value types or odd layout: serde_json decides.
    Unsure,
}

/// Splits an object of strings without escapes (what every tracer writes) by a direct
/// scan, borrowing keys and values; serde_json would give the same view.
fn plain_string_object(raw: &str) -> Plain<'_> {
    let b = raw.as_bytes();
    let skip_ws = |mut i: usize| {
        while b.get(i).copied().is_some_and(is_ws) {
            i += 1;
        }
        i
    };
    // The content range of the string literal at `i` and the offset after it.
    let string = |i: usize| -> Result<(usize, usize), bool> {
        if b.get(i) != Some(&b'"') {
            return Err(false);
        }
        let start = i + 1;
        let len = super::validate::first_string_special(&b[start..]).ok_or(false)?;
        match b[start + len] {
            b'"' => Ok((start, start + len)),
            b'\\' => Err(false),
            _ => Err(true),
        }
    };
    let mut view = FieldView::with_capacity(2);
    let mut i = skip_ws(0);
    if b.get(i) != Some(&b'{') {
        return Plain::Unsure;
    }
    i = skip_ws(i + 1);
    if b.get(i) == Some(&b'}') {
        i += 1;
    } else {
        loop {
            let (key, value);
            (key, i) = match string(i) {
                Ok((s, e)) => ((s, e), e + 1),
                Err(true) => return Plain::Invalid,
                Err(false) => return Plain::Unsure,
            };
            i = skip_ws(i);
            if b.get(i) != Some(&b':') {
                return Plain::Unsure;
            }
            i = skip_ws(i + 1);
            (value, i) = match string(i) {
                Ok((s, e)) => ((s, e), e + 1),
                Err(true) => return Plain::Invalid,
                Err(false) => return Plain::Unsure,
            };
            // Both ranges are bounded by ASCII quotes, so they are char boundaries.
            let (Some(k), Some(v)) = (raw.get(key.0..key.1), raw.get(value.0..value.1)) else {
                return Plain::Unsure;
            };
            view.push(Cow::Borrowed(k), Cow::Borrowed(v));
            i = skip_ws(i);
            match b.get(i) {
                Some(b',') => i = skip_ws(i + 1),
                Some(b'}') => {
                    i += 1;
                    break;
                }
                _ => return Plain::Unsure,
            }
        }
    }
    if skip_ws(i) == b.len() {
        Plain::Parsed(view)
    } else {
        Plain::Unsure
    }
}

/// A decoded JSON string: a byte range of the raw input when it had no escapes, else the
/// unescaped text.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum DecodedStr {
    /// Byte range of the string's content inside the string literal passed in.
    Range(std::ops::Range<usize>),
    /// The unescaped content.
    Owned(String),
}

/// Decodes a raw JSON string literal (`"…"`, already validated by the parser); `None` for
/// an invalid escape such as a lone surrogate.
pub(crate) fn decode_string(raw: &str) -> Option<DecodedStr> {
    let inner = raw.get(1..raw.len().saturating_sub(1))?;
    if !inner.as_bytes().contains(&b'\\') {
        return Some(DecodedStr::Range(1..1 + inner.len()));
    }
    serde_json::from_str::<String>(raw)
        .ok()
        .map(DecodedStr::Owned)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::value::RawValue;

    use super::*;

    fn deep(n: usize) -> String {
        format!("{}{}", "[".repeat(n), "]".repeat(n))
    }

    #[test]
    fn embeddable_values() {
        for ok in [
            r#"{"b":1, "a":[1,2]}"#,
            "1e400",
            "-0",
            "null",
            "true",
            "false",
            "[]",
            r#"{"x":"\u003c"}"#,
        ] {
            assert!(is_embeddable(ok), "{ok}");
        }
        assert!(is_embeddable(&deep(126)));
        for no in [
            "",
            "hello",
            r#""hello""#,
            r#"""#,
            r#" {"a":1}"#,
            "{\"a\":1}\n",
            r#"{"a":1"#,
            "01",
            "NaN",
            "[1,]",
            "{} {}",
        ] {
            assert!(!is_embeddable(no), "{no:?}");
        }
        assert!(!is_embeddable(&deep(127)));
    }

    #[test]
    fn many_brackets_in_strings_stay_embeddable() {
        let wide = format!(
            r#"{{"s":"{}","a":[{}]}}"#,
            "[".repeat(300),
            "[],".repeat(200) + "[]"
        );
        assert!(is_embeddable(&wide));
    }

    #[test]
    fn string_objects() {
        let raw: Box<RawValue> = serde_json::from_str(r#"{"a":"1","b\u0063":"x\ny"}"#).unwrap();
        let view = parse_string_object(raw.get()).unwrap();
        let got: Vec<_> = view.iter().collect();
        assert_eq!(got, [("a", "1"), ("bc", "x\ny")]);
        for bad in [r#"[]"#, r#""x""#, r#"{"a":1}"#, "null", r#"{"a":"\ud800"}"#] {
            let raw: Box<RawValue> = serde_json::from_str(bad).unwrap();
            assert!(parse_string_object(raw.get()).is_none(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn plain_scan_agrees_with_serde_json(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just("{"), Just("}"),
                    Just(","), Just(":"),
                    Just(" "), Just("\""),
                    Just("\"k\""), Just("\"traceparent\""),
                    Just("\"00-ab-01\""), Just("\"a\\nb\""),
                    Just("\"\u{1}\""), Just("1"),
                    Just("null"), Just("é"),
                    Just("\n"), Just("x"),
                ],
                0..12,
            ),
        ) {
            let raw = parts.concat();
            let serde = serde_json::from_str::<StringObject<'_>>(&raw).ok().map(|o| o.0);
            let ours = parse_string_object(&raw);
            prop_assert_eq!(
                ours.as_ref().map(|v| v.iter().collect::<Vec<_>>()),
                serde.as_ref().map(|v| v.iter().collect::<Vec<_>>()),
                "{:?}", raw
            );
        }

        #[test]
        fn plain_scan_agrees_with_serde_json_on_objects(
            members in proptest::collection::vec(("[a-z\\\\\"\u{1}é]{0,6}", "[ -~é\u{1}]{0,12}"), 0..4),
            ws in proptest::collection::vec("[ \t\n]{0,2}", 8),
        ) {
            let quote = |s: &str| serde_json::to_string(s).unwrap_or_default();
            let body: Vec<String> = members
                .iter()
                .map(|(k, v)| format!("{}{}:{}{}", quote(k), ws[0], ws[1], quote(v)))
                .collect();
            let raw = format!("{}{{{}{}}}{}", ws[2], ws[3], body.join(&format!("{},", ws[4])), ws[5]);
            let serde = serde_json::from_str::<StringObject<'_>>(&raw).ok().map(|o| o.0);
            let ours = parse_string_object(&raw);
            prop_assert!(ours.is_some(), "{:?}", raw);
            prop_assert_eq!(
                ours.as_ref().map(|v| v.iter().collect::<Vec<_>>()),
                serde.as_ref().map(|v| v.iter().collect::<Vec<_>>()),
                "{:?}", raw
            );
        }
    }

    #[test]
    fn strings_borrow_without_escapes() {
        assert_eq!(decode_string(r#""abc""#), Some(DecodedStr::Range(1..4)));
        assert_eq!(
            decode_string(r#""a\"b""#),
            Some(DecodedStr::Owned("a\"b".into()))
        );
        assert_eq!(decode_string(r#""\ud800""#), None);
    }
}
