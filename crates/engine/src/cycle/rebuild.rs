//! `jira-sync store rebuild`: records and links re-derived from the sites when the store is
//! lost. Every issue the daemon creates carries the `jira-sync` property `{record, nonce,
//! links}`, where `links` names the issues the record already had (`site/connector/id`), and
//! every comment it adds carries `{record, comment}`. A scan of every connector's scope
//! reads those back; the first cycles after it then make no write where both sides agree.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::Utc;
use jira_sync_client::SearchQuery;
use jira_sync_config::{Connector, ConnectorRef};
use jira_sync_store::hub::{Commit, Link, Record, RecordId};
use serde_json::Value;

use super::{Engine, EngineError, PROPERTY, jira_time};
use crate::mapping::{hub_fields, jira_fields, to_hub};

/// Records committed per store transaction.
const CHUNK: usize = 500;

/// What a rebuild found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rebuilt {
    /// Issues read, over every connector.
    pub scanned: usize,
    /// Records re-derived (each with the issues it links).
    pub records: usize,
    pub links: usize,
    /// Comments whose hub identity was recovered (marked mirrors and their originals).
    pub comments: usize,
    /// Issues in scope no property points at: the first cycle reads them as new, as it did
    /// when they were first seen (none of them had been mirrored).
    pub unlinked: usize,
}

/// One issue of the scan.
struct Seen<'a> {
    me: ConnectorRef,
    conn: &'a Connector,
    issue: Value,
}

impl Seen<'_> {
    fn claim(&self) -> Option<RecordId> {
        self.issue["properties"][PROPERTY]["record"].as_u64()
    }

    /// Made by jira-sync (a mirror), rather than by a person.
    fn mirror(&self) -> bool {
        self.issue["properties"][PROPERTY]["nonce"].is_string()
    }

    fn updated(&self) -> chrono::DateTime<Utc> {
        self.issue["fields"]["updated"]
            .as_str()
            .and_then(jira_time)
            .unwrap_or_default()
    }
}

impl Engine {
    /// Re-derives records and links from every configured connector's issues. Refuses a
    /// store that already holds records: a rebuild is for a lost store, never a merge.
    pub async fn rebuild(&self) -> Result<Rebuilt, EngineError> {
        if !self.hub.is_empty() {
            return Err(EngineError::NotEmpty);
        }
        let mut report = Rebuilt::default();
        let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
        for site in &self.config.sites {
            let ctx = self.site_ctx(&site.name)?;
            for conn in &site.connectors {
                let me = ConnectorRef {
                    site: site.name.clone(),
                    connector: conn.name.clone(),
                };
                let mut pages = ctx.client.search(SearchQuery {
                    jql: format!("{} ORDER BY key ASC", Self::scope_jql(conn)),
                    fields: jira_fields(conn),
                    properties: vec![PROPERTY.into()],
                    reconcile: vec![],
                    page_size: 100,
                })?;
                while let Some(page) = pages.next().await? {
                    for issue in page.issues {
                        let id = issue["id"].as_str().unwrap_or_default();
                        report.scanned += 1;
                        seen.insert(
                            format!("{me}/{id}"),
                            Seen {
                                me: me.clone(),
                                conn,
                                issue,
                            },
                        );
                    }
                }
            }
        }
        // Each record's issues: those claiming it, and those its mirrors name.
        let mut groups: BTreeMap<RecordId, BTreeSet<String>> = BTreeMap::new();
        let mut taken: HashMap<String, RecordId> = HashMap::new();
        for (k, s) in &seen {
            let Some(r) = s.claim() else { continue };
            let named = s.issue["properties"][PROPERTY]["links"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .filter(|l| seen.contains_key(*l))
                .map(str::to_owned);
            for member in std::iter::once(k.clone()).chain(named) {
                match taken.get(&member) {
                    Some(other) if *other != r => {
                        tracing::warn!(issue = %member, record = r, other, "An issue is named by two records; keeping the first.");
                    }
                    _ => {
                        taken.insert(member.clone(), r);
                        groups.entry(r).or_default().insert(member);
                    }
                }
            }
        }
        report.unlinked = seen.len() - taken.len();
        if let Some(max) = groups.keys().max() {
            self.hub.raise_record_floor(*max).await?;
        }
        let mut commit = Commit::default();
        for (r, members) in groups {
            let (record, links) = self.rebuild_record(r, &members, &seen, &mut report).await?;
            report.records += 1;
            report.links += links.len();
            commit.records.push(record);
            commit.links.extend(links);
            if commit.records.len() >= CHUNK {
                self.hub.commit(std::mem::take(&mut commit)).await?;
            }
        }
        self.hub.commit(commit).await?;
        Ok(report)
    }

    /// One record from its issues: its values are the original issue's (the one a person
    /// made; the newest when every issue is a mirror), each link's base is its own issue's,
    /// so the first cycle writes only where the sides disagree.
    async fn rebuild_record(
        &self,
        id: RecordId,
        members: &BTreeSet<String>,
        seen: &BTreeMap<String, Seen<'_>>,
        report: &mut Rebuilt,
    ) -> Result<(Record, Vec<Link>), EngineError> {
        let mut order: Vec<&Seen> = members.iter().filter_map(|m| seen.get(m)).collect();
        // Originals first, then newest first: the first value of a field wins.
        order.sort_by_key(|s| (s.mirror(), std::cmp::Reverse(s.updated())));
        let mut record = Record::new(id);
        let mut links = Vec::new();
        let mut comment_ids = BTreeSet::new();
        // Hub field -> the site its value was read on.
        let mut source_of: BTreeMap<String, String> = BTreeMap::new();
        for s in order {
            let id_ = s.issue["id"].as_str().unwrap_or_default();
            let key = s.issue["key"].as_str().unwrap_or_default();
            let values = to_hub(
                s.conn,
                &self.site_ctx(&s.me.site)?.field_types,
                &s.me.site,
                &s.issue["fields"],
            );
            let mut link = Link::new(&s.me.site, &s.me.connector, id, id_, key);
            link.updated = s.issue["fields"]["updated"].as_str().map(str::to_owned);
            for f in hub_fields(s.conn) {
                // Left out of the answer: unknown here, neither a value nor empty.
                let Some(v) = values.get(&f).cloned() else {
                    continue;
                };
                if !record.fields.contains_key(&f) {
                    record.fields.insert(f.clone(), v.clone());
                    record.field_times.insert(f.clone(), s.updated());
                    source_of.insert(f.clone(), s.me.site.clone());
                }
                link.base.insert(f, v);
            }
            let listed = &s.issue["fields"]["comment"];
            let has_comments = listed["total"].as_u64().unwrap_or(0) > 0
                || listed["comments"].as_array().is_some_and(|c| !c.is_empty());
            if has_comments {
                let ctx = self.site_ctx(&s.me.site)?;
                for c in ctx.client.comments(key).await? {
                    let marker = c
                        .properties
                        .iter()
                        .find(|p| p["key"] == PROPERTY)
                        .and_then(|p| p["value"]["comment"].as_str());
                    let hub_id = match marker {
                        Some(hub_id) => hub_id.to_owned(),
                        None => {
                            let hc = super::comments::hub_comment(
                                &s.me,
                                &serde_json::to_value(&c).unwrap_or_default(),
                            );
                            let hub_id = hc.id.clone();
                            record.comments.push(hc);
                            hub_id
                        }
                    };
                    comment_ids.insert(hub_id.clone());
                    link.comments.insert(hub_id, c.id);
                }
            }
            if s.conn.attachments {
                // The original's files first; a mirror's file of the same name and size is
                // its copy.
                super::attachments::merge_attachments(
                    &s.me,
                    s.conn,
                    &mut record,
                    &mut link,
                    s.issue["fields"].get("attachment"),
                    (self.now)(),
                    true,
                );
            }
            links.push(link);
        }
        self.rebuild_rich_text(&mut record, &mut links, &source_of);
        // A copy whose marker names a comment of one of these issues that is no longer
        // there: deleted on its source while the store was lost. Its tombstone lets the next
        // push delete the copy too.
        for l in &links {
            for hub_id in l.comments.keys() {
                if record.comments.iter().any(|c| c.id == *hub_id) {
                    continue;
                }
                let mut parts = hub_id.rsplitn(3, '/');
                let (Some(cid), Some(conn), Some(site)) =
                    (parts.next(), parts.next(), parts.next())
                else {
                    continue;
                };
                let source_read = links.iter().any(|s| {
                    s.site == site && s.connector == conn && !s.comments.values().any(|c| c == cid)
                });
                if source_read {
                    record.comments.push(jira_sync_store::hub::HubComment {
                        id: hub_id.clone(),
                        body: Value::Null,
                        author: String::new(),
                        created: Utc::now(),
                        origin: Some((site.to_owned(), conn.to_owned(), cid.to_owned())),
                        visibility: None,
                        internal: false,
                        edited: None,
                        deleted: Some(Utc::now()),
                    });
                }
            }
        }
        record.comments.sort_by_key(|c| c.created);
        report.comments += comment_ids.len();
        Ok((record, links))
    }
}
