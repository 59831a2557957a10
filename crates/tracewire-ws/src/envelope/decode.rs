//! Reading envelopes: detection (`docs/wire-formats.md#detecting-the-envelope-on-receive`)
//! and unwrapping of the Seed, OtelWs and legacy
//! flat forms, borrowing from the received buffer wherever possible.

use std::fmt;

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use bytes::Bytes;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use tungstenite::{Message, Utf8Bytes};

use super::fields::FieldView;
use super::json::{
    decode_string, first_non_ws, offset_in, parse_string_object, DecodedStr, Str, MAX_EMBED_DEPTH,
};
use super::validate::value_end;
use super::{EnvelopeKind, Malformed};
use crate::error::Error;

/// Standard alphabet, padding optional, lenient trailing bits (as Go's `StdEncoding`).
const BASE64_READ: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// A received message after envelope detection.
#[derive(Debug, Clone)]
pub struct Decoded<'a> {
    message: Message,
    kind: EnvelopeKind,
    fields: FieldView<'a>,
}

impl<'a> Decoded<'a> {
    /// The application's message, with the received opcode. For
    /// [`EnvelopeKind::None`] it is the received message itself (the same `Bytes`).
    pub fn message(&self) -> &Message {
        &self.message
    }

    /// Takes the application's message.
    pub fn into_message(self) -> Message {
        self.message
    }

    /// The envelope that was found.
    pub fn kind(&self) -> EnvelopeKind {
        self.kind
    }

    /// The trace fields the envelope carried (empty for pass-through).
    pub fn fields(&self) -> &FieldView<'a> {
        &self.fields
    }

    /// Splits into message, envelope kind and trace fields.
    pub fn into_parts(self) -> (Message, EnvelopeKind, FieldView<'a>) {
        (self.message, self.kind, self.fields)
    }

    fn passthrough(message: &Message) -> Self {
        Decoded {
            message: message.clone(),
            kind: EnvelopeKind::None,
            fields: FieldView::default(),
        }
    }
}

/// Detects and unwraps an envelope in a received message (the rules:
/// [docs/wire-formats.md#detecting-the-envelope-on-receive](https://github.com/tracewire/tracewire/blob/main/docs/wire-formats.md#detecting-the-envelope-on-receive)).
///
/// Anything that is not an envelope — control frames, non-JSON, arrays, scalars, objects
/// with other keys — comes back unchanged as [`EnvelopeKind::None`]. Errors affect only
/// this message: [`Error::EnvelopeTooLarge`] for a message starting with `{` larger than
/// `max_envelope_size`, [`Error::MalformedEnvelope`] for a broken envelope. No input
/// panics.
///
/// ```
/// use tracewire_ws::envelope::{decode, EnvelopeKind};
/// use tungstenite::Message;
///
/// let wire = Message::text(r#"{"header":{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},"data":"hi"}"#);
/// let decoded = decode(&wire, 1 << 20).unwrap();
/// assert_eq!(decoded.kind(), EnvelopeKind::OtelWs);
/// assert_eq!(decoded.message(), &Message::text("hi"));
/// assert!(decoded.fields().get("traceparent").is_some());
/// ```
pub fn decode(message: &Message, max_envelope_size: usize) -> Result<Decoded<'_>, Error> {
    let (buf, is_text): (&Bytes, bool) = match message {
        Message::Text(t) => (t.as_ref(), true),
        Message::Binary(b) => (b, false),
        _ => return Ok(Decoded::passthrough(message)),
    };
    if first_non_ws(buf) != Some(b'{') {
        return Ok(Decoded::passthrough(message));
    }
    if buf.len() > max_envelope_size {
        return Err(Error::EnvelopeTooLarge {
            size: buf.len(),
            max: max_envelope_size,
        });
    }
    let text = match message {
        Message::Text(t) => t.as_str(),
        _ => match std::str::from_utf8(buf) {
            Ok(t) => t,
            Err(_) => return Ok(Decoded::passthrough(message)),
        },
    };
    let out = Out { buf, text, is_text };
    if let Some((header, data)) = otel_ws_fast(text) {
        return otel_ws_parts(header, data, &out);
    }
    let Ok(scan) = serde_json::from_str::<Scan<'_>>(text) else {
        return Ok(Decoded::passthrough(message));
    };
    match scan.kind() {
        EnvelopeKind::Seed => seed(&scan, is_text),
        EnvelopeKind::OtelWs => otel_ws(&scan, &out),
        EnvelopeKind::LegacyFlat => legacy_flat(&scan, &out),
        _ => Ok(Decoded::passthrough(message)),
    }
}

/// The received buffer and how to build messages from it.
struct Out<'a> {
    buf: &'a Bytes,
    text: &'a str,
    is_text: bool,
}

impl Out<'_> {
    /// A message over `range` of the received buffer (no copy).
    fn slice(&self, range: std::ops::Range<usize>, kind: EnvelopeKind) -> Result<Message, Error> {
        let bytes = self.buf.slice(range);
        if self.is_text {
            // The range lies on char boundaries of valid UTF-8; re-validated as there is no unsafe.
            Utf8Bytes::try_from(bytes)
                .map(Message::Text)
                .map_err(|_| malformed(kind, Malformed::Utf8))
        } else {
            Ok(Message::Binary(bytes))
        }
    }

    fn owned(&self, s: String) -> Message {
        if self.is_text {
            Message::Text(Utf8Bytes::from(s))
        } else {
            Message::Binary(Bytes::from(s.into_bytes()))
        }
    }
}

fn malformed(format: EnvelopeKind, reason: Malformed) -> Error {
    Error::MalformedEnvelope { format, reason }
}

fn seed<'a>(scan: &Scan<'a>, is_text: bool) -> Result<Decoded<'a>, Error> {
    let kind = EnvelopeKind::Seed;
    if scan.headers.dup || scan.payload.dup {
        return Err(malformed(kind, Malformed::DuplicateKey));
    }
    let (Some(headers), Some(payload)) = (scan.headers.value, scan.payload.value) else {
        return Err(malformed(kind, Malformed::Headers));
    };
    let fields = parse_string_object(headers.get()).ok_or(malformed(kind, Malformed::Headers))?;
    let raw = payload.get();
    let bytes = match raw.as_bytes().first() {
        Some(b'"') => {
            let decoded = match decode_string(raw) {
                Some(DecodedStr::Range(r)) => BASE64_READ.decode(&raw.as_bytes()[r]),
                Some(DecodedStr::Owned(s)) => BASE64_READ.decode(s.as_bytes()),
                None => return Err(malformed(kind, Malformed::Escape)),
            };
            decoded.map_err(|_| malformed(kind, Malformed::Base64))?
        }
        Some(b'n') => Vec::new(),
        _ => return Err(malformed(kind, Malformed::PayloadType)),
    };
    // Trimmed to its length, the buffer becomes `Bytes` without a shared-header allocation.
    let bytes = bytes.into_boxed_slice().into_vec();
    let message = if is_text {
        let text = String::from_utf8(bytes).map_err(|_| malformed(kind, Malformed::Utf8))?;
        Message::Text(Utf8Bytes::from(text))
    } else {
        Message::Binary(Bytes::from(bytes))
    };
    Ok(Decoded {
        message,
        kind,
        fields,
    })
}

fn otel_ws<'a>(scan: &Scan<'a>, out: &Out<'a>) -> Result<Decoded<'a>, Error> {
    let kind = EnvelopeKind::OtelWs;
    if scan.header.dup || scan.data.dup {
        return Err(malformed(kind, Malformed::DuplicateKey));
    }
    let (Some(header), Some(data)) = (scan.header.value, scan.data.value) else {
        return Err(malformed(kind, Malformed::Headers));
    };
    otel_ws_parts(header.get(), data.get(), out)
}

/// The canonical OtelWs layout `{"header":H,"data":D}` (what this crate and Go write),
/// split with the validator instead of a serde pass: `(H, D)`, or `None` for any other
/// layout, which then takes the general path. Where both apply they agree: H and D are
/// exactly the raw values serde returns for the two keys.
fn otel_ws_fast(text: &str) -> Option<(&str, &str)> {
    const HEAD: &str = "{\"header\":";
    const DATA: &str = ",\"data\":";
    let bytes = text.as_bytes();
    if !text.starts_with(HEAD) {
        return None;
    }
    let header_end = value_end(bytes, HEAD.len(), MAX_EMBED_DEPTH)?;
    let data_start = header_end + DATA.len();
    if bytes.get(header_end..data_start)? != DATA.as_bytes() {
        return None;
    }
    let data_end = value_end(bytes, data_start, MAX_EMBED_DEPTH)?;
    if data_end + 1 != bytes.len() || bytes[data_end] != b'}' {
        return None;
    }
    Some((
        text.get(HEAD.len()..header_end)?,
        text.get(data_start..data_end)?,
    ))
}

fn otel_ws_parts<'a>(header: &'a str, raw: &'a str, out: &Out<'a>) -> Result<Decoded<'a>, Error> {
    let kind = EnvelopeKind::OtelWs;
    let fields = parse_string_object(header).ok_or(malformed(kind, Malformed::Headers))?;
    let start = offset_in(out.text, raw);
    let message = if raw.starts_with('"') {
        match decode_string(raw) {
            Some(DecodedStr::Range(r)) => out.slice(start + r.start..start + r.end, kind)?,
            Some(DecodedStr::Owned(s)) => out.owned(s),
            None => return Err(malformed(kind, Malformed::Escape)),
        }
    } else {
        out.slice(start..start + raw.len(), kind)?
    };
    Ok(Decoded {
        message,
        kind,
        fields,
    })
}

fn legacy_flat<'a>(scan: &Scan<'a>, out: &Out<'a>) -> Result<Decoded<'a>, Error> {
    let mut fields = FieldView::with_capacity(2);
    for (name, raw) in [
        ("traceparent", scan.traceparent),
        ("tracestate", scan.tracestate),
    ] {
        if let Some(Ok(Str(value))) = raw.map(|r| serde_json::from_str::<Str<'a>>(r.get())) {
            fields.push(name.into(), value);
        }
    }
    let mut rebuilt = String::with_capacity(out.text.len());
    let mut de = serde_json::Deserializer::from_str(out.text);
    FlatRebuild {
        base: out.text,
        out: &mut rebuilt,
    }
    .deserialize(&mut de)
    .map_err(|_| malformed(EnvelopeKind::LegacyFlat, Malformed::Escape))?;
    Ok(Decoded {
        message: out.owned(rebuilt),
        kind: EnvelopeKind::LegacyFlat,
        fields,
    })
}

/// One envelope key: its (first) value and whether it appeared again.
#[derive(Debug, Default, Clone, Copy)]
struct Slot<'a> {
    value: Option<&'a RawValue>,
    dup: bool,
}

impl<'a> Slot<'a> {
    fn set(&mut self, v: &'a RawValue) {
        if self.value.is_some() {
            self.dup = true;
        } else {
            self.value = Some(v);
        }
    }
}

/// The top-level members that matter for detection, borrowed from the message.
#[derive(Debug, Default)]
struct Scan<'a> {
    headers: Slot<'a>,
    payload: Slot<'a>,
    header: Slot<'a>,
    data: Slot<'a>,
    traceparent: Option<&'a RawValue>,
    tracestate: Option<&'a RawValue>,
    has_trace_members: bool,
    others: usize,
}

impl Scan<'_> {
    fn kind(&self) -> EnvelopeKind {
        let only_envelope_keys = self.others == 0 && !self.has_trace_members;
        let seed_keys = self.headers.value.is_some() && self.payload.value.is_some();
        let otel_keys = self.header.value.is_some() && self.data.value.is_some();
        let seed_any = self.headers.value.is_some() || self.payload.value.is_some();
        let otel_any = self.header.value.is_some() || self.data.value.is_some();
        if only_envelope_keys && seed_keys && !otel_any {
            EnvelopeKind::Seed
        } else if only_envelope_keys && otel_keys && !seed_any {
            EnvelopeKind::OtelWs
        } else if self.traceparent.is_some_and(|tp| tp.get().starts_with('"')) {
            EnvelopeKind::LegacyFlat
        } else {
            EnvelopeKind::None
        }
    }
}

impl<'de> de::Deserialize<'de> for Scan<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scan<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut scan = Scan::default();
                while let Some(Str(key)) = map.next_key::<Str<'de>>()? {
                    let value: &'de RawValue = map.next_value()?;
                    match key.as_ref() {
                        "headers" => scan.headers.set(value),
                        "payload" => scan.payload.set(value),
                        "header" => scan.header.set(value),
                        "data" => {
                            scan.data.set(value);
                        }
                        "traceparent" => {
                            scan.has_trace_members = true;
                            scan.traceparent.get_or_insert(value);
                        }
                        "tracestate" => {
                            scan.has_trace_members = true;
                            scan.tracestate.get_or_insert(value);
                        }
                        _ => scan.others += 1,
                    }
                }
                Ok(scan)
            }
        }
        d.deserialize_map(V)
    }
}

/// Second pass of the legacy flat form: writes the object without its trace members,
/// keeping the other members' raw bytes and order, joined by `,`.
struct FlatRebuild<'a, 'o> {
    base: &'a str,
    out: &'o mut String,
}

impl<'de, 'o> DeserializeSeed<'de> for FlatRebuild<'de, 'o> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, 'o> Visitor<'de> for FlatRebuild<'de, 'o> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let base = self.base;
        let mut prev_end = base.find('{').map_or(0, |i| i + 1);
        let mut first = true;
        self.out.push('{');
        while let Some(Str(key)) = map.next_key::<Str<'de>>()? {
            let value: &'de RawValue = map.next_value()?;
            let start = offset_in(base, value.get());
            let between = base.get(prev_end..start).unwrap_or_default();
            prev_end = start + value.get().len();
            if key == "traceparent" || key == "tracestate" {
                continue;
            }
            // `between` is `ws [,] ws "key" ws : ws`; the key's raw text runs from its
            // opening quote to the last colon.
            let (Some(q), Some(c)) = (between.find('"'), between.rfind(':')) else {
                return Err(de::Error::custom("unexpected member layout"));
            };
            let raw_key = between.get(q..c).unwrap_or_default().trim_end();
            if !first {
                self.out.push(',');
            }
            first = false;
            self.out.push_str(raw_key);
            self.out.push(':');
            self.out.push_str(value.get());
        }
        self.out.push('}');
        Ok(())
    }
}

#[cfg(test)]
mod tests;
