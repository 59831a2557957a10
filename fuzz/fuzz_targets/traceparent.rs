//! Fuzz target: `Traceparent::parse` never panics, and parse → format → parse is stable.
//!
//! Formatting always writes version `00` and only the propagated flag bits, so the
//! re-parse must equal the first parse with exactly that normalisation, and formatting
//! the re-parse must give the same bytes again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracewire_context::Traceparent;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(first) = Traceparent::parse(input) else {
        return;
    };
    let formatted = first.to_string();
    assert_eq!(formatted.len(), 55, "formatted {formatted:?}");
    let second = Traceparent::parse(&formatted)
        .unwrap_or_else(|e| panic!("formatted {formatted:?} of {input:?} does not parse: {e}"));
    assert_eq!(second.version, 0);
    assert_eq!(second.trace_id, first.trace_id);
    assert_eq!(second.parent_id, first.parent_id);
    assert_eq!(second.flags, first.flags.propagated());
    assert_eq!(second.to_string(), formatted, "format is not a fixed point");
});
