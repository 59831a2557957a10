//! The resolution itself: one function per option, all through [`Resolver::option`], so
//! every option follows the same precedence and warns the same way.

use std::cell::RefCell;
use std::fmt;
use std::time::Duration;

use http::header::{HeaderMap, HeaderName, HeaderValue};

use super::values::{propagators_text, SamplerName};
use super::{
    BatchCode, BatchSettings, Compression, ConfigError, ConfigWarning, Env, OtlpConfig, Precedence,
    Propagator, Protocol, ResolvedConfig, Sampler, DEFAULT_GRPC_ENDPOINT,
    DEFAULT_HTTP_TRACES_ENDPOINT, DEFAULT_MAX_CONCURRENT_EXPORTS, DEFAULT_MAX_EXPORT_BATCH_SIZE,
    DEFAULT_MAX_QUEUE_SIZE, DEFAULT_SCHEDULE_DELAY, DEFAULT_TIMEOUT,
};
use crate::resource::{unknown_service_name, Resource, ENV_RESOURCE_ATTRIBUTES, ENV_SERVICE_NAME};

const RESERVED_HEADERS: [&str; 3] = ["content-type", "content-encoding", "content-length"];

/// Where a resolved value came from, for the warnings' "using ..." tail.
#[derive(Debug, Clone, Copy)]
enum Origin {
    Var(&'static str),
    Code,
    Default,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Var(v) => write!(f, "from {v}"),
            Origin::Code => f.write_str("set explicitly"),
            Origin::Default => f.write_str("the default"),
        }
    }
}

/// Reads variables and collects warnings for one resolution.
pub(crate) struct Resolver<'a> {
    env: &'a Env,
    precedence: Precedence,
    pub(crate) warnings: Vec<ConfigWarning>,
}

impl<'a> Resolver<'a> {
    pub(crate) fn new(env: &'a Env, precedence: Precedence) -> Self {
        Self {
            env,
            precedence,
            warnings: Vec::new(),
        }
    }

    fn warn(&mut self, variable: &str, value: &str, message: impl Into<String>) {
        self.warnings
            .push(ConfigWarning::new(variable, value.trim(), message));
    }

    /// One option: the variables in order (signal-specific first), then `code`, then
    /// `default` ([`Precedence::CodeFirst`] puts `code` first). A variable that does not
    /// parse is warned about and skipped; every warning of this option ends with the
    /// value finally used.
    fn option<T>(
        &mut self,
        vars: &[&'static str],
        code: Option<T>,
        default: T,
        parse: impl Fn(&'static str, &str) -> Result<T, String>,
        show: impl Fn(&T) -> String,
    ) -> T {
        let first_warning = self.warnings.len();
        let mut chosen: Option<(T, Origin)> = None;
        if self.precedence == Precedence::CodeFirst && code.is_some() {
            for var in vars {
                if let Some(raw) = self.env.get(var) {
                    self.warn(var, &raw, "overridden by an explicit setting");
                }
            }
        } else {
            for var in vars {
                let Some(raw) = self.env.get(var) else {
                    continue;
                };
                match parse(var, raw.trim()) {
                    Ok(v) => {
                        chosen = Some((v, Origin::Var(var)));
                        break;
                    }
                    Err(reason) => self.warn(var, &raw, reason),
                }
            }
        }
        let (value, origin) = match (chosen, code) {
            (Some(c), _) => c,
            (None, Some(c)) => (c, Origin::Code),
            (None, None) => (default, Origin::Default),
        };
        let tail = format!("; using {} ({origin})", show(&value));
        for w in &mut self.warnings[first_warning..] {
            w.message.push_str(&tail);
        }
        value
    }
}

/// Resolves every option of `config`.
pub(crate) fn all(config: &OtlpConfig) -> Result<ResolvedConfig, ConfigError> {
    let mut r = Resolver::new(&config.env, config.precedence);
    let protocol = protocol(&mut r, config.protocol);
    let traces_endpoint = endpoint(&mut r, config.endpoint.as_deref(), protocol)?;
    let compression = compression(&mut r, config.compression)?;
    let headers = headers(&mut r, config.headers.as_deref())?;
    let timeout = timeout(&mut r, config.timeout)?;
    let resource = resource(&mut r, config.resource.as_ref());
    let sdk_disabled = sdk_disabled(&mut r, config.sdk_disabled);
    let propagators = propagators(&mut r, config.propagators.as_deref());
    let sampler = sampler(&mut r, config.sampler)?;
    let batch = batch(&mut r, &config.batch)?;
    Ok(ResolvedConfig {
        traces_endpoint,
        protocol,
        compression,
        headers,
        timeout,
        resource,
        sdk_disabled,
        propagators,
        sampler,
        batch,
        warnings: r.warnings,
    })
}

fn protocol(r: &mut Resolver<'_>, code: Option<Protocol>) -> Protocol {
    r.option(
        &[
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ],
        code,
        Protocol::default(),
        |_, raw| {
            Protocol::parse(raw)
                .ok_or_else(|| "not one of grpc, http/protobuf, http/json".to_owned())
        },
        |p| p.as_str().to_owned(),
    )
}

/// The traces endpoint: the signal variable as-is; the generic one with `/v1/traces`
/// appended to its path for OTLP/HTTP (as-is for gRPC); code as-is; the protocol's
/// default.
fn endpoint(
    r: &mut Resolver<'_>,
    code: Option<&str>,
    protocol: Protocol,
) -> Result<String, ConfigError> {
    let code = match code {
        Some(c) => Some(check_url(c).map_err(|reason| ConfigError::InvalidEndpoint {
            endpoint: c.to_owned(),
            reason,
        })?),
        None => None,
    };
    let default = if protocol.is_http() {
        DEFAULT_HTTP_TRACES_ENDPOINT
    } else {
        DEFAULT_GRPC_ENDPOINT
    };
    Ok(r.option(
        &[
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
        ],
        code,
        default.to_owned(),
        |var, raw| {
            let url = check_url(raw)?;
            if var == "OTEL_EXPORTER_OTLP_ENDPOINT" && protocol.is_http() {
                Ok(append_traces_path(&url))
            } else {
                Ok(url)
            }
        },
        Clone::clone,
    ))
}

/// Checks that `text` is an absolute `http`/`https` URL with a host; returns it trimmed.
fn check_url(text: &str) -> Result<String, String> {
    let text = text.trim();
    let uri: http::Uri = text
        .parse()
        .map_err(|e: http::uri::InvalidUri| format!("not a URL ({e})"))?;
    match uri.scheme_str() {
        Some(s) if s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https") => {}
        Some(other) => return Err(format!("scheme {other:?} is not http or https")),
        None => return Err("not an absolute http:// or https:// URL".to_owned()),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err("the URL has no host".to_owned());
    }
    Ok(text.to_owned())
}

/// `base` with `v1/traces` appended to its path, keeping any base path and query.
fn append_traces_path(base: &str) -> String {
    let (without_query, query) = match base.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (base, None),
    };
    let mut out = format!("{}/v1/traces", without_query.trim_end_matches('/'));
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

fn compression(
    r: &mut Resolver<'_>,
    code: Option<Compression>,
) -> Result<Compression, ConfigError> {
    if code == Some(Compression::Gzip) && !cfg!(feature = "gzip") {
        return Err(ConfigError::GzipUnavailable);
    }
    Ok(r.option(
        &[
            "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
            "OTEL_EXPORTER_OTLP_COMPRESSION",
        ],
        code,
        Compression::None,
        |_, raw| match Compression::parse(raw) {
            Some(Compression::Gzip) if !cfg!(feature = "gzip") => {
                Err("gzip needs the `gzip` feature of tracewire-otlp, which is off".to_owned())
            }
            Some(c) => Ok(c),
            None => Err("not one of gzip, none".to_owned()),
        },
        |c| c.as_str().to_owned(),
    ))
}

fn header_pair(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), String> {
    let n = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| format!("{:?} is not a valid header name", name.trim()))?;
    let v = HeaderValue::from_str(value.trim())
        .map_err(|_| format!("the value of header {n} is not a valid header value"))?;
    Ok((n, v))
}

/// Headers are one option: the first set and valid source gives all of them. A reserved
/// header in a variable is skipped with its own warning; the rest of the list is used.
fn headers(
    r: &mut Resolver<'_>,
    code: Option<&[(String, String)]>,
) -> Result<HeaderMap, ConfigError> {
    let code = match code {
        Some(pairs) => {
            let mut map = HeaderMap::new();
            for (name, value) in pairs {
                let (n, v) =
                    header_pair(name, value).map_err(|reason| ConfigError::InvalidHeader {
                        name: name.clone(),
                        reason,
                    })?;
                if RESERVED_HEADERS.contains(&n.as_str()) {
                    return Err(ConfigError::ReservedHeader(name.clone()));
                }
                map.insert(n, v);
            }
            Some(map)
        }
        None => None,
    };
    let reserved: RefCell<Vec<(&'static str, String)>> = RefCell::new(Vec::new());
    let map = r.option(
        &[
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
            "OTEL_EXPORTER_OTLP_HEADERS",
        ],
        code,
        HeaderMap::new(),
        |var, raw| {
            let pairs = parse_key_value_list(raw).map_err(|e| e.to_string())?;
            let mut map = HeaderMap::new();
            for (k, v) in pairs {
                let (n, v) = header_pair(&k, &v)?;
                if RESERVED_HEADERS.contains(&n.as_str()) {
                    reserved.borrow_mut().push((var, n.as_str().to_owned()));
                    continue;
                }
                map.insert(n, v);
            }
            Ok(map)
        },
        |m| {
            let mut names: Vec<&str> = m.keys().map(HeaderName::as_str).collect();
            names.sort_unstable();
            if names.is_empty() {
                "no headers".to_owned()
            } else {
                format!("headers {}", names.join(","))
            }
        },
    );
    for (var, name) in reserved.into_inner() {
        r.warn(
            var,
            &name,
            "header is reserved (the exporter sets it); this header is skipped",
        );
    }
    Ok(map)
}

fn positive_ms(raw: &str) -> Result<Duration, String> {
    match raw.parse::<u64>() {
        Ok(0) => Err("must be at least 1 millisecond".to_owned()),
        Ok(ms) => Ok(Duration::from_millis(ms)),
        Err(_) => Err("not a whole number of milliseconds".to_owned()),
    }
}

fn show_ms(d: &Duration) -> String {
    format!("{} ms", d.as_millis())
}

fn timeout(r: &mut Resolver<'_>, code: Option<Duration>) -> Result<Duration, ConfigError> {
    if code == Some(Duration::ZERO) {
        return Err(ConfigError::InvalidSetting {
            setting: "timeout",
            reason: "must be more than zero".to_owned(),
        });
    }
    Ok(r.option(
        &[
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
            "OTEL_EXPORTER_OTLP_TIMEOUT",
        ],
        code,
        DEFAULT_TIMEOUT,
        |_, raw| positive_ms(raw),
        show_ms,
    ))
}

/// The resource: `OTEL_RESOURCE_ATTRIBUTES`, then `OTEL_SERVICE_NAME` over its
/// `service.name`, `unknown_service:<executable>` when neither names the service, the
/// `telemetry.sdk.*` attributes, and code's attributes over all of them.
pub(crate) fn resource(r: &mut Resolver<'_>, code: Option<&Resource>) -> Resource {
    let mut out = Resource::empty();
    if let Some(raw) = r.env.get(ENV_RESOURCE_ATTRIBUTES) {
        match parse_key_value_list(&raw) {
            Ok(pairs) => {
                for (k, v) in pairs {
                    out = out.with_attribute(k, v);
                }
            }
            Err(e) => r.warn(
                ENV_RESOURCE_ATTRIBUTES,
                &raw,
                format!("{e}; the whole variable is ignored"),
            ),
        }
    }
    if let Some(name) = r.env.get(ENV_SERVICE_NAME) {
        out = out.with_attribute("service.name", name.trim().to_owned());
    }
    let named =
        out.get("service.name").is_some() || code.is_some_and(|c| c.get("service.name").is_some());
    if !named {
        out = out.with_attribute("service.name", unknown_service_name());
    }
    out = out
        .with_attribute("telemetry.sdk.name", "tracewire")
        .with_attribute("telemetry.sdk.language", "rust")
        .with_attribute("telemetry.sdk.version", env!("CARGO_PKG_VERSION"));
    if let Some(code) = code {
        out = out.with_attributes(code.attributes().iter().cloned());
    }
    out
}

fn sdk_disabled(r: &mut Resolver<'_>, code: Option<bool>) -> bool {
    r.option(
        &["OTEL_SDK_DISABLED"],
        code,
        false,
        |_, raw| {
            if raw.eq_ignore_ascii_case("true") {
                Ok(true)
            } else if raw.eq_ignore_ascii_case("false") {
                Ok(false)
            } else {
                Err("neither true nor false".to_owned())
            }
        },
        |b| b.to_string(),
    )
}

/// `OTEL_PROPAGATORS`: known names in order, duplicates and unsupported names skipped
/// with a warning each, `none` meaning no propagator. A list with nothing usable falls
/// back to code, then the default.
fn propagators(r: &mut Resolver<'_>, code: Option<&[Propagator]>) -> Vec<Propagator> {
    const VAR: &str = "OTEL_PROPAGATORS";
    let skipped: RefCell<Vec<(String, &'static str)>> = RefCell::new(Vec::new());
    let list = r.option(
        &[VAR],
        code.map(<[Propagator]>::to_vec),
        Propagator::DEFAULT.to_vec(),
        |_, raw| {
            let members: Vec<&str> = raw
                .split(',')
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .collect();
            if members.iter().any(|m| m.eq_ignore_ascii_case("none")) {
                for m in members.iter().filter(|m| !m.eq_ignore_ascii_case("none")) {
                    skipped
                        .borrow_mut()
                        .push(((*m).to_owned(), "listed with none; skipped"));
                }
                return Ok(Vec::new());
            }
            let mut out: Vec<Propagator> = Vec::new();
            for m in members {
                match Propagator::parse(m) {
                    Some(p) if out.contains(&p) => {
                        skipped.borrow_mut().push((m.to_owned(), "listed twice; skipped"))
                    }
                    Some(p) => out.push(p),
                    None => skipped.borrow_mut().push((
                        m.to_owned(),
                        "not a propagator tracewire has (tracecontext, baggage, xray, none); skipped",
                    )),
                }
            }
            if out.is_empty() {
                Err("names no propagator tracewire has".to_owned())
            } else {
                Ok(out)
            }
        },
        |l| propagators_text(l),
    );
    for (member, why) in skipped.into_inner() {
        r.warn(VAR, &member, why);
    }
    list
}

fn sampler(r: &mut Resolver<'_>, code: Option<Sampler>) -> Result<Sampler, ConfigError> {
    const NAME: &str = "OTEL_TRACES_SAMPLER";
    const ARG: &str = "OTEL_TRACES_SAMPLER_ARG";
    if let Some(ratio) = code.and_then(|s| s.ratio()) {
        if !(0.0..=1.0).contains(&ratio) {
            return Err(ConfigError::InvalidSetting {
                setting: "sampler",
                reason: format!("ratio {ratio} is not between 0 and 1"),
            });
        }
    }
    let arg = r.env.get(ARG);
    // Whether the environment's sampler used the argument (else it is warned about).
    let arg_used = RefCell::new(false);
    let arg_warning: RefCell<Option<String>> = RefCell::new(None);
    let sampler = r.option(
        &[NAME],
        code,
        Sampler::default(),
        |_, raw| match Sampler::lookup(raw) {
            Some(SamplerName::Plain(s)) => Ok(s),
            Some(SamplerName::Ratio(make)) => {
                *arg_used.borrow_mut() = true;
                let ratio = match arg.as_deref().map(str::trim) {
                    None => 1.0,
                    Some(a) => match a.parse::<f64>() {
                        Ok(x) if (0.0..=1.0).contains(&x) => x,
                        _ => {
                            *arg_warning.borrow_mut() = Some(
                                "not a number between 0 and 1; using 1.0 (the default)".to_owned(),
                            );
                            1.0
                        }
                    },
                };
                Ok(make(ratio))
            }
            Some(SamplerName::Unsupported) => Err("sampler not supported by tracewire".to_owned()),
            None => Err("not a sampler name of the OpenTelemetry specification".to_owned()),
        },
        |s| s.to_string(),
    );
    if let Some(a) = arg {
        if let Some(msg) = arg_warning.into_inner() {
            r.warn(ARG, &a, msg);
        } else if !arg_used.into_inner() {
            r.warn(
                ARG,
                &a,
                format!(
                    "ignored: the sampler in use ({}) takes no argument from the environment",
                    sampler.name()
                ),
            );
        }
    }
    Ok(sampler)
}

fn at_least_one(raw: &str) -> Result<usize, String> {
    match raw.parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(n) => Ok(n),
        Err(_) => Err("not a whole number".to_owned()),
    }
}

fn code_at_least_one(setting: &'static str, v: Option<usize>) -> Result<(), ConfigError> {
    if v == Some(0) {
        return Err(ConfigError::InvalidSetting {
            setting,
            reason: "must be at least 1".to_owned(),
        });
    }
    Ok(())
}

fn code_positive(setting: &'static str, v: Option<Duration>) -> Result<(), ConfigError> {
    if v == Some(Duration::ZERO) {
        return Err(ConfigError::InvalidSetting {
            setting,
            reason: "must be more than zero".to_owned(),
        });
    }
    Ok(())
}

/// `OTEL_BSP_*` with code's batch settings.
pub(crate) fn batch(r: &mut Resolver<'_>, code: &BatchCode) -> Result<BatchSettings, ConfigError> {
    code_at_least_one("max_queue_size", code.max_queue_size)?;
    code_at_least_one("max_export_batch_size", code.max_export_batch_size)?;
    code_at_least_one("max_concurrent_exports", code.max_concurrent_exports)?;
    code_positive("scheduled_delay", code.scheduled_delay)?;
    code_positive("export_timeout", code.export_timeout)?;
    let max_queue_size = r.option(
        &["OTEL_BSP_MAX_QUEUE_SIZE"],
        code.max_queue_size,
        DEFAULT_MAX_QUEUE_SIZE,
        |_, raw| at_least_one(raw),
        usize::to_string,
    );
    let scheduled_delay = r.option(
        &["OTEL_BSP_SCHEDULE_DELAY"],
        code.scheduled_delay,
        DEFAULT_SCHEDULE_DELAY,
        |_, raw| positive_ms(raw),
        show_ms,
    );
    let batch_size = r.option(
        &["OTEL_BSP_MAX_EXPORT_BATCH_SIZE"],
        code.max_export_batch_size,
        DEFAULT_MAX_EXPORT_BATCH_SIZE,
        |_, raw| at_least_one(raw),
        usize::to_string,
    );
    let max_export_batch_size = if batch_size > max_queue_size {
        // The specification requires batch size <= queue size.
        if let Some(raw) = r.env.get("OTEL_BSP_MAX_EXPORT_BATCH_SIZE") {
            if raw.trim().parse::<usize>().ok() == Some(batch_size) {
                r.warn(
                    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
                    &raw,
                    format!("larger than the queue size; using {max_queue_size} (the queue size)"),
                );
            }
        }
        max_queue_size
    } else {
        batch_size
    };
    let export_timeout = r.option(
        &["OTEL_BSP_EXPORT_TIMEOUT"],
        code.export_timeout.map(Some),
        None,
        |_, raw| positive_ms(raw).map(Some),
        |d| match d {
            Some(d) => show_ms(d),
            None => "the exporter's retry window".to_owned(),
        },
    );
    let max_concurrent_exports = r.option(
        &["OTEL_BSP_MAX_CONCURRENT_EXPORTS"],
        code.max_concurrent_exports,
        DEFAULT_MAX_CONCURRENT_EXPORTS,
        |_, raw| at_least_one(raw),
        usize::to_string,
    );
    Ok(BatchSettings {
        max_queue_size,
        scheduled_delay,
        max_export_batch_size,
        export_timeout,
        max_concurrent_exports,
    })
}

/// [`batch`] on its own, for `BatchExporterBuilder` (warnings logged).
#[cfg(feature = "export")]
pub(crate) fn batch_settings(
    env: &Env,
    precedence: Precedence,
    code: &BatchCode,
) -> Result<(BatchSettings, Vec<ConfigWarning>), ConfigError> {
    let mut r = Resolver::new(env, precedence);
    let settings = batch(&mut r, code)?;
    super::log_warnings(&r.warnings);
    Ok((settings, r.warnings))
}

/// [`resource`] on its own, for `Resource::from_env` (warnings logged).
pub(crate) fn resource_from(env: &Env) -> (Resource, Vec<ConfigWarning>) {
    let mut r = Resolver::new(env, Precedence::EnvFirst);
    let resource = resource(&mut r, None);
    super::log_warnings(&r.warnings);
    (resource, r.warnings)
}

/// Why a `k=v,k2=v2` list could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum KeyValueListError {
    /// A member without `=`.
    #[error("member {0} has no '='")]
    MissingEquals(usize),
    /// A member whose key is empty.
    #[error("member {0} has an empty key")]
    EmptyKey(usize),
    /// A member that does not percent-decode to UTF-8.
    #[error("member {0} is not valid percent-encoded UTF-8")]
    BadEncoding(usize),
}

/// Parses the OpenTelemetry `k=v,k2=v2` list format used by `OTEL_RESOURCE_ATTRIBUTES` and
/// `OTEL_EXPORTER_OTLP_HEADERS`: members trimmed, keys and values percent-decoded, empty
/// members skipped. Any bad member fails the whole list.
pub(crate) fn parse_key_value_list(raw: &str) -> Result<Vec<(String, String)>, KeyValueListError> {
    let mut out = Vec::new();
    for (index, member) in raw.split(',').enumerate() {
        let member = member.trim();
        if member.is_empty() {
            continue;
        }
        let (k, v) = member
            .split_once('=')
            .ok_or(KeyValueListError::MissingEquals(index))?;
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s.trim())
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| KeyValueListError::BadEncoding(index))
        };
        let key = decode(k)?;
        if key.is_empty() {
            return Err(KeyValueListError::EmptyKey(index));
        }
        out.push((key, decode(v)?));
    }
    Ok(out)
}
