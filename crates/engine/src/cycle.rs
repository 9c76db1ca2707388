//! One connector run: pull, merge, push, commit (`../shared/DESIGN.md`, "The sync algorithm").

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use jira_sync_client::{Client, ClientError};
use jira_sync_config::{Config, ConflictPolicy, Connector, ConnectorRef, Site};
use jira_sync_store::StoreError;
use jira_sync_store::hub::{Commit, IntentKind, Link, Parked, Record, RecordId};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

mod attachments; // Files in step: copied, matched by content, removed with their source.
mod census; // The hourly census and propagate_deletes.
mod changes; // Writes to one linked issue, and its refusals parked per field.
mod comments; // Comments in step: audience, edits, deletions, whole threads.
mod conflicts; // Per-field change times for the `newest` policy.
mod hints; // Issues webhook deliveries named, read by the next pulls.
mod meta; // What is known of a target project: issue types, screens, workflow.
mod people; // Assignee and reporter across sites.
mod pull; // What changed in Jira: a light search, then the new issues in full.
mod push; // Creates, edits, transitions and comments.
mod rebuild; // `jira-sync store rebuild`.
mod report; // What a run did.
mod rich_text; // Rich text written on a site: media placeholders, mentions.
mod status; // The status through the workflow.

pub use rebuild::Rebuilt;
pub use report::Report;

use meta::{CreateScreenCache, EditScreenCache, IssueTypeCache, WorkflowCache};

use crate::mapping::to_hub;
use crate::rich;

/// The issue property that carries the link to the hub record.
pub const PROPERTY: &str = "jira-sync";
/// The most recently written ids a pull reconciles.
const RECENT_WRITES: usize = 50;
/// How often a connector takes its census (the ids of every issue in scope).
const CENSUS_EVERY: Duration = Duration::hours(1);
/// Issues per census page: id-only searches take up to 5000.
const CENSUS_PAGE: u32 = 5000;
/// Why the census lost an issue that a consistent read no longer returns.
const DELETED: &str = "deleted, or no longer visible to the integration";
/// A census that loses more than this many issues at once, and more than a tenth of the
/// connector's, suspects lost access rather than deletions and propagates none.
const MASS_LOSS: usize = 5;
/// How long a site's answer to "who has this email" is reused.
const PEOPLE_TTL: Duration = Duration::hours(1);
/// How often a push looks at every record in scope, changed or not (a full reconcile):
/// what no change named (a person given an account since, a lost mark) is repaired then.
const RECONCILE_EVERY: Duration = Duration::days(1);

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("no connector `{0}` in the configuration")]
    UnknownConnector(String),
    #[error("site `{0}` is not ready (no client)")]
    SiteNotReady(String),
    #[error("the store already holds records; a rebuild starts from an empty store")]
    NotEmpty,
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a site needs for a run: its client and facts about the integration's account.
#[derive(Debug, Clone)]
pub struct SiteCtx {
    pub client: Client,
    /// The zone JQL reads dates in (`timeZone` of `/myself`).
    pub time_zone: Tz,
    /// Field id -> the shape of its value ([`jira_sync_client::FieldSchema::shape`]): how a
    /// custom field is read into its hub form and written back.
    pub field_types: BTreeMap<String, String>,
}

impl SiteCtx {
    /// Reads the integration account's time zone (`/myself`) and the site's field types.
    pub async fn read(client: Client) -> Result<SiteCtx, ClientError> {
        let me = client.myself().await?;
        let time_zone = me
            .time_zone
            .as_deref()
            .unwrap_or("UTC")
            .parse::<Tz>()
            .unwrap_or(chrono_tz::UTC);
        let field_types = client
            .fields()
            .await?
            .into_iter()
            .filter_map(|f| Some((f.id, f.schema?.shape())))
            .collect();
        Ok(SiteCtx {
            client,
            time_zone,
            field_types,
        })
    }
}

/// What a refused write depended on: the record's fields and the connector's configuration,
/// as a stable hash (FNV-1a of their JSON; stored, so never `DefaultHasher` or `Debug`).
fn fingerprint(record: &Record, conn: &Connector) -> u64 {
    let config = serde_json::json!({
        "project": conn.project,
        "jql": conn.jql,
        "fields": conn.fields,
        "statuses": conn.statuses,
        "resolution": conn.resolution,
        "issuetypes": conn.issuetypes,
    });
    let fields = serde_json::to_string(&record.fields).unwrap_or_default();
    crate::plan::fnv1a(format!("{fields}\0{config}").as_bytes())
}

/// A write that failed: Jira's and the network's errors are noted and the run goes on (one
/// issue never blocks the rest); the store's errors end the run. A refused credential stops
/// the run's writes: what was done is committed, and the run then ends with that error
/// (rather than sending every pending write to be refused too).
fn note_failure(
    me: &ConnectorRef,
    report: &mut Report,
    work: &mut Work,
    what: String,
    e: EngineError,
) -> Result<(), EngineError> {
    match e {
        EngineError::Client(e) if e.is_credential() => {
            tracing::warn!(site = %me.site, connector = %me.connector, what = %what, error = %e, "Credential refused; the run sends nothing more and commits what it did.");
            work.cancel.cancel();
            work.refused.get_or_insert(e);
            Ok(())
        }
        EngineError::Client(e) => {
            tracing::warn!(site = %me.site, connector = %me.connector, what = %what, error = %e, "Write failed; the next cycle retries.");
            report.failed.push((what, e.to_string()));
            Ok(())
        }
        other => Err(other),
    }
}

/// The reason label of a stored record refusal (`type_unmapped: ...`), else `refused`.
fn reason_label(reason: &str) -> &'static str {
    crate::plan::Refusal::from_label(reason.split(':').next().unwrap_or_default()).as_str()
}

/// (site, email) -> (when asked, account id or none), reused for [`PEOPLE_TTL`].
type PeopleCache = HashMap<(String, String), (DateTime<Utc>, Option<String>)>;

/// A connector's overlap (how far pulls reach back, and how long search may lag).
fn overlap(conn: &Connector) -> Duration {
    Duration::from_std(conn.overlap).unwrap_or_else(|_| Duration::minutes(5))
}

/// `t - back` as a JQL date in the searching account's zone, at JQL's minute granularity
/// (`2026-11-23 01:59`). Out-of-range instants (a damaged watermark) clamp to the earliest
/// date JQL can be asked for, which reads everything again rather than nothing.
pub fn jql_date(t: DateTime<Utc>, back: Duration, zone: Tz) -> String {
    let earliest = DateTime::<Utc>::from_timestamp(0, 0).unwrap_or_default();
    let t = t.checked_sub_signed(back).unwrap_or(earliest).clamp(
        earliest,
        DateTime::<Utc>::from_timestamp(253_402_300_799 - 86_400, 0).unwrap_or_default(),
    );
    t.with_timezone(&zone).format("%Y-%m-%d %H:%M").to_string()
}

/// A timestamp as Jira prints it: `2026-11-23T10:00:00.000+0000`.
fn jira_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.3f%z")
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The read guard of `l`; a panic elsewhere while it was held leaves the data usable.
fn locked_read<T>(l: &std::sync::RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The guard of `m`; a panic elsewhere while it was held leaves the data usable.
fn locked<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Every connector's mirror peers: those it names in `mirror` and those naming it.
fn all_peers(config: &Config) -> HashMap<ConnectorRef, Vec<ConnectorRef>> {
    let mut peers: HashMap<ConnectorRef, BTreeSet<ConnectorRef>> = HashMap::new();
    for s in &config.sites {
        for c in &s.connectors {
            let me = ConnectorRef {
                site: s.name.clone(),
                connector: c.name.clone(),
            };
            for m in c.mirror.iter().filter(|m| **m != me) {
                peers.entry(me.clone()).or_default().insert(m.clone());
                peers.entry(m.clone()).or_default().insert(me.clone());
            }
        }
    }
    peers
        .into_iter()
        .map(|(k, v)| (k, v.into_iter().collect()))
        .collect()
}

/// The engine's "now": wall-clock time in production, the simulator's in tests.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

pub struct Engine {
    config: Arc<Config>,
    hub: jira_sync_store::Hub,
    sites: std::sync::RwLock<HashMap<String, Arc<SiteCtx>>>,
    now: Clock,
    people: std::sync::Mutex<PeopleCache>,
    /// (site, account id) -> (when asked, the email that site shows): how a mention is
    /// mapped to another site.
    emails: std::sync::Mutex<PeopleCache>,
    /// Issue types per project from create metadata, refreshed after a refusal.
    issue_types: std::sync::Mutex<IssueTypeCache>,
    /// Create screens per project and issue type (create metadata), refreshed after a
    /// refusal.
    create_screens: std::sync::Mutex<CreateScreenCache>,
    /// Edit screens per project, issue type and status (edit metadata), refreshed after a
    /// refusal.
    edit_screens: std::sync::Mutex<EditScreenCache>,
    /// What is known of each project's workflow: edges seen, status categories (read
    /// hourly from the project's statuses).
    workflows: std::sync::Mutex<WorkflowCache>,
    /// (site/connector, field): people fields Jira refused to take from this connector.
    refused_people: std::sync::Mutex<BTreeSet<(String, String)>>,
    /// Whether runs take the hourly census themselves (off when a scheduler runs
    /// [`Engine::census_now`] as its own job).
    census_in_runs: bool,
    /// Each connector's mirror peers (declared on either side), computed once.
    peers: HashMap<ConnectorRef, Vec<ConnectorRef>>,
    /// Issue ids a webhook delivery named, per connector: its next pull reads them through
    /// `reconcileIssues`, so search lag does not hide them (reference jira-cloud-api.md
    /// section 9.1, [S49]).
    hints: std::sync::Mutex<HashMap<ConnectorRef, BTreeSet<u64>>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field(
                "sites",
                &locked_read(&self.sites).keys().collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// Runs in progress: records and links changed so far, by key.
#[derive(Default)]
struct Work {
    records: BTreeMap<RecordId, Record>,
    links: BTreeMap<RecordId, Link>,
    done: Vec<u64>,
    /// Records a run was interrupted while commenting on: their comments are read before
    /// adding any, to adopt what already landed.
    check_comments: BTreeSet<RecordId>,
    /// Fires when the run should stop early (shutdown, timeout, a refused credential).
    cancel: CancellationToken,
    /// The credential refusal that stopped the run's writes: the run's error, after commit.
    refused: Option<ClientError>,
    /// Records that changed since this connector last looked (pulled now, marked, or in
    /// its retry set): what an incremental push looks at.
    changed: BTreeSet<RecordId>,
    /// The marks this run took (record, mark number).
    taken: Vec<(RecordId, u64)>,
    /// Records the push looked at.
    looked_at: BTreeSet<RecordId>,
    /// Records to look at again next run (failed, deferred, parked, not reached).
    retry: BTreeSet<RecordId>,
    /// Whether the push is a full reconcile whatever the watermark says.
    full: bool,
}

impl Engine {
    pub fn new(
        config: Arc<Config>,
        hub: jira_sync_store::Hub,
        sites: HashMap<String, SiteCtx>,
    ) -> Self {
        Engine {
            peers: all_peers(&config),
            config,
            hub,
            sites: std::sync::RwLock::new(
                sites.into_iter().map(|(k, v)| (k, Arc::new(v))).collect(),
            ),
            now: Arc::new(Utc::now),
            people: Default::default(),
            emails: Default::default(),
            issue_types: Default::default(),
            workflows: Default::default(),
            create_screens: Default::default(),
            edit_screens: Default::default(),
            refused_people: Default::default(),
            census_in_runs: true,
            hints: Default::default(),
        }
    }

    /// Leaves the census to [`Engine::census_now`]: runs no longer take it.
    pub fn without_census_in_runs(mut self) -> Self {
        self.census_in_runs = false;
        self
    }

    /// Uses `now` as the clock (tests drive it with the simulator's).
    pub fn with_clock(mut self, now: Clock) -> Self {
        self.now = now;
        self
    }

    fn connector(&self, r: &ConnectorRef) -> Result<(&Site, &Connector), EngineError> {
        self.config
            .connector(r)
            .ok_or_else(|| EngineError::UnknownConnector(r.to_string()))
    }

    /// Connectors sharing records with `me`: declared on either side, directly.
    pub fn peers(&self, me: &ConnectorRef) -> Vec<ConnectorRef> {
        self.peers.get(me).cloned().unwrap_or_default()
    }

    /// A fingerprint of what decides a push for `me` (its mapping, scope, policies and
    /// peers): when it changes, the next push is a full reconcile. Stored, so FNV-1a of
    /// JSON.
    fn shape(&self, me: &ConnectorRef, conn: &Connector) -> u64 {
        let shape = serde_json::json!({
            "project": conn.project,
            "jql": conn.jql,
            "direction": format!("{:?}", conn.direction),
            "conflict": format!("{:?}", conn.conflict),
            "propagate_deletes": conn.propagate_deletes,
            "fields": conn.fields,
            "statuses": conn.statuses,
            "resolution": conn.resolution,
            "issuetypes": conn.issuetypes,
            "comments": conn.comments.as_str(),
            "attachments": conn.attachments,
            "max_attachment_size": conn.max_attachment_size,
            "peers": self.peers(me).iter().map(ToString::to_string).collect::<Vec<_>>(),
        });
        crate::plan::fnv1a(shape.to_string().as_bytes())
    }

    fn site_ctx(&self, site: &str) -> Result<Arc<SiteCtx>, EngineError> {
        locked_read(&self.sites)
            .get(site)
            .cloned()
            .ok_or_else(|| EngineError::SiteNotReady(site.to_owned()))
    }

    /// Makes `site` ready (its client and facts), or not ready (`None`: its runs fail with
    /// [`EngineError::SiteNotReady`] until it is set again).
    pub fn set_site(&self, site: &str, ctx: Option<SiteCtx>) {
        let mut sites = self
            .sites
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match ctx {
            Some(c) => sites.insert(site.to_owned(), Arc::new(c)),
            None => sites.remove(site),
        };
    }

    /// Whether `site` has its client and facts.
    pub fn site_ready(&self, site: &str) -> bool {
        locked_read(&self.sites).contains_key(site)
    }

    fn record(&self, work: &Work, id: RecordId) -> Result<Option<Record>, EngineError> {
        match work.records.get(&id) {
            Some(r) => Ok(Some(r.clone())),
            None => Ok(self.hub.record(id)?),
        }
    }

    /// One cycle of `site/connector`.
    pub async fn run(&self, me: &ConnectorRef) -> Result<Report, EngineError> {
        self.run_until(me, &CancellationToken::new()).await
    }

    /// One cycle whose push is a full reconcile: every record in scope is looked at,
    /// changed or not (`jira-sync sync`; runs do it daily on their own). Its report counts
    /// everything held back (restricted comments, people left unset), not only what changed.
    pub async fn reconcile(&self, me: &ConnectorRef) -> Result<Report, EngineError> {
        self.cycle(me, &CancellationToken::new(), true).await
    }

    /// One cycle that stops early, but cleanly, once `cancel` fires: the page being merged
    /// and the write being sent finish, writes not yet sent are left for the next cycle,
    /// and what was done is committed.
    pub async fn run_until(
        &self,
        me: &ConnectorRef,
        cancel: &CancellationToken,
    ) -> Result<Report, EngineError> {
        self.cycle(me, cancel, false).await
    }

    async fn cycle(
        &self,
        me: &ConnectorRef,
        cancel: &CancellationToken,
        full: bool,
    ) -> Result<Report, EngineError> {
        let (_, conn) = self.connector(me)?;
        let ctx = self.site_ctx(&me.site)?;
        let ctx = &*ctx;
        let mut report = Report::default();
        // A child: a refused credential stops this run, not whoever cancels it.
        let mut work = Work {
            cancel: cancel.child_token(),
            full,
            ..Work::default()
        };
        let mut w = self.hub.watermark(&me.site, &me.connector)?;
        let before = w.clone();
        if conn.direction.pulls() {
            self.pull(me, conn, ctx, &mut w, &mut work, &mut report)
                .await?;
            let now = (self.now)();
            if self.census_in_runs
                && !cancel.is_cancelled()
                && w.census.is_none_or(|t| now - t >= CENSUS_EVERY)
            {
                self.census(me, conn, ctx, &w, &mut work, &mut report)
                    .await?;
                w.census = Some(now);
            }
        }
        let mut written = Vec::new();
        if conn.direction.pushes() && !cancel.is_cancelled() {
            self.push(me, conn, ctx, &mut w, &mut work, &mut report, &mut written)
                .await?;
            w.retry = std::mem::take(&mut work.retry);
        } else if !conn.direction.pushes() {
            // Nothing for it to push: what was marked for it is done with.
            work.taken = self.hub.marked(&me.site, &me.connector)?;
        }
        w.recent_writes.extend(written);
        let keep = w.recent_writes.len().saturating_sub(RECENT_WRITES);
        w.recent_writes.drain(..keep);
        let refused = work.refused.take();
        let commit = Commit {
            records: work.records.into_values().collect(),
            links: work.links.into_values().collect(),
            done: work
                .done
                .into_iter()
                .map(|id| (me.site.clone(), me.connector.clone(), id))
                .collect(),
            notify: self
                .peers(me)
                .into_iter()
                .map(|p| (p.site, p.connector))
                .collect(),
            looked_at: work.looked_at,
            taken: work.taken,
            watermark: None,
        };
        if !commit.is_empty() || w != before {
            // An idle run (nothing pulled, nothing marked, nothing to retry) writes nothing.
            self.hub
                .commit(Commit {
                    watermark: Some((me.site.clone(), me.connector.clone(), w)),
                    ..commit
                })
                .await?;
        }
        match refused {
            Some(e) => Err(EngineError::Client(e)),
            None => Ok(report),
        }
    }

    /// The census of `site/connector` on its own (the daemon's census job): finds issues
    /// deleted or moved out of scope and marks their records gone.
    pub async fn census_now(&self, me: &ConnectorRef) -> Result<Report, EngineError> {
        let (_, conn) = self.connector(me)?;
        let ctx = self.site_ctx(&me.site)?;
        let mut report = Report::default();
        let mut work = Work::default();
        let mut w = self.hub.watermark(&me.site, &me.connector)?;
        self.census(me, conn, &ctx, &w, &mut work, &mut report)
            .await?;
        // Only the census moves: a cycle may have moved the rest meanwhile.
        let census = (self.now)();
        w = self.hub.watermark(&me.site, &me.connector)?;
        w.census = Some(census);
        self.hub
            .commit(Commit {
                records: work.records.into_values().collect(),
                links: work.links.into_values().collect(),
                watermark: Some((me.site.clone(), me.connector.clone(), w)),
                notify: self
                    .peers(me)
                    .into_iter()
                    .map(|p| (p.site, p.connector))
                    .collect(),
                ..Commit::default()
            })
            .await?;
        Ok(report)
    }

    /// The connector's scope: its project and extra JQL.
    fn scope_jql(conn: &Connector) -> String {
        let mut jql = format!("project = \"{}\"", conn.project);
        if let Some(extra) = &conn.jql {
            jql.push_str(&format!(" AND ({extra})"));
        }
        jql
    }

    #[allow(clippy::too_many_arguments)]
    fn merge_issue(
        &self,
        me: &ConnectorRef,
        conn: &Connector,
        issue: &Value,
        updated: DateTime<Utc>,
        fields: &[String],
        adopted: &[(String, String)],
        times: &conflicts::FieldTimes,
        work: &mut Work,
        report: &mut Report,
    ) -> Result<(), EngineError> {
        let id = issue["id"].as_str().unwrap_or_default().to_owned();
        let key = issue["key"].as_str().unwrap_or_default().to_owned();
        let mut jira = to_hub(
            conn,
            &self.site_ctx(&me.site)?.field_types,
            &me.site,
            &issue["fields"],
        );
        // A parent this connector has linked is known by its record, the same on every site.
        if let Some(pid) = jira.get("parent").and_then(|p| p["id"].as_str())
            && let Some(rid) = self.record_of(me, pid, work)?
        {
            jira.insert("parent".into(), serde_json::json!({ "record": rid }));
        }
        let existing = match work.links.values().find(|l| l.issue_id == id) {
            Some(l) => Some(l.clone()),
            None => self.hub.link(&me.site, &me.connector, &id)?,
        };
        let (mut record, mut link) = match existing {
            Some(l) => match self.record(work, l.record)? {
                Some(r) => (r, l),
                None => (self.new_record()?, l),
            },
            None => {
                // The property names the record when the issue was made by a mirror, or the
                // store was rebuilt; otherwise it is a new issue.
                let claimed = issue["properties"][PROPERTY]["record"].as_u64();
                let record = match claimed.map(|r| self.record(work, r)).transpose()?.flatten() {
                    Some(r) => r,
                    None => self.new_record()?,
                };
                let link = Link::new(&me.site, &me.connector, record.id, &id, &key);
                (record, link)
            }
        };
        link.record = record.id;
        if link.missing.take().is_some() {
            // The census had lost it; a pull reads it again (moved back into scope).
            record.gone = None;
        }
        link.issue_key = key;
        link.updated = issue["fields"]["updated"].as_str().map(str::to_owned);
        let mut jira_edited = false;
        // Where each site's media live, read once per issue when rich text needs it.
        let mut sources: Option<rich::Sources> = None;
        for f in fields {
            // A field the answer leaves out is not known here: nothing changes, nothing is
            // cleared elsewhere.
            let Some(mut j) = jira.get(f).cloned() else {
                continue;
            };
            let h = record.fields.get(f).cloned();
            let base = link.base.get(f).cloned();
            if let Some(b) = &base
                && link.written.get(f) == Some(&rich::print(&j))
            {
                // Rich text as jira-sync wrote it here (placeholders, mapped mentions): the
                // base, not an edit.
                j = b.clone();
            } else if rich::is_doc(&j) || h.as_ref().is_some_and(rich::is_doc) {
                // Edited here: other sites' media come back from their placeholders and are
                // never dropped by this site.
                let previous: Vec<&Value> = h.iter().chain(base.iter()).collect();
                if sources.is_none() {
                    sources = Some(self.sources(record.id, work)?);
                }
                let places = sources.as_ref().expect("just read");
                j = rich::to_hub_with(&j, &me.site, &previous, places, &record.media_copies());
            }
            if base.as_ref() != Some(&j) {
                link.written.remove(f);
            }
            let jira_changed = base.as_ref() != Some(&j);
            jira_edited |= base.is_some() && jira_changed;
            let hub_changed = h.as_ref() != base.as_ref();
            let take = match (jira_changed, hub_changed, &h) {
                // Nothing in the hub yet: Jira's value is the first one.
                (_, _, None) => true,
                // No base on this link (adopted after an interruption, or a rebuilt store):
                // nothing says Jira changed, so the hub's value stands and push writes it.
                _ if base.is_none() => false,
                (true, false, _) => true,
                (true, true, Some(hv)) if *hv != j => {
                    report.conflicts += 1;
                    if std::env::var_os("ENGINE_DEBUG").is_some() {
                        eprintln!(
                            "CONFLICT {f}: updated {updated} field_time {:?} times {:?}",
                            record.field_times.get(f),
                            times.get(f)
                        );
                    }
                    match conn.conflict {
                        ConflictPolicy::Jira => true,
                        ConflictPolicy::Hub => false,
                        // The field's own change times where both changelogs say; else
                        // this issue's `updated` against when the hub's value came.
                        ConflictPolicy::Newest => match times.get(f) {
                            Some((Some(here), Some(there))) => here >= there,
                            _ => record.field_times.get(f).is_none_or(|t| updated >= *t),
                        },
                    }
                }
                _ => false,
            };
            if take && h.as_ref() != Some(&j) {
                record.fields.insert(f.clone(), j.clone());
                record.field_times.insert(f.clone(), updated);
            }
            // Jira's value is now known to this link; if the hub keeps another, push writes it.
            link.base.insert(f.clone(), j);
        }
        if !jira_edited {
            // Only comments, or jira-sync's own writes, moved `updated`: a parked field waits
            // on (it is retried when a field of the issue changes).
            for p in link.parked.values_mut() {
                p.updated = link.updated.clone();
            }
        }
        // Comments: those an interrupted write of this daemon left are known by their
        // marker; the rest are merged with their audience, edits and deletions.
        link.comments.extend(adopted.iter().cloned());
        let embedded = &issue["fields"]["comment"];
        let list = embedded["comments"].as_array().cloned().unwrap_or_default();
        let complete =
            embedded.is_object() && embedded["total"].as_u64().unwrap_or(0) as usize <= list.len();
        let sources = match sources {
            Some(s) => s,
            None if list.is_empty() => rich::Sources::new(),
            None => self.sources(record.id, work)?,
        };
        comments::merge_comments(
            me,
            &mut record,
            &mut link,
            &list,
            complete,
            (self.now)(),
            &sources,
        );
        if conn.attachments {
            attachments::merge_attachments(
                me,
                conn,
                &mut record,
                &mut link,
                issue["fields"].get("attachment"),
                (self.now)(),
                false,
            );
        }
        work.links.insert(record.id, link);
        work.records.insert(record.id, record);
        Ok(())
    }

    /// The record of `site/connector`'s issue `issue_id`, if linked (this run's links first).
    fn record_of(
        &self,
        c: &ConnectorRef,
        issue_id: &str,
        work: &Work,
    ) -> Result<Option<RecordId>, EngineError> {
        if let Some(l) = work
            .links
            .values()
            .find(|l| l.site == c.site && l.connector == c.connector && l.issue_id == issue_id)
        {
            return Ok(Some(l.record));
        }
        Ok(self
            .hub
            .link(&c.site, &c.connector, issue_id)?
            .map(|l| l.record))
    }

    fn new_record(&self) -> Result<Record, EngineError> {
        Ok(Record::new(self.hub.new_record_id()?))
    }

    /// Stores a write intent (flushed) before the write is sent.
    async fn intent(
        &self,
        me: &ConnectorRef,
        record: RecordId,
        kind: IntentKind,
    ) -> Result<u64, EngineError> {
        Ok(self
            .hub
            .record_intent(&me.site, &me.connector, record, kind, (self.now)())
            .await?
            .id)
    }

    /// Parks `record` for this connector: Jira refused a write of it.
    fn park(
        &self,
        me: &ConnectorRef,
        conn: &Connector,
        record: &Record,
        reason: String,
        work: &mut Work,
        report: &mut Report,
    ) {
        tracing::warn!(site = %me.site, connector = %me.connector, record = record.id, reason = %reason, "Write refused; parked until the record or the configuration changes.");
        let mut r = work
            .records
            .get(&record.id)
            .cloned()
            .unwrap_or_else(|| record.clone());
        r.parked.insert(
            me.to_string(),
            Parked {
                fingerprint: fingerprint(record, conn),
                reason: reason.clone(),
                at: (self.now)(),
            },
        );
        work.records.insert(r.id, r);
        *report
            .parked_records
            .entry(reason_label(&reason).to_owned())
            .or_default() += 1;
        report
            .parked
            .push((format!("record {}", record.id), reason));
    }
}

#[cfg(test)]
mod tests;
