//! Fuzzes envelope detection and unwrapping of tracewire-ws with arbitrary peer bytes, as
//! Text (when UTF-8) and Binary frames; when a message unwraps, re-encoding its payload
//! must round-trip exactly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracewire_ws::envelope::{decode, encode, Fields};
use tracewire_ws::{Format, Message};

fn check(message: &Message) {
    let Ok(decoded) = decode(message, 1 << 20) else {
        return;
    };
    let payload = decoded.message().clone();
    for format in [Format::Seed, Format::OtelWs, Format::Auto] {
        let wire = encode(format, &payload, &Fields::new(), usize::MAX).expect("no size limit");
        let again = decode(&wire, usize::MAX).expect("our own envelope decodes");
        assert_eq!(again.message(), &payload);
    }
}

fuzz_target!(|data: &[u8]| {
    check(&Message::binary(data.to_vec()));
    if let Ok(text) = std::str::from_utf8(data) {
        check(&Message::text(text.to_owned()));
    }
});
