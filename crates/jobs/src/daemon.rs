//! The running daemon's jobs: a sync job per connector, a census job per pulling connector
//! and a token-health job per site, on tokio-cron-scheduler (UTC), with the guards the
//! scheduler lacks: runs of one connector never overlap (a tick that finds the previous run
//! still going is skipped and counted), every run has a timeout and is a tracked task, and a
//! connector's ticks are offset by a stable amount derived from its name.
//!
//! A site whose credential is revoked, expired or short of scopes sends no sync traffic: its
//! ticks end with outcome `credential`, and its probe runs again on a backoff until the
//! credential works, when the site resumes by itself.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use jira_sync_auth::{CredentialState, Provider};
use jira_sync_client::{Client, PrometheusObserver};
use jira_sync_config::{Auth, Config, ConnectorRef, Site};
use jira_sync_engine::{Engine, EngineError, Report, SiteCtx};
use jira_sync_metrics::Metrics;
use jira_sync_ratelimit::Limiters;
use jira_sync_resolver::Resolver;
use jira_sync_store::{Hub, RunStatus, SiteStatus, StatusBook, Store, Vault};
use serde::Serialize;
use tokio_cron_scheduler::{Job, JobScheduler};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use crate::groups::{Shard, fnv1a, groups};

mod census; // The census job of each pulling connector.
mod health; // Credential probes, their backoff, and making a site ready.
mod nudge; // Runs started by webhook deliveries, debounced.
mod record; // What a finished run leaves: its series and its stored status.
mod status; // What `/status` and `jira-sync status` show.
mod webhooks; // The dynamic webhook of each oauth2 site: registered, refreshed, removed.
mod wheel; // One scheduler job per distinct schedule, firing the jobs on it by offset.

use crate::probe::{Verdict, probe_site};
use record::export_parked;
pub use status::{ConnectorView, SiteView, Status, stored_status};
pub use webhooks::{
    EVENTS as WEBHOOK_EVENTS, WebhookState, admin_webhook_name, filter_of as webhook_filter,
    registers as registers_webhook,
};
use wheel::{Wheel, on_tick};

/// Tunables of the daemon's jobs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Run only the mirror groups this shard owns.
    pub shard: Option<Shard>,
    /// A sync run longer than this is told to stop (it commits what it did).
    pub run_timeout: Duration,
    /// How long shutdown waits for running cycles to commit.
    pub grace: Duration,
    /// When every site's credential is probed (cron with seconds, UTC).
    pub health_schedule: String,
    /// When every pulling connector takes its census.
    pub census_schedule: String,
    /// First and longest wait between probes of a credential that does not work.
    pub probe_backoff: (Duration, Duration),
    /// The longest stable offset of a connector's ticks.
    pub max_offset: Duration,
    /// Where `auth login`, run while this daemon holds the store, leaves refresh tokens;
    /// they are taken into the vault at start and at every reload.
    pub logins: Option<PathBuf>,
    /// How many sync runs may be in flight at once, all connectors together; a due run
    /// waits for a slot (its lateness counts the wait). Bounds memory during initial syncs.
    pub max_runs_in_flight: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            shard: None,
            run_timeout: Duration::from_secs(3600),
            grace: Duration::from_secs(30),
            health_schedule: "0 0 * * * *".into(),
            census_schedule: "0 30 3 * * *".into(),
            probe_backoff: (Duration::from_secs(60), Duration::from_secs(3600)),
            max_offset: Duration::from_secs(60),
            logins: None,
            max_runs_in_flight: 32,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Store(#[from] jira_sync_store::StoreError),
    #[error("scheduler: {0}")]
    Scheduler(String),
}

impl From<tokio_cron_scheduler::JobSchedulerError> for DaemonError {
    fn from(e: tokio_cron_scheduler::JobSchedulerError) -> Self {
        DaemonError::Scheduler(format!("{e:?}"))
    }
}

/// The daemon's jobs. Cheap to clone.
#[derive(Clone)]
pub struct Daemon {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon").finish_non_exhaustive()
    }
}

struct Inner {
    hub: Hub,
    book: StatusBook,
    vault: Vault,
    metrics: Metrics,
    http: reqwest::Client,
    resolver: Resolver,
    limiters: Limiters,
    opts: Options,
    current: RwLock<Arc<Generation>>,
    sites: Mutex<BTreeMap<String, Arc<SiteRt>>>,
    conns: Mutex<BTreeMap<ConnectorRef, Arc<ConnRt>>>,
    /// Per site name, held while a webhook keeper or a removal talks to Jira: the runtimes
    /// of one site that reloads replace one another never race on its webhooks.
    webhook_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    sched: JobScheduler,
    /// Schedule expression -> the scheduler's job for it.
    jobs: tokio::sync::Mutex<BTreeMap<String, Uuid>>,
    /// Schedule expression -> the jobs on it.
    wheels: Mutex<BTreeMap<String, Arc<Wheel>>>,
    tracker: TaskTracker,
    shutdown: CancellationToken,
    /// Ticks seen: the watchdog's proof that the scheduler is alive.
    ticks: AtomicU64,
    /// Slots of sync runs in flight (`Options::max_runs_in_flight`).
    slots: tokio::sync::Semaphore,
}

/// One configuration in force: the engine built for it.
struct Generation {
    config: Arc<Config>,
    engine: Arc<Engine>,
}

/// A site's runtime: its provider (token cache, single-flight refresh) and health.
struct SiteRt {
    site: Site,
    fingerprint: u64,
    provider: Arc<Provider>,
    health: Mutex<Health>,
    /// The client and facts, once the credential worked.
    ctx: Mutex<Option<SiteCtx>>,
    probing: tokio::sync::Mutex<()>,
    /// Cancelled when this runtime is replaced or removed (its webhook keeper stops).
    stop: CancellationToken,
    /// The site's webhook as last seen.
    webhook: Mutex<WebhookState>,
}

#[derive(Debug, Default)]
struct Health {
    verdict: Option<Verdict>,
    checked: Option<DateTime<Utc>>,
    next_probe: Option<tokio::time::Instant>,
    backoff: Duration,
}

/// A connector's runtime: it outlives reloads so a restarted job never overlaps a run of
/// the job it replaced.
#[derive(Default)]
struct ConnRt {
    running: tokio::sync::Mutex<()>,
    /// A run started by webhook deliveries is pending (debounced, `nudge`).
    nudged: std::sync::atomic::AtomicBool,
}

/// Whether `r` is still run by this daemon with the runtime `rt`: a reload removes
/// connectors from `conns` first, then their metric series, so whoever holds `conns` and
/// sees its connector there may write its series.
fn runs_here(
    conns: &BTreeMap<ConnectorRef, Arc<ConnRt>>,
    r: &ConnectorRef,
    rt: &Arc<ConnRt>,
) -> bool {
    conns.get(r).is_some_and(|now| Arc::ptr_eq(now, rt))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What changes a site's runtime: its whole configuration, secrets included (a token file
/// re-read on reload with new contents restarts the site). Hashed in memory only.
fn site_fingerprint(site: &Site) -> u64 {
    let mut s = format!("{site:?}");
    match &site.auth {
        Auth::ApiToken(t) | Auth::ServiceAccount(t) => s.push_str(t.token.expose()),
        Auth::OAuth2(o) => {
            s.push_str(o.client_secret.expose());
            if let Some(r) = &o.initial_refresh_token {
                s.push_str(r.expose());
            }
        }
        Auth::ClientCredentials(c) => s.push_str(c.client_secret.expose()),
    }
    // A rotated webhook secret restarts the site, so its keeper sets it on the webhook.
    if let Some(w) = &site.webhook_secret {
        s.push_str(w.expose());
    }
    fnv1a(s.as_bytes())
}

/// States that stop a site's sync traffic until a probe finds the credential working.
fn blocking(state: CredentialState) -> bool {
    matches!(
        state,
        CredentialState::Revoked | CredentialState::Expired | CredentialState::InsufficientScope
    )
}

impl Daemon {
    /// Opens what the jobs need, schedules every job of `config` and starts the scheduler.
    /// Every site's credential is probed once at start.
    pub async fn start(
        config: Config,
        store: &Store,
        metrics: Metrics,
        opts: Options,
    ) -> Result<Daemon, DaemonError> {
        let http = jira_sync_auth::http_client();
        let hub = store.hub()?;
        let engine = Arc::new(Engine::new(
            Arc::new(config.clone()),
            hub.clone(),
            HashMap::new(),
        ));
        let sched = JobScheduler::new_with_channel_size(16_384).await?;
        let opts_slots = opts.max_runs_in_flight.max(1);
        let inner = Arc::new(Inner {
            resolver: Resolver::new(
                http.clone(),
                config.daemon.gateway_url.clone(),
                Some(store.cache()?),
            ),
            limiters: Limiters::new(&config, Some(metrics.clone())),
            hub,
            book: store.status()?,
            vault: store.vault()?,
            metrics,
            http,
            opts,
            current: RwLock::new(Arc::new(Generation {
                config: Arc::new(config.clone()),
                engine,
            })),
            sites: Mutex::default(),
            conns: Mutex::default(),
            webhook_locks: Mutex::default(),
            sched,
            jobs: Default::default(),
            wheels: Mutex::default(),
            tracker: TaskTracker::new(),
            shutdown: CancellationToken::new(),
            ticks: AtomicU64::new(0),
            slots: tokio::sync::Semaphore::new(opts_slots),
        });
        inner
            .metrics
            .build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        let d = Daemon { inner };
        d.restore_gauges(&config);
        d.apply(config).await?;
        d.inner.sched.start().await?;
        Ok(d)
    }

    /// `jira_sync_last_success_timestamp_seconds`, `jira_sync_push_backlog` and
    /// `jira_sync_parked_writes` from the store: a restart does not look like a stall, and
    /// what waits (from the daemon's last runs or `jira-sync sync`) shows before the first run.
    fn restore_gauges(&self, config: &Config) {
        let m = &self.inner.metrics;
        for site in &config.sites {
            for c in &site.connectors {
                let Ok(Some(status)) = self.inner.book.run(&site.name, &c.name) else {
                    continue;
                };
                let labels = [site.name.as_str(), c.name.as_str()];
                if let Some(t) = status.last_success {
                    m.last_success_timestamp_seconds
                        .with_label_values(&labels)
                        .set(t.timestamp() as f64);
                }
                if status.last_run.is_some() {
                    m.push_backlog
                        .with_label_values(&labels)
                        .set(status.backlog as i64);
                    export_parked(m, labels, |reason| {
                        status.parked.get(reason).copied().unwrap_or(0) as i64
                    });
                }
            }
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> Arc<Config> {
        self.generation().config.clone()
    }

    fn generation(&self) -> Arc<Generation> {
        self.inner
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether this daemon runs `site` (its group belongs to this shard).
    fn owns(&self, groups: &BTreeMap<String, String>, site: &str) -> bool {
        self.inner
            .opts
            .shard
            .is_none_or(|s| groups.get(site).is_some_and(|g| s.owns(g)))
    }

    /// Applies a new (valid) configuration: sites and connectors whose configuration changed
    /// are restarted, added ones start, removed ones stop, unchanged ones keep running.
    pub async fn reload(&self, config: Config) -> Result<(), DaemonError> {
        self.apply(config).await
    }

    async fn apply(&self, config: Config) -> Result<(), DaemonError> {
        let inner = &self.inner;
        let mut jobs = inner.jobs.lock().await;
        let config = Arc::new(config);
        let groups = groups(&config);
        inner.limiters.reconfigure(&config);
        let engine = Arc::new(
            Engine::new(config.clone(), inner.hub.clone(), HashMap::new()).without_census_in_runs(),
        );
        let mut fresh = Vec::new();
        let mut wanted: BTreeMap<String, (String, u64, JobKind)> = BTreeMap::new();
        // Refresh tokens `auth login` left meanwhile go into the vault, and their sites start
        // afresh: a new provider forgets the refusal, and the site is probed at once.
        let mut logged_in = BTreeSet::new();
        if let Some(dir) = &inner.opts.logins {
            for site in config
                .sites
                .iter()
                .filter(|s| matches!(s.auth, Auth::OAuth2(_)) && self.owns(&groups, &s.name))
            {
                match inner.vault.take_login(dir, &site.name).await {
                    Ok(true) => {
                        tracing::info!(site = %site.name, "Took in the refresh token of `auth login`.");
                        logged_in.insert(site.name.clone());
                    }
                    Ok(false) => {}
                    Err(e) => {
                        tracing::error!(site = %site.name, error = %e, "The refresh token `auth login` left cannot be taken in; run it again.");
                    }
                }
            }
        }
        let gone_sites: BTreeSet<String>;
        let replaced;
        let keepers;
        let mut old_rts: Vec<Arc<SiteRt>> = Vec::new();
        let mut gone_conns: BTreeSet<(String, String)> = BTreeSet::new();
        {
            let mut sites = lock(&inner.sites);
            let mut kept = BTreeMap::new();
            for site in config.sites.iter().filter(|s| self.owns(&groups, &s.name)) {
                let fp = site_fingerprint(site);
                let rt = match sites.remove(&site.name) {
                    Some(rt) if rt.fingerprint == fp && !logged_in.contains(&site.name) => rt,
                    other => {
                        // The last delivery is the site's, not the runtime's.
                        let last_delivery =
                            other.as_ref().and_then(|o| lock(&o.webhook).last_delivery);
                        old_rts.extend(other);
                        fresh.push(site.name.clone());
                        Arc::new(SiteRt {
                            site: site.clone(),
                            fingerprint: fp,
                            provider: Arc::new(Provider::new(
                                site,
                                &config.daemon.auth_url,
                                inner.http.clone(),
                                Some(inner.vault.clone()),
                            )),
                            health: Mutex::default(),
                            ctx: Mutex::default(),
                            probing: Default::default(),
                            stop: CancellationToken::new(),
                            webhook: Mutex::new(WebhookState {
                                last_delivery,
                                ..WebhookState::default()
                            }),
                        })
                    }
                };
                if let Some(ctx) = lock(&rt.ctx).clone() {
                    engine.set_site(&site.name, Some(ctx));
                }
                wanted.insert(
                    format!("health/{}", site.name),
                    (
                        inner.opts.health_schedule.clone(),
                        fp,
                        JobKind::Health(site.name.clone()),
                    ),
                );
                // Series that only move on rare events exist from the start (at 0), so
                // dashboards and alerts see them before the first event.
                inner
                    .metrics
                    .rate_limited_total
                    .with_label_values(&[site.name.as_str()]);
                inner
                    .metrics
                    .rate_limit_wait_seconds_total
                    .with_label_values(&[site.name.as_str()]);
                if site.webhooks {
                    // `JiraSyncWebhookSilent` compares deliveries with pulls: a site that never
                    // got one has the series at 0.
                    inner.metrics.webhook_deliveries_total.with_label_values(&[
                        site.name.as_str(),
                        "jira:issue_updated",
                        "accepted",
                    ]);
                }
                for c in &site.connectors {
                    let r = ConnectorRef {
                        site: site.name.clone(),
                        connector: c.name.clone(),
                    };
                    inner
                        .metrics
                        .runs_skipped_total
                        .with_label_values(&[site.name.as_str(), c.name.as_str()]);
                    inner
                        .metrics
                        .run_start_lateness_seconds
                        .with_label_values(&[site.name.as_str(), c.name.as_str()]);
                    inner
                        .metrics
                        .reconcile_repairs_total
                        .with_label_values(&[site.name.as_str(), c.name.as_str()]);
                    let cfp = fnv1a(format!("{fp}{c:?}").as_bytes());
                    wanted.insert(
                        format!("sync/{r}"),
                        (
                            c.schedule.as_str().to_owned(),
                            cfp,
                            JobKind::Sync(r.clone()),
                        ),
                    );
                    if c.direction.pulls() {
                        wanted.insert(
                            format!("census/{r}"),
                            (
                                inner.opts.census_schedule.clone(),
                                cfp,
                                JobKind::Census(r.clone()),
                            ),
                        );
                    }
                }
                kept.insert(site.name.clone(), rt);
            }
            // What is left was removed (or moved to another shard): its series go too.
            let removed = std::mem::replace(&mut *sites, kept);
            gone_sites = removed.keys().cloned().collect();
            old_rts.extend(removed.into_values());
            (replaced, keepers) = self.webhooks_after_reload(&sites, old_rts, &fresh);
        }
        {
            let mut conns = lock(&inner.conns);
            conns.retain(|r, _| {
                let keep = wanted.contains_key(&format!("sync/{r}"));
                if !keep {
                    gone_conns.insert((r.site.clone(), r.connector.clone()));
                }
                keep
            });
            for (_, _, kind) in wanted.values() {
                if let JobKind::Sync(r) = kind {
                    conns.entry(r.clone()).or_default();
                }
            }
        }
        if !gone_sites.is_empty() || !gone_conns.is_empty() {
            // The series of removed sites and connectors go, in one pass over each family.
            inner.metrics.forget(|labels| {
                let site = labels.get("site").copied().unwrap_or_default();
                gone_sites.contains(site)
                    || labels
                        .get("connector")
                        .is_some_and(|c| gone_conns.contains(&(site.to_owned(), (*c).to_owned())))
            });
        }
        {
            let mut current = inner
                .current
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            // Issues deliveries named and no run has read yet go on to the new engine (under
            // the write lock: a delivery hints one engine or the other, never neither).
            for (r, ids) in current.engine.drain_hints() {
                engine.hint(&r, ids);
            }
            *current = Arc::new(Generation {
                config: config.clone(),
                engine,
            });
        }
        // One scheduler job per distinct schedule; the jobs on it are its wheel's spokes,
        // replaced in place (a pass under way finishes with the list it started with).
        let mut by_schedule: BTreeMap<String, Vec<JobKind>> = BTreeMap::new();
        for (schedule, _, kind) in wanted.into_values() {
            by_schedule.entry(schedule).or_default().push(kind);
        }
        let stale: Vec<String> = jobs
            .keys()
            .filter(|k| !by_schedule.contains_key(*k))
            .cloned()
            .collect();
        for k in stale {
            if let Some(id) = jobs.remove(&k) {
                inner.sched.remove(&id).await?;
            }
            lock(&inner.wheels).remove(&k);
        }
        for (expr, spokes) in by_schedule {
            let existing = lock(&inner.wheels).get(&expr).cloned();
            if let Some(w) = existing {
                *w.spokes.write().unwrap_or_else(PoisonError::into_inner) = spokes;
                continue;
            }
            let schedule =
                jira_sync_config::Schedule::parse(&expr).map_err(DaemonError::Scheduler)?;
            let w = Arc::new(Wheel::new(schedule, spokes, inner.opts.max_offset));
            lock(&inner.wheels).insert(expr.clone(), w.clone());
            let weak = Arc::downgrade(&self.inner);
            let job = Job::new_async(expr.as_str(), move |_, _| {
                let (weak, w) = (weak.clone(), w.clone());
                Box::pin(async move { on_tick(weak, w) })
            })?;
            let id = inner.sched.add(job).await?;
            jobs.insert(expr, id);
        }
        drop(jobs);
        for site in fresh {
            let d = self.clone();
            inner.tracker.spawn(async move { d.probe(&site).await });
        }
        for old in replaced {
            self.drop_webhook(old);
        }
        for rt in keepers {
            self.keep_webhook(rt);
        }
        Ok(())
    }

    /// One run of a connector's cycle now, unless one is running (then the tick is skipped
    /// and counted). Returns the outcome, or `None` when skipped or not run here.
    pub async fn tick(&self, r: &ConnectorRef) -> Option<&'static str> {
        self.tick_due(r, None).await
    }

    /// A tick that was `due` at an instant (a scheduled one): how late its run starts is
    /// observed (`jira_sync_run_start_lateness_seconds`) and logged at debug level.
    async fn tick_due(&self, r: &ConnectorRef, due: Option<DateTime<Utc>>) -> Option<&'static str> {
        self.inner.ticks.fetch_add(1, Ordering::Relaxed);
        let rt = lock(&self.inner.conns).get(r).cloned()?;
        let Ok(_running) = rt.running.try_lock() else {
            tracing::info!(connector = %r, "Previous run still going; tick skipped.");
            self.inner
                .metrics
                .runs_skipped_total
                .with_label_values(&[r.site.as_str(), r.connector.as_str()])
                .inc();
            return None;
        };
        self.run_locked(r, &rt, due)
            .await
            .map(|(outcome, _)| outcome)
    }

    /// One run of `r`, whose `running` lock the caller holds: waits for a slot, runs,
    /// records. Returns the outcome and how many issues the run pulled, or `None` when the
    /// connector was removed meanwhile or the daemon stops.
    async fn run_locked(
        &self,
        r: &ConnectorRef,
        rt: &Arc<ConnRt>,
        due: Option<DateTime<Utc>>,
    ) -> Option<(&'static str, usize)> {
        let labels = [r.site.as_str(), r.connector.as_str()];
        // A run holds its project's pulled issues and its writes until it commits: the slots
        // bound what all runs together hold, whatever the number of connectors.
        let _slot = tokio::select! {
            slot = self.inner.slots.acquire() => slot.ok()?,
            _ = self.inner.shutdown.cancelled() => return None,
        };
        {
            let conns = lock(&self.inner.conns);
            if self.inner.shutdown.is_cancelled() || !runs_here(&conns, r, rt) {
                // Removed by a reload while it waited for a slot: nothing to run or count.
                return None;
            }
            if let Some(due) = due {
                let late = (Utc::now() - due).to_std().unwrap_or_default();
                self.inner
                    .metrics
                    .run_start_lateness_seconds
                    .with_label_values(&labels)
                    .observe(late.as_secs_f64());
                tracing::debug!(connector = %r, lateness_seconds = late.as_secs_f64(), "Run starts.");
            }
        }
        let started = tokio::time::Instant::now();
        let (outcome, report, message) = self.run_once(r).await;
        let elapsed = started.elapsed();
        let pulled = report.as_ref().map_or(0, |rep| rep.pulled);
        let Some(status) = self.record(r, rt, outcome, elapsed, report.as_ref(), message) else {
            return Some((outcome, pulled));
        };
        if let Err(e) = self
            .inner
            .book
            .set_run(&r.site, &r.connector, &status)
            .await
        {
            tracing::warn!(connector = %r, error = %e, "Could not store the run's status.");
        }
        Some((outcome, pulled))
    }

    /// The cycle itself: credential gate, timeout, outcome.
    async fn run_once(&self, r: &ConnectorRef) -> (&'static str, Option<Report>, Option<String>) {
        if let Err(why) = self.credential_ok(&r.site).await {
            return ("credential", None, Some(why));
        }
        let generation = self.generation();
        if !generation.engine.site_ready(&r.site) {
            // The credential works but the site's facts could not be read yet.
            if let Some(v) = self.probe(&r.site).await
                && blocking(v.state)
            {
                return ("credential", None, Some(v.message));
            }
        }
        let generation = self.generation();
        let cancel = self.inner.shutdown.child_token();
        let timed_out = CancellationToken::new();
        let timer = {
            let (cancel, timed_out) = (cancel.clone(), timed_out.clone());
            let limit = self.inner.opts.run_timeout;
            tokio::spawn(async move {
                tokio::time::sleep(limit).await;
                timed_out.cancel();
                cancel.cancel();
            })
        };
        let run = generation.engine.run_until(r, &cancel);
        // A run told to stop finishes its page and commits; past the grace it is dropped
        // (its intents make the next run safe).
        let grace = self.inner.opts.grace;
        let stopped = async {
            cancel.cancelled().await;
            tokio::time::sleep(grace).await;
        };
        let result = tokio::select! {
            res = run => Some(res),
            _ = stopped => None,
        };
        timer.abort();
        match result {
            Some(Ok(report)) if self.inner.shutdown.is_cancelled() => (
                "interrupted",
                Some(report),
                Some("stopped by shutdown after committing its progress".into()),
            ),
            Some(Ok(report)) if timed_out.is_cancelled() => (
                "timeout",
                Some(report),
                Some("stopped at the run timeout".into()),
            ),
            Some(Ok(report)) => {
                let outcome = if report.failed.is_empty() {
                    "success"
                } else {
                    "error"
                };
                let message = report.failed.first().map(|(what, why)| {
                    format!(
                        "{} failed write(s), first: {what}: {why}",
                        report.failed.len()
                    )
                });
                (outcome, Some(report), message)
            }
            Some(Err(e)) => {
                let credential = matches!(&e, EngineError::Client(c) if c.is_credential());
                tracing::warn!(connector = %r, error = %e, "Sync run failed.");
                if credential
                    // Probed now, whatever the backoff says: the run just saw it refused.
                    && let Some(v) = self.probe(&r.site).await
                    && blocking(v.state)
                {
                    return ("credential", None, Some(e.to_string()));
                }
                ("error", None, Some(e.to_string()))
            }
            None => (
                "timeout",
                None,
                Some("did not stop within the grace period".into()),
            ),
        }
    }

    /// Connectors this daemon runs.
    pub fn connectors(&self) -> Vec<ConnectorRef> {
        lock(&self.inner.conns).keys().cloned().collect()
    }

    /// Ticks seen so far (the watchdog checks that they keep coming).
    pub fn ticks(&self) -> u64 {
        self.inner.ticks.load(Ordering::Relaxed)
    }

    /// Stops scheduling, tells running cycles to finish their page and commit, and waits
    /// for them (bounded by the grace period). Returns false if some did not finish.
    pub async fn shutdown(&self) -> bool {
        let mut sched = self.inner.sched.clone();
        if let Err(e) = sched.shutdown().await {
            tracing::warn!(error = ?e, "Scheduler shutdown.");
        }
        self.inner.shutdown.cancel();
        self.inner.tracker.close();
        tokio::time::timeout(
            self.inner.opts.grace + Duration::from_secs(1),
            self.inner.tracker.wait(),
        )
        .await
        .is_ok()
    }
}

/// What a scheduled job runs.
#[derive(Debug, Clone)]
enum JobKind {
    Sync(ConnectorRef),
    Census(ConnectorRef),
    Health(String),
}

/// A connector's stored status after a run that ended `now` with `outcome` (`success`,
/// `error`, ...): its backlog (failed, deferred and parked writes) and parked writes by
/// reason from the run's report, kept from `before` when the run made none. The daemon and
/// `jira-sync sync` record runs the same way, so `jira-sync status` shows either.
pub fn run_status(
    mut status: RunStatus,
    outcome: &str,
    elapsed: Duration,
    report: Option<&Report>,
    message: Option<String>,
    now: DateTime<Utc>,
) -> RunStatus {
    status.last_run = Some(now);
    status.outcome = Some(outcome.into());
    status.duration_seconds = elapsed.as_secs_f64();
    status.message = message;
    if let Some(rep) = report {
        let parked: usize = rep.parked_now.values().sum();
        status.backlog = (rep.failed.len() + rep.deferred + parked) as u64;
        status.parked = rep
            .parked_now
            .iter()
            .map(|(k, v)| (k.clone(), *v as u64))
            .collect();
    }
    if outcome == "success" {
        status.last_success = Some(now);
    }
    status
}
