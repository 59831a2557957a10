//! Oversize peer messages: `MessageTooLong` and Close 1009 (`docs/websocket.md#errors`).

use crate::common::*;
use futures_util::{SinkExt, StreamExt};
use tracewire_ws::{Error, Message, Options, WebSocketConfig};
use tungstenite::protocol::frame::coding::CloseCode;

fn small() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(1024))
        .max_frame_size(Some(1024))
}

#[tokio::test]
async fn oversize_peer_message_gives_message_too_long_and_close_1009() {
    let (mut raw, mut s) =
        raw_client_traced_server(Options::default().with_websocket_config(small())).await;
    raw.send(Message::binary(vec![b'x'; 4096])).await.unwrap();
    match recv(&mut s).await {
        Err(Error::MessageTooLong { size, max }) => {
            assert_eq!(max, 1024);
            assert!(size > 1024);
        }
        other => panic!("{other:?}"),
    }
    match raw_next(&mut raw).await {
        Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::Size),
        other => panic!("expected Close 1009, got {other:?}"),
    }
}

#[tokio::test]
async fn oversize_peer_message_without_close_on_capacity_sends_no_close() {
    let opts = Options::default()
        .with_websocket_config(small())
        .with_close_on_capacity(false);
    let (mut raw, mut s) = raw_client_traced_server(opts).await;
    raw.send(Message::binary(vec![b'x'; 4096])).await.unwrap();
    assert!(matches!(
        recv(&mut s).await,
        Err(Error::MessageTooLong { max: 1024, .. })
    ));
    drop(s);
    // The connection just goes away: no Close frame arrives first.
    let next = tokio::time::timeout(TIMEOUT, raw.next())
        .await
        .expect("in time");
    assert!(!matches!(next, Some(Ok(Message::Close(_)))), "{next:?}");
}

#[tokio::test]
async fn oversize_message_on_split_stream_makes_the_sink_send_close_1009() {
    let (mut raw, s) =
        raw_client_traced_server(Options::default().with_websocket_config(small())).await;
    let (mut sink, mut stream) = s.split();
    raw.send(Message::binary(vec![b'x'; 4096])).await.unwrap();
    let got = tokio::time::timeout(TIMEOUT, stream.next())
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(got, Err(Error::MessageTooLong { .. })));
    // The sink sends the pending Close 1009 before its next frame (which then fails or is sent).
    let _ = sink
        .send(&opentelemetry::Context::new(), Message::text("after"))
        .await;
    match raw_next(&mut raw).await {
        Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::Size),
        other => panic!("expected Close 1009, got {other:?}"),
    }
}
