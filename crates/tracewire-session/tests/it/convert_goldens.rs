//! Byte-exact OTLP goldens (`docs/wire-formats.md#otlp`) for older (`run_id`) and newer
//! (`execution_id`) PromptKit recordings, and order independence.
//!
//! Regenerate the goldens after an intended change with
//! `TRACEWIRE_BLESS=1 cargo test -p tracewire-session --test it convert_goldens`.

use crate::convert_support::*;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use proptest::prelude::*;
use prost::Message;
use tracewire_otlp::proto::{encode_json, encode_protobuf, to_request};
use tracewire_otlp::span::Span;
use tracewire_session::convert::{ConvertOptions, Converter};
use tracewire_session::event::{group_by_session, SessionEvent};
use tracewire_session::identity;
use tracewire_session::read::{read_jsonl, ReadOptions};

fn convert_all(events: Vec<SessionEvent>) -> Vec<Span> {
    let converter = Converter::new(ConvertOptions::default().with_capture_content(true));
    group_by_session(events)
        .into_iter()
        .flat_map(|(id, events)| converter.convert_session(&id, &events).spans)
        .collect()
}

fn encodings(name: &str) -> (Vec<u8>, Vec<u8>) {
    let spans = convert_all(fixture(name));
    let request = to_request(
        &spans,
        &identity::promptkit_resource(),
        &identity::promptkit_scope(),
    );
    let json = encode_json(&request).unwrap();
    let pb = encode_protobuf(&request);
    // The protobuf decodes back to the same request.
    assert_eq!(
        ExportTraceServiceRequest::decode(pb.as_slice()).unwrap(),
        request
    );
    (json, pb)
}

fn check_golden(name: &str) {
    let stem = name.trim_end_matches(".jsonl");
    let json_path = fixture_path(&format!("{stem}.otlp.json"));
    let pb_path = fixture_path(&format!("{stem}.otlp.pb"));
    let (json, pb) = encodings(name);
    if std::env::var_os("TRACEWIRE_BLESS").is_some() {
        std::fs::write(&json_path, &json).unwrap();
        std::fs::write(&pb_path, &pb).unwrap();
    }
    let want_json = std::fs::read(&json_path).unwrap();
    let want_pb = std::fs::read(&pb_path).unwrap();
    assert!(
        json == want_json,
        "{stem}: OTLP/JSON differs from its golden"
    );
    assert!(pb == want_pb, "{stem}: protobuf differs from its golden");
    // A second run is byte-identical.
    let (json2, pb2) = encodings(name);
    assert_eq!(json, json2);
    assert_eq!(pb, pb2);
}

#[test]
fn older_run_id_recording_matches_goldens() {
    check_golden("pk_run_id.jsonl");
}

#[test]
fn newer_execution_id_recording_matches_goldens() {
    check_golden("pk_execution_id.jsonl");
}

#[test]
fn golden_json_has_string_nanos_and_int_values() {
    let json = std::fs::read_to_string(fixture_path("pk_run_id.otlp.json")).unwrap();
    assert!(json.contains(r#""traceId":"84097828fc31a8c8d29210df48901a85""#));
    assert!(json.contains(r#""spanId":"beea37abe42685c0""#));
    assert!(json.contains(r#"{"intValue":"100"}"#));
    assert!(json.contains(r#""stringValue":"{\"a\":\"\\u003cb\\u003e\",\"q\":\"test\"}""#));
}

fn fixture_lines(name: &str) -> Vec<String> {
    std::fs::read_to_string(fixture_path(name))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn convert_lines(lines: &[String]) -> Vec<Span> {
    let text = lines.join("\n");
    let events: Vec<_> = read_jsonl(text.as_bytes(), ReadOptions::default())
        .map(Result::unwrap)
        .collect();
    convert_all(events)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    /// Input order never matters (sorted by timestamp and seq).
    #[test]
    fn permuted_lines_give_identical_output(
        lines in Just(fixture_lines("pk_run_id.jsonl")).prop_shuffle(),
        sample in Just(std::fs::read_to_string(sample_path()).unwrap().lines().map(str::to_owned).collect::<Vec<_>>()).prop_shuffle(),
    ) {
        let want = convert_lines(&fixture_lines("pk_run_id.jsonl"));
        prop_assert_eq!(convert_lines(&lines), want);
        let want = convert_lines(&std::fs::read_to_string(sample_path()).unwrap().lines().map(str::to_owned).collect::<Vec<_>>());
        prop_assert_eq!(convert_lines(&sample), want);
    }
}
