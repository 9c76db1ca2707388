//! One tokio-cron-scheduler job per distinct schedule, driving every job on that schedule (a
//! timer wheel): each occurrence of the schedule starts one pass, which fires each job at
//! the occurrence plus the job's stable offset, on tokio's timers.
//!
//! With one scheduler job per connector, 5,000 connectors made the scheduler fire jobs
//! twice in one period and drop others (`Lagged`), and its 500 ms polling made every run
//! up to half a second late (issue 19). Here the scheduler only has to say that an
//! occurrence came: a pass claims its occurrence once ([`Wheel::claim`]), so a late or
//! repeated firing starts nothing twice; a pass goes on to the next occurrence by itself,
//! so a firing the scheduler loses costs nothing; and occurrences nobody fired at all are
//! counted as skipped ticks, one per job.

use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use chrono::{DateTime, Utc};
use jira_sync_config::{ConnectorRef, Schedule};

use super::{Daemon, Inner, JobKind, lock};
use crate::groups::fnv1a;

/// Occurrences counted as missed at most, after the host slept for days.
const MISSED_MAX: u64 = 10_000;

impl Daemon {
    /// The passes of a wheel from occurrence `t` on: each job fired at its offset, then
    /// the next occurrence, until another pass claims an occurrence first (the scheduler
    /// fired while this one slept, or a reload replaced the wheel) or the daemon stops.
    async fn turn(&self, w: Arc<Wheel>, mut t: DateTime<Utc>) {
        loop {
            let Some(missed) = w.claim(t) else { return };
            let (pass, next) = w.pass(t);
            if missed > 0 {
                tracing::warn!(schedule = %w.schedule.as_str(), missed, "Occurrences of a schedule passed without a run; counted as skipped ticks.");
                for (_, kind) in &pass {
                    if let JobKind::Sync(r) = kind {
                        self.inner
                            .metrics
                            .runs_skipped_total
                            .with_label_values(&[r.site.as_str(), r.connector.as_str()])
                            .inc_by(missed);
                    }
                }
            }
            for (due, kind) in pass {
                tokio::select! {
                    _ = self.inner.shutdown.cancelled() => return,
                    _ = sleep_until(due) => {}
                }
                let d = self.clone();
                self.inner.tracker.spawn(async move {
                    match kind {
                        JobKind::Sync(r) => {
                            d.tick_due(&r, Some(due)).await;
                        }
                        JobKind::Census(r) => d.census(&r).await,
                        JobKind::Health(site) => d.scheduled_probe(&site).await,
                    }
                });
            }
            let Some(next) = next else { return };
            tokio::select! {
                _ = self.inner.shutdown.cancelled() => return,
                _ = sleep_until(next) => {}
            }
            if !lock(&self.inner.wheels)
                .get(w.schedule.as_str())
                .is_some_and(|current| Arc::ptr_eq(current, &w))
            {
                // The schedule is gone from the configuration.
                return;
            }
            t = next;
        }
    }

    /// A connector's stable offset within its schedule's period: `[0, min(max_offset, the
    /// gap between two ticks))`, from its name, so a thousand connectors on one schedule
    /// are spread over the whole period.
    pub fn offset(&self, r: &ConnectorRef) -> Duration {
        let config = self.config();
        let Some((_, c)) = config.connector(r) else {
            return Duration::ZERO;
        };
        let now = Utc::now();
        let gap = c
            .schedule
            .next_after(now)
            .and_then(|a| Some((a, c.schedule.next_after(a)?)))
            .and_then(|(a, b)| (b - a).to_std().ok())
            .unwrap_or(Duration::from_secs(60));
        offset(
            &JobKind::Sync(r.clone()).key(),
            span(self.inner.opts.max_offset, gap),
        )
    }
}

impl JobKind {
    /// A stable name of the job (`sync/site/connector`), from which its offset is drawn.
    fn key(&self) -> String {
        match self {
            JobKind::Sync(r) => format!("sync/{r}"),
            JobKind::Census(r) => format!("census/{r}"),
            JobKind::Health(site) => format!("health/{site}"),
        }
    }
}

/// The scheduler says an occurrence of a wheel's schedule came: its pass starts unless one
/// has it already (the pass that went on by itself, or a repeated firing). A tracked task:
/// shutdown waits for it.
pub(super) fn on_tick(weak: Weak<Inner>, w: Arc<Wheel>) {
    let Some(inner) = weak.upgrade() else { return };
    if inner.shutdown.is_cancelled() {
        return;
    }
    let Some(t) = w.current(Utc::now()) else {
        return;
    };
    if w.claimed(t) {
        return;
    }
    let d = Daemon {
        inner: inner.clone(),
    };
    inner.tracker.spawn(async move { d.turn(w, t).await });
}

/// One pass: each job with the instant it is due, soonest first.
pub(super) type Pass = Vec<(DateTime<Utc>, JobKind)>;

/// The jobs on one schedule.
pub(super) struct Wheel {
    pub(super) schedule: Schedule,
    /// What runs on it, as the configuration in force says (a reload replaces the list; the
    /// pass under way reads it at its start).
    pub(super) spokes: RwLock<Vec<JobKind>>,
    /// The latest occurrence a pass claimed.
    last: Mutex<Option<DateTime<Utc>>>,
    /// The longest offset (`Options::max_offset`).
    max_offset: Duration,
}

impl Wheel {
    pub(super) fn new(schedule: Schedule, spokes: Vec<JobKind>, max_offset: Duration) -> Self {
        Wheel {
            schedule,
            spokes: RwLock::new(spokes),
            last: Mutex::new(None),
            max_offset,
        }
    }

    /// The latest occurrence at or before `now`.
    pub(super) fn current(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.schedule.latest_at(now)
    }

    /// Whether a pass has claimed occurrence `t` (or a later one).
    pub(super) fn claimed(&self, t: DateTime<Utc>) -> bool {
        lock(&self.last).is_some_and(|l| l >= t)
    }

    /// Claims occurrence `t` for one pass. `None` when a pass has it already (a repeated
    /// or late firing, or the pass that went on by itself); else the number of occurrences
    /// between the last claimed one and `t` that no pass ran (0 normally).
    pub(super) fn claim(&self, t: DateTime<Utc>) -> Option<u64> {
        let mut last = lock(&self.last);
        let missed = match *last {
            Some(l) if l >= t => return None,
            Some(l) => self
                .schedule
                .iter_after(l)
                .take_while(|o| *o < t)
                .take(MISSED_MAX as usize)
                .count() as u64,
            None => 0,
        };
        *last = Some(t);
        Some(missed)
    }

    /// The pass of occurrence `t`: each job with the instant it is due (`t` plus its
    /// offset), soonest first, and the next occurrence.
    pub(super) fn pass(&self, t: DateTime<Utc>) -> (Pass, Option<DateTime<Utc>>) {
        let next = self.schedule.next_after(t);
        let gap = next
            .and_then(|n| (n - t).to_std().ok())
            .unwrap_or(self.max_offset);
        let span = span(self.max_offset, gap);
        let mut out: Pass = self
            .spokes
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|k| {
                let off = offset(&k.key(), span);
                (
                    t + chrono::Duration::from_std(off).unwrap_or_default(),
                    k.clone(),
                )
            })
            .collect();
        out.sort_by_key(|(due, _)| *due);
        (out, next)
    }
}

/// How far offsets reach: the whole gap between two occurrences, at most `max_offset`.
pub(super) fn span(max_offset: Duration, gap: Duration) -> Duration {
    max_offset.min(gap)
}

/// A job's stable offset within `[0, span)`, from its key (FNV-1a): a thousand connectors
/// on one schedule are spread evenly over the period rather than fired in one second.
pub(super) fn offset(key: &str, span: Duration) -> Duration {
    let span_ms = span.as_millis() as u64;
    if span_ms == 0 {
        return Duration::ZERO;
    }
    Duration::from_millis(fnv1a(key.as_bytes()) % span_ms)
}

/// Sleeps until the wall-clock instant `due` (at once if it has passed), on tokio's timer.
pub(super) async fn sleep_until(due: DateTime<Utc>) {
    if let Ok(wait) = (due - Utc::now()).to_std() {
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jira_sync_config::ConnectorRef;

    fn sync(name: &str) -> JobKind {
        JobKind::Sync(ConnectorRef {
            site: "acme".into(),
            connector: name.into(),
        })
    }

    fn every_10s(spokes: Vec<JobKind>) -> Wheel {
        Wheel::new(
            Schedule::parse("*/10 * * * * *").unwrap(),
            spokes,
            Duration::from_secs(60),
        )
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn an_occurrence_is_claimed_once_and_missed_ones_are_counted() {
        let w = every_10s(vec![]);
        assert_eq!(w.claim(at("2026-11-30T10:00:00Z")), Some(0));
        // Fired again for the same occurrence (late, or twice): nothing.
        assert_eq!(w.claim(at("2026-11-30T10:00:00Z")), None);
        assert_eq!(w.claim(at("2026-11-30T09:59:50Z")), None);
        assert_eq!(w.claim(at("2026-11-30T10:00:10Z")), Some(0));
        // Three occurrences nobody fired (10:00:20, :30, :40).
        assert_eq!(w.claim(at("2026-11-30T10:00:50Z")), Some(3));
        assert_eq!(
            w.current(at("2026-11-30T10:01:03.5Z")),
            Some(at("2026-11-30T10:01:00Z"))
        );
    }

    #[test]
    fn a_pass_spreads_its_jobs_over_the_whole_period_by_stable_offsets() {
        let spokes: Vec<JobKind> = (0..1000).map(|i| sync(&format!("c{i}"))).collect();
        let w = every_10s(spokes);
        let t = at("2026-11-30T10:00:00Z");
        let (pass, next) = w.pass(t);
        assert_eq!(next, Some(at("2026-11-30T10:00:10Z")));
        assert_eq!(pass.len(), 1000);
        assert!(pass.windows(2).all(|p| p[0].0 <= p[1].0), "soonest first");
        assert!(
            pass.iter()
                .all(|(due, _)| *due >= t && *due < t + chrono::Duration::seconds(10))
        );
        // Every second of the period has its share (about 100), none is empty.
        let mut per_second = [0usize; 10];
        for (due, _) in &pass {
            per_second[(*due - t).num_seconds() as usize] += 1;
        }
        assert!(
            per_second.iter().all(|n| (50..=150).contains(n)),
            "{per_second:?}"
        );
        // Stable: the same job, the same offset, pass after pass.
        let (again, _) = w.pass(at("2026-11-30T10:00:10Z"));
        let first = |p: &[(DateTime<Utc>, JobKind)], k: &str| {
            p.iter()
                .find(|(_, j)| j.key() == k)
                .map(|(d, _)| *d)
                .unwrap()
        };
        assert_eq!(
            first(&again, "sync/acme/c7") - first(&pass, "sync/acme/c7"),
            chrono::Duration::seconds(10)
        );
    }

    #[test]
    fn offsets_stay_within_a_minute_for_long_periods() {
        assert_eq!(
            span(Duration::from_secs(60), Duration::from_secs(86_400)),
            Duration::from_secs(60)
        );
        assert!(offset("sync/acme/sec", Duration::from_secs(60)) < Duration::from_secs(60));
        assert_eq!(offset("sync/acme/sec", Duration::ZERO), Duration::ZERO);
    }
}
