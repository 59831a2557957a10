//! Fuzz target: the session JSONL reader never panics, every line is accounted for, every
//! event survives a write/read round trip in both formats, and converting whatever was
//! read never panics and yields unique span ids.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracewire_session::convert::{ConvertOptions, Converter};
use tracewire_session::event::{group_by_session, SessionEvent};
use tracewire_session::read::{parse_line, read_jsonl, ReadOptions};
use tracewire_session::write::{native_line, promptkit_line};

/// Equal in everything but where it was read from (format and line number).
fn same(a: &SessionEvent, b: &SessionEvent) -> bool {
    let mut b = b.clone();
    (b.format, b.line) = (a.format, a.line);
    *a == b
}

fuzz_target!(|data: &[u8]| {
    let mut reader = read_jsonl(data, ReadOptions::default().with_max_line_bytes(4096));
    let events: Vec<SessionEvent> = reader.by_ref().filter_map(Result::ok).collect();
    let stats = reader.stats();
    assert_eq!(stats.lines, stats.events + stats.blank + stats.malformed);
    assert_eq!(stats.events, events.len() as u64);
    assert!(stats.first_malformed.len() <= 10);
    for event in &events {
        let native = parse_line(&native_line(event), 1).expect("native line re-reads");
        assert!(same(event, &native), "native round trip changed {event:?}");
        let pk = parse_line(&promptkit_line(event), 1).expect("PromptKit line re-reads");
        assert!(same(event, &pk), "PromptKit round trip changed {event:?}");
    }
    let converter = Converter::new(ConvertOptions::default().with_capture_content(true));
    for (id, events) in group_by_session(events) {
        let out = converter.convert_session(&id, &events);
        let mut ids: Vec<_> = out.spans.iter().map(|s| s.span_id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), out.spans.len(), "duplicate span ids");
        for span in &out.spans {
            assert!(span.end_time_unix_nano >= span.start_time_unix_nano);
        }
    }
});
