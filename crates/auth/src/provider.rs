//! A site's credential: the `Authorization` header for each request, with OAuth access
//! tokens cached, refreshed single-flight, and rotated refresh tokens flushed to the vault
//! before the new access token is used.

use std::collections::BTreeSet;
use std::time::Duration;

use axum::http::HeaderValue;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use jira_sync_config::{Auth, AuthMethod, Secret, Site};
use jira_sync_store::{RefreshToken, StoreError, Vault};
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;
use url::Url;

/// Where a credential's requests go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `https://SITE.atlassian.net/rest/api/3/...`: classic API tokens.
    Site,
    /// `https://api.atlassian.com/ex/jira/{cloudId}/rest/api/3/...`: everything else.
    Gateway,
}

impl Form {
    pub fn of(method: AuthMethod) -> Form {
        if method.uses_gateway() {
            Form::Gateway
        } else {
            Form::Site
        }
    }
}

/// The `Authorization` header for one request; `generation` names the token it carries.
#[derive(Clone)]
pub struct Authorization {
    header: HeaderValue,
    generation: u64,
}

impl Authorization {
    pub fn header(&self) -> &HeaderValue {
        &self.header
    }
}

impl std::fmt::Debug for Authorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Authorization([REDACTED], generation {})",
            self.generation
        )
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum AuthError {
    /// The credential is revoked or expired; nothing retries it until the operator acts.
    #[error("{0}")]
    Terminal(String),
    /// An `oauth2` site whose vault holds no refresh token.
    #[error("no OAuth refresh token is stored for site `{0}`: run `jira-sync auth login {0}`")]
    NoRefreshToken(String),
    /// The token endpoint could not be reached or failed (5xx, 429); try again later.
    #[error("the token endpoint is unreachable: {0}")]
    Unreachable(String),
    /// The token endpoint answered something unexpected.
    #[error("the token endpoint answered {status}: {detail}")]
    Rejected { status: u16, detail: String },
    /// A basic-auth credential was refused; there is nothing to refresh.
    #[error("the site refused the credential")]
    Refused,
    #[error("token vault: {0}")]
    Store(String),
}

impl From<StoreError> for AuthError {
    fn from(e: StoreError) -> Self {
        AuthError::Store(e.to_string())
    }
}

/// What the token endpoint answers.
#[derive(Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub expires_in: u64,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct TokenError {
    error: Option<String>,
}

/// The token endpoint's errors that mean "this grant or client is dead".
const TERMINAL_ERRORS: &[&str] = &[
    "invalid_grant",
    "unauthorized_client",
    "access_denied",
    "invalid_client",
];

/// Posts a JSON body to the token endpoint (Atlassian takes JSON only).
pub async fn post_token(
    http: &reqwest::Client,
    token_url: &Url,
    body: serde_json::Value,
) -> Result<TokenResponse, TokenFailure> {
    let resp = http
        .post(token_url.clone())
        .json(&body)
        .send()
        .await
        .map_err(|e| TokenFailure::Network(without_url(&e)))?;
    let status = resp.status();
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| TokenFailure::Network(without_url(&e)))?;
    if status.is_success() {
        return serde_json::from_slice(&bytes).map_err(|e| TokenFailure::Status {
            status: status.as_u16(),
            error: format!("unreadable token response: {e}"),
        });
    }
    let error = serde_json::from_slice::<TokenError>(&bytes)
        .ok()
        .and_then(|e| e.error)
        .unwrap_or_default();
    Err(TokenFailure::Status {
        status: status.as_u16(),
        error,
    })
}

/// Why the token endpoint gave no token.
#[derive(Debug, Clone)]
pub enum TokenFailure {
    Network(String),
    Status { status: u16, error: String },
}

impl TokenFailure {
    fn into_auth_error(self, terminal: impl FnOnce(&str) -> String) -> AuthError {
        match self {
            TokenFailure::Network(e) => AuthError::Unreachable(e),
            TokenFailure::Status { status, error }
                if (400..500).contains(&status) && TERMINAL_ERRORS.contains(&error.as_str()) =>
            {
                AuthError::Terminal(terminal(&error))
            }
            TokenFailure::Status { status, error } if status == 429 || status >= 500 => {
                AuthError::Unreachable(format!("HTTP {status} {error}"))
            }
            TokenFailure::Status { status, error } => AuthError::Rejected {
                status,
                detail: error,
            },
        }
    }
}

/// A reqwest error's text with its causes (where the reason is: "invalid peer certificate:
/// UnknownIssuer", "Connection refused"), without the URL (query strings could carry codes).
pub fn without_url(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let text = c.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        cause = c.source();
    }
    if let Some(u) = e.url() {
        s = s.replace(u.as_str(), "<url>");
    }
    if s.contains("invalid peer certificate") {
        s.push_str(
            " (certificates are always verified, against the system's trust store: add the issuer there, or point SSL_CERT_FILE at it)",
        );
    }
    s
}

enum Inner {
    Basic(HeaderValue),
    OAuth2 {
        client_id: String,
        secret: Secret,
        initial: Option<Secret>,
    },
    ClientCredentials {
        client_id: String,
        secret: Secret,
    },
}

/// Which stored refresh token a refusal was about: (consented at, issued at).
type TokenId = (DateTime<Utc>, DateTime<Utc>);

#[derive(Default)]
struct Cached {
    token: Option<(HeaderValue, Instant, Duration)>,
    generation: u64,
    /// Why the credential is dead, and which stored refresh token was refused.
    terminal: Option<(String, Option<TokenId>)>,
}

/// A site's credential provider.
pub struct Provider {
    site: String,
    method: AuthMethod,
    inner: Inner,
    http: reqwest::Client,
    token_url: Url,
    vault: Option<Vault>,
    cache: Mutex<Cached>,
    granted: std::sync::Mutex<Option<BTreeSet<String>>>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("site", &self.site)
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

/// Refresh when less than this is left of an access token's life (or a tenth of it).
const REFRESH_MARGIN: Duration = Duration::from_secs(60);

impl Provider {
    /// The provider of `site`; `auth_url` is the authorization server (for OAuth methods),
    /// `vault` the token vault (required for `oauth2`).
    pub fn new(
        site: &Site,
        auth_url: &Url,
        http: reqwest::Client,
        vault: Option<Vault>,
    ) -> Provider {
        let inner = match &site.auth {
            Auth::ApiToken(t) | Auth::ServiceAccount(t) => {
                let raw = format!("{}:{}", t.email, t.token.expose());
                let mut h = HeaderValue::from_str(&format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(raw)
                ))
                .expect("base64 is a valid header value");
                h.set_sensitive(true);
                Inner::Basic(h)
            }
            Auth::OAuth2(o) => Inner::OAuth2 {
                client_id: o.client_id.clone(),
                secret: o.client_secret.clone(),
                initial: o.initial_refresh_token.clone(),
            },
            Auth::ClientCredentials(c) => Inner::ClientCredentials {
                client_id: c.client_id.clone(),
                secret: c.client_secret.clone(),
            },
        };
        Provider {
            site: site.name.clone(),
            method: site.auth.method(),
            inner,
            http,
            token_url: token_url(auth_url),
            vault,
            cache: Mutex::new(Cached::default()),
            granted: std::sync::Mutex::new(None),
        }
    }

    pub fn site(&self) -> &str {
        &self.site
    }

    pub fn method(&self) -> AuthMethod {
        self.method
    }

    pub fn form(&self) -> Form {
        Form::of(self.method)
    }

    /// The scopes the token endpoint reported for the current access token (OAuth only).
    pub fn granted_scopes(&self) -> Option<BTreeSet<String>> {
        self.granted.lock().expect("granted lock").clone()
    }

    /// The header for the next request: a cached access token while it has more than the
    /// margin left, else a fresh one (one refresh at a time; concurrent callers wait for it).
    pub async fn authorization(&self) -> Result<Authorization, AuthError> {
        if let Inner::Basic(h) = &self.inner {
            return Ok(Authorization {
                header: h.clone(),
                generation: 0,
            });
        }
        let mut cached = self.cache.lock().await;
        self.current_or_refresh(&mut cached, None).await
    }

    /// After a 401 with `used`: one forced refresh, unless another caller already replaced
    /// that token, in which case its replacement is returned.
    pub async fn after_unauthorized(
        &self,
        used: &Authorization,
    ) -> Result<Authorization, AuthError> {
        if let Inner::Basic(_) = &self.inner {
            return Err(AuthError::Refused);
        }
        let mut cached = self.cache.lock().await;
        self.current_or_refresh(&mut cached, Some(used.generation))
            .await
    }

    async fn current_or_refresh(
        &self,
        c: &mut Cached,
        stale: Option<u64>,
    ) -> Result<Authorization, AuthError> {
        if let Some((reason, refused)) = &c.terminal {
            // The operator acts by storing a new refresh token (`auth login`) or reloading.
            let fresh = match (&self.vault, refused) {
                (Some(v), Some(r)) => v
                    .refresh_token(&self.site)?
                    .is_some_and(|t| (t.consented_at, t.issued_at) != *r),
                _ => false,
            };
            if !fresh {
                return Err(AuthError::Terminal(reason.clone()));
            }
            c.terminal = None;
        }
        let must_refresh = stale.is_some_and(|g| g == c.generation);
        if !must_refresh
            && let Some((h, expires, life)) = &c.token
            && still_fresh(Instant::now(), *expires, *life)
        {
            return Ok(Authorization {
                header: h.clone(),
                generation: c.generation,
            });
        }
        match self.fetch().await {
            Ok(t) => {
                let mut h =
                    HeaderValue::from_str(&format!("Bearer {}", t.access_token)).map_err(|_| {
                        AuthError::Rejected {
                            status: 200,
                            detail: "the access token is not a valid header value".into(),
                        }
                    })?;
                h.set_sensitive(true);
                let life = Duration::from_secs(t.expires_in.max(1));
                c.generation += 1;
                c.token = Some((h.clone(), Instant::now() + life, life));
                if let Some(scope) = &t.scope {
                    *self.granted.lock().expect("granted lock") =
                        Some(scope.split_whitespace().map(str::to_owned).collect());
                }
                Ok(Authorization {
                    header: h,
                    generation: c.generation,
                })
            }
            Err((AuthError::Terminal(reason), refused)) => {
                tracing::error!(site = %self.site, method = %self.method, reason = %reason, "Credential refused; the site stops until the operator acts.");
                c.token = None;
                c.terminal = Some((reason.clone(), refused));
                Err(AuthError::Terminal(reason))
            }
            Err((e, _)) => Err(e),
        }
    }

    /// A new access token from the token endpoint; on failure, also which stored refresh
    /// token was refused.
    async fn fetch(&self) -> Result<TokenResponse, (AuthError, Option<TokenId>)> {
        match &self.inner {
            Inner::Basic(_) => unreachable!("basic credentials are not fetched"),
            Inner::ClientCredentials { client_id, secret } => {
                let body = serde_json::json!({ "grant_type": "client_credentials", "client_id": client_id, "client_secret": secret.expose(), "audience": "api.atlassian.com" });
                post_token(&self.http, &self.token_url, body).await.map_err(|f| {
                    let site = self.site.clone();
                    (f.into_auth_error(|e| format!("the token endpoint refused the client credentials of site `{site}` ({e}): check auth.client_id and auth.client_secret (was the secret rotated or the credential revoked?)")), None)
                })
            }
            Inner::OAuth2 {
                client_id,
                secret,
                initial,
            } => {
                let vault = self
                    .vault
                    .as_ref()
                    .ok_or_else(|| (AuthError::Store("no token vault is open".into()), None))?;
                let configured = initial.as_ref().map(seed_id);
                let stored = vault
                    .refresh_token(&self.site)
                    .map_err(|e| (e.into(), None))?;
                // Which token to use: the stored (rotated) one, unless the configuration
                // names a different refresh token than the one this family came from (the
                // operator supplied a new consent), or nothing is stored yet.
                let (stored, reseed) = match (stored, initial) {
                    (None, None) => {
                        return Err((AuthError::NoRefreshToken(self.site.clone()), None));
                    }
                    (None, Some(seed)) => (None, Some(seed)),
                    (Some(t), None) => (Some(t), None),
                    (Some(t), Some(seed)) => match &t.seed {
                        Some(s) if Some(s) != configured.as_ref() => (None, Some(seed)),
                        _ => (Some(t), None),
                    },
                };
                let stored = match (stored, reseed) {
                    (Some(mut t), _) => {
                        if t.seed.is_none() && configured.is_some() {
                            // Nothing recorded yet: what is configured now is the old seed.
                            t.seed = configured.clone();
                            vault
                                .put_refresh_token(&self.site, &t)
                                .await
                                .map_err(|e| (e.into(), None))?;
                        }
                        t
                    }
                    (None, seed) => {
                        let Some(seed) = seed else {
                            return Err((AuthError::NoRefreshToken(self.site.clone()), None));
                        };
                        let now = Utc::now();
                        let t = RefreshToken {
                            token: seed.clone(),
                            consented_at: now,
                            issued_at: now,
                            seed: configured.clone(),
                        };
                        vault
                            .put_refresh_token(&self.site, &t)
                            .await
                            .map_err(|e| (e.into(), None))?;
                        t
                    }
                };
                let refused = Some((stored.consented_at, stored.issued_at));
                let body = serde_json::json!({ "grant_type": "refresh_token", "client_id": client_id, "client_secret": secret.expose(), "refresh_token": stored.token.expose() });
                let t = post_token(&self.http, &self.token_url, body).await.map_err(|f| {
                    let site = self.site.clone();
                    (f.into_auth_error(|e| format!("the token endpoint refused the refresh token of site `{site}` ({e}): the grant was revoked or expired; run `jira-sync auth login {site}`")), refused)
                })?;
                if let Some(rotated) = &t.refresh_token {
                    // Durable before the new access token is used: the old refresh token dies
                    // ten minutes after this rotation.
                    let next = RefreshToken {
                        token: Secret::new(rotated.clone()),
                        consented_at: stored.consented_at,
                        issued_at: Utc::now(),
                        seed: stored.seed.clone(),
                    };
                    vault
                        .put_refresh_token(&self.site, &next)
                        .await
                        .map_err(|e| (e.into(), None))?;
                }
                Ok(t)
            }
        }
    }
}

/// A cached access token is used while more than the margin (a minute, or a tenth of its
/// life if shorter) is left.
fn still_fresh(now: Instant, expires: Instant, life: Duration) -> bool {
    now + REFRESH_MARGIN.min(life / 10) < expires
}

/// `{auth_url}/oauth/token`.
/// A fingerprint of a configured refresh token (FNV-1a, hex): enough to tell whether the
/// configuration changed, and kept only in the token vault.
pub fn seed_id(token: &Secret) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in token.expose().bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

pub fn token_url(auth_url: &Url) -> Url {
    let mut u = auth_url.clone();
    let path = format!("{}/oauth/token", u.path().trim_end_matches('/'));
    u.set_path(&path);
    u
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn access_tokens_are_replaced_shortly_before_they_expire() {
        let start = Instant::now();
        let hour = Duration::from_secs(3600);
        let expires = start + hour;
        assert!(still_fresh(start, expires, hour));
        tokio::time::advance(Duration::from_secs(3539)).await;
        assert!(
            still_fresh(Instant::now(), expires, hour),
            "61 s left of an hour"
        );
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(
            !still_fresh(Instant::now(), expires, hour),
            "59 s left: refresh"
        );
        // A short-lived token keeps a tenth of its life as margin.
        let short = Duration::from_secs(100);
        assert!(still_fresh(start, start + short, short));
        assert!(!still_fresh(
            start + Duration::from_secs(91),
            start + short,
            short
        ));
    }
}
