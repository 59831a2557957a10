//! A single-pass JSON validator, for the encoder's "embed verbatim?" decision and the
//! decoder's fast path over the canonical OtelWs layout. It accepts exactly what
//! `serde_json` accepts as one value (RFC 8259; `\u` escapes are not checked for
//! surrogate pairing, as serde_json does not when skipping) and bounds the nesting depth
//! itself. String contents, usually most of a payload, are skipped 64 bytes at a time
//! with branch-free checks the compiler turns into SIMD compares.

use super::json::is_ws;

/// `true` when `bytes` is one JSON value, optionally surrounded by whitespace, nested at
/// most `max_depth` deep.
pub(crate) fn is_json_value(bytes: &[u8], max_depth: usize) -> bool {
    let mut v = Validator { b: bytes, i: 0 };
    v.skip_ws();
    if v.value(max_depth.min(127)).is_none() {
        return false;
    }
    v.skip_ws();
    v.i == bytes.len()
}

/// The end offset of the JSON value that starts exactly at `start` (no leading
/// whitespace), nested at most `max_depth` deep; `None` if there is no such value.
pub(crate) fn value_end(bytes: &[u8], start: usize, max_depth: usize) -> Option<usize> {
    let mut v = Validator { b: bytes, i: start };
    if v.peek().is_none_or(is_ws) {
        return None;
    }
    v.value(max_depth.min(127))?;
    Some(v.i)
}

/// Offset of the first `"`, `\` or control character in `bytes`. Keys end within a few
/// words, so the first 16 bytes are read 8 at a time (SWAR); a long payload string is
/// then skipped 64 bytes per step with a branch-free "any special?" check the
/// compiler turns into SIMD compares, and only the block holding the answer is read by
/// words again.
pub(crate) fn first_string_special(bytes: &[u8]) -> Option<usize> {
    let mut i = 0;
    let head = bytes.len().min(HEAD);
    while i + 8 <= head {
        if let Some(p) = word_special(&bytes[i..i + 8]) {
            return Some(i + p);
        }
        i += 8;
    }
    if i == HEAD {
        while let Some(block) = bytes.get(i..i + BLOCK) {
            if any_special::<BLOCK>(block) {
                return block
                    .chunks_exact(8)
                    .enumerate()
                    .find_map(|(k, word)| word_special(word).map(|p| i + 8 * k + p));
            }
            i += BLOCK;
        }
        while i + 8 <= bytes.len() {
            if let Some(p) = word_special(&bytes[i..i + 8]) {
                return Some(i + p);
            }
            i += 8;
        }
    }
    bytes[i..]
        .iter()
        .position(|&c| is_special(c))
        .map(|p| i + p)
}

/// The first special byte of an 8-byte word, by SWAR arithmetic: `(x - 0x01…) & !x & 0x80…`
/// flags zero bytes (applied to `w ^ '"'` and `w ^ '\\'`), `(w - 0x20…) & !w & 0x80…`
/// bytes below 0x20. Borrows can only flag bytes above a truly flagged one, so the
/// lowest flag is exact; bytes of 0x80 and up are never flagged.
#[inline(always)]
fn word_special(word: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let w = u64::from_le_bytes(word.try_into().ok()?);
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let flags = zero(w ^ (ONES * u64::from(b'"')))
        | zero(w ^ (ONES * u64::from(b'\\')))
        | (w.wrapping_sub(ONES * 0x20) & !w & HIGH);
    (flags != 0).then(|| (flags.trailing_zeros() / 8) as usize)
}

const HEAD: usize = 16;
const BLOCK: usize = 64;

#[inline(always)]
fn is_special(c: u8) -> bool {
    c == b'"' || c == b'\\' || c < 0x20
}

/// Whether a chunk of exactly `N` bytes holds a special byte; branch-free over a fixed
/// size, so it vectorises.
#[inline(always)]
fn any_special<const N: usize>(chunk: &[u8]) -> bool {
    let Ok(chunk) = <&[u8; N]>::try_from(chunk) else {
        return true;
    };
    let mut acc = 0u8;
    for &c in chunk {
        acc |= u8::from(c == b'"') | u8::from(c == b'\\') | u8::from(c < 0x20);
    }
    acc != 0
}

struct Validator<'a> {
    b: &'a [u8],
    i: usize,
}

impl Validator<'_> {
    /// One value from the current position, leaving the position just after it.
    fn value(&mut self, max_depth: usize) -> Option<()> {
        let mut depth = 0usize;
        // Bit `d - 1` set: the container at depth `d` is an object.
        let mut objects: u128 = 0;
        'value: loop {
            self.skip_ws();
            match self.peek()? {
                open @ (b'{' | b'[') => {
                    self.i += 1;
                    depth += 1;
                    if depth > max_depth {
                        return None;
                    }
                    let bit = 1u128 << (depth - 1);
                    let close = if open == b'{' {
                        objects |= bit;
                        b'}'
                    } else {
                        objects &= !bit;
                        b']'
                    };
                    self.skip_ws();
                    if self.peek()? == close {
                        self.i += 1;
                        depth -= 1;
                    } else {
                        if open == b'{' {
                            self.key()?;
                        }
                        continue 'value;
                    }
                }
                b'"' => self.string()?,
                b'-' | b'0'..=b'9' => self.number()?,
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                _ => return None,
            }
            // After a complete value: close containers or go on to the next element.
            loop {
                if depth == 0 {
                    return Some(());
                }
                self.skip_ws();
                let in_object = objects & (1u128 << (depth - 1)) != 0;
                match self.peek()? {
                    b',' => {
                        self.i += 1;
                        if in_object {
                            self.skip_ws();
                            self.key()?;
                        }
                        continue 'value;
                    }
                    b'}' if in_object => {}
                    b']' if !in_object => {}
                    _ => return None,
                }
                self.i += 1;
                depth -= 1;
            }
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(is_ws) {
            self.i += 1;
        }
    }

    /// `"key"` then `:`, leaving the position before the value.
    fn key(&mut self) -> Option<()> {
        if self.peek()? != b'"' {
            return None;
        }
        self.string()?;
        self.skip_ws();
        (self.peek()? == b':').then(|| self.i += 1)
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.i + word.len();
        (self.b.get(self.i..end)? == word).then(|| self.i = end)
    }

    /// A string starting at the opening quote (the input is UTF-8 already).
    fn string(&mut self) -> Option<()> {
        self.i += 1;
        loop {
            let rest = self.b.get(self.i..).unwrap_or_default();
            self.i += first_string_special(rest)?;
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    return Some(());
                }
                b'\\' => {
                    self.i += 1;
                    match self.peek()? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.i += 1,
                        b'u' => {
                            let hex = self.b.get(self.i + 1..self.i + 5)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return None;
                            }
                            self.i += 5;
                        }
                        _ => return None,
                    }
                }
                // A control character.
                _ => return None,
            }
        }
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    fn number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek()? {
            b'0' => self.i += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            self.some_digits()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            self.some_digits()?;
        }
        Some(())
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
    }

    fn some_digits(&mut self) -> Option<()> {
        let start = self.i;
        self.digits();
        (self.i > start).then_some(())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde::de::IgnoredAny;

    use super::*;

    /// Deepest bracket nesting outside strings (the reference for the depth bound).
    fn nesting_depth(bytes: &[u8]) -> usize {
        let (mut depth, mut max, mut in_str, mut escaped) = (0usize, 0usize, false, false);
        for &b in bytes {
            if in_str {
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == b'"' {
                    in_str = false;
                }
                continue;
            }
            match b {
                b'"' => in_str = true,
                b'{' | b'[' => {
                    depth += 1;
                    max = max.max(depth);
                }
                b'}' | b']' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        max
    }

    fn reference(text: &str, max_depth: usize) -> bool {
        serde_json::from_str::<IgnoredAny>(text).is_ok()
            && nesting_depth(text.as_bytes()) <= max_depth
    }

    #[test]
    fn agrees_with_serde_json_on_edge_cases() {
        let long = format!(
            r#"{{"s":"{}\"{}","n":[1,2]}}"#,
            "x".repeat(100),
            "y".repeat(40)
        );
        for text in [
            "",
            " ",
            "1",
            "-",
            "-0",
            "-01",
            "01",
            "1.",
            "1.5",
            "1e",
            "1e+",
            "1E-7",
            "1e400",
            ".5",
            "+1",
            "true",
            "tru",
            "truex",
            "null",
            "nul",
            "false",
            "[]",
            "[ ]",
            "[,]",
            "[1,]",
            "[1 2]",
            "{}",
            "{ }",
            r#"{"a"}"#,
            r#"{"a":}"#,
            r#"{"a":1,}"#,
            r#"{1:2}"#,
            r#"{"a":1 "b":2}"#,
            r#"{"a":[{"b":null}]}"#,
            "[}",
            "{]",
            "[[]",
            "[]]",
            "{} {}",
            r#""\u12G4""#,
            r#""\ud800""#,
            r#""\x""#,
            "\"a\tb\"",
            "\"a\u{1f}b\"",
            "\"é😀\"",
            r#""\"\\\/\b\f\n\r\t""#,
            " [1] ",
            "\n{}\r",
            &long,
            "\"",
            r#""abc"#,
        ] {
            assert_eq!(
                is_json_value(text.as_bytes(), 126),
                reference(text, 126),
                "{text:?}"
            );
        }
    }

    #[test]
    fn string_specials_are_found() {
        for c in 0..=255u8 {
            let mut bytes = [b'a'; 40];
            bytes[37] = c;
            let special = c == b'"' || c == b'\\' || c < 0x20;
            assert_eq!(first_string_special(&bytes), special.then_some(37));
        }
        assert_eq!(first_string_special(b""), None);
    }

    #[test]
    fn first_special_is_exact_at_every_offset() {
        // Every offset of the word, block and tail paths; high bytes and a later special
        // around it, since SWAR borrows could flag neighbours.
        for len in [7, 8, 15, 63, 64, 65, 130, 200] {
            for at in 0..len {
                for c in [b'"', b'\\', 0x00, 0x1f] {
                    let mut bytes = vec![0xc3u8; len];
                    bytes[at] = c;
                    if at + 1 < len {
                        bytes[at + 1] = 0x00;
                    }
                    assert_eq!(first_string_special(&bytes), Some(at), "{len} {at} {c}");
                }
            }
            assert_eq!(first_string_special(&vec![0x20u8; len]), None);
        }
    }

    proptest! {
        #[test]
        fn first_special_is_the_first_special_byte(
            plain in proptest::collection::vec(0x20u8..=0xff, 0..300),
            tail in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            let bytes = [plain, tail].concat();
            let naive = bytes.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20);
            prop_assert_eq!(first_string_special(&bytes), naive);
        }
    }

    #[test]
    fn depth_is_bounded_exactly() {
        for n in [1, 125, 126, 127, 128, 200] {
            let deep = format!("{}{}", "[".repeat(n), "]".repeat(n));
            assert_eq!(is_json_value(deep.as_bytes(), 126), n <= 126, "{n}");
            let objects = format!("{}1{}", r#"{"a":"#.repeat(n), "}".repeat(n));
            assert_eq!(is_json_value(objects.as_bytes(), 126), n <= 126, "{n}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        #[test]
        fn agrees_with_serde_json(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just("{"), Just("}"), Just("["), Just("]"), Just(","), Just(":"),
                    Just(" "), Just("\""), Just("\\"), Just("\\u00e9"), Just("\\n"),
                    Just("\"k\""), Just("\"some text of 40 bytes, longer than 32\""),
                    Just("1"), Just("0"), Just("-"), Just("."), Just("e"), Just("+"),
                    Just("true"), Just("null"), Just("fals"), Just("\t"), Just("\u{1}"),
                    Just("é"), Just("x"),
                ],
                0..24,
            ),
            max_depth in 1usize..6,
        ) {
            let text = parts.concat();
            prop_assert_eq!(is_json_value(text.as_bytes(), max_depth), reference(&text, max_depth), "{:?}", text);
        }

        #[test]
        fn serde_json_output_is_valid(v in proptest::arbitrary::any::<Vec<(String, i64, bool)>>()) {
            let text = serde_json::to_string(&v).unwrap_or_default();
            prop_assert!(is_json_value(text.as_bytes(), 126));
        }
    }
}
