//! The fast path of the ingest decoder: a scanner for the plain shape apps actually send
//! (known keys once each, strings without escapes, unsigned integers, string attrs), which
//! borrows every string from the line.
//!
//! It never decides a rejection: on anything outside that shape (escapes, control bytes,
//! unknown or duplicate keys, floats, negative or huge numbers, non-string attrs, status
//! objects, malformed JSON, …) it gives up and the serde_json path decodes the line, so
//! every rejection rule and counter (`docs/wire-formats.md#collector-ingest-lines`) is
//! exactly the serde path's. For the lines
//! it accepts it produces the same [`RawLine`] the serde path would.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::ingest::RawLine;
use super::json::{status_from_name, Scalar};
use crate::model::Status;

/// Why the scanner gave up (never a rejection: the serde path decides).
#[derive(Debug)]
pub(super) struct GiveUp;

type Step<T> = Result<T, GiveUp>;

struct Scanner<'a> {
    s: &'a str,
    at: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.at).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn eat(&mut self, b: u8) -> Step<()> {
        self.skip_ws();
        if self.peek() == Some(b) {
            self.at += 1;
            Ok(())
        } else {
            Err(GiveUp)
        }
    }

    /// A string without escapes or control bytes, borrowed from the line.
    fn plain_str(&mut self) -> Step<&'a str> {
        self.eat(b'"')?;
        let bytes = self.s.as_bytes();
        let start = self.at;
        let mut i = start;
        // Eight bytes at a time while none is a quote, a backslash or a control byte.
        while let Some(word) = bytes.get(i..i + 8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(word);
            if special_bytes(u64::from_le_bytes(w)) != 0 {
                break;
            }
            i += 8;
        }
        while let Some(&b) = bytes.get(i) {
            match b {
                b'"' => {
                    self.at = i + 1;
                    // Both ends are at ASCII quotes, so this is a char boundary.
                    return self.s.get(start..i).ok_or(GiveUp);
                }
                b'\\' | 0..=0x1f => return Err(GiveUp),
                _ => i += 1,
            }
        }
        Err(GiveUp)
    }

    /// An unsigned JSON integer that fits in u64 (no sign, fraction or exponent).
    fn plain_u64(&mut self) -> Step<u64> {
        self.skip_ws();
        let bytes = self.s.as_bytes();
        let start = self.at;
        let mut v: u64 = 0;
        while let Some(&b) = bytes.get(self.at) {
            if !b.is_ascii_digit() {
                break;
            }
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(b - b'0')))
                .ok_or(GiveUp)?;
            self.at += 1;
        }
        let len = self.at - start;
        // No digits, or a leading zero (invalid JSON), or a float / exponent follows.
        if len == 0 || (len > 1 && bytes[start] == b'0') {
            return Err(GiveUp);
        }
        if matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return Err(GiveUp);
        }
        Ok(v)
    }

    fn is_null(&mut self) -> bool {
        self.skip_ws();
        if self.s.as_bytes()[self.at..].starts_with(b"null") {
            self.at += 4;
            true
        } else {
            false
        }
    }

    /// An int or a plain string (`type` and `kind`).
    fn int_or_str(&mut self) -> Step<Scalar<'a>> {
        self.skip_ws();
        if self.peek() == Some(b'"') {
            Ok(Scalar::Str(Cow::Borrowed(self.plain_str()?)))
        } else {
            Ok(Scalar::U64(self.plain_u64()?))
        }
    }

    /// `{"k":"v",…}` with plain strings and distinct keys, or `null` (empty).
    fn attrs(&mut self) -> Step<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        if self.is_null() {
            return Ok(out);
        }
        self.eat(b'{')?;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(out);
        }
        loop {
            let k = self.plain_str()?;
            self.eat(b':')?;
            let v = self.plain_str()?;
            if out.insert(k.to_owned(), v.to_owned()).is_some() {
                return Err(GiveUp);
            }
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(out);
                }
                _ => return Err(GiveUp),
            }
        }
    }
}

/// Non-zero when any byte of the (little-endian) word is `"`, `\\` or below 0x20 (the
/// classic "has zero byte" test applied to `w ^ '"'`, `w ^ '\\'` and `w < 0x20`; exact
/// about whether such a byte exists).
fn special_bytes(w: u64) -> u64 {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let quote = w ^ (LO * u64::from(b'"'));
    let backslash = w ^ (LO * u64::from(b'\\'));
    let zero_in = |x: u64| x.wrapping_sub(LO) & !x;
    (zero_in(quote) | zero_in(backslash) | (w.wrapping_sub(LO * 0x20) & !w)) & HI
}

fn set_once<T>(slot: &mut Option<T>, v: T) -> Step<()> {
    if slot.is_some() {
        return Err(GiveUp);
    }
    *slot = Some(v);
    Ok(())
}

/// Scans a line (UTF-8 already checked, `\r` stripped) of the plain shape into the raw
/// fields, or gives up so the serde path decodes it.
pub(super) fn scan_line(line: &str) -> Step<RawLine<'_>> {
    let mut sc = Scanner { s: line, at: 0 };
    let mut raw = RawLine::default();
    sc.eat(b'{')?;
    sc.skip_ws();
    if sc.peek() == Some(b'}') {
        sc.at += 1;
    } else {
        loop {
            let key = sc.plain_str()?;
            sc.eat(b':')?;
            match key {
                "type" => set_once(&mut raw.ty, sc.int_or_str()?)?,
                "span_id" => set_once(&mut raw.span_id, Cow::Borrowed(sc.plain_str()?))?,
                "trace_id" => set_once(&mut raw.trace_id, Cow::Borrowed(sc.plain_str()?))?,
                "parent_id" => {
                    let v = if sc.is_null() {
                        None
                    } else {
                        Some(Cow::Borrowed(sc.plain_str()?))
                    };
                    set_once(&mut raw.parent_id, v)?;
                }
                "name" => set_once(&mut raw.name, sc.plain_str()?.to_owned())?,
                "kind" => set_once(&mut raw.kind, sc.int_or_str()?)?,
                "time" => set_once(&mut raw.time, Cow::Borrowed(sc.plain_str()?))?,
                "attrs" => set_once(&mut raw.attrs, sc.attrs()?)?,
                "duration_ns" => set_once(&mut raw.duration_ns, sc.plain_u64()?)?,
                "status" => {
                    let code = status_from_name(sc.plain_str()?).ok_or(GiveUp)?;
                    set_once(
                        &mut raw.status,
                        Status {
                            code,
                            message: String::new(),
                        },
                    )?;
                }
                _ => return Err(GiveUp),
            }
            sc.skip_ws();
            match sc.peek() {
                Some(b',') => sc.at += 1,
                Some(b'}') => {
                    sc.at += 1;
                    break;
                }
                _ => return Err(GiveUp),
            }
        }
    }
    sc.skip_ws();
    if sc.at != line.len() {
        return Err(GiveUp);
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::ingest::{classify, decode_raw_serde};
    use super::scan_line;

    /// Both paths on one line: the scanner must either give up or agree with serde exactly.
    fn agree(line: &str) -> Result<bool, TestCaseError> {
        let Ok(raw) = scan_line(line) else {
            return Ok(false);
        };
        let fast = classify(raw);
        let slow = decode_raw_serde(line).and_then(classify);
        prop_assert_eq!(fast, slow, "line {:?}", line);
        Ok(true)
    }

    #[test]
    fn special_byte_test_is_exact_for_every_byte_position() {
        for pos in 0..8 {
            for b in 0..=255u8 {
                let mut w = [b'a'; 8];
                w[pos] = b;
                let special = b == b'"' || b == b'\\' || b < 0x20;
                assert_eq!(
                    super::special_bytes(u64::from_le_bytes(w)) != 0,
                    special,
                    "{b:#x}@{pos}"
                );
            }
        }
    }

    #[test]
    fn plain_go_trace_lines_take_the_fast_path() {
        for line in [
            r#"{"type":0,"span_id":"9f86d081884c7d65","trace_id":"3a7bd3e2360a3d29","parent_id":"0000000000000001","name":"SQL","kind":2,"time":"2025-06-01T10:00:00.123+09:00"}"#,
            r#"{"type":1,"span_id":"9f86d081884c7d65","trace_id":"3a7bd3e2360a3d29","name":"","kind":0,"time":"2025-06-01T10:00:00Z","attrs":{"query":"SELECT 1","rows":"1"}}"#,
            r#" { "type" : "span_end" , "span_id":"9f86d081884c7d65","trace_id":"3a7bd3e2360a3d29","time":"2025-06-01T10:00:00Z","duration_ns":5,"status":"error","attrs":null,"parent_id":null } "#,
        ] {
            assert!(agree(line).unwrap(), "{line}");
        }
    }

    #[test]
    fn exotic_lines_fall_back_to_serde() {
        for line in [
            r#"{"type":0,"name":"a\"b"}"#,
            r#"{"type":0,"name":"abcdefghijklmn\"b"}"#,
            "{\"type\":0,\"name\":\"abcdefghijklm\u{1}n\"}",
            r#"{"type":0,"type":1}"#,
            r#"{"type":0,"extra":1}"#,
            r#"{"type":01}"#,
            r#"{"type":1.0}"#,
            r#"{"type":-1}"#,
            r#"{"type":18446744073709551616}"#,
            r#"{"kind":null}"#,
            r#"{"attrs":{"a":1}}"#,
            r#"{"attrs":{"a":"1","a":"2"}}"#,
            r#"{"status":{"code":"ok"}}"#,
            r#"{"status":"OK"}"#,
            r#"{"type":0} x"#,
            r#"{"type":0,}"#,
            "{\"name\":\"a\tb\"}",
            "[1]",
            "",
        ] {
            assert!(scan_line(line).is_err(), "{line}");
        }
    }

    /// Pieces of lines, well-formed and not, glued into objects in random order.
    fn member() -> impl Strategy<Value = String> {
        let value = prop_oneof![
            Just("0".to_owned()),
            Just("1".to_owned()),
            Just("2".to_owned()),
            Just("256".to_owned()),
            Just("01".to_owned()),
            Just("1.5".to_owned()),
            Just("-1".to_owned()),
            Just("1e2".to_owned()),
            Just("18446744073709551615".to_owned()),
            Just("18446744073709551616".to_owned()),
            Just("null".to_owned()),
            Just("nul".to_owned()),
            Just("true".to_owned()),
            Just(r#""span_start""#.to_owned()),
            Just(r#""span_end""#.to_owned()),
            Just(r#""sql""#.to_owned()),
            Just(r#""ok""#.to_owned()),
            Just(r#""9f86d081884c7d65""#.to_owned()),
            Just(r#""3a7bd3e2360a3d293a7bd3e2360a3d29""#.to_owned()),
            Just(r#""0000000000000000""#.to_owned()),
            Just(r#""2025-06-01T10:00:00.5+09:00""#.to_owned()),
            Just(r#""2025-02-30T10:00:00Z""#.to_owned()),
            Just(r#""""#.to_owned()),
            Just(r#""a\"b""#.to_owned()),
            Just(r#""é✓""#.to_owned()),
            Just(r#"{"a":"1","b":"x"}"#.to_owned()),
            Just(r#"{"a":"1","a":"2"}"#.to_owned()),
            Just(r#"{"a":null}"#.to_owned()),
            Just(r#"{"a":3}"#.to_owned()),
            Just("{}".to_owned()),
            Just(r#"{"code":"error","message":"m"}"#.to_owned()),
            "[a-z0-9\"{}:, ]{0,6}",
        ];
        let key = prop_oneof![
            Just("type"),
            Just("span_id"),
            Just("trace_id"),
            Just("parent_id"),
            Just("name"),
            Just("kind"),
            Just("time"),
            Just("attrs"),
            Just("duration_ns"),
            Just("status"),
            Just("other"),
        ];
        (key, value, prop_oneof![Just(""), Just(" ")])
            .prop_map(|(k, v, ws)| format!("{ws}\"{k}\"{ws}:{ws}{v}"))
    }

    proptest! {
        #[test]
        fn scanner_agrees_with_serde_or_gives_up(
            members in proptest::collection::vec(member(), 0..9),
            tail in prop_oneof![Just(""), Just(" "), Just(","), Just("}"), Just("x")],
        ) {
            let line = format!("{{{}}}{tail}", members.join(","));
            agree(&line)?;
        }
    }
}
