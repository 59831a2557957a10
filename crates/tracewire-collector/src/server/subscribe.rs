//! Span and trace subscriptions (bounded broadcasts) and callbacks running on their own
//! task (`docs/collector.md#subscriptions`).

use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures_util::Stream;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::model::{CompletedSpan, Trace};

/// Why a subscription returned no item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecvError {
    /// The subscriber fell behind and missed exactly this many items; the next `recv`
    /// resumes at the oldest item still kept.
    #[error("subscriber lagged and missed {0} items")]
    Lagged(u64),
    /// The collector shut down and every remaining item was delivered.
    #[error("collector closed")]
    Closed,
}

/// A bounded broadcast receiver counting what it missed into the collector's
/// `subscriber_missed`.
#[derive(Debug)]
struct Subscription<T> {
    rx: broadcast::Receiver<Arc<T>>,
    missed: Arc<AtomicU64>,
}

impl<T: Clone> Subscription<T> {
    async fn recv(&mut self) -> Result<T, RecvError> {
        match self.rx.recv().await {
            Ok(item) => Ok(T::clone(&item)),
            Err(broadcast::error::RecvError::Lagged(n)) => {
                self.missed.fetch_add(n, Ordering::Relaxed);
                Err(RecvError::Lagged(n))
            }
            Err(broadcast::error::RecvError::Closed) => Err(RecvError::Closed),
        }
    }

    async fn recv_arc(&mut self) -> Result<Arc<T>, RecvError> {
        match self.rx.recv().await {
            Ok(item) => Ok(item),
            Err(broadcast::error::RecvError::Lagged(n)) => {
                self.missed.fetch_add(n, Ordering::Relaxed);
                Err(RecvError::Lagged(n))
            }
            Err(broadcast::error::RecvError::Closed) => Err(RecvError::Closed),
        }
    }
}

/// Every completed span, flat, in `seq` order, as soon as it completes.
#[derive(Debug)]
pub struct SpanSubscription(Subscription<CompletedSpan>);

/// Every emitted trace revision; consumers replace earlier revisions by `trace_id`.
#[derive(Debug)]
pub struct TraceSubscription(Subscription<Trace>);

macro_rules! subscription_impl {
    ($name:ident, $item:ty) => {
        impl $name {
            pub(crate) fn new(rx: broadcast::Receiver<Arc<$item>>, missed: Arc<AtomicU64>) -> Self {
                Self(Subscription { rx, missed })
            }

            /// The next item, `Lagged(n)` after falling behind, `Closed` after shutdown.
            pub async fn recv(&mut self) -> Result<$item, RecvError> {
                self.0.recv().await
            }

            /// The items as a stream; a lag appears as an `Err(Lagged(n))` item and the
            /// stream ends at `Closed`.
            pub fn into_stream(
                self,
            ) -> Pin<Box<dyn Stream<Item = Result<$item, RecvError>> + Send>> {
                Box::pin(futures_util::stream::unfold(self, |mut sub| async move {
                    match sub.recv().await {
                        Err(RecvError::Closed) => None,
                        other => Some((other, sub)),
                    }
                }))
            }
        }
    };
}

subscription_impl!(SpanSubscription, CompletedSpan);
subscription_impl!(TraceSubscription, Trace);

/// Keeps a callback registered; dropping it unregisters the callback.
#[derive(Debug)]
pub struct CallbackHandle {
    cancel: CancellationToken,
}

impl CallbackHandle {
    /// Whether the callback is still registered (false after a panic or shutdown).
    pub fn is_active(&self) -> bool {
        !self.cancel.is_cancelled()
    }
}

impl Drop for CallbackHandle {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Runs `f` for each item of a subscription on its own task. A panic unregisters the
/// callback and increments `panics`; a lag is counted in `subscriber_missed` and skipped.
fn spawn_callback<T, F>(
    runtime: &tokio::runtime::Handle,
    mut sub: Subscription<T>,
    f: F,
    panics: Arc<AtomicU64>,
) -> CallbackHandle
where
    T: Clone + Send + Sync + 'static,
    F: Fn(&T) + Send + Sync + 'static,
{
    let cancel = CancellationToken::new();
    let token = cancel.clone();
    runtime.spawn(async move {
        loop {
            let item = tokio::select! {
                _ = token.cancelled() => break,
                item = sub.recv_arc() => item,
            };
            match item {
                Ok(item) => {
                    if std::panic::catch_unwind(AssertUnwindSafe(|| f(&item))).is_err() {
                        panics.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                }
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => break,
            }
        }
        token.cancel();
    });
    CallbackHandle { cancel }
}

impl SpanSubscription {
    pub(crate) fn spawn_callback<F>(
        self,
        runtime: &tokio::runtime::Handle,
        f: F,
        panics: Arc<AtomicU64>,
    ) -> CallbackHandle
    where
        F: Fn(&CompletedSpan) + Send + Sync + 'static,
    {
        spawn_callback(runtime, self.0, f, panics)
    }
}

impl TraceSubscription {
    pub(crate) fn spawn_callback<F>(
        self,
        runtime: &tokio::runtime::Handle,
        f: F,
        panics: Arc<AtomicU64>,
    ) -> CallbackHandle
    where
        F: Fn(&Trace) + Send + Sync + 'static,
    {
        spawn_callback(runtime, self.0, f, panics)
    }
}
