//! Beyond one machine (feature `otlp`): an OTLP/HTTP receiver so any OpenTelemetry SDK
//! can feed the collector, and a forwarder to an OpenTelemetry Collector, Jaeger or Tempo
//! whose settings resolve through `tracewire_otlp::config` (the `OTEL_*` variables).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use tracewire_collector::server::Collector;
//!
//! let bound = Collector::builder()
//!     .with_socket_path("/tmp/tracewire-demo.sock")
//!     .with_otlp_http("127.0.0.1:4318".parse()?)
//!     .with_forward("http://otel-collector:4318", "my-service")
//!     .bind()
//!     .await?;
//! bound.serve(async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```

mod convert;
mod forward;
pub(crate) mod parse;
mod receiver;

use std::net::{IpAddr, SocketAddr};

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use forward::traces_url;
pub use receiver::MAX_BODY_BYTES;
pub use tracewire_otlp::proto::{DecodeError, Encoding};

use tracewire_otlp::config::{OtlpConfig as OtelConfig, Precedence, ResolvedConfig};

use crate::paths::BindError;
use crate::server::{Collector, CollectorBuilder};
use forward::ForwardConfig;

/// Default `service.name` of forwarded spans that carry none.
pub const DEFAULT_SERVICE_NAME: &str = "tracewire";
/// Default address of the OTLP/HTTP receiver.
pub const DEFAULT_OTLP_HTTP_ADDR: &str = "127.0.0.1:4318";

/// OTLP settings of a [`CollectorBuilder`].
#[derive(Debug, Clone, Default)]
pub(crate) struct OtlpConfig {
    http_addr: Option<SocketAddr>,
    forward: Option<ForwardConfig>,
}

impl CollectorBuilder {
    /// Runs the OTLP/HTTP receiver on `addr` (`127.0.0.1:4318` is the usual one). There is
    /// no authentication: prefer loopback addresses.
    #[must_use]
    pub fn with_otlp_http(mut self, addr: SocketAddr) -> Self {
        self.otlp.http_addr = Some(addr);
        self
    }

    /// Forwards every completed span over OTLP/HTTP to `url` (a base URL gets
    /// `/v1/traces`); spans without `service.name` use `service_name`. The URL is an
    /// explicit choice, like the CLI's `--forward URL`: it beats
    /// `OTEL_EXPORTER_OTLP_*ENDPOINT`; the other settings come from the `OTEL_*`
    /// variables.
    #[must_use]
    pub fn with_forward(self, url: impl Into<String>, service_name: impl Into<String>) -> Self {
        let url = forward::traces_url(&url.into());
        self.with_forward_config(
            OtelConfig::new()
                .with_endpoint(url)
                .with_precedence(Precedence::CodeFirst),
            service_name,
        )
    }

    /// Forwards every completed span with these OTLP settings (resolved at `bind`, so
    /// `OTEL_*` variables and their warnings apply); spans without `service.name` use
    /// `service_name`. With `OTEL_SDK_DISABLED=true` the forwarder is not started (a
    /// warning is logged).
    #[must_use]
    pub fn with_forward_config(
        mut self,
        config: OtelConfig,
        service_name: impl Into<String>,
    ) -> Self {
        self.otlp.forward = Some(ForwardConfig {
            config,
            resolved: None,
            service_name: service_name.into(),
        });
        self
    }

    /// Forwards with settings already resolved (the CLI resolves to print the warnings
    /// first); see [`with_forward_config`](Self::with_forward_config).
    #[must_use]
    pub fn with_forward_resolved(
        mut self,
        resolved: ResolvedConfig,
        service_name: impl Into<String>,
    ) -> Self {
        self.otlp.forward = Some(ForwardConfig {
            config: OtelConfig::new(),
            resolved: Some(resolved),
            service_name: service_name.into(),
        });
        self
    }
}

/// True when `url` points at the receiver bound on `receiver` (same port on a loopback
/// alias, an unspecified address or the receiver's own IP).
pub fn is_forward_loop(url: &str, receiver: SocketAddr) -> bool {
    let Ok(uri) = url.parse::<http::Uri>() else {
        return false;
    };
    let Some(host) = uri.host() else {
        return false;
    };
    let port = uri.port_u16().unwrap_or(match uri.scheme_str() {
        Some("https") => 443,
        _ => 80,
    });
    if port != receiver.port() {
        return false;
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match host.parse::<IpAddr>() {
        Ok(ip) => {
            ip.is_loopback()
                || ip.is_unspecified()
                || ip == receiver.ip()
                || receiver.ip().is_unspecified()
        }
        Err(_) => false,
    }
}

/// The bound OTLP parts.
#[derive(Debug)]
pub(crate) struct BoundOtlp {
    listener: Option<TcpListener>,
    local_addr: Option<SocketAddr>,
    forward: Option<forward::Forwarding>,
}

impl BoundOtlp {
    pub(crate) fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// Starts the receiver and the forwarder.
    pub(crate) fn start(
        self,
        collector: &Collector,
        tasks: &TaskTracker,
        _token: CancellationToken,
    ) -> RunningOtlp {
        let cancel = CancellationToken::new();
        let receiver_tasks = TaskTracker::new();
        if let Some(listener) = self.listener {
            receiver_tasks.spawn(receiver::serve(
                listener,
                collector.clone(),
                cancel.clone(),
                receiver_tasks.clone(),
            ));
        }
        if let Some(config) = self.forward {
            let sub = collector.subscribe_spans();
            tasks.spawn(forward::run(config, collector.clone(), sub));
        }
        RunningOtlp {
            cancel,
            receiver_tasks,
        }
    }
}

/// Handle to stop the receiver before the assembler shuts down.
#[derive(Debug)]
pub(crate) struct RunningOtlp {
    cancel: CancellationToken,
    receiver_tasks: TaskTracker,
}

impl RunningOtlp {
    pub(crate) async fn stop_receiver(&self) {
        self.cancel.cancel();
        self.receiver_tasks.close();
        let _ = tokio::time::timeout(crate::server::SHUTDOWN_DEADLINE, self.receiver_tasks.wait())
            .await;
    }
}

/// Binds the receiver's TCP listener and checks the forward URL for a loop.
pub(crate) async fn bind(config: &OtlpConfig) -> Result<BoundOtlp, BindError> {
    let (listener, local_addr) = match config.http_addr {
        Some(addr) => {
            let l = TcpListener::bind(addr).await.map_err(|e| {
                if e.kind() == std::io::ErrorKind::AddrInUse {
                    BindError::AddrInUse(addr)
                } else {
                    BindError::Io {
                        path: addr.to_string().into(),
                        source: e,
                    }
                }
            })?;
            let local = l.local_addr().ok();
            (Some(l), local)
        }
        None => (None, None),
    };
    let forward = match &config.forward {
        Some(f) => {
            let resolved = match &f.resolved {
                Some(r) => r.clone(),
                None => f
                    .config
                    .resolve()
                    .map_err(|e| BindError::Forward(e.to_string()))?,
            };
            if !resolved.protocol.is_http() {
                return Err(BindError::Forward(format!(
                    "protocol {} is not supported: the forwarder speaks OTLP/HTTP (http/protobuf, http/json)",
                    resolved.protocol
                )));
            }
            if let Some(addr) = local_addr {
                if is_forward_loop(&resolved.traces_endpoint, addr) {
                    return Err(BindError::ForwardLoop {
                        url: resolved.traces_endpoint.clone(),
                        receiver: addr,
                    });
                }
            }
            if resolved.sdk_disabled {
                tracing::warn!(
                    target: "tracewire_collector::otlp",
                    "OTEL_SDK_DISABLED is true: the OTLP forwarder is not started"
                );
                None
            } else {
                Some(forward::Forwarding {
                    resolved,
                    service_name: f.service_name.clone(),
                })
            }
        }
        None => None,
    };
    Ok(BoundOtlp {
        listener,
        local_addr,
        forward,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_loops_are_detected_for_every_local_alias() {
        let rx: SocketAddr = "127.0.0.1:4318".parse().unwrap();
        for url in [
            "http://localhost:4318",
            "http://127.0.0.1:4318/v1/traces",
            "http://[::1]:4318",
            "http://0.0.0.0:4318",
        ] {
            assert!(is_forward_loop(url, rx), "{url}");
        }
        assert!(!is_forward_loop("http://localhost:4319", rx));
        assert!(!is_forward_loop("http://collector:4318", rx));
    }
}
