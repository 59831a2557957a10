//! Accept loops: stop when cancelled, and back off on transient accept errors (`EMFILE`,
//! `ECONNABORTED`) instead of spinning on them or giving up.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

const FIRST_BACKOFF: Duration = Duration::from_millis(5);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Hands out accepted connections until its token is cancelled.
#[derive(Debug)]
pub(crate) struct Acceptor {
    cancel: CancellationToken,
    backoff: Duration,
}

impl Acceptor {
    pub(crate) fn new(cancel: CancellationToken) -> Self {
        Self {
            cancel,
            backoff: FIRST_BACKOFF,
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
                    self.backoff = FIRST_BACKOFF;
                    return Some(connection);
                }
                Err(_) => {
                    tokio::select! {
                        _ = self.cancel.cancelled() => return None,
                        _ = tokio::time::sleep(self.backoff) => {}
                    }
                    self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}
