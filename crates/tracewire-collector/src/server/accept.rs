//! Accept loops: stop when cancelled, and back off on transient accept errors (`EMFILE`,
//! `ECONNABORTED`) instead of spinning on them or giving up.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracewire_otlp::backoff::{Backoff, BackoffState};

/// Failed accepts wait 5 ms, doubling to 1 s, without jitter (nothing to de-synchronise).
const ACCEPT_BACKOFF: Backoff = Backoff::new(Duration::from_millis(5), Duration::from_secs(1));

/// Hands out accepted connections until its token is cancelled.
#[derive(Debug)]
pub(crate) struct Acceptor {
    cancel: CancellationToken,
    backoff: BackoffState,
}

impl Acceptor {
    pub(crate) fn new(cancel: CancellationToken) -> Self {
        Self {
            cancel,
            backoff: BackoffState::new(ACCEPT_BACKOFF),
        }
    }

    /// The next connection from `accept`, retrying failed accepts with exponential
    /// backoff (5 ms doubling to 1 s); `None` once cancelled.
    pub(crate) async fn next<T, E, Fut>(&mut self, mut accept: impl FnMut() -> Fut) -> Option<T>
    where
        Fut: Future<Output = Result<T, E>>,
    {
        loop {
            let accepted = tokio::select! {
                _ = self.cancel.cancelled() => return None,
                a = accept() => a,
            };
            match accepted {
                Ok(connection) => {
                    self.backoff.reset();
                    return Some(connection);
                }
                Err(_) => {
                    // No jitter, so the sample does not matter.
                    let delay = self.backoff.next_delay(0.0);
                    tokio::select! {
                        _ = self.cancel.cancelled() => return None,
                        _ = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
    }
}
