//! The workspace's one RFC3339Nano formatter: a Unix time in nanoseconds as the text Go's
//! `time.RFC3339Nano` writes in UTC (`2025-06-01T01:00:00.123456789Z`, trailing fraction
//! zeros removed, no fraction for whole seconds).
//!
//! OTLP span times (`u64`), the collector's timestamps (`i64`) and session event times
//! all render through [`rfc3339_nano`], so the text is the same everywhere. The `time`
//! crate does the work; the result lives on the stack.
//!
//! ```
//! use tracewire_otlp::rfc3339::rfc3339_nano;
//!
//! assert_eq!(rfc3339_nano(1_748_739_600_123_456_789).as_str(), "2025-06-01T01:00:00.123456789Z");
//! assert_eq!(rfc3339_nano(1_748_739_600_500_000_000).as_str(), "2025-06-01T01:00:00.5Z");
//! assert_eq!(rfc3339_nano(0).as_str(), "1970-01-01T00:00:00Z");
//! assert_eq!(rfc3339_nano(-500_000_000).as_str(), "1969-12-31T23:59:59.5Z");
//! ```

use std::fmt;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The first instant RFC 3339 can write (`0000-01-01T00:00:00Z`), in Unix nanoseconds.
const MIN_NANOS: i128 = -62_167_219_200 * 1_000_000_000;
/// The last instant RFC 3339 can write (`9999-12-31T23:59:59.999999999Z`).
const MAX_NANOS: i128 = 253_402_300_800 * 1_000_000_000 - 1;
/// The longest text: `9999-12-31T23:59:59.999999999Z`.
const MAX_LEN: usize = 30;

/// RFC3339Nano text held on the stack; see [`rfc3339_nano`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Rfc3339Buf {
    bytes: [u8; MAX_LEN],
    len: usize,
}

impl Rfc3339Buf {
    /// The text.
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever written, and `len` never exceeds the buffer.
        self.bytes
            .get(..self.len)
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or_default()
    }
}

impl fmt::Display for Rfc3339Buf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Rfc3339Buf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// Go's RFC3339Nano text of `unix_nanos` (nanoseconds since the Unix epoch, negative
/// before it) in UTC, without allocating.
///
/// Every `i64` and `u64` time is in range; an `i128` beyond the years 0000–9999, which RFC
/// 3339 cannot write, is clamped to the nearest end.
pub fn rfc3339_nano(unix_nanos: i128) -> Rfc3339Buf {
    let mut buf = Rfc3339Buf {
        bytes: [0; MAX_LEN],
        len: 0,
    };
    let nanos = unix_nanos.clamp(MIN_NANOS, MAX_NANOS);
    if let Ok(time) = OffsetDateTime::from_unix_timestamp_nanos(nanos) {
        let mut out = &mut buf.bytes[..];
        // In range (clamped above) and at most MAX_LEN bytes, so formatting cannot fail.
        // The length is what the writer consumed: `format_into`'s returned count leaves
        // out the fraction digits (time 0.3.55).
        if time.format_into(&mut out, &Rfc3339).is_ok() {
            buf.len = MAX_LEN - out.len();
        }
    }
    buf
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// An independent RFC3339Nano: `time`'s calendar, the fraction trimmed by hand.
    fn reference(nanos: i128) -> String {
        let t =
            OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let mut s = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        );
        if t.nanosecond() != 0 {
            s.push('.');
            s.push_str(format!("{:09}", t.nanosecond()).trim_end_matches('0'));
        }
        s.push('Z');
        s
    }

    #[test]
    fn ends_of_the_range() {
        assert_eq!(
            rfc3339_nano(MAX_NANOS).as_str(),
            "9999-12-31T23:59:59.999999999Z"
        );
        assert_eq!(
            rfc3339_nano(i128::MAX).as_str(),
            "9999-12-31T23:59:59.999999999Z"
        );
        assert_eq!(rfc3339_nano(MIN_NANOS).as_str(), "0000-01-01T00:00:00Z");
        assert_eq!(rfc3339_nano(i128::MIN).as_str(), "0000-01-01T00:00:00Z");
        assert_eq!(
            rfc3339_nano(i64::MIN.into()).as_str(),
            "1677-09-21T00:12:43.145224192Z"
        );
        assert_eq!(
            rfc3339_nano(u64::MAX.into()).as_str(),
            "2554-07-21T23:34:33.709551615Z"
        );
        assert_eq!(format!("{:?}", rfc3339_nano(0)), "\"1970-01-01T00:00:00Z\"");
    }

    proptest! {
        #[test]
        fn matches_the_reference(nanos in MIN_NANOS..=MAX_NANOS) {
            prop_assert_eq!(rfc3339_nano(nanos).to_string(), reference(nanos));
        }

        #[test]
        fn parses_back_with_time(nanos in i128::from(i64::MIN)..=i128::from(u64::MAX)) {
            let text = rfc3339_nano(nanos);
            let parsed = OffsetDateTime::parse(text.as_str(), &Rfc3339);
            prop_assert_eq!(parsed.map(|t| t.unix_timestamp_nanos()).ok(), Some(nanos));
        }
    }
}
