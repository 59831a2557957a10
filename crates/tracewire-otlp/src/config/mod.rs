//! The one OTLP configuration of tracewire: `OTEL_*` variables, settings made in code and
//! defaults, resolved into the effective settings plus a warning for every value that
//! was ignored or invalid.
//!
//! `OtlpHttpExporter`, `BatchExporter`, [`Resource::from_env`], `init_tracer`, the
//! collector's forwarder and the `tracewire` CLI all resolve through [`OtlpConfig`], so
//! they read the same variables the same way. `docs/configuration.md` has the table.
//!
//! Precedence, per option: the `OTEL_EXPORTER_OTLP_TRACES_*` variable, then the generic
//! `OTEL_EXPORTER_OTLP_*` one, then the value set in code, then the default. Environment
//! variables beating code follows
//! <https://opentelemetry.io/docs/languages/sdk-configuration/> ("values set with
//! environment variables override equivalent configuration in code"); opentelemetry-rust
//! lets code win, and tracewire deliberately does not. Two exceptions:
//! - resource attributes set in code win over `OTEL_SERVICE_NAME` and
//!   `OTEL_RESOURCE_ATTRIBUTES`, as the resource specification asks
//!   (<https://opentelemetry.io/docs/specs/otel/resource/sdk/>);
//! - [`Precedence::CodeFirst`] makes code win, for settings an operator chose
//!   explicitly (the CLI's flags); every variable it overrides gets a warning.
//!
//! ```
//! use tracewire_otlp::config::{Env, OtlpConfig, Protocol};
//!
//! let resolved = OtlpConfig::new()
//!     .with_endpoint("http://code:4318/v1/traces")
//!     .with_env(Env::from_vars([
//!         ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/base"),
//!         ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
//!         ("OTEL_EXPORTER_OTLP_TIMEOUT", "ten"),
//!     ]))
//!     .resolve()?;
//! // The generic variable beats code and gets /v1/traces appended to its path.
//! assert_eq!(resolved.traces_endpoint, "http://collector:4318/base/v1/traces");
//! assert_eq!(resolved.protocol, Protocol::HttpJson);
//! // The invalid timeout is ignored with one warning naming the variable and the value.
//! assert_eq!(
//!     resolved.warnings[0].to_string(),
//!     "OTEL_EXPORTER_OTLP_TIMEOUT=\"ten\": not a whole number of milliseconds; using 10000 ms (the default)"
//! );
//! # Ok::<(), tracewire_otlp::config::ConfigError>(())
//! ```

mod env;
mod resolve;
mod values;

use std::collections::HashSet;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use http::HeaderMap;

pub use env::Env;
pub use values::{Compression, Propagator, Protocol, Sampler};

use crate::resource::Resource;

/// Default OTLP/HTTP traces URL.
pub const DEFAULT_HTTP_TRACES_ENDPOINT: &str = "http://localhost:4318/v1/traces";
/// Default OTLP/gRPC endpoint.
pub const DEFAULT_GRPC_ENDPOINT: &str = "http://localhost:4317";
/// Default per-request timeout (`OTEL_EXPORTER_OTLP_TIMEOUT`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default queue bound in spans (`OTEL_BSP_MAX_QUEUE_SIZE`).
pub const DEFAULT_MAX_QUEUE_SIZE: usize = 2048;
/// Default spans per export (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`).
pub const DEFAULT_MAX_EXPORT_BATCH_SIZE: usize = 512;
/// Default time between scheduled exports (`OTEL_BSP_SCHEDULE_DELAY`).
pub const DEFAULT_SCHEDULE_DELAY: Duration = Duration::from_secs(5);
/// Default exports in flight (`OTEL_BSP_MAX_CONCURRENT_EXPORTS`).
pub const DEFAULT_MAX_CONCURRENT_EXPORTS: usize = 1;

/// Who wins when a variable and code both set an option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Precedence {
    /// Variables beat code (the OpenTelemetry documentation's rule; the default).
    #[default]
    EnvFirst,
    /// Code beats variables: for values an operator chose explicitly, such as
    /// command-line flags. Each variable overridden this way gets a warning.
    CodeFirst,
}

/// A value that was ignored or invalid, with the variable it came from. Each is also
/// logged once per process through `tracing::warn!` (target `tracewire_otlp::config`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConfigWarning {
    variable: String,
    value: String,
    message: String,
}

impl ConfigWarning {
    pub(crate) fn new(
        variable: impl Into<String>,
        value: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            variable: variable.into(),
            value: value.into(),
            message: message.into(),
        }
    }

    /// The variable, e.g. `OTEL_EXPORTER_OTLP_TIMEOUT`.
    pub fn variable(&self) -> &str {
        &self.variable
    }

    /// The value as found (or the member of a list that was skipped).
    pub fn value(&self) -> &str {
        &self.value
    }

    /// What was wrong and what is used instead.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={:?}: {}", self.variable, self.value, self.message)
    }
}

/// A setting made in code that cannot be used. Variables never cause this: an invalid
/// variable is a [`ConfigWarning`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The endpoint is not an absolute `http`/`https` URL with a host.
    #[error("invalid OTLP endpoint {endpoint:?}: {reason}")]
    InvalidEndpoint {
        /// The rejected endpoint.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A header has an invalid name or value.
    #[error("invalid header {name:?}: {reason}")]
    InvalidHeader {
        /// Header name as given.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A header the exporter sets itself (`content-type`, `content-encoding`,
    /// `content-length`).
    #[error("header {0:?} is reserved: the exporter sets it")]
    ReservedHeader(String),
    /// gzip was asked for but the `gzip` feature is off.
    #[error("gzip compression needs the `gzip` feature of tracewire-otlp")]
    GzipUnavailable,
    /// Any other value out of range (a zero size, a ratio outside 0..=1, ...).
    #[error("invalid {setting}: {reason}")]
    InvalidSetting {
        /// The setting, as its builder method names it.
        setting: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// Batch settings (`OTEL_BSP_*`), for `BatchExporter` and `init_tracer`'s batch processor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchSettings {
    /// Most spans waiting (`OTEL_BSP_MAX_QUEUE_SIZE`).
    pub max_queue_size: usize,
    /// Time between scheduled exports (`OTEL_BSP_SCHEDULE_DELAY`).
    pub scheduled_delay: Duration,
    /// Most spans per export, at most `max_queue_size` (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`).
    pub max_export_batch_size: usize,
    /// Bound of one export, retries included (`OTEL_BSP_EXPORT_TIMEOUT`); `None` keeps
    /// the exporter's own retry window.
    pub export_timeout: Option<Duration>,
    /// Exports in flight (`OTEL_BSP_MAX_CONCURRENT_EXPORTS`, an opentelemetry-rust
    /// variable).
    pub max_concurrent_exports: usize,
}

impl Default for BatchSettings {
    fn default() -> Self {
        Self {
            max_queue_size: DEFAULT_MAX_QUEUE_SIZE,
            scheduled_delay: DEFAULT_SCHEDULE_DELAY,
            max_export_batch_size: DEFAULT_MAX_EXPORT_BATCH_SIZE,
            export_timeout: None,
            max_concurrent_exports: DEFAULT_MAX_CONCURRENT_EXPORTS,
        }
    }
}

/// Batch settings made in code; `None` leaves the option to the variables and defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct BatchCode {
    pub(crate) max_queue_size: Option<usize>,
    pub(crate) scheduled_delay: Option<Duration>,
    pub(crate) max_export_batch_size: Option<usize>,
    pub(crate) export_timeout: Option<Duration>,
    pub(crate) max_concurrent_exports: Option<usize>,
}

/// The inputs of the resolution: settings made in code, where variables are read from,
/// and who wins. Every setting is optional.
#[derive(Debug, Clone, Default)]
pub struct OtlpConfig {
    pub(crate) endpoint: Option<String>,
    pub(crate) protocol: Option<Protocol>,
    pub(crate) compression: Option<Compression>,
    pub(crate) headers: Option<Vec<(String, String)>>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) resource: Option<Resource>,
    pub(crate) sdk_disabled: Option<bool>,
    pub(crate) propagators: Option<Vec<Propagator>>,
    pub(crate) sampler: Option<Sampler>,
    pub(crate) batch: BatchCode,
    pub(crate) env: Env,
    pub(crate) precedence: Precedence,
}

impl OtlpConfig {
    /// Nothing set in code; variables from the process environment.
    pub fn new() -> Self {
        Self::default()
    }

    /// The full traces URL, used as-is (no `/v1/traces` appended).
    #[must_use]
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// `http/protobuf`, `http/json` or `grpc`.
    #[must_use]
    pub fn with_protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = Some(protocol);
        self
    }

    /// Request body compression.
    #[must_use]
    pub fn with_compression(mut self, compression: Compression) -> Self {
        self.compression = Some(compression);
        self
    }

    /// Adds a request header. Headers are one option: a headers variable that is set
    /// replaces all headers set in code (unless [`Precedence::CodeFirst`]).
    #[must_use]
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers
            .get_or_insert_with(Vec::new)
            .push((name.into(), value.into()));
        self
    }

    /// Per-request timeout.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Resource attributes set in code; they win over the environment's.
    #[must_use]
    pub fn with_resource(mut self, resource: Resource) -> Self {
        self.resource = Some(resource);
        self
    }

    /// Turns the SDK off (`true`) or on, as `OTEL_SDK_DISABLED` does.
    #[must_use]
    pub fn with_sdk_disabled(mut self, disabled: bool) -> Self {
        self.sdk_disabled = Some(disabled);
        self
    }

    /// The propagators, in order; empty means none.
    #[must_use]
    pub fn with_propagators(mut self, propagators: impl IntoIterator<Item = Propagator>) -> Self {
        self.propagators = Some(propagators.into_iter().collect());
        self
    }

    /// The sampler.
    #[must_use]
    pub fn with_sampler(mut self, sampler: Sampler) -> Self {
        self.sampler = Some(sampler);
        self
    }

    /// Most spans waiting in the batch queue.
    #[must_use]
    pub fn with_max_queue_size(mut self, n: usize) -> Self {
        self.batch.max_queue_size = Some(n);
        self
    }

    /// Time between scheduled batch exports.
    #[must_use]
    pub fn with_scheduled_delay(mut self, delay: Duration) -> Self {
        self.batch.scheduled_delay = Some(delay);
        self
    }

    /// Most spans per batch export.
    #[must_use]
    pub fn with_max_export_batch_size(mut self, n: usize) -> Self {
        self.batch.max_export_batch_size = Some(n);
        self
    }

    /// Bound of one batch export, retries included.
    #[must_use]
    pub fn with_export_timeout(mut self, timeout: Duration) -> Self {
        self.batch.export_timeout = Some(timeout);
        self
    }

    /// Where variables are read from (default: the process environment).
    #[must_use]
    pub fn with_env(mut self, env: Env) -> Self {
        self.env = env;
        self
    }

    /// Reads variables from exactly these pairs instead of the process environment.
    #[must_use]
    pub fn with_env_vars<K: Into<String>, V: Into<String>>(
        self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.with_env(Env::from_vars(vars))
    }

    /// Who wins when a variable and code disagree (default: variables).
    #[must_use]
    pub fn with_precedence(mut self, precedence: Precedence) -> Self {
        self.precedence = precedence;
        self
    }

    /// The variable source.
    pub fn env(&self) -> &Env {
        &self.env
    }

    /// Resolves every option. Invalid or ignored variables become warnings (also logged
    /// once per process); only settings made in code can fail.
    pub fn resolve(&self) -> Result<ResolvedConfig, ConfigError> {
        let resolved = resolve::all(self)?;
        log_warnings(&resolved.warnings);
        Ok(resolved)
    }
}

/// The effective settings, and every warning the resolution produced.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ResolvedConfig {
    /// The full URL (OTLP/HTTP) or target (OTLP/gRPC) spans go to.
    pub traces_endpoint: String,
    /// Transport and encoding.
    pub protocol: Protocol,
    /// Body compression.
    pub compression: Compression,
    /// Extra request headers, validated.
    pub headers: HeaderMap,
    /// Per-request timeout.
    pub timeout: Duration,
    /// The resource: environment attributes with code's on top.
    pub resource: Resource,
    /// `OTEL_SDK_DISABLED`: nothing is exported, nothing fails.
    pub sdk_disabled: bool,
    /// The propagators, in order; empty means none.
    pub propagators: Vec<Propagator>,
    /// The sampler.
    pub sampler: Sampler,
    /// Batch settings.
    pub batch: BatchSettings,
    /// Every value that was ignored or invalid.
    pub warnings: Vec<ConfigWarning>,
}

/// Logs each warning through `tracing`, once per process for the same text.
pub(crate) fn log_warnings(warnings: &[ConfigWarning]) {
    static LOGGED: Mutex<Option<HashSet<ConfigWarning>>> = Mutex::new(None);
    let mut logged = LOGGED.lock().unwrap_or_else(|p| p.into_inner());
    let set = logged.get_or_insert_with(HashSet::new);
    for w in warnings {
        if set.insert(w.clone()) {
            tracing::warn!(
                target: "tracewire_otlp::config",
                variable = %w.variable,
                value = %w.value,
                "{w}"
            );
        }
    }
}

#[cfg(feature = "export")]
pub(crate) use resolve::batch_settings;
#[cfg(test)]
pub(crate) use resolve::parse_key_value_list;
pub(crate) use resolve::resource_from;

#[cfg(test)]
mod tests;
