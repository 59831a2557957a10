//! The collector's OTLP/HTTP receiver parser: arbitrary bytes as protobuf, JSON and gzip
//! bodies never panic, and every accepted span is well-formed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracewire_collector::__fuzz::parse_export_request;
use tracewire_collector::otlp::Encoding;

fuzz_target!(|data: &[u8]| {
    for format in [Encoding::Protobuf, Encoding::Json] {
        for gzip in [false, true] {
            if let Ok(parsed) = parse_export_request(format, data, gzip) {
                for span in &parsed.spans {
                    assert!(span.end >= span.start);
                    assert!(span.span_id.is_valid());
                    assert_eq!(span.trace_id.to_string().len(), 32);
                }
                assert_eq!(parsed.first_error.is_some(), parsed.rejected > 0);
            }
        }
    }
});
