//! Deletions: the hourly census of a connector's scope, and `propagate_deletes`.

use std::collections::BTreeSet;

use jira_sync_client::{ClientError, SearchQuery};
use jira_sync_config::{Connector, ConnectorRef};
use jira_sync_store::hub::{IntentKind, Link, Record, Watermark};
use serde_json::json;

use super::{
    CENSUS_PAGE, DELETED, Engine, EngineError, MASS_LOSS, Report, SiteCtx, Work, fingerprint,
    jira_time, overlap,
};

impl Engine {
    /// Deleted issues never show up in an incremental pull: an id-only search of the whole
    /// scope finds the linked issues that are no longer in it, and a consistent read
    /// (`bulkfetch`, unaffected by search lag) says why. Their records are marked gone.
    pub(super) async fn census(
        &self,
        me: &ConnectorRef,
        conn: &Connector,
        ctx: &SiteCtx,
        w: &Watermark,
        work: &mut Work,
        report: &mut Report,
    ) -> Result<(), EngineError> {
        let all = self.hub.links_of_connector(&me.site, &me.connector)?;
        let linked = all.len();
        let links: Vec<Link> = all
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
        let overlap = overlap(conn);
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
                        let updated = i["fields"]["updated"].as_str().and_then(jira_time);
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

    /// Deletes this connector's issue of a gone record when the issue it mirrors was deleted
    /// (not moved, not out of the JQL, not lost in a mass).
    pub(super) async fn propagate_delete(
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
}
