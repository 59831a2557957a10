//! Fuzz target: `Baggage` parsing never panics, and parse → format → parse is stable.
//!
//! Formatting percent-encodes values and keeps at most 64 members / 8192 bytes by
//! dropping whole members from the end, so the re-parse must be a prefix of the first
//! parse (all of it when nothing had to be dropped), and formatting the re-parse must
//! give the same bytes again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracewire_context::Baggage;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    // Also exercise the multi-header path: split the input at NUL bytes.
    let (first, _error) = Baggage::parse_reporting(input.split('\0'));
    assert!(first.len() <= 64);
    let formatted = first.header();
    assert!(
        formatted.len() <= 8192,
        "header too long: {}",
        formatted.len()
    );
    let (second, error) = Baggage::parse_reporting([formatted.as_str()]);
    assert_eq!(
        error, None,
        "formatted {formatted:?} of {input:?} has an invalid member"
    );
    assert!(second.len() <= first.len());
    for (a, b) in first.iter().zip(second.iter()) {
        assert_eq!(a, b, "round trip changed a member of {input:?}");
    }
    if let Some(next) = first.iter().nth(second.len()) {
        // Only the byte limit may drop members: the next one must not have fitted.
        let mut alone = Baggage::new();
        if alone.insert_member(next.clone()).is_ok() {
            let needed =
                formatted.len() + usize::from(!formatted.is_empty()) + alone.header().len();
            assert!(needed > 8192, "member {next:?} dropped although it fits");
        }
    }
    assert_eq!(second.header(), formatted, "format is not a fixed point");
});
