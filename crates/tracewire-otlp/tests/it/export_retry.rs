//! Retry rules (`docs/exporter.md#retry`) on Tokio's paused clock with a fake HTTP client.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;
use tracewire_otlp::export::{
    BoxFuture, ExportError, HttpClient, OtlpHttpExporter, RetryPolicy, TransportError,
    TransportErrorKind,
};
use tracewire_test_support::spans::spans;

type Answer = Result<(u16, Option<&'static str>), TransportErrorKind>;

#[derive(Debug, Clone, Default)]
struct Fake {
    answers: Arc<Mutex<VecDeque<Answer>>>,
    calls: Arc<Mutex<Vec<Instant>>>,
}

impl Fake {
    fn new(answers: impl IntoIterator<Item = Answer>) -> Self {
        let f = Fake::default();
        f.answers.lock().expect("lock").extend(answers);
        f
    }
    fn calls(&self) -> Vec<Instant> {
        self.calls.lock().expect("lock").clone()
    }
}

impl HttpClient for Fake {
    fn send(
        &self,
        _req: http::Request<Bytes>,
    ) -> BoxFuture<'_, Result<http::Response<Bytes>, TransportError>> {
        self.calls.lock().expect("lock").push(Instant::now());
        let answer = self
            .answers
            .lock()
            .expect("lock")
            .pop_front()
            .unwrap_or(Ok((200, None)));
        Box::pin(async move {
            match answer {
                Ok((code, retry_after)) => {
                    let mut b = http::Response::builder().status(code);
                    if let Some(v) = retry_after {
                        b = b.header("retry-after", v);
                    }
                    Ok(b.body(Bytes::new()).expect("response"))
                }
                Err(kind) => Err(TransportError::new(kind, "fake failure")),
            }
        })
    }
}

fn exporter(fake: &Fake, policy: RetryPolicy) -> OtlpHttpExporter {
    OtlpHttpExporter::builder()
        .with_env_vars(Vec::<(String, String)>::new())
        .with_endpoint("http://127.0.0.1:9/v1/traces")
        .with_http_client(fake.clone())
        .with_retry(policy)
        .build()
        .expect("build")
}

#[tokio::test(start_paused = true)]
async fn status_503_503_200_gives_three_attempts_then_success() {
    let fake = Fake::new([Ok((503, None)), Ok((503, None)), Ok((200, None))]);
    let exp = exporter(&fake, RetryPolicy::default());
    let outcome = exp.export(&spans(3)).await.expect("export succeeds");
    assert_eq!((outcome.attempts, outcome.sent), (3, 3));
    let calls = fake.calls();
    assert_eq!(calls.len(), 3);
    // Backoff with 20 % jitter: 0.4–0.5 s, then 0.8–1.0 s.
    let d1 = calls[1] - calls[0];
    let d2 = calls[2] - calls[1];
    assert!(
        d1 >= Duration::from_millis(400) && d1 <= Duration::from_millis(500),
        "{d1:?}"
    );
    assert!(
        d2 >= Duration::from_millis(800) && d2 <= Duration::from_millis(1000),
        "{d2:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn retry_after_on_429_is_honoured() {
    let fake = Fake::new([Ok((429, Some("2"))), Ok((200, None))]);
    let exp = exporter(&fake, RetryPolicy::default());
    exp.export(&spans(1)).await.expect("export succeeds");
    let calls = fake.calls();
    assert_eq!(calls.len(), 2);
    assert!(
        calls[1] - calls[0] >= Duration::from_secs(2),
        "{:?}",
        calls[1] - calls[0]
    );
}

#[tokio::test(start_paused = true)]
async fn retryable_statuses_and_transport_errors_are_retried() {
    for answer in [
        Ok((502, None)),
        Ok((504, None)),
        Err(TransportErrorKind::Connect),
        Err(TransportErrorKind::Timeout),
    ] {
        let fake = Fake::new([answer, Ok((200, None))]);
        let exp = exporter(&fake, RetryPolicy::default());
        exp.export(&spans(1)).await.expect("retried to success");
        assert_eq!(fake.calls().len(), 2, "{answer:?}");
    }
    for answer in [
        Ok((400, None)),
        Ok((401, None)),
        Ok((500, None)),
        Ok((501, None)),
        Err(TransportErrorKind::Other),
    ] {
        let fake = Fake::new([answer, Ok((200, None))]);
        let exp = exporter(&fake, RetryPolicy::default());
        assert!(exp.export(&spans(1)).await.is_err(), "{answer:?}");
        assert_eq!(fake.calls().len(), 1, "{answer:?} is not retried");
    }
}

#[tokio::test(start_paused = true)]
async fn retry_after_past_the_window_fails_without_sleeping() {
    let fake = Fake::new([Ok((503, Some("120")))]);
    let exp = exporter(&fake, RetryPolicy::default());
    let start = Instant::now();
    match exp.export(&spans(1)).await {
        Err(ExportError::RetryWindowExceeded { last, retry }) => {
            assert!(matches!(*last, ExportError::Status { code: 503, .. }));
            assert_eq!(retry.retry_after, Some(Duration::from_secs(120)));
            assert!(!retry.will_retry);
            assert_eq!(retry.attempt, 1);
        }
        other => panic!("expected RetryWindowExceeded, got {other:?}"),
    }
    assert_eq!(
        start.elapsed(),
        Duration::ZERO,
        "no sleep on the paused clock"
    );
    assert_eq!(fake.calls().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_window_bounds_the_attempts() {
    let fake = Fake::new(std::iter::repeat_n(Ok((503, None)), 100));
    let exp = exporter(
        &fake,
        RetryPolicy::default().with_window(Duration::from_secs(10)),
    );
    let start = Instant::now();
    assert!(matches!(
        exp.export(&spans(1)).await,
        Err(ExportError::RetryWindowExceeded { .. })
    ));
    let calls = fake.calls();
    assert!(
        calls.len() >= 3 && calls.len() < 10,
        "{} attempts",
        calls.len()
    );
    for c in &calls {
        assert!(
            *c - start <= Duration::from_secs(10),
            "an attempt started outside the window"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn disabled_policy_never_retries() {
    let fake = Fake::new([Ok((503, None)), Ok((200, None))]);
    let exp = exporter(&fake, RetryPolicy::disabled());
    assert!(matches!(
        exp.export(&spans(1)).await,
        Err(ExportError::Status { code: 503, .. })
    ));
    assert_eq!(fake.calls().len(), 1);
}
