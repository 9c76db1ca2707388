//! Push: creates in bulk, edits, transitions and comments for the connector's records and
//! its mirror peers', with the recovery of creates a killed run may have made.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::Duration;
use jira_sync_client::{ClientError, SearchQuery};
use jira_sync_config::{Connector, ConnectorRef};
use jira_sync_store::hub::{HubComment, IntentKind, Link, Record, RecordId};
use serde_json::{Value, json};

use super::{
    Engine, EngineError, PROPERTY, Report, SiteCtx, Work, fingerprint, jql_date, note_failure,
    overlap,
};
use crate::mapping::{PEOPLE, hub_fields, jira_status, to_jira};

impl Engine {
    /// Records of this connector and of its mirror peers, and those made for it through the
    /// hub API.
    fn scope(&self, me: &ConnectorRef, work: &Work) -> Result<BTreeSet<RecordId>, EngineError> {
        let mut ids: BTreeSet<RecordId> = work.records.keys().copied().collect();
        ids.extend(self.hub.targeted(&me.site, &me.connector)?);
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
        let mut found = HashMap::new();
        // A create younger than the overlap may have landed but not reached search yet
        // (Jira's index lags): it is neither linked nor repeated until search can tell.
        let settle = overlap(conn);
        let now = (self.now)();
        let (young, creates): (Vec<_>, Vec<_>) =
            creates.into_iter().partition(|(i, _)| i.at > now - settle);
        for (i, _) in &young {
            found.insert(i.record, None);
        }
        // A comment may have landed: read before adding (see `check_comments`). Other kinds
        // are idempotent: the next push repeats them if still needed. The intents of a
        // record whose create waits stay pending: this run does not touch it.
        let waiting = |i: &&jira_sync_store::hub::Intent| found.contains_key(&i.record);
        work.check_comments.extend(
            pending
                .iter()
                .filter(|i| matches!(i.kind, IntentKind::Comment { .. }))
                .filter(|i| !waiting(i))
                .map(|i| i.record),
        );
        work.done.extend(
            pending
                .iter()
                .filter(|i| !matches!(i.kind, IntentKind::Create { .. }))
                .filter(|i| !waiting(i))
                .map(|i| i.id),
        );
        let Some(oldest) = creates.iter().map(|(i, _)| i.at).min() else {
            return Ok(found);
        };
        // JQL reads dates in the account's zone; a minute of margin for its granularity.
        let since = jql_date(oldest, Duration::minutes(1), ctx.time_zone);
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

    pub(super) async fn push(
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
            if work.cancel.is_cancelled() {
                break;
            }
            let Some(record) = self.record(work, rid)? else {
                continue;
            };
            if record.gone.is_some() && conn.propagate_deletes {
                let key = format!("record {rid}");
                if let Err(e) = self
                    .propagate_delete(me, conn, ctx, &record, work, report)
                    .await
                {
                    note_failure(me, report, work, key, e)?;
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
                    // Its base is unknown, so the next pull's values settle it; that run may
                    // have commented on it too, so its comments are read before adding any.
                    work.check_comments.insert(rid);
                    Some(Link::new(&me.site, &me.connector, rid, id, key))
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
                            note_failure(me, report, work, format!("record {rid}"), e)?;
                        }
                    }
                }
                // The issues the record already has elsewhere go along, so a lost store can
                // be rebuilt from the sites (`jira-sync store rebuild`).
                let links: Vec<String> = self
                    .hub
                    .links_of(rid)?
                    .iter()
                    .filter(|l| l.site != me.site || l.connector != me.connector)
                    .map(|l| format!("{}/{}/{}", l.site, l.connector, l.issue_id))
                    .collect();
                let details = json!({ "fields": f, "properties": [{ "key": PROPERTY, "value": { "record": rid, "nonce": nonce, "links": links } }] });
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
                note_failure(me, report, work, key, e)?;
            }
        }
        let mut batches: Vec<Vec<(Record, Value, u64)>> = creates
            .chunks(jira_sync_client::BULK_CREATE_MAX)
            .map(<[_]>::to_vec)
            .collect();
        batches.reverse();
        while let Some(batch) = batches.pop() {
            if work.cancel.is_cancelled() {
                // Stopping: these creates were never sent, so their intents are settled.
                work.done.extend(batch.iter().map(|(_, _, intent)| *intent));
                continue;
            }
            let mut again = Vec::new();
            let details: Vec<Value> = batch.iter().map(|(_, d, _)| d.clone()).collect();
            let out = match ctx.client.bulk_create(&details).await {
                Ok(out) => out,
                Err(e) => {
                    // Their intents stay pending: the next runs find out whether they landed.
                    note_failure(
                        me,
                        report,
                        work,
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
                let mut link = Link::new(
                    &me.site,
                    &me.connector,
                    record.id,
                    &created.id,
                    &created.key,
                );
                link.base = base;
                // Linked before anything else: a failure after this must never create it again.
                work.links.insert(record.id, link.clone());
                work.records
                    .entry(record.id)
                    .or_insert_with(|| record.clone());
                // Status and comments follow on the new issue (in a later run if the
                // credential was refused meanwhile: the link's base says what is missing).
                if work.refused.is_some() {
                    continue;
                }
                let key = link.issue_key.clone();
                if let Err(e) = self
                    .push_changes(
                        me, conn, ctx, record, &mut link, &fields, work, report, written,
                    )
                    .await
                {
                    note_failure(me, report, work, key, e)?;
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
