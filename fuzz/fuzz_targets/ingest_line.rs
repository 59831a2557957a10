//! Fuzzes the collector's ingest path: the line splitter over arbitrary chunking, the ingest
//! line decoder (never panics; an accepted event re-encodes and decodes to itself) and the
//! view line decoder.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracewire_collector::lines::{LineEvent, LineSplitter};
use tracewire_collector::wire::{decode_ingest_line, decode_view_line, encode_ingest_line};

fuzz_target!(|data: &[u8]| {
    // Whole input as one line.
    check_line(data);
    // Split with a small limit, chunked by the first byte.
    let chunk = usize::from(data.first().copied().unwrap_or(1)).max(1);
    let mut splitter = LineSplitter::new(256);
    let mut on_line = |ev: LineEvent<'_>| {
        if let LineEvent::Line(line) = ev {
            assert!(line.len() <= 256);
            check_line(line);
        }
    };
    for part in data.chunks(chunk) {
        splitter.push(part, &mut on_line);
        assert!(splitter.buffered() <= 257);
    }
    splitter.finish(&mut on_line);
});

fn check_line(line: &[u8]) {
    if let Ok(event) = decode_ingest_line(line) {
        let mut out = Vec::new();
        encode_ingest_line(&event, &mut out);
        let again = decode_ingest_line(&out[..out.len() - 1]);
        assert_eq!(again.as_ref(), Ok(&event));
    }
    let _ = decode_view_line(line);
}
