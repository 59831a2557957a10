//! The `otel-ws` subprotocol negotiation (`docs/wire-formats.md#subprotocol-negotiation`),
//! as pure functions of the offer, the
//! reply and the configured application protocols.

/// The subprotocol token announcing the envelope; composite form `otel-ws+<app>`.
pub const OTEL_WS: &str = "otel-ws";

const OTEL_WS_PLUS: &str = "otel-ws+";

/// Whether and how a connection negotiates the `otel-ws` subprotocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Negotiation {
    /// No tokens offered or interpreted; the envelope is on whenever enabled (as
    /// otelwebsocket v0.1.0).
    #[default]
    Off,
    /// RFC 6455-correct: the server answers only with a token the client offered.
    Strict,
    /// `Strict` plus the one non-RFC answer otel-gorilla-ws clients expect
    /// (`otel-ws+X` to an offer of `otel-ws, X`).
    GorillaCompat,
}

/// The outcome of a handshake for this crate.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Outcome {
    /// The envelope is written and detected.
    pub(crate) enveloped: bool,
    /// An otel-ws token was confirmed.
    pub(crate) otel: bool,
    /// The application protocol (without the `otel-ws+` prefix).
    pub(crate) app: Option<String>,
}

/// Splits `otel-ws` / `otel-ws+X` / `X` into (is_otel, app).
pub(crate) fn parse_token(token: &str) -> (bool, Option<&str>) {
    if token == OTEL_WS {
        (true, None)
    } else if let Some(app) = token.strip_prefix(OTEL_WS_PLUS) {
        (true, Some(app))
    } else {
        (false, Some(token))
    }
}

/// The tokens a negotiating client offers: `otel-ws+a1, …, otel-ws+an, a1, …, an`, or a
/// bare `otel-ws` without apps.
pub(crate) fn client_offer(apps: &[String]) -> Vec<String> {
    if apps.is_empty() {
        return vec![OTEL_WS.to_owned()];
    }
    apps.iter()
        .map(|a| format!("{OTEL_WS_PLUS}{a}"))
        .chain(apps.iter().cloned())
        .collect()
}

/// Interprets the server's reply on a negotiating client.
pub(crate) fn client_outcome(reply: Option<&str>) -> Outcome {
    match reply.map(parse_token) {
        Some((true, app)) => Outcome {
            enveloped: true,
            otel: true,
            app: app.map(str::to_owned),
        },
        Some((false, app)) => Outcome {
            enveloped: false,
            otel: false,
            app: app.map(str::to_owned),
        },
        None => Outcome::default(),
    }
}

/// The server's answer: the `Sec-WebSocket-Protocol` to send (if any) and the outcome.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ServerChoice {
    pub(crate) reply: Option<String>,
    pub(crate) outcome: Outcome,
}

/// Server selection: the three steps of `docs/wire-formats.md#subprotocol-negotiation`
/// (a confirmed `otel-ws+X`, then a bare `otel-ws`, then ordinary selection).
pub(crate) fn server_select(
    mode: Negotiation,
    enabled: bool,
    offer: &[&str],
    apps: &[String],
) -> ServerChoice {
    let supported = |x: &str| apps.iter().any(|a| a == x);
    let negotiating = enabled && mode != Negotiation::Off;
    if negotiating {
        // Step 1: the first offered otel-ws+X with X supported (any X without apps).
        for token in offer {
            if let (true, Some(app)) = parse_token(token) {
                if apps.is_empty() || supported(app) {
                    return ServerChoice {
                        reply: Some((*token).to_owned()),
                        outcome: Outcome {
                            enveloped: true,
                            otel: true,
                            app: Some(app.to_owned()),
                        },
                    };
                }
            }
        }
        // Step 2: bare otel-ws.
        if offer.contains(&OTEL_WS) {
            let bare_app = offer
                .iter()
                .find(|t| !parse_token(t).0 && supported(t))
                .copied();
            return match (bare_app, mode) {
                (None, _) => ServerChoice {
                    reply: Some(OTEL_WS.to_owned()),
                    outcome: Outcome {
                        enveloped: true,
                        otel: true,
                        app: None,
                    },
                },
                (Some(app), Negotiation::GorillaCompat) => ServerChoice {
                    reply: Some(format!("{OTEL_WS_PLUS}{app}")),
                    outcome: Outcome {
                        enveloped: true,
                        otel: true,
                        app: Some(app.to_owned()),
                    },
                },
                (Some(app), _) => ServerChoice {
                    reply: Some(app.to_owned()),
                    outcome: Outcome {
                        enveloped: false,
                        otel: false,
                        app: Some(app.to_owned()),
                    },
                },
            };
        }
    }
    // Step 3: ordinary selection.
    let app = offer
        .iter()
        .find(|t| !parse_token(t).0 && supported(t))
        .map(|t| (*t).to_owned());
    ServerChoice {
        reply: app.clone(),
        outcome: Outcome {
            enveloped: enabled && !negotiating,
            otel: false,
            app,
        },
    }
}

/// Splits a `Sec-WebSocket-Protocol` header value into tokens.
pub(crate) fn split_tokens(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn apps(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn client_offers_composites_then_apps() {
        assert_eq!(client_offer(&[]), ["otel-ws"]);
        assert_eq!(
            client_offer(&apps(&["json", "v2"])),
            ["otel-ws+json", "otel-ws+v2", "json", "v2"]
        );
    }

    #[test]
    fn client_reads_replies() {
        let o = client_outcome(Some("otel-ws+json"));
        assert!(o.enveloped && o.otel);
        assert_eq!(o.app.as_deref(), Some("json"));
        let o = client_outcome(Some("otel-ws"));
        assert!(o.enveloped && o.app.is_none());
        let o = client_outcome(Some("json"));
        assert!(!o.enveloped && !o.otel);
        assert_eq!(o.app.as_deref(), Some("json"));
    }

    #[test]
    fn server_table_rows() {
        use Negotiation::*;
        let json = apps(&["json"]);
        let s = server_select(Strict, true, &["otel-ws+json", "json"], &json);
        assert_eq!(s.reply.as_deref(), Some("otel-ws+json"));
        assert!(s.outcome.enveloped);
        let s = server_select(Strict, true, &["otel-ws"], &json);
        assert_eq!(s.reply.as_deref(), Some("otel-ws"));
        assert!(s.outcome.enveloped);
        let s = server_select(Strict, true, &["otel-ws", "json"], &json);
        assert_eq!(s.reply.as_deref(), Some("json"));
        assert!(!s.outcome.enveloped);
        let s = server_select(GorillaCompat, true, &["otel-ws", "json"], &json);
        assert_eq!(s.reply.as_deref(), Some("otel-ws+json"));
        assert!(s.outcome.enveloped);
        let s = server_select(Strict, true, &["json"], &json);
        assert_eq!(s.reply.as_deref(), Some("json"));
        assert!(!s.outcome.enveloped);
        // Off: envelope on, no otel tokens confirmed.
        let s = server_select(Off, true, &["otel-ws", "json"], &json);
        assert_eq!(s.reply.as_deref(), Some("json"));
        assert!(s.outcome.enveloped && !s.outcome.otel);
        // Disabled: never confirms otel-ws.
        let s = server_select(GorillaCompat, false, &["otel-ws+json", "otel-ws"], &[]);
        assert_eq!(s.reply, None);
        assert!(!s.outcome.enveloped);
    }

    proptest! {
        #[test]
        fn strict_reply_is_always_offered(
            offer in proptest::collection::vec(prop_oneof![
                Just("otel-ws".to_owned()), "otel-ws\\+[a-c]", "[a-c]"], 0..5),
            server_apps in proptest::collection::vec("[a-c]", 0..3),
            enabled in any::<bool>(),
        ) {
            let refs: Vec<&str> = offer.iter().map(String::as_str).collect();
            let s = server_select(Negotiation::Strict, enabled, &refs, &server_apps);
            if let Some(reply) = &s.reply {
                prop_assert!(refs.contains(&reply.as_str()), "{reply} not in {refs:?}");
            }
            if !enabled {
                prop_assert!(!s.outcome.otel && !s.outcome.enveloped);
                prop_assert!(s.reply.as_deref().is_none_or(|r| !parse_token(r).0));
            }
        }
    }
}
