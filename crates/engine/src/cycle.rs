//! One connector run: pull, merge, push, commit (`../shared/DESIGN.md`, "The sync algorithm").

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use jira_sync_client::{Client, ClientError, SearchQuery};
use jira_sync_config::{Config, ConflictPolicy, Connector, ConnectorRef, Site};
use jira_sync_store::StoreError;
use jira_sync_store::hub::{
    Commit, HubComment, IntentKind, Link, Parked, Record, RecordId, Watermark,
};
use serde_json::{Value, json};

use crate::mapping::{
    PEOPLE, Person, hub_fields, jira_fields, jira_status, person_on, to_hub, to_jira,
};

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

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("no connector `{0}` in the configuration")]
    UnknownConnector(String),
    #[error("site `{0}` is not ready (no client)")]
    SiteNotReady(String),
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
    /// Field id -> schema type, for writing custom fields (`option` takes `{"value": ..}`).
    pub field_types: BTreeMap<String, String>,
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub pulled: usize,
    pub created: usize,
    pub updated: usize,
    pub transitioned: usize,
    pub commented: usize,
    pub conflicts: usize,
    /// (record or issue, reason): writes that failed and wait for a change.
    pub parked: Vec<(String, String)>,
    /// Statuses no transition from the current one reaches.
    pub unreachable: Vec<(String, String)>,
    /// Creates of an interrupted run waiting for search to say whether they landed.
    pub deferred: usize,
    /// (issue, error): writes that failed for a transient reason; the next cycle retries.
    pub failed: Vec<(String, String)>,
    /// Records whose refused write waits for a change of the record or the configuration.
    pub waiting: usize,
    /// Assignees and reporters left unset: the person has no visible email, or no account
    /// on this site shows it.
    pub unmapped_people: usize,
    /// (issue key, why): issues the census found deleted, moved or out of the JQL; their
    /// records are marked gone and no longer written anywhere.
    pub gone: Vec<(String, String)>,
    /// Issues deleted because the issue they mirror was deleted (`propagate_deletes`).
    pub deleted: Vec<String>,
}

/// What a refused write depended on: the record's fields and the connector's configuration.
fn fingerprint(record: &Record, conn: &Connector) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    serde_json::to_string(&record.fields)
        .unwrap_or_default()
        .hash(&mut h);
    format!("{conn:?}").hash(&mut h);
    h.finish()
}

/// A write that failed: Jira's and the network's errors are noted and the run goes on (one
/// issue never blocks the rest); the store's errors end the run.
fn note_failure(
    me: &ConnectorRef,
    report: &mut Report,
    what: String,
    e: EngineError,
) -> Result<(), EngineError> {
    match e {
        EngineError::Client(e) => {
            tracing::warn!(site = %me.site, connector = %me.connector, what = %what, error = %e, "Write failed; the next cycle retries.");
            report.failed.push((what, e.to_string()));
            Ok(())
        }
        other => Err(other),
    }
}

/// (site, email) -> (when asked, account id or none), reused for [`PEOPLE_TTL`].
type PeopleCache = HashMap<(String, String), (DateTime<Utc>, Option<String>)>;

/// The engine's "now": wall-clock time in production, the simulator's in tests.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

pub struct Engine {
    config: Arc<Config>,
    hub: jira_sync_store::Hub,
    sites: HashMap<String, SiteCtx>,
    now: Clock,
    people: std::sync::Mutex<PeopleCache>,
    /// (site/connector, field): people fields Jira refused to take from this connector.
    refused_people: std::sync::Mutex<BTreeSet<(String, String)>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("sites", &self.sites.keys().collect::<Vec<_>>())
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
}

impl Engine {
    pub fn new(
        config: Arc<Config>,
        hub: jira_sync_store::Hub,
        sites: HashMap<String, SiteCtx>,
    ) -> Self {
        Engine {
            config,
            hub,
            sites,
            now: Arc::new(Utc::now),
            people: Default::default(),
            refused_people: Default::default(),
        }
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
    fn peers(&self, me: &ConnectorRef) -> Vec<ConnectorRef> {
        let mut out = BTreeSet::new();
        for s in &self.config.sites {
            for c in &s.connectors {
                let r = ConnectorRef {
                    site: s.name.clone(),
                    connector: c.name.clone(),
                };
                if r == *me {
                    out.extend(c.mirror.iter().cloned());
                } else if c.mirror.contains(me) {
                    out.insert(r);
                }
            }
        }
        out.remove(me);
        out.into_iter().collect()
    }

    fn record(&self, work: &Work, id: RecordId) -> Result<Option<Record>, EngineError> {
        match work.records.get(&id) {
            Some(r) => Ok(Some(r.clone())),
            None => Ok(self.hub.record(id)?),
        }
    }

    /// One cycle of `site/connector`.
    pub async fn run(&self, me: &ConnectorRef) -> Result<Report, EngineError> {
        let (_, conn) = self.connector(me)?;
        let ctx = self
            .sites
            .get(&me.site)
            .ok_or_else(|| EngineError::SiteNotReady(me.site.clone()))?;
        let mut report = Report::default();
        let mut work = Work::default();
        let mut w = self.hub.watermark(&me.site, &me.connector)?;
        if conn.direction.pulls() {
            self.pull(me, conn, ctx, &mut w, &mut work, &mut report)
                .await?;
            let now = (self.now)();
            if w.census.is_none_or(|t| now - t >= CENSUS_EVERY) {
                self.census(me, conn, ctx, &w, &mut work, &mut report)
                    .await?;
                w.census = Some(now);
            }
        }
        let mut written = Vec::new();
        if conn.direction.pushes() {
            self.push(me, conn, ctx, &mut work, &mut report, &mut written)
                .await?;
        }
        w.recent_writes.extend(written);
        let keep = w.recent_writes.len().saturating_sub(RECENT_WRITES);
        w.recent_writes.drain(..keep);
        self.hub
            .commit(Commit {
                records: work.records.into_values().collect(),
                links: work.links.into_values().collect(),
                watermark: Some((me.site.clone(), me.connector.clone(), w)),
                done: work
                    .done
                    .into_iter()
                    .map(|id| (me.site.clone(), me.connector.clone(), id))
                    .collect(),
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

    /// Deleted issues never show up in an incremental pull: an id-only search of the whole
    /// scope finds the linked issues that are no longer in it, and a consistent read
    /// (`bulkfetch`, unaffected by search lag) says why. Their records are marked gone.
    async fn census(
        &self,
        me: &ConnectorRef,
        conn: &Connector,
        ctx: &SiteCtx,
        w: &Watermark,
        work: &mut Work,
        report: &mut Report,
    ) -> Result<(), EngineError> {
        let links: Vec<Link> = self
            .hub
            .links_of_connector(&me.site, &me.connector)?
            .into_iter()
            .map(|l| work.links.get(&l.record).cloned().unwrap_or(l))
            .filter(|l| l.missing.is_none())
            .collect();
        if links.is_empty() {
            return Ok(());
        }
        let mut pages = ctx.client.search(SearchQuery {
            jql: Self::scope_jql(conn),
            fields: vec![],
            properties: vec![],
            // Our own recent creates may not be indexed yet.
            reconcile: w
                .recent_writes
                .iter()
                .filter_map(|i| i.parse().ok())
                .collect(),
            page_size: CENSUS_PAGE,
        })?;
        let mut present = BTreeSet::new();
        while let Some(page) = pages.next().await? {
            present.extend(
                page.issues
                    .iter()
                    .filter_map(|i| i["id"].as_str().map(str::to_owned)),
            );
        }
        let absent: Vec<Link> = links
            .into_iter()
            .filter(|l| !present.contains(&l.issue_id))
            .collect();
        let now = (self.now)();
        let overlap = Duration::from_std(conn.overlap).unwrap_or_else(|_| Duration::minutes(5));
        let linked = self.hub.links_of_connector(&me.site, &me.connector)?.len();
        let mut lost: Vec<(Link, String)> = Vec::new();
        for chunk in absent.chunks(100) {
            let ids: Vec<String> = chunk.iter().map(|l| l.issue_id.clone()).collect();
            let found = ctx
                .client
                .bulkfetch(&ids, &["project".into(), "updated".into()], &[])
                .await?;
            for link in chunk {
                let issue = found.iter().find(|i| i["id"] == json!(link.issue_id));
                let why = match issue {
                    None => DELETED.to_owned(),
                    Some(i) if i["fields"]["project"]["key"] != json!(conn.project) => format!(
                        "moved to {}",
                        i["key"].as_str().unwrap_or("another project")
                    ),
                    Some(i) => {
                        let updated = i["fields"]["updated"]
                            .as_str()
                            .and_then(|t| {
                                DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.3f%z").ok()
                            })
                            .map(|t| t.with_timezone(&Utc));
                        // Changed lately: search may just not show it yet; the next census
                        // decides.
                        if updated.is_none_or(|t| now - t < overlap) {
                            continue;
                        }
                        "no longer matches the connector's JQL".to_owned()
                    }
                };
                lost.push((link.clone(), why));
            }
        }
        let deleted = lost.iter().filter(|(_, why)| why == DELETED).count();
        let mass = deleted > MASS_LOSS && deleted * 10 > linked;
        for (mut link, mut why) in lost {
            let Some(mut record) = self.record(work, link.record)? else {
                continue;
            };
            if mass && why == DELETED {
                // Many at once is more likely lost access than deletions: never propagated.
                why = format!(
                    "missing with {deleted} of {linked} issues at once (deleted, or the integration lost access); not propagated"
                );
            }
            record.gone = Some(now);
            link.missing = Some(why.clone());
            report.gone.push((link.issue_key.clone(), why));
            work.links.insert(record.id, link);
            work.records.insert(record.id, record);
        }
        Ok(())
    }

    async fn pull(
        &self,
        me: &ConnectorRef,
        conn: &Connector,
        ctx: &SiteCtx,
        w: &mut Watermark,
        work: &mut Work,
        report: &mut Report,
    ) -> Result<(), EngineError> {
        let overlap = Duration::from_std(conn.overlap).unwrap_or_else(|_| Duration::minutes(5));
        let mut jql = Self::scope_jql(conn);
        if let Some(since) = w.updated {
            // JQL reads dates in the account's zone, at minute granularity: format there, and
            // reach back by the overlap so nothing in the last minutes (or the lag) is missed.
            let local = (since - overlap)
                .with_timezone(&ctx.time_zone)
                .format("%Y-%m-%d %H:%M");
            jql.push_str(&format!(" AND updated >= \"{local}\""));
        }
        jql.push_str(" ORDER BY updated ASC");
        let reconcile: Vec<u64> = w
            .recent_writes
            .iter()
            .filter_map(|i| i.parse().ok())
            .collect();
        let mut pages = ctx.client.search(SearchQuery {
            jql,
            fields: jira_fields(conn),
            properties: vec![PROPERTY.into()],
            reconcile,
            page_size: 100,
        })?;
        let seen: BTreeSet<(String, String)> = w.seen.iter().cloned().collect();
        let mut now_seen = Vec::new();
        let fields = hub_fields(conn);
        while let Some(page) = pages.next().await? {
            for issue in page.issues {
                let id = issue["id"].as_str().unwrap_or_default().to_owned();
                let updated_s = issue["fields"]["updated"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                now_seen.push((id.clone(), updated_s.clone()));
                if seen.contains(&(id.clone(), updated_s.clone())) {
                    continue;
                }
                report.pulled += 1;
                let updated = DateTime::parse_from_str(&updated_s, "%Y-%m-%dT%H:%M:%S%.3f%z")
                    .map(|t| t.with_timezone(&Utc))
                    .unwrap_or_else(|_| Utc::now());
                w.updated = Some(w.updated.map_or(updated, |u| u.max(updated)));
                self.merge_issue(me, conn, &issue, updated, &fields, work, report)?;
            }
        }
        // Remember what was merged; the next overlap re-reads these unchanged.
        w.seen = now_seen;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn merge_issue(
        &self,
        me: &ConnectorRef,
        conn: &Connector,
        issue: &Value,
        updated: DateTime<Utc>,
        fields: &[String],
        work: &mut Work,
        report: &mut Report,
    ) -> Result<(), EngineError> {
        let id = issue["id"].as_str().unwrap_or_default().to_owned();
        let key = issue["key"].as_str().unwrap_or_default().to_owned();
        let jira = to_hub(conn, &me.site, &issue["fields"]);
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
                let link = Link {
                    site: me.site.clone(),
                    connector: me.connector.clone(),
                    record: record.id,
                    issue_id: id.clone(),
                    issue_key: key.clone(),
                    base: BTreeMap::new(),
                    comments: BTreeMap::new(),
                    updated: None,
                    missing: None,
                };
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
        for f in fields {
            let j = jira.get(f).cloned().unwrap_or(Value::Null);
            let h = record.fields.get(f).cloned();
            let base = link.base.get(f).cloned();
            let jira_changed = base.as_ref() != Some(&j);
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
                    match conn.conflict {
                        ConflictPolicy::Jira => true,
                        ConflictPolicy::Hub => false,
                        ConflictPolicy::Newest => {
                            record.field_times.get(f).is_none_or(|t| updated >= *t)
                        }
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
        // Comments: ids this link already knows were read or written before.
        let known: BTreeSet<String> = link.comments.values().cloned().collect();
        for c in issue["fields"]["comment"]["comments"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let cid = c["id"].as_str().unwrap_or_default().to_owned();
            if cid.is_empty() || known.contains(&cid) {
                continue;
            }
            let hub_id = format!("{}/{}/{cid}", me.site, me.connector);
            record.comments.push(HubComment {
                id: hub_id.clone(),
                body: c["body"].clone(),
                author: c["author"]["displayName"]
                    .as_str()
                    .unwrap_or("someone")
                    .to_owned(),
                created: c["created"]
                    .as_str()
                    .and_then(|t| DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.3f%z").ok())
                    .map_or_else(Utc::now, |t| t.with_timezone(&Utc)),
                origin: Some((me.site.clone(), me.connector.clone(), cid.clone())),
            });
            link.comments.insert(hub_id, cid);
        }
        work.links.insert(record.id, link);
        work.records.insert(record.id, record);
        Ok(())
    }

    /// Deletes this connector's issue of a gone record when the issue it mirrors was deleted
    /// (not moved, not out of the JQL, not lost in a mass).
    async fn propagate_delete(
        &self,
        me: &ConnectorRef,
        conn: &Connector,
        ctx: &SiteCtx,
        record: &Record,
        work: &mut Work,
        report: &mut Report,
    ) -> Result<(), EngineError> {
        let links = self.hub.links_of(record.id)?;
        let Some(source) = links.iter().find(|l| l.missing.as_deref() == Some(DELETED)) else {
            return Ok(());
        };
        let mine = work.links.get(&record.id).cloned().or_else(|| {
            links
                .iter()
                .find(|l| l.site == me.site && l.connector == me.connector)
                .cloned()
        });
        let Some(mut link) = mine.filter(|l| l.missing.is_none()) else {
            return Ok(());
        };
        if record
            .parked
            .get(&me.to_string())
            .is_some_and(|p| p.fingerprint == fingerprint(record, conn))
        {
            report.waiting += 1;
            return Ok(());
        }
        let intent = self.intent(me, record.id, IntentKind::Delete).await?;
        match ctx.client.delete(&link.issue_id).await {
            // NotFound: already gone (a retry of a delete that landed, or deleted by hand).
            Ok(()) | Err(ClientError::NotFound { .. }) => {
                tracing::info!(site = %me.site, connector = %me.connector, issue = %link.issue_key, source = %source.issue_key, "Deleted: the issue it mirrors was deleted (propagate_deletes).");
                report.deleted.push(link.issue_key.clone());
                link.missing = Some(format!(
                    "deleted by jira-sync: {}/{} {} was deleted",
                    source.site, source.connector, source.issue_key
                ));
                work.links.insert(record.id, link);
            }
            Err(e @ (ClientError::Invalid { .. } | ClientError::Forbidden { .. })) => {
                self.park(me, conn, record, e.to_string(), work, report);
            }
            Err(e) => return Err(e.into()),
        }
        work.done.push(intent);
        Ok(())
    }

    /// The Jira value that writes hub person `hub` to `field` on this connector's site, or
    /// `None` when nothing is written (an unmappable person is counted).
    async fn person(
        &self,
        me: &ConnectorRef,
        ctx: &SiteCtx,
        field: &str,
        hub: &Value,
        report: &mut Report,
    ) -> Result<Option<Value>, EngineError> {
        if self
            .refused_people
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(&(me.to_string(), field.to_owned()))
        {
            if !hub.is_null() {
                report.unmapped_people += 1;
            }
            return Ok(None);
        }
        let email = match person_on(&me.site, field, hub) {
            Person::Write(v) => return Ok(Some(v)),
            Person::Skip => return Ok(None),
            Person::Unmapped => {
                report.unmapped_people += 1;
                return Ok(None);
            }
            Person::Lookup(email) => email,
        };
        let now = (self.now)();
        let key = (me.site.clone(), email);
        let cached = self
            .people
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
            .filter(|(at, _)| now - *at < PEOPLE_TTL)
            .map(|(_, id)| id.clone());
        let id = match cached {
            Some(id) => id,
            None => {
                let id = ctx
                    .client
                    .user_by_email(&key.1)
                    .await?
                    .map(|u| u.account_id);
                self.people
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(key, (now, id.clone()));
                id
            }
        };
        match id {
            Some(id) => Ok(Some(json!({ "accountId": id }))),
            None => {
                report.unmapped_people += 1;
                Ok(None)
            }
        }
    }

    fn new_record(&self) -> Result<Record, EngineError> {
        Ok(Record {
            id: self.hub.new_record_id()?,
            fields: BTreeMap::new(),
            field_times: BTreeMap::new(),
            comments: vec![],
            gone: None,
            parked: Default::default(),
            seq: 0,
        })
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
        report
            .parked
            .push((format!("record {}", record.id), reason));
    }

    /// Records of this connector and of its mirror peers.
    fn scope(&self, me: &ConnectorRef, work: &Work) -> Result<BTreeSet<RecordId>, EngineError> {
        let mut ids: BTreeSet<RecordId> = work.records.keys().copied().collect();
        for c in std::iter::once(me.clone()).chain(self.peers(me)) {
            ids.extend(
                self.hub
                    .links_of_connector(&c.site, &c.connector)?
                    .into_iter()
                    .map(|l| l.record),
            );
        }
        Ok(ids)
    }

    /// Creates a killed run may have made: pending create intents, looked up among this
    /// account's own recent creates by the nonce in their `jira-sync` property.
    async fn landed_creates(
        &self,
        me: &ConnectorRef,
        conn: &Connector,
        ctx: &SiteCtx,
        work: &mut Work,
    ) -> Result<HashMap<RecordId, Option<(String, String)>>, EngineError> {
        let pending: Vec<_> = self.hub.pending_intents(&me.site, &me.connector)?;
        let creates: Vec<_> = pending
            .iter()
            .filter_map(|i| match &i.kind {
                IntentKind::Create { nonce } => Some((i, nonce.clone())),
                _ => None,
            })
            .collect();
        // A comment may have landed: read before adding (see `check_comments`). Other kinds
        // are idempotent: the next push repeats them if still needed.
        work.check_comments.extend(
            pending
                .iter()
                .filter(|i| matches!(i.kind, IntentKind::Comment { .. }))
                .map(|i| i.record),
        );
        work.done.extend(
            pending
                .iter()
                .filter(|i| !matches!(i.kind, IntentKind::Create { .. }))
                .map(|i| i.id),
        );
        let mut found = HashMap::new();
        // A create younger than the overlap may have landed but not reached search yet
        // (Jira's index lags): it is neither linked nor repeated until search can tell.
        let settle = Duration::from_std(conn.overlap).unwrap_or_else(|_| Duration::minutes(5));
        let now = (self.now)();
        let (young, creates): (Vec<_>, Vec<_>) =
            creates.into_iter().partition(|(i, _)| i.at > now - settle);
        for (i, _) in &young {
            found.insert(i.record, None);
        }
        let Some(oldest) = creates.iter().map(|(i, _)| i.at).min() else {
            return Ok(found);
        };
        // JQL reads dates in the account's zone; a minute of margin for its granularity.
        let since = (oldest - Duration::minutes(1))
            .with_timezone(&ctx.time_zone)
            .format("%Y-%m-%d %H:%M");
        let jql = format!(
            "project = \"{}\" AND creator = currentUser() AND created >= \"{since}\"",
            conn.project
        );
        let mut pages = ctx.client.search(SearchQuery {
            jql,
            fields: vec!["created".into()],
            properties: vec![PROPERTY.into()],
            reconcile: vec![],
            page_size: 100,
        })?;
        let mut by_nonce = HashMap::new();
        while let Some(page) = pages.next().await? {
            for issue in page.issues {
                if let Some(n) = issue["properties"][PROPERTY]["nonce"].as_str() {
                    by_nonce.insert(
                        n.to_owned(),
                        (
                            issue["id"].as_str().unwrap_or_default().to_owned(),
                            issue["key"].as_str().unwrap_or_default().to_owned(),
                        ),
                    );
                }
            }
        }
        for (intent, nonce) in creates {
            if let Some(issue) = by_nonce.get(&nonce) {
                tracing::info!(site = %me.site, connector = %me.connector, record = intent.record, issue = %issue.1, "Found the create of an interrupted run; linking it.");
                found.insert(intent.record, Some(issue.clone()));
            }
            // Either way this intent is settled: linked now, or created again below.
            work.done.push(intent.id);
        }
        Ok(found)
    }

    async fn push(
        &self,
        me: &ConnectorRef,
        conn: &Connector,
        ctx: &SiteCtx,
        work: &mut Work,
        report: &mut Report,
        written: &mut Vec<String>,
    ) -> Result<(), EngineError> {
        let fields = hub_fields(conn);
        let landed = self.landed_creates(me, conn, ctx, work).await?;
        let mut creates: Vec<(Record, Value, u64)> = Vec::new();
        for rid in self.scope(me, work)? {
            let Some(record) = self.record(work, rid)? else {
                continue;
            };
            if record.gone.is_some() && conn.propagate_deletes {
                let key = format!("record {rid}");
                if let Err(e) = self
                    .propagate_delete(me, conn, ctx, &record, work, report)
                    .await
                {
                    note_failure(me, report, key, e)?;
                }
            }
            if record.gone.is_some() || record.fields.is_empty() {
                continue;
            }
            let here = me.to_string();
            if let Some(p) = record.parked.get(&here) {
                if p.fingerprint == fingerprint(&record, conn) {
                    // Refused before, and nothing changed since: wait for a change.
                    report.waiting += 1;
                    continue;
                }
                // Something changed: try again (a new refusal parks it again).
                let mut r = record.clone();
                r.parked.remove(&here);
                work.records.insert(r.id, r);
            }
            let record = self.record(work, rid)?.unwrap_or(record);
            let link = match work.links.get(&rid) {
                Some(l) => Some(l.clone()),
                None => self
                    .hub
                    .links_of(rid)?
                    .into_iter()
                    .find(|l| l.site == me.site && l.connector == me.connector),
            };
            let link = match (link, landed.get(&rid)) {
                // A create of an interrupted run that search cannot confirm yet: wait.
                (None, Some(None)) => {
                    report.deferred += 1;
                    continue;
                }
                (None, Some(Some((id, key)))) => {
                    // Created by a run that died before its commit: link it, never create twice.
                    // Its base is unknown, so the next pull's values settle it.
                    Some(Link {
                        site: me.site.clone(),
                        connector: me.connector.clone(),
                        record: rid,
                        issue_id: id.clone(),
                        issue_key: key.clone(),
                        base: BTreeMap::new(),
                        comments: BTreeMap::new(),
                        updated: None,
                        missing: None,
                    })
                }
                (l, _) => l,
            };
            let Some(mut link) = link else {
                let nonce = format!(
                    "{}-{}",
                    rid,
                    (self.now)().timestamp_nanos_opt().unwrap_or_default()
                );
                let intent = self
                    .intent(
                        me,
                        rid,
                        IntentKind::Create {
                            nonce: nonce.clone(),
                        },
                    )
                    .await?;
                let mut f = serde_json::Map::new();
                f.insert("project".into(), json!({ "key": conn.project }));
                f.insert("issuetype".into(), json!({ "name": record.fields.get("issuetype").and_then(Value::as_str).unwrap_or("Task") }));
                for name in &fields {
                    if let Some((k, v)) = record
                        .fields
                        .get(name)
                        .and_then(|v| to_jira(conn, &ctx.field_types, name, v))
                        .filter(|(_, v)| !v.is_null())
                    {
                        f.insert(k, v);
                    }
                }
                for name in PEOPLE {
                    let hub = record.fields.get(name).unwrap_or(&Value::Null);
                    match self.person(me, ctx, name, hub, report).await {
                        Ok(Some(v)) if !v.is_null() => {
                            f.insert(name.into(), v);
                        }
                        Ok(_) => {}
                        Err(e) => {
                            note_failure(me, report, format!("record {rid}"), e)?;
                        }
                    }
                }
                let details = json!({ "fields": f, "properties": [{ "key": PROPERTY, "value": { "record": rid, "nonce": nonce } }] });
                creates.push((record, details, intent));
                continue;
            };
            let key = link.issue_key.clone();
            if let Err(e) = self
                .push_changes(
                    me, conn, ctx, &record, &mut link, &fields, work, report, written,
                )
                .await
            {
                note_failure(me, report, key, e)?;
            }
        }
        let mut batches: Vec<Vec<(Record, Value, u64)>> = creates
            .chunks(jira_sync_client::BULK_CREATE_MAX)
            .map(<[_]>::to_vec)
            .collect();
        batches.reverse();
        while let Some(batch) = batches.pop() {
            let mut again = Vec::new();
            let details: Vec<Value> = batch.iter().map(|(_, d, _)| d.clone()).collect();
            let out = match ctx.client.bulk_create(&details).await {
                Ok(out) => out,
                Err(e) => {
                    // Their intents stay pending: the next runs find out whether they landed.
                    note_failure(
                        me,
                        report,
                        format!("{} creates", batch.len()),
                        EngineError::Client(e),
                    )?;
                    continue;
                }
            };
            // New issues start in their workflow's initial status: one read per batch learns
            // it (rather than one per issue) so the base is exact and transitions are needed only.
            let keys: Vec<String> = out.created.iter().map(|(_, c)| c.key.clone()).collect();
            let statuses: HashMap<String, String> =
                match ctx.client.bulkfetch(&keys, &["status".into()], &[]).await {
                    Ok(issues) => issues
                        .iter()
                        .filter_map(|i| {
                            Some((
                                i["key"].as_str()?.to_owned(),
                                i["fields"]["status"]["name"].as_str()?.to_owned(),
                            ))
                        })
                        .collect(),
                    Err(_) => HashMap::new(),
                };
            for (i, created) in out.created {
                let (record, details, intent) = &batch[i];
                report.created += 1;
                work.done.push(*intent);
                written.push(created.id.clone());
                // The base is what was written; the status of the new issue is not known yet.
                let mut base: BTreeMap<String, Value> = fields
                    .iter()
                    .map(|n| {
                        (
                            n.clone(),
                            record.fields.get(n).cloned().unwrap_or(Value::Null),
                        )
                    })
                    .collect();
                base.remove("status");
                // A person not written is whatever Jira chose (the reporter defaults to the
                // caller): unknown until the next pull reads it.
                for name in PEOPLE {
                    if details["fields"].get(name).is_none()
                        && !(name == "assignee" && base.get(name) == Some(&Value::Null))
                    {
                        base.remove(name);
                    }
                }
                if let Some(name) = statuses.get(&created.key) {
                    base.insert(
                        "status".into(),
                        json!(
                            conn.statuses
                                .get(name)
                                .map_or(name.as_str(), String::as_str)
                        ),
                    );
                }
                let mut link = Link {
                    site: me.site.clone(),
                    connector: me.connector.clone(),
                    record: record.id,
                    issue_id: created.id.clone(),
                    issue_key: created.key.clone(),
                    base,
                    comments: BTreeMap::new(),
                    updated: None,
                    missing: None,
                };
                // Linked before anything else: a failure after this must never create it again.
                work.links.insert(record.id, link.clone());
                work.records
                    .entry(record.id)
                    .or_insert_with(|| record.clone());
                // Status and comments follow on the new issue.
                let key = link.issue_key.clone();
                if let Err(e) = self
                    .push_changes(
                        me, conn, ctx, record, &mut link, &fields, work, report, written,
                    )
                    .await
                {
                    note_failure(me, report, key, e)?;
                }
            }
            for e in out.failed {
                let (record, details, intent) = &batch[e.index];
                if let Some(fields) = self.unsettable_people(me, &e.errors) {
                    // Only a person Jira will not take here: create it without.
                    let mut d = details.clone();
                    for f in fields {
                        if let Some(m) = d["fields"].as_object_mut() {
                            m.remove(&f);
                        }
                        report.unmapped_people += 1;
                    }
                    again.push((record.clone(), d, *intent));
                    continue;
                }
                let reason = e
                    .errors
                    .iter()
                    .map(|(f, m)| format!("{f}: {m}"))
                    .chain(e.messages.clone())
                    .collect::<Vec<_>>()
                    .join("; ");
                // Refused per element: it did not land, so its intent is settled.
                work.done.push(*intent);
                self.park(me, conn, record, reason, work, report);
            }
            if !again.is_empty() {
                batches.push(again);
            }
        }
        Ok(())
    }

    /// When every error of a refused write is about `assignee` or `reporter` (not on the
    /// screen, not assignable, no permission to set it), those fields: they are not written
    /// by this connector again while the process runs, and the write goes on without them.
    fn unsettable_people(
        &self,
        me: &ConnectorRef,
        errors: &[(String, String)],
    ) -> Option<Vec<String>> {
        if errors.is_empty() || !errors.iter().all(|(f, _)| PEOPLE.contains(&f.as_str())) {
            return None;
        }
        let fields: Vec<String> = errors.iter().map(|(f, _)| f.clone()).collect();
        let mut refused = self
            .refused_people
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (f, why) in errors {
            tracing::warn!(site = %me.site, connector = %me.connector, field = %f, reason = %why, "Jira refuses this field here; it is left unset from now on.");
            refused.insert((me.to_string(), f.clone()));
        }
        Some(fields)
    }

    /// Edits, a transition and new comments for a linked issue; the link's base follows.
    #[allow(clippy::too_many_arguments)]
    async fn push_changes(
        &self,
        me: &ConnectorRef,
        conn: &Connector,
        ctx: &SiteCtx,
        record: &Record,
        link: &mut Link,
        fields: &[String],
        work: &mut Work,
        report: &mut Report,
        written: &mut Vec<String>,
    ) -> Result<(), EngineError> {
        let key = link.issue_key.clone();
        let mut edit = serde_json::Map::new();
        let mut edited = Vec::new();
        for name in fields {
            let h = record.fields.get(name).cloned().unwrap_or(Value::Null);
            if link.base.get(name) == Some(&h) {
                continue;
            }
            if let Some((k, v)) = to_jira(conn, &ctx.field_types, name, &h) {
                edit.insert(k, v);
                edited.push(name.clone());
            } else if PEOPLE.contains(&name.as_str())
                && let Some(v) = self.person(me, ctx, name, &h, report).await?
            {
                edit.insert(name.clone(), v);
                edited.push(name.clone());
            }
        }
        if !edit.is_empty() {
            let intent = self
                .intent(
                    me,
                    record.id,
                    IntentKind::Edit {
                        fields: edited.clone(),
                    },
                )
                .await?;
            let mut sent = ctx.client.edit(&key, json!({ "fields": edit })).await;
            if let Err(ClientError::Invalid { errors, .. }) = &sent
                && let Some(fields) = self.unsettable_people(me, errors)
            {
                // Only a person Jira will not take here: the rest goes without it.
                for f in &fields {
                    edit.remove(f);
                    edited.retain(|n| n != f);
                    report.unmapped_people += 1;
                }
                sent = if edit.is_empty() {
                    Ok(())
                } else {
                    ctx.client.edit(&key, json!({ "fields": edit })).await
                };
            }
            match sent {
                Ok(()) if edited.is_empty() => {}
                Ok(()) => {
                    report.updated += 1;
                    written.push(link.issue_id.clone());
                    for name in &edited {
                        link.base.insert(
                            name.clone(),
                            record.fields.get(name).cloned().unwrap_or(Value::Null),
                        );
                    }
                }
                Err(e @ (ClientError::Invalid { .. } | ClientError::Forbidden { .. })) => {
                    self.park(me, conn, record, e.to_string(), work, report);
                }
                Err(e) => return Err(e.into()),
            }
            work.done.push(intent);
        }
        if let Some(hub_status) = record.fields.get("status").and_then(Value::as_str)
            && link.base.get("status").and_then(Value::as_str) != Some(hub_status)
        {
            let target = jira_status(conn, hub_status).to_owned();
            // A just-created issue's status is unknown: it may already be the target.
            let current = match link.base.get("status") {
                Some(_) => None,
                None => {
                    let issue = ctx.client.get_issue(&key, &["status".into()], &[]).await?;
                    issue["fields"]["status"]["name"]
                        .as_str()
                        .map(str::to_owned)
                }
            };
            let transitions = if current
                .as_deref()
                .is_some_and(|c| c.eq_ignore_ascii_case(&target))
            {
                link.base.insert("status".into(), json!(hub_status));
                Vec::new()
            } else {
                ctx.client.transitions(&key).await?
            };
            if link.base.get("status").and_then(Value::as_str) == Some(hub_status) {
                // Already there.
            } else {
                match transitions
                    .iter()
                    .find(|t| t.to.name.eq_ignore_ascii_case(&target))
                {
                    Some(t) => {
                        let intent = self
                            .intent(me, record.id, IntentKind::Transition { to: target.clone() })
                            .await?;
                        ctx.client.transition(&key, &t.id).await?;
                        work.done.push(intent);
                        report.transitioned += 1;
                        written.push(link.issue_id.clone());
                        link.base.insert("status".into(), json!(hub_status));
                    }
                    None => report.unreachable.push((key.clone(), target)),
                }
            }
        }
        let from_here = |c: &HubComment| {
            c.origin
                .as_ref()
                .is_some_and(|(s, conn_name, _)| *s == me.site && *conn_name == me.connector)
        };
        if work.check_comments.contains(&record.id)
            && record
                .comments
                .iter()
                .any(|c| !from_here(c) && !link.comments.contains_key(&c.id))
        {
            // A comment added by a run that died before its commit carries its marker: adopt
            // it rather than add it twice. (Reading comments is consistent; search is not.)
            for jc in ctx.client.comments(&key).await? {
                for prop in &jc.properties {
                    if prop["key"] == PROPERTY
                        && let Some(hub_id) = prop["value"]["comment"].as_str()
                    {
                        link.comments.insert(hub_id.to_owned(), jc.id.clone());
                    }
                }
            }
        }
        for c in &record.comments {
            if from_here(c) || link.comments.contains_key(&c.id) {
                continue;
            }
            let intent = self
                .intent(
                    me,
                    record.id,
                    IntentKind::Comment {
                        hub_comment: c.id.clone(),
                    },
                )
                .await?;
            let added = ctx
                .client
                .add_comment(
                    &key,
                    c.body.clone(),
                    vec![(
                        PROPERTY.into(),
                        json!({ "record": record.id, "comment": c.id }),
                    )],
                )
                .await?;
            work.done.push(intent);
            report.commented += 1;
            link.comments.insert(c.id.clone(), added.id);
        }
        work.links.insert(record.id, link.clone());
        work.records
            .entry(record.id)
            .or_insert_with(|| record.clone());
        Ok(())
    }
}
