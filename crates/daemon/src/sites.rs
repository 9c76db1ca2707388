//! What a command or the daemon needs to talk to a site: its client (credential, resolved
//! API base, rate limiter) and the integration account's facts the engine uses.

use std::sync::Arc;

use jira_sync_auth::Provider;
use jira_sync_client::{Client, NoObserver};
use jira_sync_config::{Config, Site};
use jira_sync_engine::SiteCtx;
use jira_sync_ratelimit::SiteLimiter;
use jira_sync_resolver::Resolver;
use jira_sync_store::Store;

/// Resolves `site`'s API base and reads its account's time zone and field types.
pub async fn site_ctx(
    config: &Config,
    store: &Store,
    site: &Site,
    http: &reqwest::Client,
) -> Result<SiteCtx, String> {
    let provider = Arc::new(Provider::new(
        site,
        &config.daemon.auth_url,
        http.clone(),
        Some(store.vault().map_err(|e| e.to_string())?),
    ));
    let resolver = Resolver::new(
        http.clone(),
        config.daemon.gateway_url.clone(),
        Some(store.cache().map_err(|e| e.to_string())?),
    );
    let base = resolver
        .api_base(site, provider.form())
        .await
        .map_err(|e| e.to_string())?;
    let limiter = Arc::new(SiteLimiter::new(&site.name, site.limits));
    let client = Client::new(
        &site.name,
        base,
        provider,
        limiter,
        http.clone(),
        Arc::new(NoObserver),
    );
    SiteCtx::read(client).await.map_err(|e| e.to_string())
}
