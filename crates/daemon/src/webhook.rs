//! The webhook listener (`webhook_listen`): Jira's deliveries, authenticated, de-duplicated
//! and handed to the jobs as nudges (reference jira-cloud-api.md section 9).
//!
//! A site's deliveries arrive at `webhook_url/SITE`; the listener takes the last path
//! segment as the site, so a reverse proxy may mount it under any prefix. For each
//! delivery, in order:
//! 1. The site must have `webhooks = true` (else 404, not counted: the name is the
//!    caller's, not the configuration's).
//! 2. Authentication. `oauth2` sites: `Authorization: Bearer <JWT>`, HS256 with the OAuth
//!    app's client secret, not past its `exp` (section 9.1; the algorithm is UNCONFIRMED
//!    officially). Other sites: `X-Hub-Signature: sha256=<hex HMAC-SHA256 of the body>` with
//!    `webhook_secret` (section 9.2). Comparisons are constant-time. A failure is 401 and
//!    counted `unauthorized`; nothing else happens.
//! 3. `X-Atlassian-Webhook-Identifier` seen before: 200, counted `duplicate`, nothing else.
//! 4. An issue or comment event names the issue and its project: the connectors of that
//!    project get a nudge (`Daemon::nudge`) and the answer is 200 at once (`accepted`); any
//!    other event, or a project no connector syncs, is `ignored`.
//!
//! Bodies above `MAX_BODY` are refused with 413 before any of this.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jira_sync_config::{Auth, Site};
use jira_sync_jobs::Daemon;
use jira_sync_metrics::Metrics;
use serde_json::Value;

/// The largest delivery body taken, in bytes (an issue event with a long description and
/// changelog is tens of kilobytes).
pub const MAX_BODY: usize = 1 << 20;
/// Connections the listener holds open at once (see `crate::bounded`).
pub const MAX_CONNECTIONS: usize = 256;
/// How long a connection stays open after it was accepted: enough for many deliveries.
pub const CONNECTION_LIFETIME: std::time::Duration = std::time::Duration::from_secs(60);
/// At most one refused delivery per site is logged at warn in this long.
const REFUSALS_LOGGED_EVERY: std::time::Duration = std::time::Duration::from_secs(60);
/// How long a delivery's body may take to arrive.
const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Identifiers remembered for de-duplication (oldest forgotten first).
const REMEMBERED: usize = 100_000;
/// Leeway on a JWT's `exp`, for clocks that disagree.
const LEEWAY_SECONDS: i64 = 60;
/// The longest `X-Atlassian-Webhook-Identifier` remembered whole, in bytes.
const IDENTIFIER_MAX: usize = 200;
/// Events that name an issue, the ones the daemon's webhooks ask for: the `event` label
/// takes these, anything else is `other`.
const EVENTS: &[&str] = jira_sync_jobs::WEBHOOK_EVENTS;

/// What the listener's handler holds.
#[derive(Clone)]
pub struct Receiver {
    daemon: Daemon,
    metrics: Metrics,
    seen: Arc<Mutex<Seen>>,
    /// When a refusal was last logged at warn, per site: a flood of forged deliveries
    /// logs one line a minute per site (the counter counts them all).
    warned: Arc<Mutex<std::collections::HashMap<String, std::time::Instant>>>,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}

/// Identifiers of deliveries taken, bounded.
#[derive(Default)]
struct Seen {
    set: HashSet<String>,
    order: VecDeque<String>,
}

impl Seen {
    /// False if `id` was taken before; remembers it otherwise.
    fn first(&mut self, id: &str) -> bool {
        if self.set.contains(id) {
            return false;
        }
        if self.order.len() >= REMEMBERED
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        self.set.insert(id.to_owned());
        self.order.push_back(id.to_owned());
        true
    }
}

impl Receiver {
    pub fn new(daemon: Daemon, metrics: Metrics) -> Self {
        Receiver {
            daemon,
            metrics,
            seen: Arc::default(),
            warned: Arc::default(),
        }
    }
}

/// The listener's routes: `POST` on any path.
pub fn router(r: Receiver) -> Router {
    Router::new()
        .route("/{*path}", post(deliver))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(r)
}

async fn deliver(
    State(r): State<Receiver>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> StatusCode {
    let name = path.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    let config = r.daemon.config();
    let Some(site) = config.sites.iter().find(|s| s.name == name && s.webhooks) else {
        return StatusCode::NOT_FOUND;
    };
    // A sender that trickles its body (or announces more than it sends) is cut off rather
    // than holding a connection open.
    let body = match tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, MAX_BODY)).await
    {
        Ok(Ok(b)) => b,
        Ok(Err(_)) => return StatusCode::PAYLOAD_TOO_LARGE,
        Err(_) => return StatusCode::REQUEST_TIMEOUT,
    };
    let payload: Option<Value> = serde_json::from_slice(&body).ok();
    let event = payload
        .as_ref()
        .and_then(|v| v["webhookEvent"].as_str())
        .and_then(|e| EVENTS.iter().find(|k| **k == e).copied())
        .unwrap_or("other");
    let count = |outcome: &str| {
        r.metrics
            .webhook_deliveries_total
            .with_label_values(&[site.name.as_str(), event, outcome])
            .inc();
    };
    if let Err(why) = authenticate(site, &headers, &body, chrono::Utc::now().timestamp()) {
        let now = std::time::Instant::now();
        let first_in_a_minute = {
            let mut warned = r.warned.lock().unwrap_or_else(PoisonError::into_inner);
            let due = warned
                .get(&site.name)
                .is_none_or(|t| now.duration_since(*t) >= REFUSALS_LOGGED_EVERY);
            if due {
                warned.insert(site.name.clone(), now);
            }
            due
        };
        if first_in_a_minute {
            tracing::warn!(site = %site.name, why, "Webhook delivery refused: not authenticated.");
        } else {
            tracing::debug!(site = %site.name, why, "Webhook delivery refused: not authenticated.");
        }
        count("unauthorized");
        return StatusCode::UNAUTHORIZED;
    }
    r.metrics
        .webhook_last_delivery_timestamp_seconds
        .with_label_values(&[site.name.as_str()])
        .set(chrono::Utc::now().timestamp() as f64);
    r.daemon.delivered(&site.name);
    let identifier = headers
        .get("x-atlassian-webhook-identifier")
        .and_then(|v| v.to_str().ok());
    if let Some(id) = identifier {
        // Jira's identifiers are short; a longer one is cut, so no sender can make the
        // remembered set large (a cut one still tells a repeat from a new delivery).
        // (`to_str` took visible ASCII only: every byte is a character boundary.)
        let id = id.get(..IDENTIFIER_MAX.min(id.len())).unwrap_or(id);
        let key = format!("{}/{id}", site.name);
        if !r
            .seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .first(&key)
        {
            count("duplicate");
            return StatusCode::OK;
        }
    }
    let named = payload.as_ref().and_then(|v| {
        let issue = &v["issue"];
        let project = issue["fields"]["project"]["key"].as_str()?;
        let id = issue["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .or_else(|| issue["id"].as_u64());
        Some((project.to_owned(), id))
    });
    let nudged = match (event, named) {
        ("other", _) | (_, None) => 0,
        (_, Some((project, id))) => r.daemon.nudge(&site.name, &project, id),
    };
    count(if nudged > 0 { "accepted" } else { "ignored" });
    tracing::debug!(site = %site.name, event, identifier, connectors = nudged, "Webhook delivery.");
    StatusCode::OK
}

/// Checks a delivery's signature for `site` at `now` (Unix seconds). The error says why,
/// without any secret or token.
fn authenticate(
    site: &Site,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<(), &'static str> {
    match &site.auth {
        Auth::OAuth2(o) => {
            let token = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .ok_or("no bearer token")?;
            verify_jwt(token, o.client_secret.expose().as_bytes(), now)
        }
        _ => {
            let secret = site.webhook_secret.as_ref().ok_or("no webhook_secret")?;
            let sig = headers
                .get("x-hub-signature")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("sha256="))
                .ok_or("no X-Hub-Signature")?;
            let sig = hex(sig).ok_or("X-Hub-Signature is not hex")?;
            let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.expose().as_bytes());
            ring::hmac::verify(&key, body, &sig).map_err(|_| "X-Hub-Signature does not match")
        }
    }
}

/// An HS256 JWT signed with `secret`, not expired at `now` (Unix seconds).
fn verify_jwt(token: &str, secret: &[u8], now: i64) -> Result<(), &'static str> {
    let mut parts = token.split('.');
    let (Some(head), Some(claims), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("the bearer token is not a JWT");
    };
    let decode = |s: &str| URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok();
    let header: Value = decode(head)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or("the JWT header is not JSON")?;
    if header["alg"] != "HS256" {
        return Err("the JWT is not HS256");
    }
    let sig = decode(sig).ok_or("the JWT signature is not base64url")?;
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let signed = &token[..head.len() + 1 + claims.len()];
    ring::hmac::verify(&key, signed.as_bytes(), &sig)
        .map_err(|_| "the JWT signature does not match")?;
    let claims: Value = decode(claims)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or("the JWT claims are not JSON")?;
    // A token without a whole-number `exp` would be good forever once captured.
    let exp = claims["exp"]
        .as_i64()
        .ok_or("the JWT has no whole-number exp")?;
    if exp.saturating_add(LEEWAY_SECONDS) < now {
        return Err("the JWT has expired");
    }
    Ok(())
}

/// Lower- or upper-case hex digits, nothing else (`from_str_radix` alone takes a `+`).
fn hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &str, secret: &[u8]) -> String {
        let head = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(claims);
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
        let sig = ring::hmac::sign(&key, format!("{head}.{body}").as_bytes());
        format!("{head}.{body}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }

    #[test]
    fn jwts_are_checked_for_signature_algorithm_and_expiry() {
        let good = jwt(r#"{"exp":1000}"#, b"FAKE-secret");
        assert_eq!(verify_jwt(&good, b"FAKE-secret", 1000), Ok(()));
        assert_eq!(
            verify_jwt(&good, b"FAKE-secret", 1000 + LEEWAY_SECONDS),
            Ok(())
        );
        assert!(verify_jwt(&good, b"FAKE-secret", 1061).is_err(), "expired");
        assert!(
            verify_jwt(&good, b"FAKE-other", 1000).is_err(),
            "wrong secret"
        );
        let none = good.replacen(
            &URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#),
            &URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#),
            1,
        );
        assert!(verify_jwt(&none, b"FAKE-secret", 1000).is_err(), "alg none");
        let (signed, _) = good.rsplit_once('.').unwrap();
        assert!(verify_jwt(&format!("{signed}."), b"FAKE-secret", 1000).is_err());
        assert!(verify_jwt("a.b", b"FAKE-secret", 1000).is_err());
        // Signed, but with no expiry a JWT could not be refused later: refused now.
        for claims in [
            r#"{}"#,
            r#"{"exp":1.5}"#,
            r#"{"exp":"99999999999"}"#,
            r#"{"exp":18446744073709551615}"#,
            r#"[1,2]"#,
        ] {
            let t = jwt(claims, b"FAKE-secret");
            assert!(verify_jwt(&t, b"FAKE-secret", 1000).is_err(), "{claims}");
        }
        let far = jwt(&format!(r#"{{"exp":{}}}"#, i64::MAX), b"FAKE-secret");
        assert_eq!(verify_jwt(&far, b"FAKE-secret", 1000), Ok(()));
    }

    #[test]
    fn signatures_are_hex_digits_only() {
        assert_eq!(hex("0aFF"), Some(vec![0x0a, 0xff]));
        for bad in ["+a", "-1", " a", "0x", "abc", "zz"] {
            assert_eq!(hex(bad), None, "{bad}");
        }
    }

    #[test]
    fn identifiers_are_remembered_up_to_a_bound() {
        let mut s = Seen::default();
        assert!(s.first("a"));
        assert!(!s.first("a"));
        for i in 0..REMEMBERED {
            s.first(&i.to_string());
        }
        assert!(s.first("a"), "the oldest is forgotten first");
        assert_eq!(s.order.len(), REMEMBERED);
    }
}
