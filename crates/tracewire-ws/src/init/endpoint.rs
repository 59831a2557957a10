//! OTLP endpoint and protocol resolution (spec §4.4 steps 2–5), a pure function of the
//! argument and an environment lookup.

/// The OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Protocol {
    /// OTLP/HTTP with protobuf bodies.
    HttpProtobuf,
    /// OTLP/gRPC (feature `grpc`).
    Grpc,
}

/// Where and how `init_tracer` exports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The transport.
    pub protocol: Protocol,
    /// The full URL (`…/v1/traces` for HTTP).
    pub url: String,
}

const DEFAULT_ENDPOINT: &str = "localhost:4317";

/// Resolves the endpoint: `arg` if non-empty, else `OTEL_EXPORTER_OTLP_ENDPOINT`, else
/// `localhost:4317`. Protocol: `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, then
/// `OTEL_EXPORTER_OTLP_PROTOCOL`; else port 4318 → HTTP, 4317 → gRPC; else an `http(s)://`
/// scheme → HTTP; else gRPC. `env` looks variables up (pass `|k| std::env::var(k).ok()`).
///
/// ```
/// use tracewire_ws::{resolve_endpoint, Protocol};
/// let e = resolve_endpoint(Some("localhost:4318"), |_| None).unwrap();
/// assert_eq!(e.protocol, Protocol::HttpProtobuf);
/// assert_eq!(e.url, "http://localhost:4318/v1/traces");
/// ```
pub fn resolve_endpoint<F>(arg: Option<&str>, env: F) -> Result<Endpoint, super::InitError>
where
    F: Fn(&str) -> Option<String>,
{
    let non_empty = |s: Option<String>| s.filter(|v| !v.trim().is_empty());
    let raw = arg
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .or_else(|| non_empty(env("OTEL_EXPORTER_OTLP_ENDPOINT")))
        .unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned());
    let raw = raw.trim();
    let (scheme, rest) = match raw.split_once("://") {
        Some((s, r)) => (Some(s.to_ascii_lowercase()), r),
        None => (None, raw),
    };
    if let Some(s) = &scheme {
        if s != "http" && s != "https" {
            return Err(super::InitError::InvalidEndpoint(format!(
                "{raw}: scheme must be http or https"
            )));
        }
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let path = &rest[authority.len()..];
    let port = port_of(authority);
    let env_protocol = non_empty(env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"))
        .or_else(|| non_empty(env("OTEL_EXPORTER_OTLP_PROTOCOL")));
    let protocol = match env_protocol.as_deref().map(str::trim) {
        Some("grpc") => Protocol::Grpc,
        Some("http/protobuf") => Protocol::HttpProtobuf,
        Some(other) => {
            return Err(super::InitError::InvalidEndpoint(format!(
                "unsupported OTLP protocol {other:?} (use grpc or http/protobuf)"
            )))
        }
        None => match (port, &scheme) {
            (Some(4318), _) => Protocol::HttpProtobuf,
            (Some(4317), _) => Protocol::Grpc,
            (_, Some(_)) => Protocol::HttpProtobuf,
            _ => Protocol::Grpc,
        },
    };
    let scheme = scheme.unwrap_or_else(|| "http".to_owned());
    let mut url = format!("{scheme}://{authority}{path}");
    if protocol == Protocol::HttpProtobuf && (path.is_empty() || path == "/") {
        url = format!("{scheme}://{authority}/v1/traces");
    }
    let parsed: http::Uri = url
        .parse()
        .map_err(|e| super::InitError::InvalidEndpoint(format!("{raw}: {e}")))?;
    if parsed.host().is_none_or(str::is_empty) {
        return Err(super::InitError::InvalidEndpoint(format!("{raw}: no host")));
    }
    Ok(Endpoint { protocol, url })
}

fn port_of(authority: &str) -> Option<u16> {
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    let after_v6 = host_port.rsplit_once(']').map_or(host_port, |(_, p)| p);
    after_v6.rsplit_once(':').and_then(|(_, p)| p.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::InitError;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn resolve(arg: &str) -> (Protocol, String) {
        let e = resolve_endpoint(Some(arg), no_env).unwrap();
        (e.protocol, e.url)
    }

    #[test]
    fn endpoint_resolution_table() {
        use Protocol::*;
        assert_eq!(
            resolve("localhost:4318"),
            (HttpProtobuf, "http://localhost:4318/v1/traces".into())
        );
        assert_eq!(
            resolve("http://h:4318"),
            (HttpProtobuf, "http://h:4318/v1/traces".into())
        );
        assert_eq!(resolve("http://h:4317"), (Grpc, "http://h:4317".into()));
        assert_eq!(
            resolve("https://h/custom/path"),
            (HttpProtobuf, "https://h/custom/path".into())
        );
        assert_eq!(resolve("h:4317"), (Grpc, "http://h:4317".into()));
        assert_eq!(
            resolve("https://h:4318/"),
            (HttpProtobuf, "https://h:4318/v1/traces".into())
        );
        assert_eq!(resolve("h:9999"), (Grpc, "http://h:9999".into()));
    }

    #[test]
    fn argument_then_env_then_default() {
        let env =
            |k: &str| (k == "OTEL_EXPORTER_OTLP_ENDPOINT").then(|| "http://env:4318".to_owned());
        assert_eq!(
            resolve_endpoint(Some("arg:4318"), env).unwrap().url,
            "http://arg:4318/v1/traces"
        );
        assert_eq!(
            resolve_endpoint(Some(""), env).unwrap().url,
            "http://env:4318/v1/traces"
        );
        assert_eq!(
            resolve_endpoint(None, env).unwrap().url,
            "http://env:4318/v1/traces"
        );
        let d = resolve_endpoint(None, no_env).unwrap();
        assert_eq!(
            (d.protocol, d.url.as_str()),
            (Protocol::Grpc, "http://localhost:4317")
        );
    }

    #[test]
    fn protocol_env_overrides_port() {
        let env =
            |k: &str| (k == "OTEL_EXPORTER_OTLP_PROTOCOL").then(|| "http/protobuf".to_owned());
        let e = resolve_endpoint(Some("h:4317"), env).unwrap();
        assert_eq!(
            (e.protocol, e.url.as_str()),
            (Protocol::HttpProtobuf, "http://h:4317/v1/traces")
        );
        let env = |k: &str| match k {
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL" => Some("grpc".to_owned()),
            "OTEL_EXPORTER_OTLP_PROTOCOL" => Some("http/protobuf".to_owned()),
            _ => None,
        };
        assert_eq!(
            resolve_endpoint(Some("h:4318"), env).unwrap().protocol,
            Protocol::Grpc
        );
        let bad = |_: &str| Some("carrier-pigeon".to_owned());
        assert!(matches!(
            resolve_endpoint(Some("h:1"), bad),
            Err(InitError::InvalidEndpoint(_))
        ));
    }

    #[test]
    fn invalid_endpoints() {
        assert!(matches!(
            resolve_endpoint(Some("ftp://h:1"), no_env),
            Err(InitError::InvalidEndpoint(_))
        ));
        assert!(matches!(
            resolve_endpoint(Some("http://"), no_env),
            Err(InitError::InvalidEndpoint(_))
        ));
    }
}
