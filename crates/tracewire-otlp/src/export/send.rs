//! Sending parts: the per-request retry loop and response handling.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use prost::Message;
use tokio::time::Instant;

use super::config::{Compression, Protocol};
use super::encode::{plan, BodyFormat, Part, SpanBatch};
use super::error::{body_excerpt, ExportError};
use super::retry::{is_retryable_status, parse_retry_after, RetryState};
use super::{ExportContext, ExportOutcome, ExportReport, Inner};

/// The result of sending one part.
enum PartResult {
    Accepted {
        outcome: ExportOutcome,
    },
    Failed {
        error: ExportError,
        attempts: u32,
        bytes: u64,
    },
}

impl Inner {
    pub(crate) async fn send_batch(
        &self,
        resource: &ProtoResource,
        batch: SpanBatch,
        ctx: ExportContext<'_>,
    ) -> ExportReport {
        let mut report = ExportReport::default();
        let total = batch.len() as u64;
        if total == 0 {
            return report;
        }
        if self.shutdown.load(Ordering::SeqCst) {
            report.dropped = total;
            report.errors.push(ExportError::Shutdown);
            return report;
        }
        if self.config.sdk_disabled {
            // OTEL_SDK_DISABLED: nothing is sent, and that is not a failure.
            report.outcome.disabled = total;
            return report;
        }
        let format = BodyFormat {
            protocol: self.config.protocol,
            compression: self.config.compression,
            limit: self.config.max_request_bytes,
        };
        for part in plan(resource, batch, format) {
            match part {
                Part::Ready { body, spans, .. } => match self.send_part(body, spans, ctx).await {
                    PartResult::Accepted { outcome } => report.absorb_outcome(&outcome),
                    PartResult::Failed {
                        error,
                        attempts,
                        bytes,
                    } => {
                        report.outcome.attempts += attempts;
                        report.outcome.bytes += bytes;
                        report.failed += spans as u64;
                        report.errors.push(error);
                    }
                },
                Part::TooLarge { bytes, limit } => {
                    report.dropped += 1;
                    report
                        .errors
                        .push(ExportError::SpanTooLarge { bytes, limit });
                }
                Part::Failed { error, spans } => {
                    report.dropped += spans as u64;
                    report.errors.push(error);
                }
            }
        }
        report
    }

    fn request(&self, body: Bytes) -> Result<http::Request<Bytes>, ExportError> {
        let mut builder = http::Request::post(self.config.endpoint.clone())
            .header(
                http::header::CONTENT_TYPE,
                self.config.protocol.content_type(),
            )
            .header(http::header::USER_AGENT, self.user_agent.clone());
        if self.config.compression == Compression::Gzip {
            builder = builder.header(http::header::CONTENT_ENCODING, "gzip");
        }
        if let Some(headers) = builder.headers_mut() {
            for (name, value) in &self.config.headers {
                headers.insert(name.clone(), value.clone());
            }
        }
        builder
            .body(body)
            .map_err(|e| ExportError::Encode(e.to_string()))
    }

    async fn send_part(&self, body: Bytes, spans: usize, ctx: ExportContext<'_>) -> PartResult {
        let policy = self.config.retry;
        let window = ctx.retry_window.unwrap_or(policy.window);
        let first = Instant::now();
        let mut attempt: u32 = 0;
        let mut bytes: u64 = 0;
        loop {
            attempt += 1;
            let req = match self.request(body.clone()) {
                Ok(r) => r,
                Err(error) => {
                    return PartResult::Failed {
                        error,
                        attempts: attempt - 1,
                        bytes,
                    }
                }
            };
            bytes += body.len() as u64;
            let sent = tokio::time::timeout(self.config.timeout, self.client.send(req)).await;
            let elapsed = first.elapsed();
            let state = |retryable: bool, retry_after: Option<Duration>| -> RetryState {
                let mut s = RetryState::final_attempt(attempt, elapsed, window);
                s.retry_after = retry_after;
                if retryable && policy.enabled {
                    let delay = retry_after.unwrap_or_else(|| policy.delay(attempt));
                    if elapsed.saturating_add(delay) <= window {
                        s.next_delay = Some(delay);
                        s.will_retry = true;
                    }
                }
                s
            };
            let (error, retryable) = match sent {
                Err(_elapsed) => {
                    let retry = state(true, None);
                    let source = super::TransportError::new(
                        super::TransportErrorKind::Timeout,
                        format!("no response within {:?}", self.config.timeout),
                    );
                    (ExportError::Transport { source, retry }, true)
                }
                Ok(Err(source)) => {
                    let retryable = source.is_retryable();
                    let retry = state(retryable, None);
                    (ExportError::Transport { source, retry }, retryable)
                }
                Ok(Ok(resp)) if resp.status().is_success() => {
                    let (rejected, rejection_message) = self.partial_success(&resp, spans);
                    return PartResult::Accepted {
                        outcome: ExportOutcome {
                            sent: (spans as u64).saturating_sub(rejected),
                            rejected,
                            rejection_message,
                            requests: 1,
                            attempts: attempt,
                            bytes,
                            disabled: 0,
                        },
                    };
                }
                Ok(Ok(resp)) => {
                    let retryable = is_retryable_status(resp.status());
                    let retry_after = if retryable {
                        resp.headers()
                            .get(http::header::RETRY_AFTER)
                            .and_then(parse_retry_after)
                    } else {
                        None
                    };
                    let retry = state(retryable, retry_after);
                    let error = ExportError::Status {
                        code: resp.status().as_u16(),
                        body_excerpt: body_excerpt(resp.body()),
                        retry,
                    };
                    (error, retryable)
                }
            };
            let retry = error
                .retry_state()
                .copied()
                .unwrap_or_else(|| RetryState::final_attempt(attempt, elapsed, window));
            if retry.will_retry {
                if let Some(observer) = ctx.observer {
                    observer.on_retry(error, spans);
                }
                tokio::time::sleep(retry.next_delay.unwrap_or_default()).await;
                continue;
            }
            let error = if retryable && policy.enabled {
                ExportError::RetryWindowExceeded {
                    last: Box::new(error),
                    retry,
                }
            } else {
                error
            };
            return PartResult::Failed {
                error,
                attempts: attempt,
                bytes,
            };
        }
    }

    /// Reads `partial_success` from a 2xx body: (rejected spans, message). An empty or
    /// undecodable body is full success (an undecodable one is logged).
    fn partial_success(&self, resp: &http::Response<Bytes>, spans: usize) -> (u64, Option<String>) {
        let body = resp.body();
        if body.is_empty() {
            return (0, None);
        }
        let is_json = resp
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map_or(self.config.protocol == Protocol::HttpJson, |ct| {
                ct.contains("json")
            });
        let decoded = if is_json {
            decode_json_response(body)
        } else {
            ExportTraceServiceResponse::decode(body.clone())
                .map(|r| {
                    r.partial_success
                        .map(|p| (p.rejected_spans, p.error_message))
                })
                .map_err(|e| e.to_string())
        };
        match decoded {
            Ok(Some((rejected_spans, error_message))) if rejected_spans > 0 => {
                let rejected = u64::try_from(rejected_spans).unwrap_or(0).min(spans as u64);
                tracing::warn!(
                    target: "tracewire_otlp::export",
                    rejected,
                    message = %error_message,
                    "receiver rejected spans (partial success)"
                );
                (rejected, Some(error_message))
            }
            Ok(_) => (0, None),
            Err(error) => {
                tracing::debug!(target: "tracewire_otlp::export", %error, "undecodable 2xx response body; treating as success");
                (0, None)
            }
        }
    }
}

/// Decodes an OTLP/JSON response with opentelemetry-proto's serde into the partial-success
/// fields. If that fails because the receiver wrote `rejectedSpans` as a decimal string (as
/// protojson-based receivers such as the OpenTelemetry Collector do for int64), only those
/// two fields are read.
fn decode_json_response(body: &[u8]) -> Result<Option<(i64, String)>, String> {
    match serde_json::from_slice::<ExportTraceServiceResponse>(body) {
        Ok(r) => Ok(r
            .partial_success
            .map(|p| (p.rejected_spans, p.error_message))),
        Err(strict) => {
            let value: serde_json::Value =
                serde_json::from_slice(body).map_err(|e| e.to_string())?;
            let Some(partial) = value
                .get("partialSuccess")
                .or_else(|| value.get("partial_success"))
            else {
                return Err(strict.to_string());
            };
            let rejected = partial
                .get("rejectedSpans")
                .or_else(|| partial.get("rejected_spans"))
                .and_then(|v| {
                    v.as_i64()
                        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                })
                .unwrap_or(0);
            let message = partial
                .get("errorMessage")
                .or_else(|| partial.get("error_message"))
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned();
            Ok(Some((rejected, message)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::decode_json_response;

    #[test]
    fn json_partial_success_accepts_string_and_number_int64() {
        let string = br#"{"partialSuccess":{"rejectedSpans":"3","errorMessage":"too old"}}"#;
        assert_eq!(
            decode_json_response(string),
            Ok(Some((3, "too old".to_owned())))
        );
        let number = br#"{"partialSuccess":{"rejectedSpans":2}}"#;
        assert_eq!(decode_json_response(number), Ok(Some((2, String::new()))));
        assert_eq!(decode_json_response(b"{}"), Ok(None));
        assert!(decode_json_response(b"not json").is_err());
    }
}
