//! Credentials of jira-sync: a provider per site for each of Atlassian's four methods
//! (API token, service account, OAuth 2.0 3LO with rotating refresh tokens, client
//! credentials), the token health probe, the consent flow of `auth login`, and the scope
//! table derived from Atlassian's OpenAPI document.

pub mod health; // The probe that classifies a credential: valid, expiring, ..., unreachable.
pub mod login; // `jira-sync auth login`: authorize URL, loopback callback, code exchange.
mod provider; // Authorization headers, cached tokens, single-flight refresh, vault writes.
pub mod scopes; // Scopes per operation and per site.

use std::sync::Once;
use std::time::Duration;

pub use health::{CredentialState, Health, Target, denied_hint, denied_reason, probe};
pub use provider::{
    AuthError, Authorization, Form, Provider, TokenFailure, TokenResponse, post_token, seed_id,
    token_url, without_url,
};

/// Every request to Jira or Atlassian has a deadline.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The HTTP client jira-sync uses: rustls with ring, certificate verification on, timeouts.
pub fn http_client() -> reqwest::Client {
    static PROVIDER: Once = Once::new();
    PROVIDER.call_once(|| {
        // Another part of the process may have installed one already; either is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("jira-sync/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the HTTP client builds")
}
