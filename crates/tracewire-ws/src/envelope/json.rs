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
/// (spec §2.2): such text is embedded verbatim as OtelWs `data`.
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
    serde_json::from_str::<StringObject<'_>>(raw)
        .ok()
        .map(|o| o.0)
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
