//! What a finished run leaves: its metric series and its stored status.

use super::*;

impl Daemon {
    /// Exports what the run of `r` (with runtime `rt`) did and returns the status to store;
    /// `None` when a reload removed the connector while it ran, whose series and status
    /// went with it and must not come back (a frozen last success would fire
    /// `JiraSyncStalled`).
    pub(super) fn record(
        &self,
        r: &ConnectorRef,
        rt: &Arc<ConnRt>,
        outcome: &'static str,
        elapsed: Duration,
        report: Option<&Report>,
        message: Option<String>,
    ) -> Option<RunStatus> {
        // Held until the series are written: a reload removes a connector from `conns`
        // before it drops the connector's series, so they cannot come back after it.
        let conns = lock(&self.inner.conns);
        if !runs_here(&conns, r, rt) {
            // Its requests wrote their site's series after the reload dropped them: those
            // go too if the site went.
            self.forget_if_site_gone(&r.site);
            return None;
        }
        let labels = [r.site.as_str(), r.connector.as_str()];
        let m = &self.inner.metrics;
        m.sync_runs_total
            .with_label_values(&[r.site.as_str(), r.connector.as_str(), outcome])
            .inc();
        m.sync_run_duration_seconds
            .with_label_values(&labels)
            .observe(elapsed.as_secs_f64());
        let now = Utc::now();
        let before = self
            .inner
            .book
            .run(&r.site, &r.connector)
            .ok()
            .flatten()
            .unwrap_or_default();
        let status = run_status(before, outcome, elapsed, report, message, now);
        if let Some(rep) = report {
            m.issues_pulled_total
                .with_label_values(&labels)
                .inc_by(rep.pulled as u64);
            for (op, n) in [
                ("create", rep.created),
                ("update", rep.updated),
                ("transition", rep.transitioned),
                ("comment", rep.commented),
                ("delete", rep.deleted.len()),
            ] {
                m.issues_pushed_total
                    .with_label_values(&[r.site.as_str(), r.connector.as_str(), op])
                    .inc_by(n as u64);
            }
            m.conflicts_total
                .with_label_values(&labels)
                .inc_by(rep.conflicts as u64);
            m.reconcile_repairs_total
                .with_label_values(&labels)
                .inc_by(rep.repaired as u64);
            m.push_backlog
                .with_label_values(&labels)
                .set(status.backlog as i64);
            export_parked(m, labels, |reason| {
                rep.parked_now.get(reason).copied().unwrap_or(0) as i64
            });
        }
        if outcome == "success" {
            m.last_success_timestamp_seconds
                .with_label_values(&labels)
                .set(now.timestamp() as f64);
        }
        Some(status)
    }
}

/// `jira_sync_parked_writes` of one connector (`[site, connector]`), every reason of
/// `Refusal::ALL` with `count(reason)`, 0 included, so the series exist before a refusal.
pub(super) fn export_parked(m: &Metrics, labels: [&str; 2], count: impl Fn(&str) -> i64) {
    for reason in jira_sync_engine::plan::Refusal::ALL {
        m.parked_writes
            .with_label_values(&[labels[0], labels[1], reason.as_str()])
            .set(count(reason.as_str()));
    }
}
