//! The dynamic webhook of each `oauth2` site with `webhooks = true` (reference
//! jira-cloud-api.md section 9.1): one per site, for the issue and comment events of the
//! projects its pulling connectors sync (`project IN (...)`: an OAuth 2.0 app may hold at
//! most 5 per user and site, so one broad filter), at `webhook_url/SITE`.
//!
//! A keeper task per site makes Jira's list match the configuration: every dynamic webhook
//! the app has on the site is the daemon's (Jira lists only the calling app's and allows it
//! one URL), so it keeps the one of this URL with the wanted filter, removes every other (an
//! old URL or filter) first, registers one if none was kept, and refreshes it
//! (`refreshWebhooks`), at start, after every reload that changes the site, then daily:
//! Jira drops a dynamic webhook 30 days after its last refresh. A failed attempt is
//! retried after `RETRY`. A site removed, or whose `webhooks` is turned off, has its
//! webhooks removed (after a registration in flight ends).
//!
//! Token sites have admin webhooks (section 9.2), which need an account that administers
//! Jira. The daemon's own are named `jira-sync SITE` ([`admin_webhook_name`]): the keeper
//! sets the one it finds to this URL, filter, events and secret (Jira never shows the
//! secret, so a rotated `webhook_secret` is set at the next pass; a reload that changes it
//! is one), removes any second one, and registers one when there is none and no
//! administrator's of this URL. An administrator's own (any other name) is never touched.
//! An account without the right (401, 403, or the API not served: 404) is told to have an
//! administrator register it (`jira-sync webhooks SITE`) and asked again daily; other
//! failures are retried after `RETRY`. Admin webhooks do not expire.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use jira_sync_config::{Auth, Site};
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
    /// Who registered the admin webhook (token sites), once seen: `jira-sync` or `an
    /// administrator`.
    #[serde(default)]
    pub registered_by: Option<String>,
}

/// Why a pass of the keeper failed.
enum KeepError {
    /// The account may not manage admin webhooks: an administrator registers it; asked
    /// again daily.
    NoRight(String),
    /// Anything else (the site not ready, Jira or the network failing): tried again after
    /// `RETRY`.
    Failed(String),
}

/// The name the daemon gives the admin webhooks it registers: how it knows its own.
pub fn admin_webhook_name(site: &str) -> String {
    format!("jira-sync {site}")
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
                let synced = {
                    let lock = d.webhook_lock(&rt.site.name);
                    let _keeping = lock.lock().await;
                    if rt.stop.is_cancelled() {
                        return;
                    }
                    d.sync_webhook(&rt).await
                };
                let wait = match synced {
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
                    Err(KeepError::NoRight(e)) => {
                        // The documented case of a token site whose account does not
                        // administer Jira: said in `status`, not warned at every start.
                        tracing::info!(site = %rt.site.name, error = %e, "The site's admin webhook is for an administrator to register; polling goes on.");
                        lock(&rt.webhook).error = Some(e);
                        // An account without the right will not get it by asking every five
                        // minutes.
                        REFRESH_EVERY
                    }
                    Err(KeepError::Failed(e)) => {
                        tracing::warn!(site = %rt.site.name, error = %e, "The site's webhook could not be registered or refreshed; polling goes on.");
                        lock(&rt.webhook).error = Some(e);
                        RETRY
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

    /// After a reload swapped the site runtimes (`sites` now, `old` the replaced and removed
    /// ones, `fresh` the names of new runtimes): stops the old keepers and forgets the series
    /// of sites whose webhooks were turned off. Returns the old runtimes whose dynamic
    /// webhook must go (the site removed, or the daemon no longer registering it) and the
    /// fresh runtimes that need a keeper.
    pub(super) fn webhooks_after_reload(
        &self,
        sites: &BTreeMap<String, Arc<SiteRt>>,
        old: Vec<Arc<SiteRt>>,
        fresh: &[String],
    ) -> (Vec<Arc<SiteRt>>, Vec<Arc<SiteRt>>) {
        let mut dropped = Vec::new();
        for old in old {
            old.stop.cancel();
            let now = sites.get(&old.site.name);
            if old.site.webhooks && now.is_some_and(|n| !n.site.webhooks) {
                self.inner.metrics.forget_webhooks(&old.site.name);
            }
            let still = now.is_some_and(|now| registers(&now.site));
            if registers(&old.site) && !still {
                dropped.push(old);
            }
        }
        let keepers = fresh
            .iter()
            .filter_map(|name| sites.get(name).filter(|rt| keeps(&rt.site)).cloned())
            .collect();
        (dropped, keepers)
    }

    /// The lock of `site`'s webhooks (see `Inner::webhook_locks`).
    fn webhook_lock(&self, site: &str) -> Arc<tokio::sync::Mutex<()>> {
        lock(&self.inner.webhook_locks)
            .entry(site.to_owned())
            .or_default()
            .clone()
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
    async fn sync_admin_webhook(&self, rt: &Arc<SiteRt>) -> Result<(), KeepError> {
        let config = self.config();
        let url = config
            .daemon
            .webhook_url_of(&rt.site.name)
            .ok_or_else(|| KeepError::Failed("webhook_url is not set".into()))?;
        let Some(jql) = filter_of(&rt.site) else {
            return Ok(());
        };
        let ctx = self.ready_ctx(rt).await.map_err(KeepError::Failed)?;
        let client = &ctx.client;
        let why = |e: jira_sync_client::ClientError| match e {
            jira_sync_client::ClientError::Forbidden { .. }
            | jira_sync_client::ClientError::NotFound { .. }
            | jira_sync_client::ClientError::Unauthorized { .. } => KeepError::NoRight(format!(
                "the account cannot register webhooks ({e}); an administrator registers what `jira-sync webhooks {}` prints",
                rt.site.name
            )),
            e => KeepError::Failed(e.to_string()),
        };
        let listed = client.admin_webhooks().await.map_err(why)?;
        let name = admin_webhook_name(&rt.site.name);
        let secret = rt
            .site
            .webhook_secret
            .as_ref()
            .ok_or_else(|| KeepError::Failed("no webhook_secret".into()))?;
        let spec = jira_sync_client::AdminWebhookSpec {
            name: &name,
            url: &url,
            events: EVENTS,
            jql: &jql,
            secret: secret.expose(),
        };
        // The daemon's own (by name): brought to this URL, filter, events and secret (Jira
        // never shows the secret, so it is set every time: a rotated `webhook_secret` takes
        // effect with the next reload). One an administrator registered is left as it is.
        let mine: Vec<_> = listed
            .iter()
            .filter(|h| h.name.as_deref() == Some(name.as_str()))
            .collect();
        let by_admin = listed.iter().any(|h| {
            h.name.as_deref() != Some(name.as_str()) && h.url.as_deref() == Some(url.as_str())
        });
        let mut kept = false;
        for h in mine {
            let Some(id) = h.id() else { continue };
            if kept || by_admin {
                client.delete_admin_webhook(id).await.map_err(why)?;
                tracing::info!(site = %rt.site.name, id, "Removed a second admin webhook of the daemon's.");
            } else {
                client.update_admin_webhook(id, spec).await.map_err(why)?;
                kept = true;
            }
        }
        if kept || by_admin {
            let by = if kept {
                "jira-sync"
            } else {
                "an administrator"
            };
            lock(&rt.webhook).registered_by = Some(by.into());
            return Ok(());
        }
        client.register_admin_webhook(spec).await.map_err(why)?;
        lock(&rt.webhook).registered_by = Some("jira-sync".into());
        tracing::info!(site = %rt.site.name, jql, "Registered the site's admin webhook.");
        Ok(())
    }

    /// Registers, cleans up and refreshes `rt`'s webhook; returns its expiry (`None`: no
    /// pulling connector, so no webhook, or an admin webhook, which does not expire).
    ///
    /// Every dynamic webhook the app has on the site is the daemon's (Jira lists only the
    /// calling app's, and allows it one URL): one of this URL with the wanted filter and
    /// events is kept, every other removed first (an old URL or filter), then one is
    /// registered if none was kept.
    async fn sync_webhook(&self, rt: &Arc<SiteRt>) -> Result<Option<DateTime<Utc>>, KeepError> {
        if !registers(&rt.site) {
            return self.sync_admin_webhook(rt).await.map(|()| None);
        }
        let failed = |e: jira_sync_client::ClientError| KeepError::Failed(e.to_string());
        let config = self.config();
        let url = config
            .daemon
            .webhook_url_of(&rt.site.name)
            .ok_or_else(|| KeepError::Failed("webhook_url is not set".into()))?;
        let ctx = self.ready_ctx(rt).await.map_err(KeepError::Failed)?;
        let client = &ctx.client;
        let listed = client.dynamic_webhooks().await.map_err(failed)?;
        let jql = filter_of(&rt.site);
        let wanted = |h: &jira_sync_client::DynamicWebhook| {
            h.url.as_deref() == Some(url.as_str())
                && h.jql_filter.is_some()
                && h.jql_filter == jql
                && EVENTS.iter().all(|e| h.events.iter().any(|x| x == e))
        };
        let kept = listed.iter().find(|h| wanted(h)).map(|h| h.id);
        let stale: Vec<u64> = listed
            .iter()
            .map(|h| h.id)
            .filter(|i| Some(*i) != kept)
            .collect();
        if !stale.is_empty() {
            client.delete_webhooks(&stale).await.map_err(failed)?;
            tracing::info!(site = %rt.site.name, removed = stale.len(), "Removed the site's webhooks of an old URL or filter.");
        }
        let Some(jql) = jql else {
            lock(&rt.webhook).id = None;
            return Ok(None);
        };
        let id = match kept {
            Some(id) => id,
            None => match client
                .register_webhook(&url, EVENTS, &jql)
                .await
                .map_err(failed)?
            {
                Ok(id) => {
                    tracing::info!(site = %rt.site.name, id, jql, "Registered the site's webhook.");
                    id
                }
                Err(why) => {
                    return Err(KeepError::Failed(format!(
                        "Jira refused the webhook: {}",
                        why.join("; ")
                    )));
                }
            },
        };
        lock(&rt.webhook).id = Some(id);
        let expires = client.refresh_webhooks(&[id]).await.map_err(failed)?;
        Ok(Some(expires))
    }

    /// Removes the site's dynamic webhooks (every one the app has there: see
    /// `sync_webhook`): the site was removed or its webhooks turned off. Waits for any
    /// keeper of the site, so a registration in flight is removed too, and removes nothing
    /// when a later reload has turned them on again.
    pub(super) fn drop_webhook(&self, old: Arc<SiteRt>) {
        let d = self.clone();
        self.inner.tracker.spawn(async move {
            let site_lock = d.webhook_lock(&old.site.name);
            let _keeping = site_lock.lock().await;
            // Turned on again by a later reload: its keeper makes Jira's list right.
            if d.config().sites.iter().any(|s| s.name == old.site.name && registers(s)) {
                return;
            }
            let Some(ctx) = lock(&old.ctx).clone() else {
                tracing::warn!(site = %old.site.name, "The site's webhook could not be removed (the site was never ready); it expires within 30 days.");
                return;
            };
            let result = async {
                let ids: Vec<u64> = ctx
                    .client
                    .dynamic_webhooks()
                    .await?
                    .into_iter()
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
