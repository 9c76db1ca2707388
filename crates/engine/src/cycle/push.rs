//! Push: creates in bulk, edits, transitions and comments for the connector's records and
//! its mirror peers', with the recovery of creates a killed run may have made.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::Duration;
use jira_sync_client::SearchQuery;
use jira_sync_config::{Connector, ConnectorRef};
use jira_sync_store::hub::{IntentKind, Link, Record, RecordId, Watermark};
use serde_json::{Value, json};

use super::changes::{PARKED_RETRY, ParentOn, keep_link};
use super::{
    Engine, EngineError, PROPERTY, Report, SiteCtx, Work, fingerprint, jql_date, note_failure,
    overlap,
};
use crate::mapping::{PEOPLE, hub_fields, sent_fields, to_jira};
use crate::plan::off_screen;
use crate::plan::{FieldRefusal, Refusal, issue_type_id, refused_fields};

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

    /// The records this push looks at: those pulled in this run, those marked for this
    /// connector (changed since it last looked), and its retry set; in a full reconcile
    /// (daily, after a change of configuration, or the first time) every record in scope.
    /// Returns them with whether this is a full reconcile.
    fn push_set(
        &self,
        me: &ConnectorRef,
        conn: &Connector,
        w: &Watermark,
        landed: &HashMap<RecordId, Option<(String, String)>>,
        work: &mut Work,
    ) -> Result<(BTreeSet<RecordId>, bool), EngineError> {
        let marked = self.hub.marked(&me.site, &me.connector)?;
        let mut ids: BTreeSet<RecordId> = work.records.keys().copied().collect();
        // Writes an interrupted run left pending.
        ids.extend(landed.keys());
        ids.extend(work.check_comments.iter());
        ids.extend(marked.iter().map(|(id, _)| *id));
        ids.extend(w.retry.iter().copied());
        work.taken = marked;
        work.changed = ids.clone();
        let full = work.full
            || w.shape != Some(self.shape(me, conn))
            || w.reconciled
                .is_none_or(|t| (self.now)() - t >= super::RECONCILE_EVERY);
        if full {
            ids.extend(self.scope(me, work)?);
        }
        Ok((ids, full))
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn push(
        &self,
        me: &ConnectorRef,
        conn: &Connector,
        ctx: &SiteCtx,
        w: &mut Watermark,
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
        let (set, full) = self.push_set(me, conn, w, &landed, work)?;
        let mut outcome = Outcomes::default();
        'records: for rid in set.iter().copied() {
            outcome.next(rid, report, creates.len(), work);
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
                        match self.rich_write(me, ctx, rid, work, v).await {
                            Ok((v, _)) => {
                                f.insert(k, v);
                            }
                            Err(e) => {
                                note_failure(me, report, work, format!("record {rid}"), e)?;
                                work.done.push(intent);
                                continue 'records;
                            }
                        }
                    }
                }
                for (name, shape) in fields.iter().filter_map(|n| {
                    crate::mapping::picker_shape(conn, &ctx.field_types, n).map(|s| (n, s))
                }) {
                    let Some(hub) = record.fields.get(name).filter(|v| !v.is_null()) else {
                        continue;
                    };
                    match self.picker(me, ctx, shape, hub).await {
                        Ok(Ok(v)) => {
                            f.insert(conn.fields[name].clone(), v);
                        }
                        Ok(Err(message)) => {
                            refused_on_create
                                .entry(rid)
                                .or_default()
                                .push(FieldRefusal {
                                    field: name.clone(),
                                    reason: Refusal::ValueNotAllowed,
                                    message,
                                });
                        }
                        Err(e) => {
                            note_failure(me, report, work, format!("record {rid}"), e)?;
                            work.done.push(intent);
                            continue 'records;
                        }
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
            let record = self.keep_own_media(me, record, &link, work);
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
        outcome.next(0, report, creates.len(), work);
        let mut batches: Vec<Vec<(Record, Value, u64)>> = creates
            .chunks(jira_sync_client::BULK_CREATE_MAX)
            .map(<[_]>::to_vec)
            .collect();
        batches.reverse();
        while let Some(batch) = batches.pop() {
            if work.cancel.is_cancelled() {
                // Stopping: these creates were never sent, so their intents are settled.
                work.done.extend(batch.iter().map(|(_, _, intent)| *intent));
                work.retry.extend(batch.iter().map(|(r, _, _)| r.id));
                continue;
            }
            let mut again = Vec::new();
            let details: Vec<Value> = batch.iter().map(|(_, d, _)| d.clone()).collect();
            let out = match ctx.client.bulk_create(&details).await {
                Ok(out) => out,
                Err(e) => {
                    // Their intents stay pending: the next runs find out whether they landed.
                    work.retry.extend(batch.iter().map(|(r, _, _)| r.id));
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
                // Rich text as this site shows what was written (placeholders, mentions).
                for (id, v) in details["fields"].as_object().into_iter().flatten() {
                    if crate::rich::is_doc(v)
                        && let Some(name) = sent_ids.get(id)
                    {
                        let print = crate::rich::print(&crate::rich::tag(v, &me.site));
                        link.written.insert(name.clone(), print);
                    }
                }
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
                    work.retry.insert(record.id);
                    continue;
                }
                let key = link.issue_key.clone();
                outcome.next(record.id, report, 0, work);
                if let Err(e) = self
                    .push_changes(
                        me, conn, ctx, record, &mut link, &fields, work, report, written,
                    )
                    .await
                {
                    keep_link(work, record, &link);
                    note_failure(me, report, work, key, e)?;
                }
                outcome.next(0, report, 0, work);
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
                work.retry.insert(record.id);
                self.park(me, conn, record, reason, work, report);
            }
            if !again.is_empty() {
                batches.push(again);
            }
        }
        // What was not reached (the run stopped early) is looked at next time; a full
        // reconcile that stopped early is taken again.
        let reached = outcome.reached;
        work.retry
            .extend(work.changed.iter().filter(|id| !reached.contains(id)));
        report.looked_at = reached.len();
        work.looked_at = reached;
        if full && !work.cancel.is_cancelled() {
            report.reconciled = true;
            report.repaired = outcome
                .wrote
                .iter()
                .filter(|id| !work.changed.contains(id))
                .count();
            if report.repaired > 0 {
                tracing::info!(site = %me.site, connector = %me.connector, repaired = report.repaired, "The full reconcile wrote records no change had named.");
            }
            w.reconciled = Some((self.now)());
            w.shape = Some(self.shape(me, conn));
        }
        w.parked = self.parked_links(me, w, work, full)?;
        report.parked_now = w.parked.clone();
        for (reason, n) in &report.parked_records {
            *report.parked_now.entry(reason.clone()).or_default() += n;
        }
        Ok(())
    }

    /// Parked fields of this connector's links after the run, by reason: counted afresh
    /// in a full reconcile, else the watermark's count moved by the links this run changed.
    fn parked_links(
        &self,
        me: &ConnectorRef,
        w: &Watermark,
        work: &Work,
        full: bool,
    ) -> Result<BTreeMap<String, usize>, EngineError> {
        let mine = |l: &&Link| l.site == me.site && l.connector == me.connector;
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        if full {
            let mut links: BTreeMap<RecordId, Link> = self
                .hub
                .links_of_connector(&me.site, &me.connector)?
                .into_iter()
                .map(|l| (l.record, l))
                .collect();
            for l in work.links.values().filter(mine) {
                links.insert(l.record, l.clone());
            }
            for p in links.values().flat_map(|l| l.parked.values()) {
                *counts.entry(p.reason.clone()).or_default() += 1;
            }
            return Ok(counts);
        }
        counts = w.parked.clone();
        for l in work.links.values().filter(mine) {
            if let Some(old) = self.hub.link(&l.site, &l.connector, &l.issue_id)? {
                for p in old.parked.values() {
                    if let Some(n) = counts.get_mut(&p.reason) {
                        *n = n.saturating_sub(1);
                    }
                }
            }
            for p in l.parked.values() {
                *counts.entry(p.reason.clone()).or_default() += 1;
            }
        }
        counts.retain(|_, n| *n > 0);
        Ok(counts)
    }
}

/// What became of each record a push looked at, told from how the run's counts moved
/// while it was at that record.
#[derive(Default)]
struct Outcomes {
    current: Option<(RecordId, [usize; 2])>,
    /// Records the push got to.
    reached: BTreeSet<RecordId>,
    /// Records it wrote something for.
    wrote: BTreeSet<RecordId>,
}

impl Outcomes {
    /// Writes made and things left waiting (failed, deferred, parked) so far.
    fn counts(report: &Report, creates: usize) -> [usize; 2] {
        [
            report.created
                + creates
                + report.updated
                + report.transitioned
                + report.commented
                + report.files
                + report.deleted.len(),
            report.failed.len() + report.deferred + report.waiting + report.parked.len(),
        ]
    }

    /// Settles the record looked at before (into the retry set when something waits on
    /// it) and starts on `next`.
    fn next(&mut self, next: RecordId, report: &Report, creates: usize, work: &mut Work) {
        let now = Self::counts(report, creates);
        if let Some((id, before)) = self.current.take() {
            if now[0] > before[0] {
                self.wrote.insert(id);
            }
            // Something waits on it, or the run was stopped while at it.
            if now[1] > before[1] || work.cancel.is_cancelled() {
                work.retry.insert(id);
            }
        }
        if next != 0 && !work.cancel.is_cancelled() {
            self.reached.insert(next);
            self.current = Some((next, now));
        }
    }
}
