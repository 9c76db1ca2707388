//! The dynamic webhook of each `oauth2` site with `webhooks = true` (reference
//! jira-cloud-api.md section 9.1): one per site, for the issue and comment events of the
//! projects its pulling connectors sync (`project IN (...)`: an OAuth 2.0 app may hold at
//! most 5 per user and site, so one broad filter), at `webhook_url/SITE`.
//!
//! A keeper task per site makes Jira's list match the configuration: it registers the
//! webhook when none of this URL has the wanted filter, removes the others of this URL (a
//! filter the configuration no longer wants), and refreshes it (`refreshWebhooks`), at
//! start, after every reload that changes the site, then daily: Jira drops a dynamic
//! webhook 30 days after its last refresh. A failed attempt is retried after
//! `RETRY`. A site removed, or whose `webhooks` is turned off, has its webhooks of this URL
//! removed.
//!
//! Token sites have admin webhooks (section 9.2). When none of this URL exists the keeper
//! registers one with `webhook_secret`, which works when the account administers Jira;
//! otherwise its state says an administrator must (`jira-sync webhooks SITE`), and it asks
//! again daily. Admin webhooks do not expire, and the daemon never removes one.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use jira_sync_config::{Auth, Config, Site};
use jira_sync_engine::SiteCtx;
use serde::Serialize;

use super::{Daemon, SiteRt, lock};

/// How often the webhook is refreshed (it lives 30 days from a refresh).
pub const REFRESH_EVERY: Duration = Duration::from_secs(24 * 3600);
/// How soon a failed registration or refresh is tried again.
pub const RETRY: Duration = Duration::from_secs(300);
/// The events the webhook asks for: what changes an issue or its comments.
pub const EVENTS: &[&str] = &[
    "jira:issue_created",
    "jira:issue_updated",
    "jira:issue_deleted",
    "comment_created",
    "comment_updated",
    "comment_deleted",
];

/// A site's webhook as the daemon last saw it (`/status`, `jira-sync status`).
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct WebhookState {
    /// The dynamic webhook's id (`oauth2` sites), once registered.
    pub id: Option<u64>,
    /// When Jira drops it unless refreshed.
    pub expires: Option<DateTime<Utc>>,
    /// The last registration or refresh that failed, and why.
    pub error: Option<String>,
    /// When the last authenticated delivery arrived.
    pub last_delivery: Option<DateTime<Utc>>,
}

/// Whether the daemon keeps a dynamic webhook for `site` (registered, refreshed, removed).
pub fn registers(site: &Site) -> bool {
    site.webhooks && matches!(site.auth, Auth::OAuth2(_))
}

/// Whether a keeper task looks after `site`'s webhook.
pub(super) fn keeps(site: &Site) -> bool {
    registers(site) || registers_admin(site)
}

/// Whether the daemon tries to register `site`'s admin webhook itself (token sites with
/// webhooks: it works when the account administers Jira).
fn registers_admin(site: &Site) -> bool {
    site.webhooks && !matches!(site.auth, Auth::OAuth2(_)) && site.webhook_secret.is_some()
}

/// The JQL filter of `site`'s webhook: the projects of its pulling connectors, or `None`
/// when none pulls.
pub fn filter_of(site: &Site) -> Option<String> {
    let mut keys: Vec<&str> = site
        .connectors
        .iter()
        .filter(|c| c.direction.pulls())
        .map(|c| c.project.as_str())
        .collect();
    keys.sort_unstable();
    keys.dedup();
    (!keys.is_empty()).then(|| {
        let quoted: Vec<String> = keys.iter().map(|k| format!("\"{k}\"")).collect();
        format!("project IN ({})", quoted.join(", "))
    })
}

impl Daemon {
    /// The webhook state of every site that has webhooks on.
    pub fn webhook_states(&self) -> Vec<(String, WebhookState)> {
        lock(&self.inner.sites)
            .values()
            .filter(|rt| rt.site.webhooks)
            .map(|rt| (rt.site.name.clone(), lock(&rt.webhook).clone()))
            .collect()
    }

    /// An authenticated delivery for `site` arrived now.
    pub fn delivered(&self, site: &str) {
        if let Some(rt) = lock(&self.inner.sites).get(site) {
            lock(&rt.webhook).last_delivery = Some(Utc::now());
        }
    }

    /// Starts the keeper of `site`'s webhook (a fresh site runtime); it stops when the
    /// runtime is replaced or removed, or the daemon stops.
    pub(super) fn keep_webhook(&self, rt: Arc<SiteRt>) {
        let d = self.clone();
        self.inner.tracker.spawn(async move {
            loop {
                let wait = match d.sync_webhook(&rt).await {
                    Ok(expires) => {
                        if registers(&rt.site) {
                            d.inner
                                .metrics
                                .webhook_expiry_timestamp_seconds
                                .with_label_values(&[rt.site.name.as_str()])
                                .set(expires.map_or(0.0, |t| t.timestamp() as f64));
                        }
                        let mut w = lock(&rt.webhook);
                        w.expires = expires;
                        w.error = None;
                        REFRESH_EVERY
                    }
                    Err(e) => {
                        tracing::warn!(site = %rt.site.name, error = %e, "The site's webhook could not be registered or refreshed; polling goes on.");
                        lock(&rt.webhook).error = Some(e);
                        // An account without the right will not get it by asking every five
                        // minutes.
                        if registers(&rt.site) { RETRY } else { REFRESH_EVERY }
                    }
                };
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = rt.stop.cancelled() => return,
                    _ = d.inner.shutdown.cancelled() => return,
                }
            }
        });
    }

    /// The site's client, probing first when the site is not ready yet.
    async fn ready_ctx(&self, rt: &Arc<SiteRt>) -> Result<SiteCtx, String> {
        if let Some(ctx) = lock(&rt.ctx).clone() {
            return Ok(ctx);
        }
        let verdict = self.probe(&rt.site.name).await;
        lock(&rt.ctx).clone().ok_or_else(|| {
            verdict.map_or_else(|| "the site is not ready".to_owned(), |v| v.message)
        })
    }

    /// Makes sure `rt`'s admin webhook exists (token sites): one of this URL is taken as
    /// it; otherwise it is registered with the site's `webhook_secret`. An account that may
    /// not (403, or the admin API not served on the gateway: 404) is told to have an
    /// administrator register it (`jira-sync webhooks SITE`), once a day.
    async fn sync_admin_webhook(&self, rt: &Arc<SiteRt>) -> Result<(), String> {
        let config = self.config();
        let url = config
            .daemon
            .webhook_url_of(&rt.site.name)
            .ok_or("webhook_url is not set")?;
        let Some(jql) = filter_of(&rt.site) else {
            return Ok(());
        };
        let ctx = self.ready_ctx(rt).await?;
        let client = &ctx.client;
        let by_hand = |e: &jira_sync_client::ClientError| {
            matches!(
                e,
                jira_sync_client::ClientError::Forbidden { .. }
                    | jira_sync_client::ClientError::NotFound { .. }
                    | jira_sync_client::ClientError::Unauthorized { .. }
            )
        };
        let why = |e: jira_sync_client::ClientError| {
            if by_hand(&e) {
                format!(
                    "the account cannot register webhooks ({e}); an administrator registers what `jira-sync webhooks {}` prints",
                    rt.site.name
                )
            } else {
                e.to_string()
            }
        };
        let listed = client.admin_webhooks().await.map_err(why)?;
        if listed
            .iter()
            .any(|h| h.url.as_deref() == Some(url.as_str()))
        {
            return Ok(());
        }
        let secret = rt.site.webhook_secret.as_ref().ok_or("no webhook_secret")?;
        let name = format!("jira-sync {}", rt.site.name);
        client
            .register_admin_webhook(&name, &url, EVENTS, &jql, secret.expose())
            .await
            .map_err(why)?;
        tracing::info!(site = %rt.site.name, jql, "Registered the site's admin webhook.");
        Ok(())
    }

    /// Registers, cleans up and refreshes `rt`'s webhook; returns its expiry (`None`: no
    /// pulling connector, so no webhook, or an admin webhook, which does not expire).
    async fn sync_webhook(&self, rt: &Arc<SiteRt>) -> Result<Option<DateTime<Utc>>, String> {
        if !registers(&rt.site) {
            return self.sync_admin_webhook(rt).await.map(|()| None);
        }
        let config = self.config();
        let url = config
            .daemon
            .webhook_url_of(&rt.site.name)
            .ok_or("webhook_url is not set")?;
        let ctx = self.ready_ctx(rt).await?;
        let client = &ctx.client;
        let err = |e: jira_sync_client::ClientError| e.to_string();
        let ours: Vec<_> = client
            .dynamic_webhooks()
            .await
            .map_err(err)?
            .into_iter()
            .filter(|h| h.url.as_deref() == Some(url.as_str()))
            .collect();
        let Some(jql) = filter_of(&rt.site) else {
            let ids: Vec<u64> = ours.iter().map(|h| h.id).collect();
            if !ids.is_empty() {
                client.delete_webhooks(&ids).await.map_err(err)?;
            }
            lock(&rt.webhook).id = None;
            return Ok(None);
        };
        let wanted = |h: &jira_sync_client::DynamicWebhook| {
            h.jql_filter.as_deref() == Some(jql.as_str())
                && EVENTS.iter().all(|e| h.events.iter().any(|x| x == e))
        };
        let id = match ours.iter().find(|h| wanted(h)) {
            Some(h) => h.id,
            None => match client
                .register_webhook(&url, EVENTS, &jql)
                .await
                .map_err(err)?
            {
                Ok(id) => {
                    tracing::info!(site = %rt.site.name, id, jql, "Registered the site's webhook.");
                    id
                }
                Err(why) => return Err(format!("Jira refused the webhook: {}", why.join("; "))),
            },
        };
        lock(&rt.webhook).id = Some(id);
        let stale: Vec<u64> = ours.iter().map(|h| h.id).filter(|i| *i != id).collect();
        if !stale.is_empty() {
            client.delete_webhooks(&stale).await.map_err(err)?;
        }
        let expires = client.refresh_webhooks(&[id]).await.map_err(err)?;
        Ok(Some(expires))
    }

    /// Removes the webhooks of `old`'s URL under `config` (the configuration they were
    /// registered by): the site was removed or its webhooks turned off.
    pub(super) fn drop_webhook(&self, old: Arc<SiteRt>, config: Arc<Config>) {
        let Some(url) = config.daemon.webhook_url_of(&old.site.name) else {
            return;
        };
        let Some(ctx) = lock(&old.ctx).clone() else {
            tracing::warn!(site = %old.site.name, "The site's webhook could not be removed (the site was never ready); it expires within 30 days.");
            return;
        };
        self.inner.tracker.spawn(async move {
            let result = async {
                let ids: Vec<u64> = ctx
                    .client
                    .dynamic_webhooks()
                    .await?
                    .into_iter()
                    .filter(|h| h.url.as_deref() == Some(url.as_str()))
                    .map(|h| h.id)
                    .collect();
                if !ids.is_empty() {
                    ctx.client.delete_webhooks(&ids).await?;
                }
                Ok::<usize, jira_sync_client::ClientError>(ids.len())
            }
            .await;
            match result {
                Ok(n) => tracing::info!(site = %old.site.name, removed = n, "Removed the site's webhook."),
                Err(e) => tracing::warn!(site = %old.site.name, error = %e, "The site's webhook could not be removed; it expires within 30 days."),
            }
        });
    }
}
