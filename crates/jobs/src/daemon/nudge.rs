//! Runs started by webhook deliveries (issue 21): a delivery names an issue of a project on
//! a site; each connector of that site whose project it is gets the issue as a hint (its next
//! pull reads it through `reconcileIssues`, so search lag does not hide it) and a run soon.
//!
//! - **Debounced:** the run starts `DEBOUNCE` after the first delivery; deliveries meanwhile
//!   add hints to the same run. A delivery during a run starts one more run after it, and
//!   so do hints left over (a run reads at most `RECONCILE_MAX` of them).
//! - **Single-flight:** the run waits for a run of the same connector to finish; it never
//!   overlaps one, and it is not a skipped tick.
//! - **Then the peers:** when the run pulled something, the mirror peers that push run too,
//!   so the change reaches the other sites without waiting for their schedule.
//!
//! The scheduled poll stays: whatever a delivery missed, it finds.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use jira_sync_config::ConnectorRef;

use super::{ConnRt, Daemon, lock};

/// How long a nudged run waits for more deliveries before it starts.
pub const DEBOUNCE: Duration = Duration::from_millis(250);

impl Daemon {
    /// A delivery named issue `issue` (its id, when the payload gave one) of `project` on
    /// `site`. Returns how many connectors of this daemon it concerns (0: nothing to do,
    /// the delivery is `ignored`).
    pub fn nudge(&self, site: &str, project: &str, issue: Option<u64>) -> usize {
        let generation = self.generation();
        let Some(s) = generation.config.sites.iter().find(|s| s.name == site) else {
            return 0;
        };
        let mine: Vec<ConnectorRef> = s
            .connectors
            .iter()
            .filter(|c| c.project.eq_ignore_ascii_case(project) && c.direction.pulls())
            .map(|c| ConnectorRef {
                site: site.to_owned(),
                connector: c.name.clone(),
            })
            .filter(|r| lock(&self.inner.conns).contains_key(r))
            .collect();
        for r in &mine {
            {
                // Under the read lock: a reload hands the hints over under the write lock,
                // so this one reaches the engine that runs next.
                let current = self
                    .inner
                    .current
                    .read()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                current.engine.hint(r, issue);
            }
            self.nudge_run(r.clone());
        }
        mine.len()
    }

    /// Starts a debounced run of `r` unless one is pending already.
    fn nudge_run(&self, r: ConnectorRef) {
        let Some(rt) = lock(&self.inner.conns).get(&r).cloned() else {
            return;
        };
        if rt.nudged.swap(true, Ordering::SeqCst) {
            return;
        }
        let d = self.clone();
        self.inner
            .tracker
            .spawn(async move { d.nudged_run(r, rt).await });
    }

    async fn nudged_run(&self, r: ConnectorRef, rt: Arc<ConnRt>) {
        let shutdown = self.inner.shutdown.clone();
        tokio::select! {
            _ = tokio::time::sleep(DEBOUNCE) => {}
            _ = shutdown.cancelled() => return,
        }
        let _running = tokio::select! {
            g = rt.running.lock() => g,
            _ = shutdown.cancelled() => return,
        };
        // From here on a delivery starts another run after this one.
        rt.nudged.store(false, Ordering::SeqCst);
        tracing::debug!(connector = %r, "Run started by a webhook delivery.");
        let ran = self.run_locked(&r, &rt, None).await;
        let generation = self.generation();
        let Some((outcome, pulled)) = ran else {
            return;
        };
        // More hints than one pull reads (a bulk edit's burst): one more run, after this one.
        // A failed run keeps its hints for the next (scheduled or nudged) run, not a loop.
        if outcome == "success" && generation.engine.has_hints(&r) {
            self.nudge_run(r.clone());
        }
        if pulled == 0 {
            return;
        }
        for p in generation.engine.peers(&r) {
            let pushes = generation
                .config
                .connector(&p)
                .is_some_and(|(_, c)| c.direction.pushes());
            if pushes {
                self.nudge_run(p);
            }
        }
    }
}
