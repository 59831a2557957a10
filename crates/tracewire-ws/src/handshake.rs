//! The HTTP upgrade: trace headers on the request (`docs/wire-formats.md#handshake-propagation`),
//! subprotocol headers, and the peer address for `server.*` attributes.

use http::header::{HeaderName, HeaderValue, HOST, SEC_WEBSOCKET_PROTOCOL};
use http::{HeaderMap, Uri};
use opentelemetry::propagation::{Extractor, Injector};

use crate::negotiation::split_tokens;
use crate::state::Peer;

/// Injects into a header map without overwriting headers the application set.
pub(crate) struct KeepExisting<'a>(pub(crate) &'a mut HeaderMap);

impl Injector for KeepExisting<'_> {
    fn set(&mut self, key: &str, value: String) {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) else {
            return;
        };
        if !self.0.contains_key(&name) {
            self.0.insert(name, value);
        }
    }
}

/// Reads a header map (first value of each name).
pub(crate) struct Headers<'a>(pub(crate) &'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

/// Every token of every `Sec-WebSocket-Protocol` header, in order.
pub(crate) fn offered_tokens(headers: &HeaderMap) -> Vec<&str> {
    headers
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(split_tokens)
        .collect()
}

/// The single selected subprotocol of a response, if any.
pub(crate) fn selected_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get(SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// Sets `Sec-WebSocket-Protocol` to the comma-joined tokens.
pub(crate) fn set_tokens(headers: &mut HeaderMap, tokens: &[String]) {
    if let Ok(v) = HeaderValue::from_str(&tokens.join(", ")) {
        headers.insert(SEC_WEBSOCKET_PROTOCOL, v);
    }
}

/// Client side: host and port of the request URI (port defaulted from ws/wss).
pub(crate) fn peer_of_uri(uri: &Uri) -> Peer {
    let port = uri.port_u16().or(match uri.scheme_str() {
        Some("ws") | Some("http") => Some(80),
        Some("wss") | Some("https") => Some(443),
        _ => None,
    });
    Peer {
        address: uri.host().map(strip_brackets).map(str::to_owned),
        port,
    }
}

/// Server side: the upgrade request's `Host` header.
pub(crate) fn peer_of_host(headers: &HeaderMap) -> Peer {
    let Some(host) = headers.get(HOST).and_then(|h| h.to_str().ok()) else {
        return Peer::default();
    };
    let host = host.trim();
    // `[v6]:port`, `name:port`, `name`.
    let (addr, port) = match host.rsplit_once(':') {
        Some((a, p)) if !a.is_empty() && (!a.contains(':') || a.ends_with(']')) => {
            (a, p.parse::<u16>().ok())
        }
        _ => (host, None),
    };
    Peer {
        address: (!addr.is_empty()).then(|| strip_brackets(addr).to_owned()),
        port,
    }
}

fn strip_brackets(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_from_uri_and_host() {
        let p = peer_of_uri(&"ws://example.com/x".parse().unwrap());
        assert_eq!(p.address.as_deref(), Some("example.com"));
        assert_eq!(p.port, Some(80));
        let p = peer_of_uri(&"wss://[::1]:9000/".parse().unwrap());
        assert_eq!((p.address.as_deref(), p.port), (Some("::1"), Some(9000)));
        let p = peer_of_uri(&"wss://h/".parse().unwrap());
        assert_eq!(p.port, Some(443));

        let mut h = HeaderMap::new();
        h.insert(HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert_eq!(
            peer_of_host(&h),
            Peer {
                address: Some("127.0.0.1".into()),
                port: Some(8080)
            }
        );
        h.insert(HOST, HeaderValue::from_static("[::1]:1"));
        assert_eq!(peer_of_host(&h).address.as_deref(), Some("::1"));
        h.insert(HOST, HeaderValue::from_static("name"));
        assert_eq!(
            peer_of_host(&h),
            Peer {
                address: Some("name".into()),
                port: None
            }
        );
        assert_eq!(peer_of_host(&HeaderMap::new()), Peer::default());
    }

    #[test]
    fn injection_keeps_app_headers() {
        let mut h = HeaderMap::new();
        h.insert("traceparent", HeaderValue::from_static("app"));
        let mut inj = KeepExisting(&mut h);
        inj.set("traceparent", "ours".into());
        inj.set("tracestate", "a=b".into());
        assert_eq!(h.get("traceparent").unwrap(), "app");
        assert_eq!(h.get("tracestate").unwrap(), "a=b");
    }

    #[test]
    fn tokens_split_across_headers() {
        let mut h = HeaderMap::new();
        h.append(
            SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("otel-ws+json, json"),
        );
        h.append(SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static("v2"));
        assert_eq!(offered_tokens(&h), ["otel-ws+json", "json", "v2"]);
    }
}
