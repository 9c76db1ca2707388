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
//! boundary. So the pull never follows a page token: after each page it asks again from the
//! last `updated` it saw (JQL's minute), and whatever moved is in the new answer (what was
//! seen already is skipped). A minute holding more than a page of issues is read by key
//! (`key > "SEC-100" ORDER BY key ASC`, keys do not move), then the pull goes on from the
//! next minute.

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

/// What one pull has seen so far.
struct Pulled {
    /// Merged at this `updated` by an earlier pull (the overlap reads them again): skipped.
    merged: BTreeSet<(String, String)>,
    /// (id, updated) seen by this pull, in order: the next watermark's `seen`.
    now_seen: Vec<(String, String)>,
    seen_here: BTreeSet<(String, String)>,
    /// Records a write of comments was interrupted on.
    interrupted: BTreeSet<RecordId>,
    /// Hub fields, and the Jira fields an issue is read in full with.
    fields: Vec<String>,
    full: Vec<String>,
}

/// What one page of the light search held.
struct Taken {
    /// Whether it held anything this pull had not seen.
    progressed: bool,
    /// The latest `updated` on it, and the greatest key.
    last: Option<DateTime<Utc>>,
    last_key: Option<String>,
}

/// Where a pull starts: an overlap before the newest `updated` seen, or, when later, an
/// overlap (and a minute for clocks that disagree) before the last completed pull started:
/// whatever changed earlier was searchable then and was read.
fn reach_back(w: &Watermark, overlap: chrono::Duration) -> Option<DateTime<Utc>> {
    let by_updated = w.updated.map(|u| u - overlap);
    let by_pull = w.pulled.map(|p| p - overlap - chrono::Duration::minutes(1));
    match (by_updated, by_pull) {
        (Some(u), Some(p)) => Some(u.max(p)),
        (u, _) => u,
    }
}

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
        // Hinted issues first (a webhook named them: they changed), then the run's own recent
        // writes, newest first; at most what `reconcileIssues` takes. Hints beyond that stay
        // for the next pull, and a pull that fails or stops gives its hints back.
        let hinted = self.take_hints(me, jira_sync_client::RECONCILE_MAX);
        let mut reconcile: Vec<u64> = hinted.iter().copied().collect();
        for id in w.recent_writes.iter().rev().filter_map(|i| i.parse().ok()) {
            if !hinted.contains(&id) {
                reconcile.push(id);
            }
        }
        reconcile.truncate(jira_sync_client::RECONCILE_MAX);
        let pulled = self
            .pull_reconciling(me, conn, ctx, w, work, report, reconcile)
            .await;
        if pulled.is_err() || work.cancel.is_cancelled() {
            self.give_back_hints(me, hinted);
        }
        pulled
    }

    /// [`Engine::pull`] with the ids its searches name as `reconcileIssues`.
    #[allow(clippy::too_many_arguments)]
    async fn pull_reconciling(
        &self,
        me: &ConnectorRef,
        conn: &Connector,
        ctx: &SiteCtx,
        w: &mut Watermark,
        work: &mut Work,
        report: &mut Report,
        reconcile: Vec<u64>,
    ) -> Result<(), EngineError> {
        let scope = Self::scope_jql(conn);
        // JQL reads dates in the account's zone, at minute granularity.
        let minute = |t: DateTime<Utc>| jql_date(t, chrono::Duration::zero(), ctx.time_zone);
        let query = |jql: String| SearchQuery {
            jql,
            fields: vec!["updated".into()],
            properties: vec![],
            reconcile: reconcile.clone(),
            page_size: LIGHT_PAGE,
        };
        let mut st = Pulled {
            merged: w.seen.iter().cloned().collect(),
            now_seen: Vec::new(),
            seen_here: BTreeSet::new(),
            interrupted: self
                .hub
                .pending_intents(&me.site, &me.connector)?
                .into_iter()
                .filter(|i| matches!(i.kind, IntentKind::Comment { .. }))
                .map(|i| i.record)
                .collect(),
            fields: hub_fields(conn),
            full: jira_fields(conn),
        };
        let started = (self.now)();
        let mut from = reach_back(w, overlap(conn));
        loop {
            let mut jql = scope.clone();
            if let Some(t) = from {
                jql.push_str(&format!(" AND updated >= \"{}\"", minute(t)));
            }
            jql.push_str(" ORDER BY updated ASC");
            let mut pages = ctx.client.search(query(jql))?;
            let Some(page) = pages.next().await? else {
                break;
            };
            let taken = self
                .take_page(me, conn, ctx, &page.issues, w, work, report, &mut st)
                .await?;
            if work.cancel.is_cancelled() || pages.is_done() {
                // Stopping (this page is merged and is committed; the next run reads on), or
                // everything since `from` was on this page.
                break;
            }
            match (from, taken.last) {
                (Some(t), Some(last)) if !taken.progressed || minute(t) == minute(last) => {
                    // More than a page in minute `t`: it is read by key (keys do not move
                    // when issues are edited), then the pull goes on from the next minute.
                    self.crowded_minute(me, conn, ctx, &scope, t, w, work, report, &mut st, &query)
                        .await?;
                    if work.cancel.is_cancelled() {
                        break;
                    }
                    from = Some(t + chrono::Duration::minutes(1));
                }
                // Asked again from the last `updated` seen: what moved meanwhile is in the
                // answer.
                (_, last) => from = last,
            }
        }
        // Remember what was seen; the next overlap reads these again without merging.
        w.seen = st.now_seen;
        if !work.cancel.is_cancelled() && w.pulled.is_none_or(|p| started - p >= overlap(conn)) {
            w.pulled = Some(started);
        }
        Ok(())
    }

    /// Every issue in scope updated in the minute of `t`, page by page in key order, each
    /// page asked from the greatest key seen (`key > "SEC-100"`): an issue edited meanwhile
    /// leaves the minute (and is read where its new `updated` puts it), and none moves
    /// past a page boundary.
    #[allow(clippy::too_many_arguments)]
    async fn crowded_minute(
        &self,
        me: &ConnectorRef,
        conn: &Connector,
        ctx: &SiteCtx,
        scope: &str,
        t: DateTime<Utc>,
        w: &mut Watermark,
        work: &mut Work,
        report: &mut Report,
        st: &mut Pulled,
        query: &impl Fn(String) -> SearchQuery,
    ) -> Result<(), EngineError> {
        let zero = chrono::Duration::zero();
        let (start, end) = (
            jql_date(t, zero, ctx.time_zone),
            jql_date(t + chrono::Duration::minutes(1), zero, ctx.time_zone),
        );
        let mut after: Option<String> = None;
        loop {
            let mut jql = format!("{scope} AND updated >= \"{start}\" AND updated < \"{end}\"");
            if let Some(k) = &after {
                jql.push_str(&format!(" AND key > \"{k}\""));
            }
            jql.push_str(" ORDER BY key ASC");
            let mut pages = ctx.client.search(query(jql))?;
            let Some(page) = pages.next().await? else {
                return Ok(());
            };
            let taken = self
                .take_page(me, conn, ctx, &page.issues, w, work, report, st)
                .await?;
            if work.cancel.is_cancelled() || pages.is_done() || taken.last_key.is_none() {
                return Ok(());
            }
            after = taken.last_key;
        }
    }

    /// Notes one page of the light search and merges what is new on it (read in full).
    #[allow(clippy::too_many_arguments)]
    async fn take_page(
        &self,
        me: &ConnectorRef,
        conn: &Connector,
        ctx: &SiteCtx,
        issues: &[Value],
        w: &mut Watermark,
        work: &mut Work,
        report: &mut Report,
        st: &mut Pulled,
    ) -> Result<Taken, EngineError> {
        let mut taken = Taken {
            progressed: issues.is_empty(),
            last: None,
            last_key: None,
        };
        let mut fresh = Vec::new();
        for issue in issues {
            let id = issue["id"].as_str().unwrap_or_default().to_owned();
            let updated_s = issue["fields"]["updated"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let updated = jira_time(&updated_s).unwrap_or_else(Utc::now);
            taken.last = Some(taken.last.map_or(updated, |l| l.max(updated)));
            if let Some(k) = issue["key"].as_str() {
                taken.last_key = Some(k.to_owned());
            }
            let key = (id.clone(), updated_s);
            if !st.seen_here.insert(key.clone()) {
                continue;
            }
            taken.progressed = true;
            st.now_seen.push(key.clone());
            w.updated = Some(w.updated.map_or(updated, |u| u.max(updated)));
            if !st.merged.contains(&key) {
                fresh.push(id);
            }
        }
        for chunk in fresh.chunks(jira_sync_client::BULK_FETCH_MAX) {
            let full = ctx
                .client
                .bulkfetch(chunk, &st.full, &[PROPERTY.to_owned()])
                .await?;
            for issue in full {
                self.pull_one(me, conn, ctx, issue, work, report, st)
                    .await?;
            }
        }
        Ok(taken)
    }

    /// Merges one issue read in full.
    #[allow(clippy::too_many_arguments)]
    async fn pull_one(
        &self,
        me: &ConnectorRef,
        conn: &Connector,
        ctx: &SiteCtx,
        mut issue: Value,
        work: &mut Work,
        report: &mut Report,
        st: &mut Pulled,
    ) -> Result<(), EngineError> {
        let id = issue["id"].as_str().unwrap_or_default().to_owned();
        let updated_s = issue["fields"]["updated"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        // Read after the search: it may be newer than search said; both are known now.
        let key = (id, updated_s.clone());
        if st.seen_here.insert(key.clone()) {
            st.now_seen.push(key);
        }
        report.pulled += 1;
        let updated = jira_time(&updated_s).unwrap_or_else(Utc::now);
        self.all_comments(ctx, &mut issue).await?;
        let adopted = self
            .landed_comments(me, ctx, &issue, &st.interrupted, work)
            .await?;
        let times = self
            .conflict_times(me, conn, ctx, &issue, &st.fields, work)
            .await?;
        self.merge_issue(
            me, conn, &issue, updated, &st.fields, &adopted, &times, work, report,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn an_idle_pull_reaches_back_from_the_last_pull_not_from_an_old_burst() {
        let five = chrono::Duration::minutes(5);
        let mut w = Watermark {
            updated: Some(at("2026-11-30T10:00:00Z")),
            ..Watermark::default()
        };
        // Never pulled to the end: an overlap before the newest change seen.
        assert_eq!(reach_back(&w, five), Some(at("2026-11-30T09:55:00Z")));
        // Pulled at 12:00, nothing changed since 10:00: the 10:00 burst is not read again.
        w.pulled = Some(at("2026-11-30T12:00:00Z"));
        assert_eq!(reach_back(&w, five), Some(at("2026-11-30T11:54:00Z")));
        // A change newer than the last pull's reach: from the change.
        w.updated = Some(at("2026-11-30T12:30:00Z"));
        assert_eq!(reach_back(&w, five), Some(at("2026-11-30T12:25:00Z")));
        // Nothing seen yet: everything.
        assert_eq!(reach_back(&Watermark::default(), five), None);
    }
}
