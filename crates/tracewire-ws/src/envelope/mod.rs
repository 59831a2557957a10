//! The envelope codec: trace fields and the application's payload in one JSON
//! body, in the Seed (`{"headers":…,"payload":"<base64>"}`), OtelWs
//! (`{"header":…,"data":…}`) and legacy flat forms.
//!
//! The codec is pure (no I/O, no OpenTelemetry); [`crate::TracedWebSocket`] drives it. It
//! is public for benchmarks, fuzzing and for callers that move messages by other means.
//! The formats, byte by byte: [docs/wire-formats.md#websocket-envelopes](https://github.com/tracewire/tracewire/blob/main/docs/wire-formats.md#websocket-envelopes).

mod decode;
mod encode;
mod fields;
mod json;
mod validate;

pub use decode::{decode, Decoded};
pub use encode::encode;
pub use fields::{FieldView, Fields};

/// The envelope format a writer uses ([docs/wire-formats.md#choosing-the-format-on-send](https://github.com/tracewire/tracewire/blob/main/docs/wire-formats.md#choosing-the-format-on-send)).
///
/// Every reader detects all formats whatever its own `Format`; between two copies of this
/// crate every payload round-trips exactly, with its opcode, in every format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// otelwebsocket v0.1.0: `{"headers":{…},"payload":"<base64>"}`. Lossless for every
    /// payload; read by v0.1.0 peers. The default.
    Seed,
    /// otel-gorilla-ws ≥ 0.2 / otel-ws: `{"header":{…},"data":…}` with JSON payloads
    /// embedded verbatim and other text as a JSON string.
    ///
    /// **Fallback:** a Binary frame that is not valid UTF-8 cannot be carried by this format
    /// and is written as Seed. Go/JS peers cannot carry such payloads at all and see the Seed
    /// object as an ordinary message; a copy of this crate unwraps it exactly.
    OtelWs,
    /// Text frames as OtelWs, all Binary frames as Seed (no UTF-8 scan). Best between Rust
    /// peers.
    Auto,
}

/// Which envelope a received message carried ([docs/wire-formats.md#detecting-the-envelope-on-receive](https://github.com/tracewire/tracewire/blob/main/docs/wire-formats.md#detecting-the-envelope-on-receive)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EnvelopeKind {
    /// No envelope: the message was passed through unchanged.
    None,
    /// The Seed format (`headers` + base64 `payload`).
    Seed,
    /// The OtelWs format (`header` + `data`).
    OtelWs,
    /// otel-gorilla-ws 0.1.1's trace members inside the application's object.
    LegacyFlat,
}

impl EnvelopeKind {
    /// The value of the `websocket.envelope` span attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            EnvelopeKind::None => "none",
            EnvelopeKind::Seed => "seed",
            EnvelopeKind::OtelWs => "otel-ws",
            EnvelopeKind::LegacyFlat => "legacy-flat",
        }
    }
}

/// Why a received envelope could not be unwrapped ([docs/wire-formats.md#detecting-the-envelope-on-receive](https://github.com/tracewire/tracewire/blob/main/docs/wire-formats.md#detecting-the-envelope-on-receive)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum Malformed {
    /// `headers` / `header` is not an object whose values are all strings.
    #[error("trace headers are not an object of strings")]
    Headers,
    /// `payload` is neither a string nor `null`.
    #[error("payload is not a string or null")]
    PayloadType,
    /// `payload` is not valid standard base64.
    #[error("payload is not valid base64")]
    Base64,
    /// A Text frame's Seed payload decodes to bytes that are not UTF-8.
    #[error("text payload is not valid UTF-8")]
    Utf8,
    /// A JSON string (`data` or `payload`) contains an invalid escape such as a lone
    /// surrogate.
    #[error("invalid escape in a JSON string")]
    Escape,
    /// An envelope key appears more than once.
    #[error("duplicate envelope key")]
    DuplicateKey,
}

/// Default bound of encoded and decoded envelopes: 64 MiB.
pub const DEFAULT_MAX_ENVELOPE_SIZE: usize = 64 << 20;
