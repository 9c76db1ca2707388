//! What `/status` and `jira-sync status` show: sites with their credential, group and shard,
//! connectors with their last run.

use super::*;
use crate::groups::shard_of;

/// A connector's status in `/status` and `jira-sync status`.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct ConnectorView {
    pub site: String,
    pub connector: String,
    pub schedule: String,
    pub running: bool,
    #[serde(flatten)]
    pub last: RunStatus,
}

/// A site's status in `/status` and `jira-sync status`.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct SiteView {
    pub site: String,
    pub method: String,
    pub group: String,
    pub shard: String,
    #[serde(flatten)]
    pub health: SiteStatus,
    /// The site's webhook as the running daemon sees it (sites with `webhooks = true`;
    /// absent when read from the store).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookState>,
}

/// `/status`: the same as `jira-sync status --json`.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Status {
    pub shard: Option<String>,
    pub sites: Vec<SiteView>,
    pub connectors: Vec<ConnectorView>,
}

/// Sites and connectors of `config` as the store last saw them (the daemon may be down).
pub fn stored_status(
    config: &Config,
    book: &StatusBook,
    shard: Option<Shard>,
) -> Result<Status, jira_sync_store::StoreError> {
    let groups = groups(config);
    let count = shard.map_or(1, |s| s.count);
    let mut status = Status {
        shard: shard.map(|s| s.to_string()),
        sites: vec![],
        connectors: vec![],
    };
    for site in &config.sites {
        let group = groups.get(&site.name).cloned().unwrap_or_default();
        if shard.is_some_and(|s| !s.owns(&group)) {
            continue;
        }
        status.sites.push(SiteView {
            site: site.name.clone(),
            method: site.auth.method().to_string(),
            shard: format!("{}/{count}", shard_of(&group, count)),
            group,
            health: book.site(&site.name)?.unwrap_or_default(),
            webhook: None,
        });
        for c in &site.connectors {
            status.connectors.push(ConnectorView {
                site: site.name.clone(),
                connector: c.name.clone(),
                schedule: c.schedule.as_str().to_owned(),
                running: false,
                last: book.run(&site.name, &c.name)?.unwrap_or_default(),
            });
        }
    }
    Ok(status)
}

impl Daemon {
    /// What `/status` shows.
    pub fn status(&self) -> Status {
        let config = self.config();
        let mut status = stored_status(&config, &self.inner.book, self.inner.opts.shard)
            .unwrap_or_else(|_| Status {
                shard: None,
                sites: vec![],
                connectors: vec![],
            });
        let sites = lock(&self.inner.sites);
        status.sites.retain_mut(|s| match sites.get(&s.site) {
            Some(rt) => {
                s.webhook = rt.site.webhooks.then(|| lock(&rt.webhook).clone());
                true
            }
            None => false,
        });
        let conns = lock(&self.inner.conns);
        status.connectors.retain_mut(|c| {
            let r = ConnectorRef {
                site: c.site.clone(),
                connector: c.connector.clone(),
            };
            match conns.get(&r) {
                Some(rt) => {
                    c.running = rt.running.try_lock().is_err();
                    true
                }
                None => false,
            }
        });
        status
    }
}
