//! What the daemon last did per connector and last learnt per site: `jira-sync status`
//! reads it with the daemon stopped, and the daemon restores its gauges from it at start
//! (so a restart does not look like a stall).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Durable, StoreError, decode, encode};

/// The last run of a connector.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunStatus {
    /// When the last run ended.
    pub last_run: Option<DateTime<Utc>>,
    /// `success`, `error`, `credential`, `timeout` or `interrupted` (by shutdown).
    pub outcome: Option<String>,
    /// When a run last succeeded.
    pub last_success: Option<DateTime<Utc>>,
    pub duration_seconds: f64,
    /// Records waiting to be written (failed, deferred or parked writes).
    pub backlog: u64,
    /// Parked writes by reason (`value_not_allowed`, `no_transition`, ...), as the last run
    /// left them.
    #[serde(default)]
    pub parked: std::collections::BTreeMap<String, u64>,
    /// Why the last run failed; never holds a secret.
    pub message: Option<String>,
}

/// The last credential check of a site.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SiteStatus {
    /// `valid`, `expiring`, `expired`, `revoked`, `insufficient_scope` or `unreachable`.
    pub state: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub checked_at: Option<DateTime<Utc>>,
    pub message: Option<String>,
}

#[derive(Debug, Clone)]
pub struct StatusBook {
    tree: sled::Tree,
    durable: Durable,
}

fn key(kind: &str, parts: &[&str]) -> Vec<u8> {
    let mut k = kind.as_bytes().to_vec();
    for p in parts {
        k.push(0);
        k.extend_from_slice(p.as_bytes());
    }
    k
}

impl StatusBook {
    pub(crate) fn new(tree: sled::Tree, durable: Durable) -> Self {
        StatusBook { tree, durable }
    }

    /// Stores a connector's run status. It is flushed to disk when more than its times
    /// changed (the outcome, the backlog, what is parked, the message); a run that only
    /// moved its times (an idle run) is left to sled's own flush, within
    /// [`crate::FLUSH_EVERY_MS`]: thousands of idle connectors do not each wait for a disk
    /// flush.
    pub async fn set_run(
        &self,
        site: &str,
        connector: &str,
        status: &RunStatus,
    ) -> Result<(), StoreError> {
        let k = key("run", &[site, connector]);
        let old: Option<RunStatus> = self
            .tree
            .get(&k)?
            .and_then(|b| decode::<RunStatus>("status", &b).ok());
        self.tree.insert(k, encode(status))?;
        let times_only = old.is_some_and(|o| {
            RunStatus {
                last_run: None,
                last_success: None,
                duration_seconds: 0.0,
                ..o
            } == RunStatus {
                last_run: None,
                last_success: None,
                duration_seconds: 0.0,
                ..status.clone()
            }
        });
        if !times_only {
            self.durable.flush().await?;
        }
        Ok(())
    }

    pub fn run(&self, site: &str, connector: &str) -> Result<Option<RunStatus>, StoreError> {
        self.tree
            .get(key("run", &[site, connector]))?
            .map(|b| decode(&format!("status/{site}/{connector}"), &b))
            .transpose()
    }

    pub fn set_site(&self, site: &str, status: &SiteStatus) -> Result<(), StoreError> {
        self.tree.insert(key("site", &[site]), encode(status))?;
        Ok(())
    }

    pub fn site(&self, site: &str) -> Result<Option<SiteStatus>, StoreError> {
        self.tree
            .get(key("site", &[site]))?
            .map(|b| decode(&format!("status/{site}"), &b))
            .transpose()
    }
}
