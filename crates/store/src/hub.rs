//! The hub: sync records, their links to Jira issues, watermarks, write intents and the
//! change sequence. Everything one run commits goes in one sled transaction over the trees.
//!
//! Keys: records and changes by big-endian number (scans come back in order); links and
//! watermarks by `site\0connector\0...`; intents by `site\0connector\0` + big-endian id.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Durable, StoreError, decode, encode};

mod commit; // One run's results in one transaction, and the marks they leave.

pub type RecordId = u64;

/// A sync record: the canonical, site-independent state of one issue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub id: RecordId,
    /// Hub field name -> value (`summary`, `description` as ADF, `status` as a hub status, ...).
    pub fields: BTreeMap<String, Value>,
    /// When each field last changed in the hub: the `newest` conflict policy compares these.
    pub field_times: BTreeMap<String, DateTime<Utc>>,
    pub comments: Vec<HubComment>,
    /// Set when the issue behind the record was deleted or moved out of every scope.
    pub gone: Option<DateTime<Utc>>,
    /// Writes Jira refused, by `site/connector`: not retried until the record or the
    /// connector's configuration changes.
    #[serde(default)]
    pub parked: BTreeMap<String, Parked>,
    /// The last change sequence number of this record (set by `commit`).
    pub seq: u64,
    /// Connectors (`site/connector`) a record made through the hub API is written to, before
    /// it has issues there.
    #[serde(default)]
    pub targets: BTreeSet<String>,
    /// The caller's id of a record made through the hub API (unique: a second create with
    /// it returns this record).
    #[serde(default)]
    pub external_id: Option<String>,
    /// Files attached to the record's issues (mirrored where a connector says
    /// `attachments = true`).
    #[serde(default)]
    pub attachments: Vec<HubAttachment>,
}

/// A file as the hub knows it: where it came from and what it is. The bytes are not kept;
/// they are read from the source issue when copied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HubAttachment {
    /// `site/connector/attachment id` of its source.
    pub id: String,
    pub filename: String,
    /// Bytes.
    pub size: u64,
    /// SHA-256 of the content (hex), once it has been read.
    #[serde(default)]
    pub sha256: Option<String>,
    /// (site, connector, Jira attachment id) it was first read from.
    pub origin: (String, String, String),
    /// When it was removed from its source issue: its copies are removed too.
    #[serde(default)]
    pub deleted: Option<DateTime<Utc>>,
    /// Site -> the Media Services id of the file (its source's, its copies'), as rich text
    /// names it there; empty where it could not be learned.
    #[serde(default)]
    pub media: BTreeMap<String, String>,
}

impl Record {
    /// Each mirrored file's media ids by site, for rich text across sites (a removed file
    /// too: a copy still shown reads back as its original; a removed copy has no id).
    pub fn media_copies(&self) -> Vec<BTreeMap<String, String>> {
        self.attachments
            .iter()
            .filter(|a| a.media.len() > 1)
            .map(|a| a.media.clone())
            .collect()
    }
}

impl Record {
    /// A record with nothing in it yet.
    pub fn new(id: RecordId) -> Record {
        Record {
            id,
            fields: BTreeMap::new(),
            field_times: BTreeMap::new(),
            comments: vec![],
            gone: None,
            parked: BTreeMap::new(),
            seq: 0,
            targets: BTreeSet::new(),
            external_id: None,
            attachments: Vec::new(),
        }
    }
}

/// A refused write: why, and a fingerprint of what was attempted (record fields and the
/// connector's configuration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parked {
    pub fingerprint: u64,
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// A comment as the hub keeps it, with where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HubComment {
    /// Stable within the record.
    pub id: String,
    pub body: Value,
    pub author: String,
    pub created: DateTime<Utc>,
    /// (site, connector, Jira comment id) it was first read from, if it came from Jira.
    pub origin: Option<(String, String, String)>,
    /// Who may read it: `{"type": "role" | "group", "value": name}` (names, not a site's
    /// group ids); `None` for everyone who sees the issue.
    #[serde(default)]
    pub visibility: Option<Value>,
    /// A service-desk internal note (`jsdPublic: false` on its source).
    #[serde(default)]
    pub internal: bool,
    /// When its body or audience last changed on any site (Jira's `updated` of the edit
    /// read); `None` until it is first edited. The later edit wins.
    #[serde(default)]
    pub edited: Option<DateTime<Utc>>,
    /// When it was deleted on its source: its mirrors are deleted too.
    #[serde(default)]
    pub deleted: Option<DateTime<Utc>>,
}

impl HubComment {
    /// Whether it may be read by fewer people than the issue (a role or group restriction,
    /// or an internal note).
    pub fn restricted(&self) -> bool {
        self.visibility.is_some() || self.internal
    }
}

/// One issue of one connector linked to a record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Link {
    pub site: String,
    pub connector: String,
    pub record: RecordId,
    pub issue_id: String,
    pub issue_key: String,
    /// The values last synced on this link: a field equal to its base has not changed.
    pub base: BTreeMap<String, Value>,
    /// Hub comment id -> Jira comment id on this issue.
    pub comments: BTreeMap<String, String>,
    /// Jira comment id -> fingerprints of its body and restriction when last in step on
    /// this issue: `[as Jira showed it here, as the hub held it]`. A read that differs from
    /// the first was edited in Jira; a hub comment that differs from the second was edited
    /// elsewhere.
    #[serde(default)]
    pub comment_seen: BTreeMap<String, [u64; 2]>,
    /// Hub field -> fingerprint of the rich text jira-sync last wrote to it on this issue,
    /// as the site shows it (its media placeholders and mentions differ from the hub's
    /// form): a read with that fingerprint is that write, i.e. the base, not an edit.
    #[serde(default)]
    pub written: BTreeMap<String, u64>,
    /// Hub attachment id -> the Jira attachment id of its file (source or copy) on this
    /// issue; an empty id for a copy a person removed here (it is not copied again).
    #[serde(default)]
    pub attachments: BTreeMap<String, String>,
    /// Jira's `updated` when last read.
    pub updated: Option<String>,
    /// Why the census no longer finds the issue (deleted, moved, out of the JQL); such a
    /// link is not written to. Cleared when a pull reads the issue again.
    #[serde(default)]
    pub missing: Option<String>,
    /// Hub fields Jira refused on this issue, each parked alone: the rest of the record
    /// (other fields, the status, comments) still syncs. `status` is parked when no
    /// transition reaches the status or the transition needs a field nobody can give.
    #[serde(default)]
    pub parked: BTreeMap<String, ParkedField>,
}

/// A field Jira refused on one link's issue. It is sent again when the record's value of
/// it or the connector's configuration changes (`fingerprint`), when the issue changes
/// (`updated`), or a day after `at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParkedField {
    /// One of a bounded set (the `reason` label of `jira_sync_parked_writes`):
    /// `field_not_on_screen`, `value_not_allowed`, `transition_needs_field`, `no_transition`,
    /// `parent_unmapped`, `refused`.
    pub reason: String,
    /// Jira's words (or what jira-sync found), for operators; never a secret.
    pub message: String,
    /// A stable hash (FNV-1a) of the refused value and the connector's configuration.
    pub fingerprint: u64,
    /// The issue's `updated` when it was refused.
    pub updated: Option<String>,
    pub at: DateTime<Utc>,
}

impl Link {
    /// A new link of `site/connector`'s issue to `record`, with nothing synced yet.
    pub fn new(
        site: &str,
        connector: &str,
        record: RecordId,
        issue_id: &str,
        issue_key: &str,
    ) -> Link {
        Link {
            site: site.to_owned(),
            connector: connector.to_owned(),
            record,
            issue_id: issue_id.to_owned(),
            issue_key: issue_key.to_owned(),
            base: BTreeMap::new(),
            comments: BTreeMap::new(),
            comment_seen: BTreeMap::new(),
            written: BTreeMap::new(),
            attachments: BTreeMap::new(),
            updated: None,
            missing: None,
            parked: BTreeMap::new(),
        }
    }
}

/// How far a connector has pulled.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Watermark {
    /// The newest `updated` seen.
    pub updated: Option<DateTime<Utc>>,
    /// (issue id, updated) already merged at the watermark: the overlap re-reads them.
    pub seen: Vec<(String, String)>,
    /// Issue ids this connector wrote lately: the next pull reconciles them
    /// (read-after-write despite search lag).
    #[serde(default)]
    pub recent_writes: Vec<String>,
    /// When the last census (ids of every issue in scope) ran.
    #[serde(default)]
    pub census: Option<DateTime<Utc>>,
    /// When a completed pull last started (the engine's clock), moved at most once per
    /// overlap: every change made an overlap before it was searchable then, so the next pull
    /// reaches back from here rather than from `updated` (an old burst of changes is not
    /// read again by every idle pull).
    #[serde(default)]
    pub pulled: Option<DateTime<Utc>>,
    /// Records whose writes failed, wait on a refusal, or were deferred: the next push looks
    /// at them again whether or not they changed.
    #[serde(default)]
    pub retry: BTreeSet<RecordId>,
    /// When the last full reconcile (a push over every record in the connector's scope,
    /// changed or not) ran.
    #[serde(default)]
    pub reconciled: Option<DateTime<Utc>>,
    /// A fingerprint of the configuration the last full reconcile ran with: another one
    /// (fields mapped, a mirror added) makes the next push a full reconcile.
    #[serde(default)]
    pub shape: Option<u64>,
    /// Everything parked on this connector after its last run, by reason (kept up to date
    /// from the links each run changes; counted afresh by a full reconcile).
    #[serde(default)]
    pub parked: BTreeMap<String, usize>,
}

/// A write about to be sent to Jira: stored (and flushed) first, removed by the commit that
/// records its effect. A crash between the two leaves it for recovery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Intent {
    pub id: u64,
    pub site: String,
    pub connector: String,
    pub record: RecordId,
    pub kind: IntentKind,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum IntentKind {
    /// An issue create carrying the `jira-sync` property `{record, nonce}`.
    Create { nonce: String },
    /// An edit of these fields.
    Edit { fields: Vec<String> },
    /// A transition to this Jira status.
    Transition { to: String },
    /// A comment for this hub comment.
    Comment { hub_comment: String },
    /// A delete of the linked issue (its mirror's source was deleted, `propagate_deletes`).
    Delete,
}

/// What one run commits, atomically. Only what differs from what is stored is written: a
/// record or link equal to its stored form is left alone (no new change sequence number,
/// nothing in the change feed, no marks).
#[derive(Debug, Clone, Default)]
pub struct Commit {
    /// Records to store; each that changed gets the next change sequence number.
    pub records: Vec<Record>,
    pub links: Vec<Link>,
    /// The committer's (site, connector, watermark); `None` for writers outside a run (the
    /// hub API).
    pub watermark: Option<(String, String, Watermark)>,
    /// Intents whose effect this commit records: (site, connector, id).
    pub done: Vec<(String, String, u64)>,
    /// Connectors (site, connector) to mark for every record this commit changes (the
    /// record, or one of its links), besides those linked to it or targeted by it: the
    /// committer's mirror peers, which have no issue of a new record yet.
    pub notify: Vec<(String, String)>,
    /// Records the committer's push has looked at in this run: its own changes of them do
    /// not mark them for it.
    pub looked_at: BTreeSet<RecordId>,
    /// The committer's marks its run took ([`Hub::marked`]): removed, unless marked again
    /// meanwhile.
    pub taken: Vec<(RecordId, u64)>,
}

impl Commit {
    /// Whether committing it would change nothing but marks already equal (an idle run).
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
            && self.links.is_empty()
            && self.watermark.is_none()
            && self.done.is_empty()
            && self.taken.is_empty()
    }
}

pub(crate) fn scoped(parts: &[&str]) -> Vec<u8> {
    parts.join("\0").into_bytes()
}

pub(crate) fn with_id(prefix: &[&str], id: u64) -> Vec<u8> {
    let mut k = scoped(prefix);
    k.push(0);
    k.extend_from_slice(&id.to_be_bytes());
    k
}

#[derive(Debug, Clone)]
pub struct Hub {
    db: sled::Db,
    durable: Durable,
    records: sled::Tree,
    links: sled::Tree,
    by_record: sled::Tree,
    watermarks: sled::Tree,
    intents: sled::Tree,
    changes: sled::Tree,
    meta: sled::Tree,
    /// `site\0connector\0record`: records made for a connector before it has their issue.
    targets: sled::Tree,
    /// external id -> record id.
    external: sled::Tree,
    /// `site\0connector\0record` -> mark number: records a connector has to look at
    /// because they (or their links) changed since it last did.
    marks: sled::Tree,
}

const SEQ_KEY: &[u8] = b"seq";
/// The last mark number given.
const MARK_KEY: &[u8] = b"mark";
const FLOOR_KEY: &[u8] = b"record_floor";

impl Hub {
    pub(crate) fn new(db: &sled::Db, durable: Durable) -> Result<Hub, StoreError> {
        Ok(Hub {
            db: db.clone(),
            durable,
            records: db.open_tree("records")?,
            links: db.open_tree("links")?,
            by_record: db.open_tree("links_by_record")?,
            watermarks: db.open_tree("watermarks")?,
            intents: db.open_tree("intents")?,
            changes: db.open_tree("changes")?,
            meta: db.open_tree("meta")?,
            targets: db.open_tree("targets")?,
            external: db.open_tree("external_ids")?,
            marks: db.open_tree("marks")?,
        })
    }

    /// A fresh record id (unique for the life of the database, and above every id a
    /// rebuild took from the sites).
    pub fn new_record_id(&self) -> Result<RecordId, StoreError> {
        // sled's ids start at 0; record ids start at 1 so 0 can mean "none".
        Ok(self.record_floor()? + self.db.generate_id()? + 1)
    }

    fn record_floor(&self) -> Result<RecordId, StoreError> {
        Ok(self.meta.get(FLOOR_KEY)?.map_or(0, |b| {
            u64::from_be_bytes(b.as_ref().try_into().unwrap_or([0; 8]))
        }))
    }

    /// Makes every later [`Hub::new_record_id`] greater than `max` (a rebuilt store reuses
    /// the ids the sites' issue properties carry), and waits until that is on disk.
    pub async fn raise_record_floor(&self, max: RecordId) -> Result<(), StoreError> {
        if max > self.record_floor()? {
            self.meta.insert(FLOOR_KEY, &max.to_be_bytes())?;
            self.durable.flush().await?;
        }
        Ok(())
    }

    /// Whether the hub holds no record and no link (a rebuild starts from nothing).
    pub fn is_empty(&self) -> bool {
        self.records.is_empty() && self.links.is_empty()
    }

    pub fn record(&self, id: RecordId) -> Result<Option<Record>, StoreError> {
        self.records
            .get(id.to_be_bytes())?
            .map(|b| decode(&format!("records/{id}"), &b))
            .transpose()
    }

    pub fn link(
        &self,
        site: &str,
        connector: &str,
        issue_id: &str,
    ) -> Result<Option<Link>, StoreError> {
        let key = scoped(&[site, connector, issue_id]);
        self.links
            .get(&key)?
            .map(|b| decode(&format!("links/{site}/{connector}/{issue_id}"), &b))
            .transpose()
    }

    /// Every link of a record, across connectors.
    pub fn links_of(&self, record: RecordId) -> Result<Vec<Link>, StoreError> {
        let mut out = Vec::new();
        for kv in self.by_record.scan_prefix(record.to_be_bytes()) {
            let (_, link_key) = kv?;
            if let Some(b) = self.links.get(&link_key)? {
                out.push(decode("links", &b)?);
            }
        }
        Ok(out)
    }

    /// Every link of a connector, in issue-id order of their keys.
    pub fn links_of_connector(&self, site: &str, connector: &str) -> Result<Vec<Link>, StoreError> {
        let mut prefix = scoped(&[site, connector]);
        prefix.push(0);
        self.links
            .scan_prefix(prefix)
            .map(|kv| decode("links", &kv?.1))
            .collect()
    }

    pub fn watermark(&self, site: &str, connector: &str) -> Result<Watermark, StoreError> {
        Ok(self
            .watermarks
            .get(scoped(&[site, connector]))?
            .map(|b| decode("watermarks", &b))
            .transpose()?
            .unwrap_or_default())
    }

    /// Stores a write intent made at `at` and waits until it is on disk, before the write is sent.
    pub async fn record_intent(
        &self,
        site: &str,
        connector: &str,
        record: RecordId,
        kind: IntentKind,
        at: DateTime<Utc>,
    ) -> Result<Intent, StoreError> {
        let intent = Intent {
            id: self.db.generate_id()?,
            site: site.into(),
            connector: connector.into(),
            record,
            kind,
            at,
        };
        self.intents
            .insert(with_id(&[site, connector], intent.id), encode(&intent))?;
        self.durable.flush().await?;
        Ok(intent)
    }

    /// Intents of a connector not yet committed, oldest first.
    pub fn pending_intents(&self, site: &str, connector: &str) -> Result<Vec<Intent>, StoreError> {
        let mut prefix = scoped(&[site, connector]);
        prefix.push(0);
        self.intents
            .scan_prefix(prefix)
            .map(|kv| decode("intents", &kv?.1))
            .collect()
    }

    /// Records made for `site/connector` through the hub API (linked there or not).
    pub fn targeted(&self, site: &str, connector: &str) -> Result<Vec<RecordId>, StoreError> {
        let mut prefix = scoped(&[site, connector]);
        prefix.push(0);
        self.targets
            .scan_prefix(&prefix)
            .map(|kv| {
                let (k, _) = kv?;
                let id = k[prefix.len()..]
                    .try_into()
                    .map_err(|_| StoreError::Corrupt {
                        key: "targets".into(),
                        reason: "bad key".into(),
                    })?;
                Ok(u64::from_be_bytes(id))
            })
            .collect()
    }

    /// The record a hub API caller made with `external_id`.
    pub fn by_external_id(&self, external_id: &str) -> Result<Option<RecordId>, StoreError> {
        Ok(self
            .external
            .get(external_id.as_bytes())?
            .and_then(|v| v.as_ref().try_into().ok().map(u64::from_be_bytes)))
    }

    /// The latest change sequence number.
    pub fn last_seq(&self) -> Result<u64, StoreError> {
        Ok(self.meta.get(SEQ_KEY)?.map_or(0, |b| {
            u64::from_be_bytes(b.as_ref().try_into().unwrap_or([0; 8]))
        }))
    }

    /// Resolves after the next change to the change feed (long polling).
    pub fn watch_changes(&self) -> sled::Subscriber {
        self.changes.watch_prefix(vec![])
    }

    /// Records changed after `seq`, oldest change first (at most `limit`): the change feed.
    pub fn changes_after(
        &self,
        seq: u64,
        limit: usize,
    ) -> Result<Vec<(u64, RecordId)>, StoreError> {
        self.changes
            .range((seq + 1).to_be_bytes()..)
            .take(limit)
            .map(|kv| {
                let (k, v) = kv?;
                let n =
                    u64::from_be_bytes(k.as_ref().try_into().map_err(|_| StoreError::Corrupt {
                        key: "changes".into(),
                        reason: "bad key".into(),
                    })?);
                let id =
                    u64::from_be_bytes(v.as_ref().try_into().map_err(|_| StoreError::Corrupt {
                        key: "changes".into(),
                        reason: "bad value".into(),
                    })?);
                Ok((n, id))
            })
            .collect()
    }
}
