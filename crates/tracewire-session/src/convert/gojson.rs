//! JSON text exactly as Go's `encoding/json` writes it, so content attributes match
//! PromptKit byte for byte (`docs/sessions.md#content-capture`).

use serde_json::{Number, Value};

/// Key order when encoding objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyOrder {
    /// Sorted bytewise at every level (Go marshalling a `map[string]any`).
    Sorted,
    /// As recorded (Go marshalling a struct in field order).
    Recorded,
}

/// Compact Go-style JSON text of `value`.
pub(crate) fn encode(value: &Value, order: KeyOrder) -> String {
    let mut out = String::new();
    write_value(&mut out, value, order);
    out
}

fn write_value(out: &mut String, value: &Value, order: KeyOrder) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item, order);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            if order == KeyOrder::Sorted {
                entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            }
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                write_value(out, item, order);
            }
            out.push('}');
        }
    }
}

/// Go decodes every JSON number of an `any` into a float64 and prints it back in the
/// shortest form, switching to exponent notation below 1e-6 and from 1e21 up.
fn write_number(out: &mut String, n: &Number) {
    match n.as_f64() {
        Some(f) => write_go_float(out, f),
        None => out.push_str(&n.to_string()),
    }
}

pub(crate) fn write_go_float(out: &mut String, f: f64) {
    if !f.is_finite() {
        // Go refuses these; JSON input cannot carry them either.
        out.push_str("null");
        return;
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let text = format!("{f:e}");
        match text.split_once('e') {
            Some((mantissa, exp)) => {
                out.push_str(mantissa);
                out.push('e');
                if let Some(neg) = exp.strip_prefix('-') {
                    out.push('-');
                    out.push_str(neg);
                } else {
                    out.push('+');
                    out.push_str(exp);
                }
            }
            None => out.push_str(&text),
        }
    } else {
        out.push_str(&format!("{f}"));
    }
}

/// A string with Go's escaping: HTML-safe (`<`, `>`, `&`), U+2028/U+2029 escaped,
/// short escapes for `\b \f \n \r \t`, `\u00xx` for other controls.
pub(crate) fn write_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => {
                let b = c as u32 as usize;
                out.push_str("\\u00");
                out.push(HEX[b >> 4] as char);
                out.push(HEX[b & 0xf] as char);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorted_keys_and_html_escapes_like_go() {
        let v = json!({"q": "test", "a": "<b>"});
        assert_eq!(
            encode(&v, KeyOrder::Sorted),
            r#"{"a":"\u003cb\u003e","q":"test"}"#
        );
        let nested = json!({"z": {"b": 1, "a": [true, null]}, "&": "\u{2028}\u{1}\n"});
        assert_eq!(
            encode(&nested, KeyOrder::Sorted),
            r#"{"\u0026":"\u2028\u0001\n","z":{"a":[true,null],"b":1}}"#
        );
    }

    #[test]
    fn recorded_order_is_kept() {
        let v: Value =
            serde_json::from_str(r#"{"id":"c1","name":"search","args":"{\"q\":1}"}"#).unwrap();
        assert_eq!(
            encode(&v, KeyOrder::Recorded),
            r#"{"id":"c1","name":"search","args":"{\"q\":1}"}"#
        );
    }

    #[test]
    fn numbers_format_as_go_float64() {
        let cases: &[(f64, &str)] = &[
            (1.0, "1"),
            (0.5, "0.5"),
            (-0.0, "-0"),
            (0.00231, "0.00231"),
            (1e-7, "1e-7"),
            (1.5e-7, "1.5e-7"),
            (0.000001, "0.000001"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1.2345e22, "1.2345e+22"),
            (12345678901234567890.0, "12345678901234567000"),
        ];
        for (f, want) in cases {
            let mut out = String::new();
            write_go_float(&mut out, *f);
            assert_eq!(&out, want, "{f}");
        }
    }

    #[test]
    fn short_escapes() {
        let mut out = String::new();
        write_string(&mut out, "\u{8}\u{c}\r\t\"\\\u{1f}");
        assert_eq!(out, r#""\b\f\r\t\"\\\u001f""#);
    }
}
