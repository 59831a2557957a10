//! Fuzz target: `XRayHeader::parse` never panics, and parse → format → parse is stable.
//!
//! Parsing normalises (lowercase hex, canonical key case, trimmed fields), so the
//! re-parse must equal the first parse exactly and formatting it must give the same
//! bytes again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracewire_context::XRayHeader;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(first) = XRayHeader::parse(input) else {
        return;
    };
    let formatted = first.to_string();
    let second = XRayHeader::parse(&formatted)
        .unwrap_or_else(|e| panic!("formatted {formatted:?} of {input:?} does not parse: {e}"));
    assert_eq!(second, first, "round trip changed {input:?}");
    assert_eq!(second.to_string(), formatted, "format is not a fixed point");
});
