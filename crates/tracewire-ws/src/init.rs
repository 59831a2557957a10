//! Global set-up (feature `otlp`, `docs/websocket.md#global-set-up`): `init_tracer` and
//! friends live in tracewire-otlp and are re-exported here; this module keeps
//! `Options::with_implicit_init`'s once-per-process set-up.

use std::sync::{Mutex, Once};

pub use tracewire_otlp::config::OtlpConfig;
pub use tracewire_otlp::init::{
    init_tracer, init_tracer_with_provider, shutdown_tracer, InitError, TracerGuard, TracerInit,
    DEFAULT_SHUTDOWN_TIMEOUT,
};

static IMPLICIT: Once = Once::new();
static IMPLICIT_GUARD: Mutex<Option<TracerGuard>> = Mutex::new(None);

/// `init_tracer()` once per process for `implicit_init(true)`; its guard is kept in a
/// static (call `shutdown_tracer()` before exit). Failures are logged once.
pub(crate) fn implicit_init_once() {
    IMPLICIT.call_once(|| match init_tracer() {
        Ok(guard) => {
            let mut slot = IMPLICIT_GUARD
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            // Kept for the life of the process: shutdown happens through shutdown_tracer().
            *slot = Some(guard);
        }
        Err(e) => tracing::warn!(error = %e, "tracewire-ws: implicit init_tracer failed; connections stay untraced"),
    });
}
