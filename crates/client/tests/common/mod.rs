//! A client of one site against a base URL, with a generous limiter.

#![allow(dead_code)]

use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;

use jira_sync_auth::Provider;
use jira_sync_client::{Client, NoObserver};
use jira_sync_config::{ApiToken, Auth, Limits, Secret, Site};
use jira_sync_ratelimit::SiteLimiter;
use url::Url;

pub fn limits(rps: u32, burst: u32) -> Limits {
    Limits {
        requests_per_second: NonZeroU32::new(rps).unwrap(),
        burst: NonZeroU32::new(burst).unwrap(),
        max_concurrency: NonZeroUsize::new(4).unwrap(),
    }
}

pub fn site(url: &str, auth: Auth) -> Site {
    Site {
        name: "acme".into(),
        file: "acme.toml".into(),
        url: Url::parse(url).unwrap(),
        cloud_id: None,
        auth,
        limits: limits(1000, 1000),
        connectors: vec![],
    }
}

pub fn basic(email: &str, token: &str) -> Auth {
    Auth::ApiToken(ApiToken {
        email: email.into(),
        token: Secret::new(token),
        expires_at: None,
    })
}

/// reqwest with rustls; `timeout: None` keeps timers out of paused-time tests (a pending
/// timer lets tokio auto-advance into it while a request waits on its socket).
pub fn http(timeout: Option<std::time::Duration>) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut b = reqwest::Client::builder().pool_idle_timeout(None);
    if let Some(t) = timeout {
        b = b.timeout(t);
    }
    b.build().unwrap()
}

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

pub fn client(base: &str) -> Client {
    client_with(
        base,
        basic("bot@acme.example", "FAKE-token-1"),
        limits(1000, 1000),
        http(None),
    )
    .0
}
