//! Writing envelopes: one pre-sized `String` per message, no intermediate values.

use base64::Engine as _;
use bytes::Bytes;
use tungstenite::{Message, Utf8Bytes};

use super::fields::Fields;
use super::json::is_embeddable;
use super::validate::first_string_special;
use super::Format;
use crate::error::Error;

/// Standard base64 with padding (RFC 4648, section 4: <https://www.rfc-editor.org/rfc/rfc4648#section-4>), as Go's `encoding/json` writes `[]byte`.
pub(crate) const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Wraps a data frame in an envelope of `format`, with the trace `fields` (which format
/// each payload gets: [docs/wire-formats.md#choosing-the-format-on-send](https://github.com/tracewire/tracewire/blob/main/docs/wire-formats.md#choosing-the-format-on-send)).
///
/// The opcode is kept (Text stays Text, Binary stays Binary). Ping, Pong, Close and raw
/// frames are returned unchanged. Fails with [`Error::EnvelopeTooLarge`] when the
/// envelope would exceed `max_envelope_size`.
///
/// ```
/// use tracewire_ws::envelope::{encode, Fields, Format};
/// use tungstenite::Message;
///
/// let mut fields = Fields::new();
/// fields.insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into());
/// let wire = encode(Format::OtelWs, &Message::text(r#"{"op":"sub"}"#), &fields, 1 << 20).unwrap();
/// assert_eq!(
///     wire.to_text().unwrap(),
///     r#"{"header":{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},"data":{"op":"sub"}}"#
/// );
/// ```
pub fn encode(
    format: Format,
    message: &Message,
    fields: &Fields,
    max_envelope_size: usize,
) -> Result<Message, Error> {
    let body = match (message, format) {
        (Message::Text(text), Format::Seed) => seed(text.as_bytes(), fields),
        (Message::Text(text), Format::OtelWs | Format::Auto) => otel_ws(text.as_str(), fields),
        (Message::Binary(bin), Format::Seed | Format::Auto) => seed(bin, fields),
        (Message::Binary(bin), Format::OtelWs) => match std::str::from_utf8(bin) {
            Ok(text) => otel_ws(text, fields),
            Err(_) => seed(bin, fields),
        },
        (other, _) => return Ok(other.clone()),
    };
    if body.len() > max_envelope_size {
        return Err(Error::EnvelopeTooLarge {
            size: body.len(),
            max: max_envelope_size,
        });
    }
    // Trim the slack so `Bytes` takes the buffer over without allocating a shared header.
    let body = String::from(body.into_boxed_str());
    Ok(match message {
        Message::Text(_) => Message::Text(Utf8Bytes::from(body)),
        _ => Message::Binary(Bytes::from(body.into_bytes())),
    })
}

/// `{"headers":{…sorted…},"payload":"<base64>"}`.
fn seed(payload: &[u8], fields: &Fields) -> String {
    let b64_len = payload.len().div_ceil(3) * 4;
    let mut out = String::with_capacity(25 + fields_len(fields.iter()) + b64_len);
    out.push_str("{\"headers\":");
    write_fields(&mut out, fields.iter());
    out.push_str(",\"payload\":\"");
    BASE64.encode_string(payload, &mut out);
    out.push_str("\"}");
    out
}

/// `{"header":{traceparent,tracestate},"data":…}`.
fn otel_ws(text: &str, fields: &Fields) -> String {
    let trace = || {
        fields
            .iter()
            .filter(|(k, _)| *k == "traceparent" || *k == "tracestate")
    };
    let embed = is_embeddable(text);
    // Exact for an embedded value (then `Bytes` takes the buffer over as is); a string
    // gets room for some escapes.
    let data_len = if embed {
        text.len()
    } else {
        text.len() + 2 + text.len() / 8
    };
    let mut out = String::with_capacity(19 + fields_len(trace()) + data_len);
    out.push_str("{\"header\":");
    write_fields(&mut out, trace());
    out.push_str(",\"data\":");
    if embed {
        out.push_str(text);
    } else {
        write_json_string(&mut out, text);
    }
    out.push('}');
    out
}

/// Length of `write_fields`' output when nothing needs escaping: `{`, `"k":"v"` per
/// field, `,` between fields, `}`.
fn fields_len<'a>(fields: impl Iterator<Item = (&'a str, &'a str)>) -> usize {
    let (count, chars) = fields.fold((0usize, 0usize), |(c, n), (k, v)| {
        (c + 1, n + k.len() + v.len() + 5)
    });
    2 + chars + count.saturating_sub(1)
}

fn write_fields<'a>(out: &mut String, fields: impl Iterator<Item = (&'a str, &'a str)>) {
    out.push('{');
    for (i, (k, v)) in fields.enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_json_string(out, k);
        out.push(':');
        write_json_string(out, v);
    }
    out.push('}');
}

/// Writes `s` as a JSON string literal with serde_json's escaping (no HTML escaping).
pub(crate) fn write_json_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(s.len() + 2);
    out.push('"');
    let bytes = s.as_bytes();
    // Everything before the first special byte is copied as is, without a second look.
    let Some(first) = first_string_special(bytes) else {
        out.push_str(s);
        out.push('"');
        return;
    };
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate().skip(first) {
        let esc: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        // `i` is at an ASCII byte, so both slices fall on char boundaries.
        out.push_str(&s[start..i]);
        if esc.is_empty() {
            out.push_str("\\u00");
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 0xf)] as char);
        } else {
            out.push_str(esc);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn fields() -> Fields {
        let mut f = Fields::new();
        f.insert("traceparent", TP.into());
        f.insert("tracestate", "vendor=opaque".into());
        f.insert("baggage", "user.id=42".into());
        f
    }

    #[test]
    fn seed_wire_is_exact() {
        let m = encode(Format::Seed, &Message::text("hello"), &fields(), usize::MAX).unwrap();
        assert_eq!(
            m.to_text().unwrap(),
            format!(
                r#"{{"headers":{{"baggage":"user.id=42","traceparent":"{TP}","tracestate":"vendor=opaque"}},"payload":"aGVsbG8="}}"#
            )
        );
        let empty = encode(
            Format::Seed,
            &Message::binary(Vec::new()),
            &Fields::new(),
            100,
        )
        .unwrap();
        assert_eq!(
            empty,
            Message::binary(&br#"{"headers":{},"payload":""}"#[..])
        );
    }

    #[test]
    fn otel_ws_has_only_trace_fields() {
        let m = encode(
            Format::OtelWs,
            &Message::text("plain text"),
            &fields(),
            usize::MAX,
        )
        .unwrap();
        assert_eq!(
            m.to_text().unwrap(),
            format!(
                r#"{{"header":{{"traceparent":"{TP}","tracestate":"vendor=opaque"}},"data":"plain text"}}"#
            )
        );
    }

    #[test]
    fn buffers_are_sized_exactly_without_escapes() {
        for f in [fields(), Fields::new()] {
            for payload in [&b""[..], b"a", b"ab", b"abc", b"hello world"] {
                let out = seed(payload, &f);
                assert_eq!(out.capacity(), out.len(), "{out}");
            }
            for text in [r#"{"op":"sub"}"#, "[]", "1", "null"] {
                let out = otel_ws(text, &f);
                assert_eq!(out.capacity(), out.len(), "{out}");
            }
        }
    }

    #[test]
    fn control_frames_are_unchanged() {
        for m in [
            Message::Ping(Bytes::from_static(b"p")),
            Message::Close(None),
        ] {
            assert_eq!(encode(Format::Seed, &m, &fields(), 1).unwrap(), m);
        }
    }

    #[test]
    fn too_large_envelope_is_an_error() {
        let err = encode(Format::Seed, &Message::text("x"), &Fields::new(), 10).unwrap_err();
        assert!(
            matches!(err, Error::EnvelopeTooLarge { size: 31, max: 10 }),
            "{err:?}"
        );
    }

    #[test]
    fn escaping_matches_serde_json() {
        let s = "a\"b\\c\n\r\t\u{8}\u{c}\u{1}\u{1f}\u{7f}<>&\u{2028}é😀";
        let mut out = String::new();
        write_json_string(&mut out, s);
        assert_eq!(out, serde_json::to_string(s).unwrap());
    }

    proptest::proptest! {
        #[test]
        fn escaping_matches_serde_json_after_any_plain_prefix(
            prefix in "[ !#-\\[\\]-~é😀]{0,80}",
            rest in "[\u{0}-\u{1f}\"\\\\a-z\u{2028}é]{0,12}",
        ) {
            let s = format!("{prefix}{rest}");
            let mut out = String::new();
            write_json_string(&mut out, &s);
            proptest::prop_assert_eq!(out, serde_json::to_string(&s).unwrap());
        }
    }
}
