//! Errors of the traced WebSocket (`docs/websocket.md#errors`).

use tungstenite::error::CapacityError;
use tungstenite::Message;

use crate::envelope::{EnvelopeKind, Malformed};

/// Everything a traced send, receive or handshake can fail with.
///
/// Transport errors are tungstenite's, unchanged, except the two the caller can act on
/// (`MessageTooLong`, `WriteBufferFull`), which get their own variants.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A transport or handshake error from tungstenite, unchanged.
    #[error(transparent)]
    WebSocket(tungstenite::Error),
    /// A message exceeded tungstenite's `max_message_size` / `max_frame_size`.
    #[error("message too long: {size} > {max}")]
    MessageTooLong {
        /// Size of the offending message in bytes.
        size: usize,
        /// The configured limit.
        max: usize,
    },
    /// An envelope (encoded or received) exceeded `Options::with_max_envelope_size`.
    #[error("envelope of {size} bytes exceeds {max}")]
    EnvelopeTooLarge {
        /// Size of the envelope in bytes.
        size: usize,
        /// The configured limit.
        max: usize,
    },
    /// A received message looked like an envelope but could not be unwrapped; only this
    /// message is affected.
    #[error("malformed {format:?} envelope: {reason}")]
    MalformedEnvelope {
        /// The envelope format that was detected.
        format: EnvelopeKind,
        /// What was wrong with it.
        reason: Malformed,
    },
    /// tungstenite's write buffer is full; holds the caller's original (unwrapped) message.
    #[error("write buffer full")]
    WriteBufferFull(Box<Message>),
    /// The TLS client for a `wss://` connection could not be set up (for example, the
    /// platform's trust store could not be read).
    #[error("TLS set-up failed: {0}")]
    Tls(String),
}

impl Error {
    /// `true` for errors that affect a single message (`EnvelopeTooLarge`,
    /// `MalformedEnvelope`): the stream goes on. Every other error ends the stream.
    pub fn is_message_level(&self) -> bool {
        matches!(
            self,
            Error::EnvelopeTooLarge { .. } | Error::MalformedEnvelope { .. }
        )
    }

    /// Maps a tungstenite error, replacing the wrapped message of `WriteBufferFull` by the
    /// caller's `original` when one is given.
    pub(crate) fn from_ws(err: tungstenite::Error, original: Option<Message>) -> Error {
        match err {
            tungstenite::Error::Capacity(CapacityError::MessageTooLong { size, max_size }) => {
                Error::MessageTooLong {
                    size,
                    max: max_size,
                }
            }
            tungstenite::Error::WriteBufferFull(msg) => {
                Error::WriteBufferFull(original.map(Box::new).unwrap_or(msg))
            }
            other => Error::WebSocket(other),
        }
    }

    /// `true` when the error only says the stream has already ended (nothing to record).
    pub(crate) fn is_stream_end(&self) -> bool {
        matches!(
            self,
            Error::WebSocket(tungstenite::Error::ConnectionClosed)
                | Error::WebSocket(tungstenite::Error::AlreadyClosed)
        )
    }
}

impl From<tungstenite::Error> for Error {
    fn from(err: tungstenite::Error) -> Self {
        Error::from_ws(err, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_maps_to_message_too_long() {
        let err = Error::from(tungstenite::Error::Capacity(
            CapacityError::MessageTooLong {
                size: 10,
                max_size: 5,
            },
        ));
        assert!(matches!(err, Error::MessageTooLong { size: 10, max: 5 }));
        assert!(!err.is_message_level());
    }

    #[test]
    fn write_buffer_full_holds_original() {
        let wrapped = Message::text("{\"headers\":{},\"payload\":\"\"}");
        let original = Message::text("");
        let err = Error::from_ws(
            tungstenite::Error::WriteBufferFull(Box::new(wrapped)),
            Some(original.clone()),
        );
        match err {
            Error::WriteBufferFull(m) => assert_eq!(*m, original),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn envelope_errors_are_message_level() {
        assert!(Error::EnvelopeTooLarge { size: 2, max: 1 }.is_message_level());
        assert!(Error::MalformedEnvelope {
            format: EnvelopeKind::Seed,
            reason: Malformed::Base64
        }
        .is_message_level());
        assert!(Error::from(tungstenite::Error::ConnectionClosed).is_stream_end());
    }
}
