//! Small JSON building blocks shared by the ingest and view codecs: strict scalar and
//! attribute decoding (duplicate keys rejected) and string escaping for the encoders.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};

use crate::model::{Status, StatusCode};

/// Appends `s` as a JSON string literal (quotes and escapes included).
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    // Writing into a Vec cannot fail, and a &str always serialises.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// Appends `"key":` (keys are static ASCII, no escaping needed).
pub(crate) fn write_key(out: &mut Vec<u8>, first: bool, key: &str) {
    if !first {
        out.push(b',');
    }
    out.push(b'"');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
}

/// Appends an unsigned integer.
pub(crate) fn write_u64(out: &mut Vec<u8>, v: u64) {
    use std::io::Write as _;
    let _ = write!(out, "{v}");
}

/// Appends a string→string object with keys in map (sorted) order.
pub(crate) fn write_attrs(out: &mut Vec<u8>, attrs: &BTreeMap<String, String>) {
    out.push(b'{');
    for (i, (k, v)) in attrs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, k);
        out.push(b':');
        write_str(out, v);
    }
    out.push(b'}');
}

/// The wire name of a status code: `unset`, `ok` or `error`.
pub(crate) fn status_name(code: StatusCode) -> &'static str {
    match code {
        StatusCode::Ok => "ok",
        StatusCode::Error => "error",
        // `Unset`, and any code a later tracewire-otlp adds: the lines have no name for it.
        _ => "unset",
    }
}

/// Parses a status code's wire name (exact lowercase).
pub(crate) fn status_from_name(name: &str) -> Option<StatusCode> {
    match name {
        "unset" => Some(StatusCode::Unset),
        "ok" => Some(StatusCode::Ok),
        "error" => Some(StatusCode::Error),
        _ => None,
    }
}

/// True when a status carries something to write: a set code or a message.
pub(crate) fn status_is_written(status: &Status) -> bool {
    status.code != StatusCode::Unset || !status.message.is_empty()
}

/// Appends the status object `{"code":…}`, with `"message"` when the message is not empty.
pub(crate) fn write_status_object(out: &mut Vec<u8>, status: &Status) {
    out.extend_from_slice(b"{\"code\":");
    write_str(out, status_name(status.code));
    if !status.message.is_empty() {
        out.extend_from_slice(b",\"message\":");
        write_str(out, &status.message);
    }
    out.push(b'}');
}

/// Any JSON scalar, keeping which type it had so callers can apply per-key type rules.
#[derive(Debug)]
pub(crate) enum Scalar<'a> {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    Str(Cow<'a, str>),
}

impl<'de> de::Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON scalar")
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Scalar::Null)
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(Scalar::Null)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Scalar::Bool(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Scalar::U64(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Scalar::I64(v))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Scalar::F64(v))
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Owned(v)))
            }
        }
        d.deserialize_any(V)
    }
}

/// An attribute value: strings kept, numbers and bools as JSON text, `null` dropped
/// (`None`); arrays and objects are an error (the line is malformed).
///
/// Not `tracewire_otlp::Value`'s text form on purpose: this keeps the number as the app
/// wrote it on the wire (a `u64` above `i64::MAX`, `1.0` rather than `1`), where a typed
/// value would round-trip through `i64` or `f64` first.
struct AttrValue;

impl<'de> DeserializeSeed<'de> for AttrValue {
    type Value = Option<String>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        Ok(match Scalar::deserialize(d)? {
            Scalar::Null => None,
            Scalar::Bool(b) => Some(if b { "true" } else { "false" }.to_owned()),
            Scalar::U64(v) => Some(v.to_string()),
            Scalar::I64(v) => Some(v.to_string()),
            Scalar::F64(v) => Some(
                serde_json::Number::from_f64(v).map_or_else(|| v.to_string(), |n| n.to_string()),
            ),
            Scalar::Str(s) => Some(s.into_owned()),
        })
    }
}

use serde::Deserialize as _;

/// Decodes an attribute object (or `null`, meaning empty); duplicate keys are an error.
pub(crate) struct Attrs;

impl<'de> DeserializeSeed<'de> for Attrs {
    type Value = BTreeMap<String, String>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = BTreeMap<String, String>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of scalar values or null")
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(BTreeMap::new())
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(BTreeMap::new())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = BTreeMap::new();
                let mut seen_null: Vec<String> = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    if out.contains_key(&key) || seen_null.contains(&key) {
                        return Err(de::Error::custom(format_args!("duplicate attr {key:?}")));
                    }
                    match map.next_value_seed(AttrValue)? {
                        Some(v) => {
                            out.insert(key, v);
                        }
                        None => seen_null.push(key),
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_any(V)
    }
}

/// Decodes a status: `"ok"|"error"|"unset"` or `{"code":…,"message":…}` (`null` = unset).
pub(crate) struct StatusSeed;

impl<'de> DeserializeSeed<'de> for StatusSeed {
    type Value = Status;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Status;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a status name or {\"code\",\"message\"}")
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Status::default())
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                let code = status_from_name(v)
                    .ok_or_else(|| E::custom(format_args!("unknown status {v:?}")))?;
                Ok(Status {
                    code,
                    message: String::new(),
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut code: Option<StatusCode> = None;
                let mut message: Option<Option<String>> = None;
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    match key.as_ref() {
                        "code" if code.is_none() => {
                            let name: Cow<'de, str> = map.next_value()?;
                            code = Some(status_from_name(&name).ok_or_else(|| {
                                de::Error::custom(format_args!("unknown status {name:?}"))
                            })?);
                        }
                        "message" if message.is_none() => {
                            message = Some(map.next_value::<Option<String>>()?);
                        }
                        "code" | "message" => {
                            return Err(de::Error::custom("duplicate key in status"));
                        }
                        _ => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(Status {
                    code: code.ok_or_else(|| de::Error::missing_field("code"))?,
                    message: message.flatten().unwrap_or_default(),
                })
            }
        }
        d.deserialize_any(V)
    }
}
