//! Fuzz target: `TraceState::parse` never panics, and parse → format → parse is stable.
//!
//! A header of at most 512 characters re-parses to exactly the first parse; a longer
//! one is truncated by whole entries, so its re-parse keeps a subsequence of the
//! entries, in order, and formats to at most 512 characters. Formatting the re-parse
//! gives the same bytes again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracewire_context::TraceState;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    // Also exercise the multi-header path: split the input at NUL bytes.
    let first = match TraceState::parse_headers(input.split('\0')) {
        Ok(state) => state,
        Err(_) => return,
    };
    assert!(first.len() <= 32);
    let formatted = first.header();
    assert!(
        formatted.len() <= 512,
        "header too long: {}",
        formatted.len()
    );
    let second = TraceState::parse(&formatted)
        .unwrap_or_else(|e| panic!("formatted {formatted:?} of {input:?} does not parse: {e}"));
    let full: usize = first
        .iter()
        .map(|(k, v)| k.len() + 1 + v.len())
        .sum::<usize>()
        + first.len().saturating_sub(1);
    if full <= 512 {
        assert_eq!(second, first, "round trip changed {input:?}");
    } else {
        let mut rest = first.iter();
        for kept in second.iter() {
            assert!(
                rest.any(|e| e == kept),
                "{kept:?} not an in-order entry of the input"
            );
        }
    }
    assert_eq!(second.header(), formatted, "format is not a fixed point");
});
