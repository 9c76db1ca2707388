//! Push: creates in bulk, edits, transitions and comments for the connector's records and
//! its mirror peers', with the recovery of creates a killed run may have made.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::Duration;
use jira_sync_client::{ClientError, SearchQuery};
use jira_sync_config::{Connector, ConnectorRef};
use jira_sync_store::hub::{HubComment, IntentKind, Link, ParkedField, Record, RecordId};
use serde_json::{Value, json};

use super::{
    Engine, EngineError, PROPERTY, Report, SiteCtx, Work, fingerprint, jql_date, note_failure,
    overlap,
};
use crate::mapping::{PEOPLE, hub_fields, jira_status, sent_fields, to_jira};
use crate::plan::{
    FieldRefusal, Refusal, TransitionPlan, fnv1a, issue_type_id, next_hop, plan_transition,
    refused_fields,
};

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
        let sent_ids = sent_fields(conn);
        let mut creates: Vec<(Record, Value, u64)> = Vec::new();
        // Fields a create was refused for (or could not carry) and sent without: parked on
        // the new link.
        let mut refused_on_create: HashMap<RecordId, Vec<FieldRefusal>> = HashMap::new();
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
                if p.fingerprint == fingerprint(&record, conn) && (self.now)() - p.at < PARKED_RETRY
                {
                    // Refused before, and nothing changed since: wait for a change (or a day:
                    // the project may have been changed meanwhile).
                    report.waiting += 1;
                    *report
                        .parked_records
                        .entry(super::reason_label(&p.reason).to_owned())
                        .or_default() += 1;
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
                // A parent goes first: the child waits for its parent's issue here.
                let parent = self.parent_on(me, record.fields.get("parent"), work)?;
                if let ParentOn::Pending = parent {
                    report.deferred += 1;
                    continue;
                }
                // The issue type by id, as this project names it.
                let hub_type = record
                    .fields
                    .get("issuetype")
                    .and_then(Value::as_str)
                    .unwrap_or("Task");
                let types = match self.project_issue_types(me, conn, ctx).await {
                    Ok(t) => t,
                    Err(e) => {
                        note_failure(me, report, work, format!("record {rid}"), e)?;
                        continue;
                    }
                };
                let type_id = match issue_type_id(hub_type, &conn.issuetypes, &types, &conn.project)
                {
                    Ok(id) => id,
                    Err(why) => {
                        let reason = format!("{}: {why}", Refusal::TypeUnmapped.as_str());
                        self.park(me, conn, &record, reason, work, report);
                        continue;
                    }
                };
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
                match parent {
                    ParentOn::Key(k) => {
                        f.insert("parent".into(), json!({ "key": k }));
                    }
                    ParentOn::Unmapped(message) => {
                        refused_on_create
                            .entry(rid)
                            .or_default()
                            .push(FieldRefusal {
                                field: "parent".into(),
                                reason: Refusal::ParentUnmapped,
                                message,
                            });
                    }
                    ParentOn::None | ParentOn::Pending => {}
                }
                f.insert("issuetype".into(), json!({ "id": type_id }));
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
                // What the create screen does not take is left out before it is sent, and
                // parked on the new issue with why (people are left unset and counted).
                match self.create_screen(me, conn, ctx, &type_id).await {
                    Ok(screen) => {
                        let refused = off_screen(
                            &mut f,
                            &screen,
                            &sent_ids,
                            &conn.project,
                            &["project", "issuetype", "summary"],
                        );
                        for r in refused {
                            if PEOPLE.contains(&r.field.as_str()) {
                                report.unmapped_people += 1;
                            } else {
                                refused_on_create.entry(rid).or_default().push(r);
                            }
                        }
                    }
                    Err(EngineError::Client(e)) if e.is_credential() => {
                        note_failure(me, report, work, format!("record {rid}"), e.into())?;
                        break;
                    }
                    Err(e) => {
                        tracing::debug!(site = %me.site, connector = %me.connector, error = %e, "No create metadata; Jira's answer to the create decides.");
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
                // What landed before the failure is kept: a transition that went through
                // must never read back as a change made in Jira.
                keep_link(work, &record, &link);
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
            // The assignee too: a create may be accepted with its assignee not applied.
            let read_back: HashMap<String, Value> = match ctx
                .client
                .bulkfetch(&keys, &["status".into(), "assignee".into()], &[])
                .await
            {
                Ok(issues) => issues
                    .iter()
                    .filter_map(|i| Some((i["key"].as_str()?.to_owned(), i["fields"].clone())))
                    .collect(),
                Err(_) => HashMap::new(),
            };
            let statuses: HashMap<String, String> = read_back
                .iter()
                .filter_map(|(k, f)| Some((k.clone(), f["status"]["name"].as_str()?.to_owned())))
                .collect();
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
                if let Some(f) = read_back.get(&created.key) {
                    // What Jira holds, not what was sent: the next pull compares with it.
                    base.insert(
                        "assignee".into(),
                        crate::mapping::person(&me.site, &f["assignee"]),
                    );
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
                for r in refused_on_create.remove(&record.id).unwrap_or_default() {
                    // Not written: the next pull reads what Jira has instead.
                    link.base.remove(&r.field);
                    self.park_field(me, conn, record, &mut link, r, (self.now)(), report);
                }
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
                    keep_link(work, record, &link);
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
                        let why = e.errors.iter().find(|(n, _)| *n == f).map(|(_, m)| m);
                        match why.filter(|m| Refusal::of_message(m) == Refusal::PersonUnassignable)
                        {
                            // Not assignable in this project: this issue's assignee waits.
                            Some(m) => {
                                refused_on_create
                                    .entry(record.id)
                                    .or_default()
                                    .push(FieldRefusal {
                                        field: f.clone(),
                                        reason: Refusal::PersonUnassignable,
                                        message: m.clone(),
                                    })
                            }
                            None => report.unmapped_people += 1,
                        }
                    }
                    again.push((record.clone(), d, *intent));
                    continue;
                }
                // Fields this project refuses (a priority outside its scheme, a field not on
                // the create screen): created without them, each parked on the new issue.
                let sent: BTreeMap<String, String> = details["fields"]
                    .as_object()
                    .into_iter()
                    .flat_map(|m| m.keys())
                    .filter(|k| !matches!(k.as_str(), "summary" | "issuetype" | "project"))
                    .filter_map(|k| Some((k.clone(), sent_ids.get(k)?.clone())))
                    .collect();
                let (refused, other) = refused_fields(&sent, &e.errors);
                if !refused.is_empty() && other.is_empty() {
                    let mut d = details.clone();
                    for r in &refused {
                        if let Some(m) = d["fields"].as_object_mut() {
                            m.retain(|k, _| sent.get(k) != Some(&r.field));
                        }
                    }
                    refused_on_create
                        .entry(record.id)
                        .or_default()
                        .extend(refused);
                    again.push((record.clone(), d, *intent));
                    continue;
                }
                if e.errors.iter().any(|(f, _)| f == "issuetype") {
                    // The project's types may have changed: read them again next time.
                    self.forget_issue_types(me, conn);
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
        report.parked_now = self.parked_now(me, work, &report.parked_records)?;
        Ok(())
    }

    /// What waits on this connector now, by reason: parked fields of its links (as this run
    /// leaves them) and records whose create was refused as a whole (`refused`).
    fn parked_now(
        &self,
        me: &ConnectorRef,
        work: &Work,
        parked_records: &BTreeMap<String, usize>,
    ) -> Result<BTreeMap<String, usize>, EngineError> {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        let mut links: BTreeMap<RecordId, Link> = self
            .hub
            .links_of_connector(&me.site, &me.connector)?
            .into_iter()
            .map(|l| (l.record, l))
            .collect();
        for l in work.links.values() {
            if l.site == me.site && l.connector == me.connector {
                links.insert(l.record, l.clone());
            }
        }
        for p in links.values().flat_map(|l| l.parked.values()) {
            *counts.entry(p.reason.clone()).or_default() += 1;
        }
        for (reason, n) in parked_records {
            *counts.entry(reason.clone()).or_default() += n;
        }
        Ok(counts)
    }

    /// Edits, a transition and new comments for a linked issue; the link's base follows.
    ///
    /// A refusal is scoped to what Jira refused: a field named in the 400's `errors` is
    /// parked alone on this link (see [`ParkedField`]) and the rest of the edit is sent
    /// without it; a transition that cannot be taken parks the status alone; comments go
    /// out whatever was refused. Where the current status refuses an edit (every field "not
    /// on the appropriate screen") and the status is about to change, the refused fields
    /// are sent again after the transition.
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
        let now = (self.now)();
        let sent_ids = sent_fields(conn);
        let mut edit = serde_json::Map::new();
        let mut edited = Vec::new();
        let mut assign_to: Option<Value> = None;
        for name in fields {
            let h = record.fields.get(name).cloned().unwrap_or(Value::Null);
            if link.base.get(name) == Some(&h) {
                // In step (a person set it on Jira too): nothing waits any more.
                link.parked.remove(name);
                continue;
            }
            if let Some(p) = link.parked.get(name)
                && still_parked(p, field_fingerprint(conn, name, &h), link, now)
            {
                report.waiting += 1;
                continue;
            }
            if let Some((k, v)) = to_jira(conn, &ctx.field_types, name, &h) {
                edit.insert(k, v);
                edited.push(name.clone());
            } else if name == "parent" {
                let want = self.parent_on(me, Some(&h), work)?;
                if let (ParentOn::Key(a), ParentOn::Key(b)) =
                    (&want, &self.parent_on(me, link.base.get(name), work)?)
                    && a.eq_ignore_ascii_case(b)
                {
                    // The same parent, known two ways (by its issue, then by its record).
                    link.base.insert(name.clone(), h.clone());
                    link.parked.remove(name);
                    continue;
                }
                match want {
                    ParentOn::Key(k) => {
                        edit.insert("parent".into(), json!({ "key": k }));
                        edited.push(name.clone());
                    }
                    ParentOn::Unmapped(message) => {
                        let r = FieldRefusal {
                            field: name.clone(),
                            reason: Refusal::ParentUnmapped,
                            message,
                        };
                        self.park_field(me, conn, record, link, r, now, report);
                    }
                    // Taken out of its parent on the other side (`h` is null, the base is not):
                    // `update.parent.set.none`, the way Jira removes a parent.
                    ParentOn::None => {
                        let body = json!({ "update": { "parent": [{ "set": { "none": true } }] } });
                        match ctx.client.edit(&link.issue_key, body).await {
                            Ok(()) => {
                                landed(record, link, std::slice::from_ref(name), report, written);
                            }
                            Err(ClientError::Invalid {
                                errors, messages, ..
                            }) => {
                                let message = jira_words(&errors, messages);
                                let r = FieldRefusal {
                                    field: name.clone(),
                                    reason: Refusal::of_message(&message),
                                    message,
                                };
                                self.park_field(me, conn, record, link, r, now, report);
                            }
                            Err(e) => return Err(e.into()),
                        }
                    }
                    // Its parent's issue comes first.
                    ParentOn::Pending => {}
                }
            } else if name == "assignee" {
                // Assigned through `assignIssue`: an edit's assignee may be off the edit
                // screen, or accepted and silently not applied.
                if let Some(v) = self.person(me, ctx, name, &h, report).await? {
                    assign_to = Some(v);
                }
            } else if PEOPLE.contains(&name.as_str())
                && let Some(v) = self.person(me, ctx, name, &h, report).await?
            {
                edit.insert(name.clone(), v);
                edited.push(name.clone());
            }
        }
        if let Some(v) = assign_to {
            self.push_assignee(me, conn, ctx, record, link, &v, work, report, written)
                .await?;
        }
        let status_pending = record
            .fields
            .get("status")
            .and_then(Value::as_str)
            .is_some_and(|h| link.base.get("status").and_then(Value::as_str) != Some(h));
        // Fields the current status refuses: sent again once the transition has landed.
        let mut after_transition: Vec<FieldRefusal> = Vec::new();
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
            // What the edit screen does not take is left out before anything is sent. A parked
            // field tried again is checked against the screen as it is now.
            if edited.iter().any(|n| link.parked.contains_key(n)) {
                self.forget_edit_screens(me, conn);
            }
            let mut refused = match self.edit_screen(me, conn, ctx, link).await {
                Ok(screen) => {
                    let off = off_screen(&mut edit, &screen, &sent_ids, &conn.project, &[]);
                    edited.retain(|n| !off.iter().any(|r| r.field == *n));
                    // A person field off the screen is left unset for the connector, as
                    // Jira's own refusal of it would leave it.
                    let (people, off): (Vec<_>, Vec<_>) = off
                        .into_iter()
                        .partition(|r| PEOPLE.contains(&r.field.as_str()));
                    for r in people {
                        self.refuse_person(me, &r.field, &r.message);
                        report.unmapped_people += 1;
                    }
                    off
                }
                Err(EngineError::Client(e)) if e.is_credential() => return Err(e.into()),
                Err(e) => {
                    tracing::debug!(site = %me.site, connector = %me.connector, issue = %key, error = %e, "No edit metadata; Jira's answer to the edit decides.");
                    Vec::new()
                }
            };
            let sent_refused = self
                .send_edit(me, ctx, &key, &sent_ids, &mut edit, &mut edited, report)
                .await?;
            if !sent_refused.is_empty() {
                // The screen said otherwise: read it again next time.
                self.forget_edit_screens(me, conn);
            }
            refused.extend(sent_refused);
            landed(record, link, &edited, report, written);
            let locked = !refused.is_empty()
                && refused
                    .iter()
                    .all(|r| r.reason == Refusal::FieldNotOnScreen);
            if status_pending && locked {
                after_transition = refused;
            } else {
                for r in refused {
                    self.park_field(me, conn, record, link, r, now, report);
                }
            }
            work.done.push(intent);
        }
        if let Some(hub_status) = record.fields.get("status").and_then(Value::as_str)
            && status_pending
        {
            let waiting = link.parked.get("status").is_some_and(|p| {
                still_parked(
                    p,
                    field_fingerprint(conn, "status", &json!(hub_status)),
                    link,
                    now,
                )
            });
            if waiting {
                report.waiting += 1;
            } else {
                self.push_status(
                    me, conn, ctx, record, link, hub_status, work, report, written,
                )
                .await?;
            }
        }
        if !after_transition.is_empty() {
            // The status has moved (or could not): the refused fields once more, then parked.
            let moved = link.base.get("status") == record.fields.get("status");
            let mut edit = serde_json::Map::new();
            let mut edited = Vec::new();
            for r in &after_transition {
                let h = record.fields.get(&r.field).cloned().unwrap_or(Value::Null);
                if let Some((k, v)) = to_jira(conn, &ctx.field_types, &r.field, &h) {
                    edit.insert(k, v);
                    edited.push(r.field.clone());
                }
            }
            let refused = if moved && !edit.is_empty() {
                let refused = self
                    .send_edit(me, ctx, &key, &sent_ids, &mut edit, &mut edited, report)
                    .await?;
                landed(record, link, &edited, report, written);
                refused
            } else {
                after_transition
            };
            for r in refused {
                self.park_field(me, conn, record, link, r, now, report);
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
        keep_link(work, record, link);
        Ok(())
    }

    /// Where the record's parent is on this connector's site. A parent is kept in the hub
    /// as its record (`{"record": N}`), or, read before its record was known, as the issue of
    /// the site it was read on (`{"site", "id", "key"}`).
    fn parent_on(
        &self,
        me: &ConnectorRef,
        value: Option<&Value>,
        work: &Work,
    ) -> Result<ParentOn, EngineError> {
        let Some(v) = value.filter(|v| !v.is_null()) else {
            return Ok(ParentOn::None);
        };
        let rid = match (v["record"].as_u64(), v["site"].as_str(), v["id"].as_str()) {
            (Some(rid), _, _) => Some(rid),
            (None, Some(site), Some(_)) if site == me.site => {
                // The parent is an issue of this very site.
                return Ok(v["key"]
                    .as_str()
                    .map_or(ParentOn::None, |k| ParentOn::Key(k.to_owned())));
            }
            (None, Some(site), Some(id)) => {
                let mut found = None;
                for c in self.peers(me).into_iter().filter(|c| c.site == site) {
                    if let Some(r) = self.record_of(&c, id, work)? {
                        found = Some(r);
                        break;
                    }
                }
                found
            }
            _ => None,
        };
        let Some(rid) = rid else {
            return Ok(ParentOn::Unmapped(format!(
                "the parent {} is not mirrored here (outside the scope of the mirrored connectors)",
                v["key"].as_str().unwrap_or("issue")
            )));
        };
        let link = match work.links.get(&rid) {
            Some(l) if l.site == me.site && l.connector == me.connector => Some(l.clone()),
            _ => self
                .hub
                .links_of(rid)?
                .into_iter()
                .find(|l| l.site == me.site && l.connector == me.connector),
        };
        if let Some(l) = link {
            return Ok(ParentOn::Key(l.issue_key));
        }
        Ok(match self.record(work, rid)? {
            Some(r) if r.gone.is_none() => match r.parked.get(&me.to_string()) {
                // The parent itself cannot be created here: the child does not wait for it.
                Some(p) => ParentOn::Unmapped(format!(
                    "the parent (record {rid}) cannot be created here: {}",
                    p.reason
                )),
                None => ParentOn::Pending,
            },
            _ => ParentOn::Unmapped(format!(
                "the parent (record {rid}) is gone or not mirrored here"
            )),
        })
    }

    /// Assigns the issue (`assignIssue`) to `value` (`{"accountId"}` or null); a person who
    /// cannot be assigned there parks the assignee of this issue alone.
    #[allow(clippy::too_many_arguments)]
    async fn push_assignee(
        &self,
        me: &ConnectorRef,
        conn: &Connector,
        ctx: &SiteCtx,
        record: &Record,
        link: &mut Link,
        value: &Value,
        work: &mut Work,
        report: &mut Report,
        written: &mut Vec<String>,
    ) -> Result<(), EngineError> {
        let key = link.issue_key.clone();
        let intent = self
            .intent(
                me,
                record.id,
                IntentKind::Edit {
                    fields: vec!["assignee".into()],
                },
            )
            .await?;
        let sent = ctx.client.assign(&key, value["accountId"].as_str()).await;
        work.done.push(intent);
        let refusal = match sent {
            Ok(()) => {
                landed(record, link, &["assignee".to_owned()], report, written);
                return Ok(());
            }
            Err(ClientError::Invalid {
                errors, messages, ..
            }) => {
                let message = jira_words(&errors, messages);
                FieldRefusal {
                    field: "assignee".into(),
                    reason: Refusal::of_message(&message),
                    message,
                }
            }
            Err(ClientError::Forbidden { messages, .. }) => FieldRefusal {
                field: "assignee".into(),
                reason: Refusal::Refused,
                message: format!(
                    "no permission to assign issues here: {}",
                    messages.join("; ")
                ),
            },
            Err(e) => return Err(e.into()),
        };
        self.park_field(me, conn, record, link, refusal, (self.now)(), report);
        Ok(())
    }

    /// Sends an edit; what Jira refuses field by field is taken out and the rest sent again.
    /// Returns the refused fields; `edit` and `edited` are left with what landed. A refusal
    /// that names no field of the edit refuses all of it.
    #[allow(clippy::too_many_arguments)]
    async fn send_edit(
        &self,
        me: &ConnectorRef,
        ctx: &SiteCtx,
        key: &str,
        sent_ids: &BTreeMap<String, String>,
        edit: &mut serde_json::Map<String, Value>,
        edited: &mut Vec<String>,
        report: &mut Report,
    ) -> Result<Vec<FieldRefusal>, EngineError> {
        let mut refused_all = Vec::new();
        // Each round drops at least one field, so this ends.
        while !edit.is_empty() {
            let errors = match ctx.client.edit(key, json!({ "fields": edit })).await {
                Ok(()) => return Ok(refused_all),
                Err(ClientError::Invalid {
                    errors, messages, ..
                }) => {
                    if let Some(people) = self.unsettable_people(me, &errors) {
                        // Only a person Jira will not take here: the rest goes without it.
                        for f in &people {
                            edit.remove(f);
                            edited.retain(|n| n != f);
                            report.unmapped_people += 1;
                        }
                        continue;
                    }
                    if errors.is_empty() {
                        // Refused as a whole: the edit waits, nothing else does.
                        let message = messages.join("; ");
                        refused_all.extend(edited.drain(..).map(|field| FieldRefusal {
                            field,
                            reason: Refusal::of_message(&message),
                            message: message.clone(),
                        }));
                        edit.clear();
                        return Ok(refused_all);
                    }
                    errors
                }
                Err(ClientError::Forbidden { messages, .. }) => {
                    let message = messages.join("; ");
                    refused_all.extend(edited.drain(..).map(|field| FieldRefusal {
                        field,
                        reason: Refusal::Refused,
                        message: message.clone(),
                    }));
                    edit.clear();
                    return Ok(refused_all);
                }
                Err(e) => return Err(e.into()),
            };
            let sent: BTreeMap<String, String> = edit
                .keys()
                .filter_map(|k| Some((k.clone(), sent_ids.get(k)?.clone())))
                .collect();
            let (refused, other) = refused_fields(&sent, &errors);
            if refused.is_empty() {
                // Errors about fields not sent: nothing to take out, so all of it waits.
                let message = other
                    .iter()
                    .map(|(f, m)| format!("{f}: {m}"))
                    .collect::<Vec<_>>()
                    .join("; ");
                refused_all.extend(edited.drain(..).map(|field| FieldRefusal {
                    field,
                    reason: Refusal::Refused,
                    message: message.clone(),
                }));
                edit.clear();
                return Ok(refused_all);
            }
            for r in &refused {
                edit.retain(|k, _| sent.get(k) != Some(&r.field));
                edited.retain(|n| *n != r.field);
            }
            refused_all.extend(refused);
        }
        Ok(refused_all)
    }

    /// Moves the issue to `hub_status` through the workflow as Jira offers it: one hop at a
    /// time (Jira lists only the transitions valid from the current status), directly when
    /// a transition goes there, else along the shortest path through what is known of the
    /// workflow, else a step toward the target's status category (see [`next_hop`]); each
    /// hop's screen fields are filled by [`plan_transition`]. What cannot be reached, or
    /// needs a field nobody can give, parks the status with why. An intermediate status
    /// reached on the way becomes the link's base, so the next pull does not read it as a
    /// change made in Jira.
    #[allow(clippy::too_many_arguments)]
    async fn push_status(
        &self,
        me: &ConnectorRef,
        conn: &Connector,
        ctx: &SiteCtx,
        record: &Record,
        link: &mut Link,
        hub_status: &str,
        work: &mut Work,
        report: &mut Report,
        written: &mut Vec<String>,
    ) -> Result<(), EngineError> {
        let key = link.issue_key.clone();
        let now = (self.now)();
        let target = jira_status(conn, hub_status).to_owned();
        let mut current = match link.base.get("status").and_then(Value::as_str) {
            Some(h) => jira_status(conn, h).to_owned(),
            None => {
                // A just-created issue's status is unknown: it may already be the target.
                let issue = ctx.client.get_issue(&key, &["status".into()], &[]).await?;
                let name = issue["fields"]["status"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                if name.eq_ignore_ascii_case(&target) {
                    link.base.insert("status".into(), json!(hub_status));
                    link.parked.remove("status");
                    return Ok(());
                }
                name
            }
        };
        let resolution = record.fields.get("resolution").and_then(Value::as_str);
        let mut known = self.workflow_map(me, conn, ctx).await;
        let mut visited = vec![current.clone()];
        let mut refusal = None;
        for _ in 0..MAX_HOPS {
            let transitions = ctx.client.transitions(&key).await?;
            known.learn(&current, &transitions);
            self.keep_workflow_map(me, conn, &known);
            let Some(hop) = next_hop(&current, &target, &transitions, &known, &visited) else {
                report.unreachable.push((key.clone(), target.clone()));
                let offered: Vec<&str> = transitions.iter().map(|t| t.to.name.as_str()).collect();
                refusal = Some(FieldRefusal {
                    field: "status".into(),
                    reason: Refusal::NoTransition,
                    message: format!(
                        "no transition path from `{current}` to `{target}` is known (from `{current}` it offers: {})",
                        if offered.is_empty() {
                            "none".to_owned()
                        } else {
                            offered.join(", ")
                        }
                    ),
                });
                break;
            };
            match plan_transition(&hop, &transitions, resolution, conn.resolution.as_deref()) {
                TransitionPlan::Take {
                    id,
                    fields,
                    resolution,
                } => {
                    let intent = self
                        .intent(me, record.id, IntentKind::Transition { to: target.clone() })
                        .await?;
                    let sent = ctx.client.transition(&key, &id, fields).await;
                    work.done.push(intent);
                    match sent {
                        Ok(()) => {
                            report.transitioned += 1;
                            written.push(link.issue_id.clone());
                            if let Some(r) = resolution {
                                link.base.insert("resolution".into(), json!(r));
                            }
                            if hop.eq_ignore_ascii_case(&target) {
                                link.base.insert("status".into(), json!(hub_status));
                                link.parked.remove("status");
                                return Ok(());
                            }
                            // On the way: what Jira now holds is the base.
                            link.base.insert(
                                "status".into(),
                                json!(conn.statuses.get(&hop).map_or(hop.as_str(), String::as_str)),
                            );
                            visited.push(hop.clone());
                            current = hop;
                        }
                        Err(ClientError::Invalid {
                            errors, messages, ..
                        }) => {
                            let message = errors
                                .iter()
                                .map(|(f, m)| format!("{f}: {m}"))
                                .chain(messages)
                                .collect::<Vec<_>>()
                                .join("; ");
                            let reason = match Refusal::of_message(&message) {
                                Refusal::Refused => Refusal::TransitionNeedsField,
                                other => other,
                            };
                            refusal = Some(FieldRefusal {
                                field: "status".into(),
                                reason,
                                message: format!("transition to `{hop}` refused: {message}"),
                            });
                            break;
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                TransitionPlan::NeedsField { message, .. } => {
                    refusal = Some(FieldRefusal {
                        field: "status".into(),
                        reason: Refusal::TransitionNeedsField,
                        message,
                    });
                    break;
                }
                TransitionPlan::NoTransition { message } => {
                    refusal = Some(FieldRefusal {
                        field: "status".into(),
                        reason: Refusal::NoTransition,
                        message,
                    });
                    break;
                }
            }
        }
        let refusal = refusal.unwrap_or_else(|| FieldRefusal {
            field: "status".into(),
            reason: Refusal::NoTransition,
            message: format!("`{target}` not reached within {MAX_HOPS} transitions"),
        });
        self.park_field(me, conn, record, link, refusal, now, report);
        Ok(())
    }

    /// Parks one field of `link`: reported now, sent again when [`still_parked`] says so.
    #[allow(clippy::too_many_arguments)]
    fn park_field(
        &self,
        me: &ConnectorRef,
        conn: &Connector,
        record: &Record,
        link: &mut Link,
        r: FieldRefusal,
        now: chrono::DateTime<chrono::Utc>,
        report: &mut Report,
    ) {
        let value = record.fields.get(&r.field).cloned().unwrap_or(Value::Null);
        tracing::warn!(site = %me.site, connector = %me.connector, issue = %link.issue_key, field = %r.field, reason = r.reason.as_str(), message = %r.message, "Field refused; parked alone while the rest of the record syncs.");
        report.parked.push((
            format!("{} {}", link.issue_key, r.field),
            format!("{}: {}", r.reason.as_str(), r.message),
        ));
        link.parked.insert(
            r.field.clone(),
            ParkedField {
                reason: r.reason.as_str().to_owned(),
                message: r.message,
                fingerprint: field_fingerprint(conn, &r.field, &value),
                updated: link.updated.clone(),
                at: now,
            },
        );
    }
}

/// Transitions one push takes at most on the way to a status.
const MAX_HOPS: usize = 5;

/// How long a parked field waits at most before it is tried again (Jira's configuration may
/// have changed: a priority added to the scheme, a field put on the screen).
const PARKED_RETRY: Duration = Duration::days(1);

/// Whether a parked field still waits: its value and the connector's configuration are as
/// they were refused, the issue has not changed since, and less than a day has passed.
fn still_parked(
    p: &ParkedField,
    fingerprint: u64,
    link: &Link,
    now: chrono::DateTime<chrono::Utc>,
) -> bool {
    p.fingerprint == fingerprint && p.updated == link.updated && now - p.at < PARKED_RETRY
}

/// A stable fingerprint of a field's value and what the connector's configuration says
/// about writing it (project, field and status maps, default resolution).
fn field_fingerprint(conn: &Connector, field: &str, value: &Value) -> u64 {
    let config = json!({
        "project": conn.project,
        "fields": conn.fields,
        "statuses": conn.statuses,
        "resolution": conn.resolution,
        "issuetypes": conn.issuetypes,
    });
    fnv1a(format!("{field}\0{value}\0{config}").as_bytes())
}

/// An edit of `edited` landed on `link`'s issue: its base takes the record's values, and
/// nothing of it waits any more.
fn landed(
    record: &Record,
    link: &mut Link,
    edited: &[String],
    report: &mut Report,
    written: &mut Vec<String>,
) {
    if edited.is_empty() {
        return;
    }
    report.updated += 1;
    written.push(link.issue_id.clone());
    for name in edited {
        link.base.insert(
            name.clone(),
            record.fields.get(name).cloned().unwrap_or(Value::Null),
        );
        link.parked.remove(name);
    }
}

/// Where a record's parent is on the target site.
#[derive(Debug)]
enum ParentOn {
    /// No parent.
    None,
    /// The parent's issue there.
    Key(String),
    /// The parent is mirrored, but its issue there does not exist yet: the child waits.
    Pending,
    /// The parent is not mirrored there: why.
    Unmapped(String),
}

/// Takes out of a write's `fields` what `screen` (the create or edit screen's fields) does
/// not take: a field it lacks (`field_not_on_screen`), or a value it does not offer
/// (`value_not_allowed`, for fields that list their values: priority, options). `sent` maps
/// Jira field ids to hub fields; the `keep` ids always stay (a create's project, issue type
/// and summary, which Jira itself answers for).
fn off_screen(
    fields: &mut serde_json::Map<String, Value>,
    screen: &BTreeMap<String, jira_sync_client::FieldMeta>,
    sent: &BTreeMap<String, String>,
    project: &str,
    keep: &[&str],
) -> Vec<FieldRefusal> {
    let mut refused = Vec::new();
    fields.retain(|id, v| {
        if keep.contains(&id.as_str()) {
            return true;
        }
        let field = sent.get(id).cloned().unwrap_or_else(|| id.clone());
        let Some(meta) = screen.get(id) else {
            refused.push(FieldRefusal {
                field,
                reason: Refusal::FieldNotOnScreen,
                message: format!(
                    "Field '{id}' cannot be set. It is not on the screen of project {project} (create or edit metadata)."
                ),
            });
            return false;
        };
        let named = v
            .get("name")
            .or_else(|| v.get("value"))
            .and_then(Value::as_str);
        match named {
            Some(n) if !meta.allowed_values.is_empty() && meta.allowed(n).is_none() => {
                refused.push(FieldRefusal {
                    field,
                    reason: Refusal::ValueNotAllowed,
                    message: format!("`{n}` is not a value `{id}` offers in project {project}"),
                });
                false
            }
            _ => true,
        }
    });
    refused
}

/// Keeps `link` (and its record) for this run's commit.
fn keep_link(work: &mut Work, record: &Record, link: &Link) {
    work.links.insert(record.id, link.clone());
    work.records
        .entry(record.id)
        .or_insert_with(|| record.clone());
}

/// Jira's messages of a 400 (per-field ones first), as one text for operators.
fn jira_words(errors: &[(String, String)], messages: Vec<String>) -> String {
    errors
        .iter()
        .map(|(_, m)| m.clone())
        .chain(messages)
        .collect::<Vec<_>>()
        .join("; ")
}
