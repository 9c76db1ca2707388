//! The census job of each pulling connector (`census_schedule`): the look for deleted and
//! moved issues, outside the runs.

use jira_sync_config::ConnectorRef;

use super::{Daemon, lock};

impl Daemon {
    /// The census job of a connector: waits for a running cycle rather than overlapping it.
    pub(super) async fn census(&self, r: &ConnectorRef) {
        let Some(rt) = lock(&self.inner.conns).get(r).cloned() else {
            return;
        };
        let _running = tokio::select! {
            g = rt.running.lock() => g,
            _ = self.inner.shutdown.cancelled() => return,
        };
        if self.credential_ok(&r.site).await.is_err() {
            return;
        }
        match self.generation().engine.census_now(r).await {
            Ok(report) if !report.gone.is_empty() => {
                tracing::info!(connector = %r, gone = report.gone.len(), "Census marked issues gone.");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(connector = %r, error = %e, "Census failed."),
        }
    }
}
