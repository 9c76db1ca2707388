//! Pull: what changed in Jira since the watermark, merged into the hub.
//!
//! Two phases, so an idle pull reads almost nothing: a light search (`id` and `updated`
//! only, large pages) finds the issues in scope changed since the watermark (less the
//! overlap); only those not already merged at that `updated` are then read in full
//! (`POST /rest/api/3/issue/bulkfetch`, 100 at a time: reads by id are consistent, search is
//! not).
//!
//! Jira's search pages are not a snapshot (reference `jira-cloud-api.md`, "Search"): when an
//! issue on an earlier page is edited (or leaves the scope) while a pull pages through
//! `ORDER BY updated ASC`, the issues behind it move up and one can slip past a page
//! boundary. So after each page the pull asks again from the last `updated` it saw (JQL's
//! minute) rather than trusting the page token: whatever moved is in the new answer, and
//! what was seen already is skipped. Only while more than a page of issues share one minute
//! does it follow the token (the overlap reads that minute again next time).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use jira_sync_client::SearchQuery;
use jira_sync_config::{Connector, ConnectorRef};
use jira_sync_store::hub::{IntentKind, RecordId, Watermark};
use serde_json::Value;

use super::{Engine, EngineError, PROPERTY, Report, SiteCtx, Work, jira_time, jql_date, overlap};
use crate::mapping::{hub_fields, jira_fields};

/// Issues per page of the light search. Jira gives fewer than asked when fields are
/// requested (at most 100 with fields, reference "Search"); the pull reads what comes.
const LIGHT_PAGE: u32 = 1000;

impl Engine {
    pub(super) async fn pull(
        &self,
        me: &ConnectorRef,
        conn: &Connector,
        ctx: &SiteCtx,
        w: &mut Watermark,
        work: &mut Work,
        report: &mut Report,
    ) -> Result<(), EngineError> {
        let scope = Self::scope_jql(conn);
        let reconcile: Vec<u64> = w
            .recent_writes
            .iter()
            .filter_map(|i| i.parse().ok())
            .collect();
        let query = |from: Option<DateTime<Utc>>| {
            let mut jql = scope.clone();
            if let Some(t) = from {
                // JQL reads dates in the account's zone, at minute granularity.
                let local = jql_date(t, chrono::Duration::zero(), ctx.time_zone);
                jql.push_str(&format!(" AND updated >= \"{local}\""));
            }
            jql.push_str(" ORDER BY updated ASC");
            SearchQuery {
                jql,
                fields: vec!["updated".into()],
                properties: vec![],
                reconcile: reconcile.clone(),
                page_size: LIGHT_PAGE,
            }
        };
        // Merged at this `updated` before (the overlap reads them again): skipped.
        let merged: BTreeSet<(String, String)> = w.seen.iter().cloned().collect();
        // Records a write of comments was interrupted on (the run died, or the answer was
        // lost): the comment may be on the issue already.
        let interrupted: BTreeSet<RecordId> = self
            .hub
            .pending_intents(&me.site, &me.connector)?
            .into_iter()
            .filter(|i| matches!(i.kind, IntentKind::Comment { .. }))
            .map(|i| i.record)
            .collect();
        let fields = hub_fields(conn);
        let full = jira_fields(conn);
        // (id, updated) this pull saw, in order: the next watermark's `seen`.
        let mut now_seen: Vec<(String, String)> = Vec::new();
        let mut seen_here: BTreeSet<(String, String)> = BTreeSet::new();
        let mut from = w.updated.map(|u| u - overlap(conn));
        let mut pages = ctx.client.search(query(from))?;
        loop {
            let Some(page) = pages.next().await? else {
                break;
            };
            let mut fresh = Vec::new();
            // Whether the page held anything this pull had not seen yet.
            let mut progressed = page.issues.is_empty();
            let mut last: Option<DateTime<Utc>> = None;
            for issue in &page.issues {
                let id = issue["id"].as_str().unwrap_or_default().to_owned();
                let updated_s = issue["fields"]["updated"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let updated = jira_time(&updated_s).unwrap_or_else(Utc::now);
                last = Some(last.map_or(updated, |l| l.max(updated)));
                let key = (id.clone(), updated_s);
                if !seen_here.insert(key.clone()) {
                    continue;
                }
                progressed = true;
                now_seen.push(key.clone());
                w.updated = Some(w.updated.map_or(updated, |u| u.max(updated)));
                if !merged.contains(&key) {
                    fresh.push(id);
                }
            }
            for chunk in fresh.chunks(jira_sync_client::BULK_FETCH_MAX) {
                let issues = ctx
                    .client
                    .bulkfetch(chunk, &full, &[PROPERTY.to_owned()])
                    .await?;
                for issue in issues {
                    self.pull_one(
                        me,
                        conn,
                        ctx,
                        issue,
                        &fields,
                        &interrupted,
                        work,
                        report,
                        &mut now_seen,
                    )
                    .await?;
                }
            }
            if work.cancel.is_cancelled() || pages.is_done() {
                // Stopping: this page is merged and is committed; the next run reads on.
                break;
            }
            let minute = |t: Option<DateTime<Utc>>| {
                t.map(|t| jql_date(t, chrono::Duration::zero(), ctx.time_zone))
            };
            if !progressed || minute(from) == minute(last) {
                // More than a page in one minute: asking again from it would answer the same
                // page; the token goes on.
                continue;
            }
            // Asked again from the last `updated` seen: what moved meanwhile is in the answer.
            from = last;
            pages = ctx.client.search(query(from))?;
        }
        // Remember what was seen; the next overlap reads these again without merging.
        w.seen = now_seen;
        Ok(())
    }

    /// Merges one issue read in full, unless the pull has merged it at this `updated`.
    #[allow(clippy::too_many_arguments)]
    async fn pull_one(
        &self,
        me: &ConnectorRef,
        conn: &Connector,
        ctx: &SiteCtx,
        mut issue: Value,
        fields: &[String],
        interrupted: &BTreeSet<RecordId>,
        work: &mut Work,
        report: &mut Report,
        now_seen: &mut Vec<(String, String)>,
    ) -> Result<(), EngineError> {
        let id = issue["id"].as_str().unwrap_or_default().to_owned();
        let updated_s = issue["fields"]["updated"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        // Read after the search: it may be newer than search said; both are known now.
        let key = (id, updated_s.clone());
        if !now_seen.contains(&key) {
            now_seen.push(key);
        }
        report.pulled += 1;
        let updated = jira_time(&updated_s).unwrap_or_else(Utc::now);
        self.all_comments(ctx, &mut issue).await?;
        let adopted = self
            .landed_comments(me, ctx, &issue, interrupted, work)
            .await?;
        let times = self
            .conflict_times(me, conn, ctx, &issue, fields, work)
            .await?;
        self.merge_issue(
            me, conn, &issue, updated, fields, &adopted, &times, work, report,
        )
    }

    /// (hub comment id, Jira comment id) of the comments jira-sync itself put on `issue`
    /// in an interrupted write, by their marker: a pull must not take them for new ones.
    /// Only read for records with such a write pending (search shows no comment properties).
    async fn landed_comments(
        &self,
        me: &ConnectorRef,
        ctx: &SiteCtx,
        issue: &Value,
        interrupted: &BTreeSet<RecordId>,
        work: &Work,
    ) -> Result<Vec<(String, String)>, EngineError> {
        let id = issue["id"].as_str().unwrap_or_default();
        let record = match work.links.values().find(|l| l.issue_id == id) {
            Some(l) => Some(l.record),
            None => self
                .hub
                .link(&me.site, &me.connector, id)?
                .map(|l| l.record),
        };
        if !record.is_some_and(|r| interrupted.contains(&r)) {
            return Ok(vec![]);
        }
        let key = issue["key"].as_str().unwrap_or_default();
        let mut out = Vec::new();
        for c in ctx.client.comments(key).await? {
            for prop in &c.properties {
                if prop["key"] == PROPERTY
                    && let Some(hub_id) = prop["value"]["comment"].as_str()
                {
                    out.push((hub_id.to_owned(), c.id.clone()));
                }
            }
        }
        Ok(out)
    }
}
