//! One limiter per site: governor's rate, a concurrency cap, and 429 cooldowns.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use jira_sync_config::{Config, Limits};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::throttle::{Reason, Throttle};

/// governor's clock on `tokio::time`, so paused test time drives the limiter.
#[derive(Debug, Clone)]
struct TokioClock {
    start: Instant,
}

impl Clock for TokioClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        self.start.elapsed()
    }
}

type Governor = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Duration>>;

/// Counters of one site, for `jira_sync_rate_limited_total` and
/// `jira_sync_rate_limit_wait_seconds_total`.
#[derive(Debug, Default)]
pub struct Stats {
    rate_limited: AtomicU64,
    waited_micros: AtomicU64,
}

impl Stats {
    /// 429s received.
    pub fn rate_limited(&self) -> u64 {
        self.rate_limited.load(Ordering::Relaxed)
    }

    /// Seconds spent waiting for the rate, the concurrency cap and cooldowns.
    pub fn waited_seconds(&self) -> f64 {
        self.waited_micros.load(Ordering::Relaxed) as f64 / 1e6
    }
}

/// Until when each kind of limit keeps requests away.
#[derive(Debug, Default, Clone)]
struct Cooldowns {
    /// A spent quota: every request of the site.
    site: Option<Instant>,
    /// A burst limit: (method, endpoint template).
    endpoint: HashMap<(String, String), Instant>,
    /// A per-issue write limit: writes to the issue (key or id as the caller names it).
    issue: HashMap<String, Instant>,
}

impl Cooldowns {
    fn until(&self, method: &str, endpoint: &str, write_to: Option<&str>) -> Option<Instant> {
        let e = self
            .endpoint
            .get(&(method.to_owned(), endpoint.to_owned()))
            .copied();
        let i = write_to.and_then(|k| self.issue.get(k).copied());
        [self.site, e, i].into_iter().flatten().max()
    }

    fn forget_past(&mut self, now: Instant) {
        self.site = self.site.filter(|t| *t > now);
        self.endpoint.retain(|_, t| *t > now);
        self.issue.retain(|_, t| *t > now);
    }
}

/// A request's right to go: holds one of the site's concurrency slots until dropped.
#[derive(Debug)]
pub struct Permit {
    _slot: OwnedSemaphorePermit,
}

/// The limiter of one site.
#[derive(Debug)]
pub struct SiteLimiter {
    site: String,
    limits: Limits,
    rate: Governor,
    clock: TokioClock,
    slots: Arc<Semaphore>,
    cooldowns: Mutex<Cooldowns>,
    stats: Arc<Stats>,
    metrics: Option<jira_sync_metrics::Metrics>,
}

/// When a 429 names no wait, stay away this long.
const DEFAULT_COOLDOWN: Duration = Duration::from_secs(2);

impl SiteLimiter {
    pub fn new(site: &str, limits: Limits) -> Self {
        Self::with_state(
            site,
            limits,
            Cooldowns::default(),
            Arc::new(Stats::default()),
        )
    }

    fn with_state(site: &str, limits: Limits, cooldowns: Cooldowns, stats: Arc<Stats>) -> Self {
        let clock = TokioClock {
            start: Instant::now(),
        };
        let quota = Quota::per_second(limits.requests_per_second).allow_burst(limits.burst);
        SiteLimiter {
            site: site.to_owned(),
            rate: RateLimiter::direct_with_clock(quota, clock.clone()),
            clock,
            slots: Arc::new(Semaphore::new(limits.max_concurrency.get())),
            cooldowns: Mutex::new(cooldowns),
            stats,
            limits,
            metrics: None,
        }
    }

    /// Also counts into `jira_sync_rate_limited_total` and `jira_sync_rate_limit_wait_seconds_total`.
    pub fn with_metrics(mut self, metrics: jira_sync_metrics::Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    pub fn site(&self) -> &str {
        &self.site
    }

    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    /// Waits until a request of `method endpoint` (a write to `write_to`, if it names an
    /// issue) may go: no cooldown applies, the rate allows it, and a concurrency slot is free.
    pub async fn acquire(&self, method: &str, endpoint: &str, write_to: Option<&str>) -> Permit {
        let started = Instant::now();
        let slot = loop {
            let until = self
                .cooldowns
                .lock()
                .expect("cooldowns lock")
                .until(method, endpoint, write_to);
            if let Some(t) = until.filter(|t| *t > Instant::now()) {
                tokio::time::sleep_until(t).await;
                continue;
            }
            if let Err(not_until) = self.rate.check() {
                tokio::time::sleep(not_until.wait_time_from(self.clock.now())).await;
                continue;
            }
            let slot = self
                .slots
                .clone()
                .acquire_owned()
                .await
                .expect("the semaphore is never closed");
            // A 429 may have arrived while this request waited for its slot.
            let until = self
                .cooldowns
                .lock()
                .expect("cooldowns lock")
                .until(method, endpoint, write_to);
            if until.is_some_and(|t| t > Instant::now()) {
                drop(slot);
                continue;
            }
            break slot;
        };
        let waited = started.elapsed();
        if !waited.is_zero() {
            self.stats
                .waited_micros
                .fetch_add(waited.as_micros() as u64, Ordering::Relaxed);
            if let Some(m) = &self.metrics {
                m.rate_limit_wait_seconds_total
                    .with_label_values(&[self.site.as_str()])
                    .inc_by(waited.as_secs_f64());
            }
        }
        Permit { _slot: slot }
    }

    /// Learns from a 429 on `method endpoint` (a write to `write_to`, if any).
    pub fn throttled(&self, t: &Throttle, method: &str, endpoint: &str, write_to: Option<&str>) {
        self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
        if let Some(m) = &self.metrics {
            m.rate_limited_total
                .with_label_values(&[self.site.as_str()])
                .inc();
        }
        let until = Instant::now() + t.wait.unwrap_or(DEFAULT_COOLDOWN);
        let mut c = self.cooldowns.lock().expect("cooldowns lock");
        c.forget_past(Instant::now());
        let later = |slot: &mut Option<Instant>| *slot = Some(slot.map_or(until, |s| s.max(until)));
        match (t.reason, write_to) {
            (Reason::Quota, _) => later(&mut c.site),
            (Reason::PerIssueWrite, Some(issue)) => {
                let mut slot = c.issue.get(issue).copied();
                later(&mut slot);
                c.issue.insert(issue.to_owned(), slot.expect("set above"));
            }
            _ => {
                let key = (method.to_owned(), endpoint.to_owned());
                let mut slot = c.endpoint.get(&key).copied();
                later(&mut slot);
                c.endpoint.insert(key, slot.expect("set above"));
            }
        }
        tracing::info!(site = %self.site, reason = ?t.reason, wait_ms = t.wait.unwrap_or(DEFAULT_COOLDOWN).as_millis() as u64, endpoint, "Rate limited by Jira.");
    }
}

/// Every site's limiter; rebuilt per site when its `[limits]` change on reload.
#[derive(Debug, Default)]
pub struct Limiters {
    sites: RwLock<HashMap<String, Arc<SiteLimiter>>>,
    metrics: Option<jira_sync_metrics::Metrics>,
}

impl Limiters {
    pub fn new(config: &Config, metrics: Option<jira_sync_metrics::Metrics>) -> Self {
        let l = Limiters {
            sites: RwLock::default(),
            metrics,
        };
        l.reconfigure(config);
        l
    }

    pub fn get(&self, site: &str) -> Option<Arc<SiteLimiter>> {
        self.sites.read().expect("limiters lock").get(site).cloned()
    }

    /// Applies a new configuration: sites whose limits changed get a new limiter (governor
    /// quotas are fixed at construction) that keeps the old one's cooldowns and counters;
    /// removed sites are dropped; unchanged ones keep theirs.
    pub fn reconfigure(&self, config: &Config) {
        let mut sites = self.sites.write().expect("limiters lock");
        sites.retain(|name, _| config.site(name).is_some());
        for site in &config.sites {
            match sites.get(&site.name) {
                Some(old) if old.limits == site.limits => {}
                old => {
                    let (cooldowns, stats) = match old {
                        Some(o) => (
                            o.cooldowns.lock().expect("cooldowns lock").clone(),
                            o.stats.clone(),
                        ),
                        None => (Cooldowns::default(), Arc::new(Stats::default())),
                    };
                    let mut limiter =
                        SiteLimiter::with_state(&site.name, site.limits, cooldowns, stats);
                    if let Some(m) = &self.metrics {
                        limiter = limiter.with_metrics(m.clone());
                    }
                    sites.insert(site.name.clone(), Arc::new(limiter));
                }
            }
        }
    }
}
