//! `opentelemetry_sdk::trace::SpanExporter` for [`OtlpHttpExporter`], usable with and
//! without a Tokio runtime.
//!
//! The SDK's default batch processor polls exports with `futures_executor::block_on` on a
//! plain thread, where reqwest has no reactor. An export polled outside a Tokio context
//! therefore runs on the multi-thread runtime captured at `build()`, else on a
//! one-thread runtime the exporter owns, and its result comes back over a oneshot that
//! any executor can await.

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use tokio::runtime::{Handle, RuntimeFlavor};

use super::encode::SpanBatch;
use super::{ExportContext, Inner, OtlpHttpExporter};

/// Where exports polled outside a Tokio context run.
pub(crate) struct RuntimeHost {
    captured: Option<Handle>,
    owned: OnceLock<Result<Handle, String>>,
}

impl RuntimeHost {
    /// Captures the current runtime if it can run tasks while the caller blocks (a
    /// multi-thread runtime); a current-thread runtime could be the very thread blocked
    /// in the SDK's `force_flush`, so it is not used.
    pub(crate) fn capture() -> Self {
        let captured = Handle::try_current()
            .ok()
            .filter(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread);
        Self {
            captured,
            owned: OnceLock::new(),
        }
    }

    fn handle(&self) -> Result<Handle, String> {
        if let Some(h) = &self.captured {
            return Ok(h.clone());
        }
        self.owned.get_or_init(spawn_owned_runtime).clone()
    }
}

/// Starts a current-thread runtime on its own thread, driven until the process exits,
/// and returns its handle.
fn spawn_owned_runtime() -> Result<Handle, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_name("tracewire-otlp-export")
        .build()
        .map_err(|e| format!("cannot start the exporter runtime: {e}"))?;
    let handle = rt.handle().clone();
    std::thread::Builder::new()
        .name("tracewire-otlp-export".into())
        .spawn(move || rt.block_on(std::future::pending::<()>()))
        .map_err(|e| format!("cannot start the exporter thread: {e}"))?;
    Ok(handle)
}

impl Inner {
    async fn export_sdk(
        self: Arc<Self>,
        resource: opentelemetry_proto::tonic::resource::v1::Resource,
        batch: SpanBatch,
    ) -> OTelSdkResult {
        let report = self
            .send_batch(&resource, batch, ExportContext::default())
            .await;
        if report.is_success() {
            return Ok(());
        }
        let mut msg = format!(
            "sent {}, rejected {}, failed {}, dropped {}",
            report.outcome.sent, report.outcome.rejected, report.failed, report.dropped
        );
        if let Some(m) = &report.outcome.rejection_message {
            msg.push_str(&format!("; receiver: {m}"));
        }
        for e in &report.errors {
            msg.push_str(&format!("; {e}"));
        }
        Err(OTelSdkError::InternalFailure(msg))
    }
}

impl SpanExporter for OtlpHttpExporter {
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        let inner = Arc::clone(&self.inner);
        let resource = self
            .sdk_resource
            .clone()
            .unwrap_or_else(|| inner.resource.clone());
        async move {
            if inner.shutdown.load(Ordering::SeqCst) {
                return Err(OTelSdkError::AlreadyShutdown);
            }
            if batch.is_empty() {
                return Ok(());
            }
            // Group with opentelemetry-proto's helper; the resource is applied separately.
            let grouped =
                group_spans_by_resource_and_scope(batch, &ResourceAttributesWithSchema::default());
            let spans = SpanBatch::from_resource_spans(grouped);
            let fut = inner.clone().export_sdk(resource, spans);
            if Handle::try_current().is_ok() {
                return fut.await;
            }
            let handle = inner
                .runtime
                .handle()
                .map_err(OTelSdkError::InternalFailure)?;
            let (tx, rx) = futures_channel::oneshot::channel();
            handle.spawn(async move {
                let _ = tx.send(fut.await);
            });
            rx.await.unwrap_or_else(|_| {
                Err(OTelSdkError::InternalFailure(
                    "export task was cancelled".into(),
                ))
            })
        }
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        if self.inner.shutdown.swap(true, Ordering::SeqCst) {
            Err(OTelSdkError::AlreadyShutdown)
        } else {
            Ok(())
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        let attrs = ResourceAttributesWithSchema::from(resource);
        self.sdk_resource = Some(opentelemetry_proto::tonic::resource::v1::Resource {
            attributes: {
                let mut a = attrs.attributes.0;
                a.sort_by(|x, y| x.key.cmp(&y.key));
                a
            },
            dropped_attributes_count: 0,
            entity_refs: Vec::new(),
        });
    }
}
