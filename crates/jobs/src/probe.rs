//! One site's credential verdict: cloud ID, API base, OAuth grant reach and the token
//! health probe. `jira-sync check` prints it; the daemon's token-health job exports it.

use chrono::{DateTime, Duration, Utc};
use jira_sync_auth::health::EXPIRING_WINDOW_DAYS;
use jira_sync_auth::scopes::required_for_site;
use jira_sync_auth::{CredentialState, Provider, Target, probe};
use jira_sync_config::{AuthMethod, Site};
use jira_sync_resolver::{ResolveError, Resolver};
use jira_sync_store::Vault;
use url::Url;

/// How long an OAuth refresh-token family lives from consent.
pub const REFRESH_FAMILY_DAYS: i64 = 365;

/// What a probe found. `message` is for operators and never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub state: CredentialState,
    pub expires_at: Option<DateTime<Utc>>,
    pub message: String,
    pub missing_scopes: Vec<String>,
    pub cloud_id: Option<String>,
    pub api_base: Option<Url>,
}

impl Verdict {
    fn unreachable(message: String) -> Verdict {
        Verdict {
            state: CredentialState::Unreachable,
            expires_at: None,
            message,
            missing_scopes: vec![],
            cloud_id: None,
            api_base: None,
        }
    }

    /// Whether sync traffic may use the credential.
    pub fn usable(&self) -> bool {
        self.state.usable()
    }
}

/// Resolves `site` and probes its credential through `provider`.
pub async fn probe_site(
    site: &Site,
    provider: &Provider,
    resolver: &Resolver,
    http: &reqwest::Client,
    vault: Option<&Vault>,
    now: DateTime<Utc>,
) -> Verdict {
    let method = site.auth.method();
    let cloud_id = match resolver.cloud_id(site).await {
        Ok(id) => id,
        Err(e) => return Verdict::unreachable(e.to_string()),
    };
    let gateway = resolver.gateway_base(&cloud_id);
    let api_base = if method.uses_gateway() {
        gateway.clone()
    } else {
        site.url.clone()
    };
    let family_end = match (method, vault) {
        (AuthMethod::OAuth2, Some(v)) => v
            .refresh_token(&site.name)
            .ok()
            .flatten()
            .map(|t| t.consented_at + Duration::days(REFRESH_FAMILY_DAYS)),
        _ => None,
    };
    let mut grant_problem = None;
    if matches!(method, AuthMethod::OAuth2 | AuthMethod::ClientCredentials)
        && let Err(e @ ResolveError::NotInGrant { .. }) = resolver.check_grant(site, provider).await
    {
        grant_problem = Some(e.to_string());
    }
    let req = required_for_site(site);
    let target = Target {
        site_url: &site.url,
        gateway_base: Some(&gateway),
        required: &req,
        project: site.connectors.first().map(|c| c.project.as_str()),
        expires_at: site.auth.declared_expiry().or(family_end),
        window: Duration::days(EXPIRING_WINDOW_DAYS),
    };
    let health = probe(provider, http, &target, now).await;
    let (state, message) = match grant_problem {
        Some(g) => (CredentialState::Revoked, g),
        None if health.message == "ok" => (health.state, String::new()),
        None => (health.state, health.message),
    };
    Verdict {
        state,
        expires_at: health.expires_at,
        message,
        missing_scopes: health.missing_scopes,
        cloud_id: Some(cloud_id),
        api_base: Some(api_base),
    }
}
