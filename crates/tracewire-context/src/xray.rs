//! The AWS X-Ray header `X-Amzn-Trace-Id`.

use std::fmt;

use crate::ids::{decode_any_hex, encode_hex};
use crate::{ParseError, SpanId, TraceId};

/// The X-Ray sampling decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum XRaySampled {
    /// `Sampled=1`.
    Sampled,
    /// `Sampled=0`.
    NotSampled,
    /// `Sampled=?` or no `Sampled` field: the caller asks downstream to decide.
    #[default]
    Requested,
}

/// A field of the header other than `Root`, `Parent` and `Sampled`, kept in order for
/// re-emission (`Self`, `Lineage` and custom fields).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct XRayField {
    /// The key, in AWS's canonical case for `Self` and `Lineage`, else as received.
    pub key: String,
    /// The value as received.
    pub value: String,
}

/// A parsed `X-Amzn-Trace-Id`.
///
/// A header with `Root` but no `Parent` (an ALB's first hop, Lambda pass-through) is
/// valid: the trace id is kept and the next hop becomes a child of an unknown parent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct XRayHeader {
    /// The W3C trace id: the Root's 8-hex epoch part followed by its 24-hex unique part.
    pub trace_id: TraceId,
    /// The caller's segment id, if any.
    pub parent: Option<SpanId>,
    /// The sampling decision.
    pub sampled: XRaySampled,
    /// `Self`, `Lineage` and custom fields, in received order.
    pub fields: Vec<XRayField>,
}

impl XRayHeader {
    /// A header with no preserved fields.
    pub fn new(trace_id: TraceId, parent: Option<SpanId>, sampled: XRaySampled) -> Self {
        Self {
            trace_id,
            parent,
            sampled,
            fields: Vec::new(),
        }
    }

    /// Parses one header value. Keys match case-insensitively; hex may be either case and
    /// is normalised to lowercase; the Root version must be `1` and the field lengths exact.
    pub fn parse(value: &str) -> Result<Self, ParseError> {
        let value = value.trim_matches(|c| c == ' ' || c == '\t');
        if value.is_empty() {
            return Err(ParseError::Empty);
        }
        let mut trace_id = None;
        let mut parent = None;
        let mut sampled = None;
        let mut fields = Vec::new();
        for (index, field) in value.split(';').enumerate() {
            let field = field.trim_matches(|c| c == ' ' || c == '\t');
            if field.is_empty() {
                continue;
            }
            let (key, val) = field
                .split_once('=')
                .ok_or(ParseError::MalformedField { index })?;
            let key = key.trim_matches(|c| c == ' ' || c == '\t');
            let val = val.trim_matches(|c| c == ' ' || c == '\t');
            if key.is_empty() {
                return Err(ParseError::MalformedField { index });
            }
            if key.eq_ignore_ascii_case("root") {
                set_once(&mut trace_id, parse_root(val)?, "Root")?;
            } else if key.eq_ignore_ascii_case("parent") {
                let id = SpanId::from_bytes(decode_any_hex::<8>(val.as_bytes(), "Parent")?);
                if !id.is_valid() {
                    return Err(ParseError::ZeroId { field: "Parent" });
                }
                set_once(&mut parent, id, "Parent")?;
            } else if key.eq_ignore_ascii_case("sampled") {
                let s = match val {
                    "1" => XRaySampled::Sampled,
                    "0" => XRaySampled::NotSampled,
                    "?" => XRaySampled::Requested,
                    _ => return Err(ParseError::BadSampled),
                };
                set_once(&mut sampled, s, "Sampled")?;
            } else {
                let key = if key.eq_ignore_ascii_case("self") {
                    "Self".to_owned()
                } else if key.eq_ignore_ascii_case("lineage") {
                    "Lineage".to_owned()
                } else {
                    key.to_owned()
                };
                fields.push(XRayField {
                    key,
                    value: val.to_owned(),
                });
            }
        }
        Ok(Self {
            trace_id: trace_id.ok_or(ParseError::MissingRoot)?,
            parent,
            sampled: sampled.unwrap_or_default(),
            fields,
        })
    }

    /// The value of a preserved field (case-insensitive key), e.g. `Lineage` or `Self`.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|f| f.key.eq_ignore_ascii_case(key))
            .map(|f| f.value.as_str())
    }

    /// The `Root` value: `1-<first 8 hex>-<last 24 hex>` of the trace id.
    pub fn root(&self) -> String {
        let mut hex = [0u8; 32];
        encode_hex(&self.trace_id.to_bytes(), &mut hex);
        let hex = std::str::from_utf8(&hex).unwrap_or_default();
        format!("1-{}-{}", &hex[..8], &hex[8..])
    }
}

fn set_once<T>(slot: &mut Option<T>, value: T, field: &'static str) -> Result<(), ParseError> {
    if slot.is_some() {
        return Err(ParseError::DuplicateField { field });
    }
    *slot = Some(value);
    Ok(())
}

/// `1-<8 hex>-<24 hex>` → the W3C trace id.
fn parse_root(val: &str) -> Result<TraceId, ParseError> {
    let mut parts = val.split('-');
    let (Some(version), Some(epoch), Some(unique), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ParseError::BadRoot);
    };
    if version != "1" {
        return Err(ParseError::BadRootVersion);
    }
    let epoch = decode_any_hex::<4>(epoch.as_bytes(), "Root epoch")?;
    let unique = decode_any_hex::<12>(unique.as_bytes(), "Root unique id")?;
    let mut bytes = [0u8; 16];
    bytes[..4].copy_from_slice(&epoch);
    bytes[4..].copy_from_slice(&unique);
    let id = TraceId::from_bytes(bytes);
    if !id.is_valid() {
        return Err(ParseError::ZeroId { field: "Root" });
    }
    Ok(id)
}

impl fmt::Display for XRayHeader {
    /// `Root=…;Parent=…;Sampled=…` in canonical case, then the preserved fields.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Root={}", self.root())?;
        if let Some(p) = self.parent {
            write!(f, ";Parent={p}")?;
        }
        match self.sampled {
            XRaySampled::Sampled => f.write_str(";Sampled=1")?,
            XRaySampled::NotSampled => f.write_str(";Sampled=0")?,
            XRaySampled::Requested => f.write_str(";Sampled=?")?,
        }
        for field in &self.fields {
            write!(f, ";{}={}", field.key, field.value)?;
        }
        Ok(())
    }
}

impl std::str::FromStr for XRayHeader {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

    #[test]
    fn parses_aws_example() {
        let h = XRayHeader::parse(H).unwrap();
        assert_eq!(h.trace_id.to_string(), "5759e988bd862e3fe1be46a994272793");
        assert_eq!(h.parent.unwrap().to_string(), "53995c3f42cd8ad8");
        assert_eq!(h.sampled, XRaySampled::Sampled);
        assert_eq!(h.to_string(), H);
    }

    #[test]
    fn case_insensitive_keys_any_case_hex_spaces_any_order() {
        let h = XRayHeader::parse(
            " sampled=0 ; PARENT=53995C3F42CD8AD8;root=1-5759E988-BD862E3FE1BE46A994272793; lineage=a87bd80c:1|68fd508a:5;Self=1-abc;Custom=x",
        )
        .unwrap();
        assert_eq!(h.sampled, XRaySampled::NotSampled);
        assert_eq!(h.trace_id.to_string(), "5759e988bd862e3fe1be46a994272793");
        assert_eq!(h.field("Lineage"), Some("a87bd80c:1|68fd508a:5"));
        assert_eq!(
            h.to_string(),
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0;Lineage=a87bd80c:1|68fd508a:5;Self=1-abc;Custom=x"
        );
    }

    #[test]
    fn root_only_keeps_trace_id_and_missing_sampled_is_requested() {
        let h = XRayHeader::parse("Root=1-5759e988-bd862e3fe1be46a994272793").unwrap();
        assert_eq!(h.parent, None);
        assert_eq!(h.sampled, XRaySampled::Requested);
        assert_eq!(
            XRayHeader::parse("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=?")
                .unwrap()
                .sampled,
            XRaySampled::Requested
        );
    }

    #[test]
    fn strict_rules() {
        let bad: &[(&str, ParseError)] = &[
            (
                "Root=2-5759e988-bd862e3fe1be46a994272793",
                ParseError::BadRootVersion,
            ),
            (
                "Root=5759e988-bd862e3fe1be46a994272793",
                ParseError::BadRoot,
            ),
            (
                "Root=1-759e988-bd862e3fe1be46a994272793",
                ParseError::WrongLength {
                    field: "Root epoch",
                    expected: 8,
                    found: 7,
                },
            ),
            (
                "Root=1-5759e988-bd862e3fe1be46a99427279",
                ParseError::WrongLength {
                    field: "Root unique id",
                    expected: 24,
                    found: 23,
                },
            ),
            (
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=3995c3f42cd8ad8",
                ParseError::WrongLength {
                    field: "Parent",
                    expected: 16,
                    found: 15,
                },
            ),
            (
                "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=2",
                ParseError::BadSampled,
            ),
            ("Parent=53995c3f42cd8ad8", ParseError::MissingRoot),
            ("Root", ParseError::MalformedField { index: 0 }),
            (
                "Root=1-5759e988-bd862e3fe1be46a994272793;Root=1-5759e988-bd862e3fe1be46a994272793",
                ParseError::DuplicateField { field: "Root" },
            ),
            ("", ParseError::Empty),
        ];
        for (input, err) in bad {
            assert_eq!(XRayHeader::parse(input).as_ref(), Err(err), "{input}");
        }
    }
}
