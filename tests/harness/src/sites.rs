//! Checked configuration values (`jira_sync_config::Site`, `Auth`, `Limits`) for the crates
//! whose tests take configuration directly, and a client of one site: site `acme`, the
//! account `bot@acme.example`, obviously fake secrets.

use std::collections::BTreeMap;
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;

use jira_sync_auth::Provider;
use jira_sync_client::{Client, NoObserver};
use jira_sync_config::{ApiToken, Auth, ClientCredentials, Limits, OAuth2, Secret, Site};
use jira_sync_ratelimit::SiteLimiter;
use url::Url;

/// The account every site of this module authenticates as.
pub const EMAIL: &str = "bot@acme.example";
/// The API token of [`api_token`] and [`service_account`].
pub const TOKEN: &str = "FAKE-api-token-7f3a";
/// The OAuth app of [`oauth2`] and [`client_credentials`].
pub const CLIENT_ID: &str = "app-1";
/// Its client secret.
pub const CLIENT_SECRET: &str = "FAKE-client-secret-91c2";

/// `requests_per_second`, `burst`, and 4 requests in flight.
pub fn limits(requests_per_second: u32, burst: u32) -> Limits {
    Limits {
        requests_per_second: NonZeroU32::new(requests_per_second).unwrap(),
        burst: NonZeroU32::new(burst).unwrap(),
        max_concurrency: NonZeroUsize::new(4).unwrap(),
    }
}

/// The site `acme` (file `acme.toml`) at `url`, with the default limits and no connectors.
pub fn site(url: &str, auth: Auth) -> Site {
    Site {
        name: "acme".into(),
        file: "acme.toml".into(),
        url: Url::parse(url).unwrap(),
        cloud_id: None,
        auth,
        limits: limits(10, 20),
        connectors: Vec::new(),
        webhooks: false,
        webhook_secret: None,
    }
}

/// A classic API token of [`EMAIL`], expiring when declared.
pub fn api_token(expires_at: Option<chrono::DateTime<chrono::Utc>>) -> Auth {
    Auth::ApiToken(ApiToken {
        email: EMAIL.into(),
        token: Secret::new(TOKEN),
        expires_at,
    })
}

/// Basic auth with any email and token.
pub fn basic(email: &str, token: &str) -> Auth {
    Auth::ApiToken(ApiToken {
        email: email.into(),
        token: Secret::new(token),
        expires_at: None,
    })
}

/// A service account's scoped token (gateway URL form).
pub fn service_account(expires_at: Option<chrono::DateTime<chrono::Utc>>) -> Auth {
    Auth::ServiceAccount(ApiToken {
        email: EMAIL.into(),
        token: Secret::new(TOKEN),
        expires_at,
    })
}

/// OAuth 2.0 (3LO) without a configured refresh token.
pub fn oauth2() -> Auth {
    Auth::OAuth2(OAuth2 {
        client_id: CLIENT_ID.into(),
        client_secret: Secret::new(CLIENT_SECRET),
        initial_refresh_token: None,
    })
}

/// OAuth 2.0 client credentials.
pub fn client_credentials() -> Auth {
    Auth::ClientCredentials(ClientCredentials {
        client_id: CLIENT_ID.into(),
        client_secret: Secret::new(CLIENT_SECRET),
    })
}

/// No mapped fields.
pub fn no_fields() -> BTreeMap<String, String> {
    BTreeMap::new()
}

/// reqwest with rustls; `timeout: None` keeps timers out of paused-time tests (a pending
/// timer lets tokio auto-advance into it while a request waits on its socket).
pub fn http(timeout: Option<std::time::Duration>) -> reqwest::Client {
    crate::install_crypto();
    let mut b = reqwest::Client::builder().pool_idle_timeout(None);
    if let Some(t) = timeout {
        b = b.timeout(t);
    }
    b.build().unwrap()
}

/// A client of site `acme` at `base` with `auth`, limited by `lim`, and its limiter.
pub fn client_with(
    base: &str,
    auth: Auth,
    lim: Limits,
    http: reqwest::Client,
) -> (Client, Arc<SiteLimiter>) {
    let s = site(base, auth);
    let provider = Arc::new(Provider::new(
        &s,
        &Url::parse(base).unwrap(),
        http.clone(),
        None,
    ));
    let limiter = Arc::new(SiteLimiter::new("acme", lim));
    (
        Client::new(
            "acme",
            Url::parse(base).unwrap(),
            provider,
            limiter.clone(),
            http,
            Arc::new(NoObserver),
        ),
        limiter,
    )
}

/// A client of `base` with a generous limiter and a fake basic credential.
pub fn client(base: &str) -> Client {
    client_with(
        base,
        basic(EMAIL, "FAKE-token-1"),
        limits(1000, 1000),
        http(None),
    )
    .0
}
