//! Writes to one linked issue: the edit within its edit screen, the assignee, the parent,
//! the status (`status.rs`), comments (`comments.rs`); and what Jira refuses, parked per field
//! on the link (`../shared/DESIGN.md`, "The sync algorithm"; the decisions are the pure
//! functions of `crate::plan`).

use std::collections::BTreeMap;

use chrono::Duration;
use jira_sync_client::ClientError;
use jira_sync_config::{Connector, ConnectorRef};
use jira_sync_store::hub::{HubComment, IntentKind, Link, ParkedField, Record};
use serde_json::{Value, json};

use super::comments::pending_comments;
use super::{Engine, EngineError, PROPERTY, Report, SiteCtx, Work};
use crate::mapping::{PEOPLE, picker_shape, sent_fields, to_jira};
use crate::plan::{FieldRefusal, Refusal, Write, WriteInput, fnv1a, plan_writes, refused_fields};

impl Engine {
    /// Edits, a transition and new comments for a linked issue; the link's base follows.
    ///
    /// A refusal is scoped to what Jira refused: a field named in the 400's `errors` is
    /// parked alone on this link (see [`ParkedField`]) and the rest of the edit is sent
    /// without it; a transition that cannot be taken parks the status alone; comments go
    /// out whatever was refused. The writes and their order are [`plan_writes`]'s: the
    /// transition first from a status whose issues cannot be edited; otherwise the edit
    /// first, and what the current status refuses ("not on the appropriate screen") again
    /// after the transition.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn push_changes(
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
        // Files first: rich text written below can then show their copies.
        if conn.attachments && !record.attachments.is_empty() {
            let before = report.files;
            self.push_attachments(me, conn, ctx, record, link, work, report)
                .await?;
            if report.files > before {
                written.push(link.issue_id.clone());
            }
            self.in_step_rich_text(record, link, work)?;
        }
        let mut edit = serde_json::Map::new();
        let mut edited = Vec::new();
        let mut assign_to: Option<Value> = None;
        for name in fields {
            // A field the hub has never held (mapped since, or never shown by its source) is
            // unknown, not empty: nothing to write.
            let Some(h) = record.fields.get(name).cloned() else {
                continue;
            };
            if h.is_null() && !link.base.contains_key(name) {
                // Nothing to clear in a field never seen on this issue (hidden from the
                // integration, it may hold a value): empty is never written there.
                continue;
            }
            if link.base.get(name) == Some(&h)
                && !(conn.attachments
                    && self
                        .shown_anew(me, ctx, record, link, name, &h, work)
                        .await?)
            {
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
                let (v, print) = self.rich_write(me, ctx, record.id, work, v).await?;
                if let Some(print) = print {
                    link.written.insert(name.clone(), print);
                }
                edit.insert(k, v);
                edited.push(name.clone());
            } else if let Some(shape) = picker_shape(conn, &ctx.field_types, name) {
                match self.picker(me, ctx, shape, &h).await? {
                    Ok(v) => {
                        edit.insert(conn.fields[name].clone(), v);
                        edited.push(name.clone());
                    }
                    Err(message) => {
                        let r = FieldRefusal {
                            field: name.clone(),
                            reason: Refusal::ValueNotAllowed,
                            message,
                        };
                        self.park_field(me, conn, record, link, r, now, report);
                    }
                }
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
                    // Its parent's issue comes first: looked at again next run.
                    ParentOn::Pending => report.deferred += 1,
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
        let comments = pending_comments(me, conn, record, link);
        let status_to = match record
            .fields
            .get("status")
            .and_then(Value::as_str)
            .filter(|h| link.base.get("status").and_then(Value::as_str) != Some(*h))
        {
            Some(h)
                if link.parked.get("status").is_some_and(|p| {
                    still_parked(p, field_fingerprint(conn, "status", &json!(h)), link, now)
                }) =>
            {
                report.waiting += 1;
                None
            }
            other => other.map(str::to_owned),
        };
        // The edit screen as the issue is now, when there is an edit to hold against it. A
        // parked field tried again is checked against the screen as it is now.
        let screen = if edit.is_empty() {
            None
        } else {
            if edited.iter().any(|n| link.parked.contains_key(n)) {
                self.forget_edit_screens(me, conn);
            }
            match self.edit_screen(me, conn, ctx, link).await {
                Ok(screen) => Some(screen),
                Err(EngineError::Client(e)) if e.is_credential() => return Err(e.into()),
                Err(e) => {
                    tracing::debug!(site = %me.site, connector = %me.connector, issue = %key, error = %e, "No edit metadata; Jira's answer to the edit decides.");
                    None
                }
            }
        };
        let plan = plan_writes(&WriteInput {
            edit: &edit,
            fields_of: &sent_ids,
            assign: assign_to.is_some(),
            status: status_to.as_deref(),
            screen: screen.as_ref(),
            project: &conn.project,
            comments: &comments,
        });
        self.park_refused(me, conn, record, link, plan.refused, report);
        // Fields to send once the transition has landed, with what parks them if it does not.
        let mut late = plan.deferred;
        for w in plan.writes {
            match w {
                Write::Assign => {
                    if let Some(v) = &assign_to {
                        self.push_assignee(me, conn, ctx, record, link, v, work, report, written)
                            .await?;
                    }
                }
                Write::Edit(fields) => {
                    let refused = self
                        .edit_fields(
                            me, conn, ctx, record, link, &sent_ids, &edit, &fields, work, report,
                            written,
                        )
                        .await?;
                    // What the current status refuses as off its screen goes again after the
                    // transition, when one follows.
                    let retry = status_to.is_some()
                        && !refused.is_empty()
                        && refused
                            .iter()
                            .all(|r| r.reason == Refusal::FieldNotOnScreen);
                    if retry {
                        late.extend(refused);
                    } else {
                        self.park_refused(me, conn, record, link, refused, report);
                    }
                }
                Write::Transition(hub_status) => {
                    self.push_status(
                        me,
                        conn,
                        ctx,
                        record,
                        link,
                        &hub_status,
                        work,
                        report,
                        written,
                    )
                    .await?;
                }
                Write::EditAfterTransition(_) => {
                    let late = std::mem::take(&mut late);
                    let moved = link.base.get("status") == record.fields.get("status");
                    let refused = if moved && !late.is_empty() {
                        let fields: Vec<String> = late.iter().map(|r| r.field.clone()).collect();
                        self.edit_fields(
                            me, conn, ctx, record, link, &sent_ids, &edit, &fields, work, report,
                            written,
                        )
                        .await?
                    } else {
                        late
                    };
                    self.park_refused(me, conn, record, link, refused, report);
                }
                Write::Comment(id) => {
                    self.push_comment(me, conn, ctx, record, link, &id, work, report)
                        .await?;
                }
            }
        }
        keep_link(work, record, link);
        Ok(())
    }

    /// Sends the edit of hub `fields` (their values in `edit`, by Jira field id) and records
    /// what landed; returns what Jira refused, field by field.
    #[allow(clippy::too_many_arguments)]
    async fn edit_fields(
        &self,
        me: &ConnectorRef,
        conn: &Connector,
        ctx: &SiteCtx,
        record: &Record,
        link: &mut Link,
        sent_ids: &BTreeMap<String, String>,
        edit: &serde_json::Map<String, Value>,
        fields: &[String],
        work: &mut Work,
        report: &mut Report,
        written: &mut Vec<String>,
    ) -> Result<Vec<FieldRefusal>, EngineError> {
        let mut part: serde_json::Map<String, Value> = edit
            .iter()
            .filter(|(id, _)| {
                let hub = sent_ids.get(*id).unwrap_or(id);
                fields.contains(hub)
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut edited: Vec<String> = fields.to_vec();
        if part.is_empty() {
            return Ok(Vec::new());
        }
        let intent = self
            .intent(
                me,
                record.id,
                IntentKind::Edit {
                    fields: edited.clone(),
                },
            )
            .await?;
        let refused = self
            .send_edit(
                me,
                ctx,
                &link.issue_key.clone(),
                sent_ids,
                &mut part,
                &mut edited,
                report,
            )
            .await?;
        if !refused.is_empty() {
            // The screen said otherwise: read it again next time.
            self.forget_edit_screens(me, conn);
        }
        landed(record, link, &edited, report, written);
        work.done.push(intent);
        Ok(refused)
    }

    /// Parks each refused field; a person field the screen lacks is left unset for the
    /// connector instead, as Jira's own refusal of it would leave it.
    fn park_refused(
        &self,
        me: &ConnectorRef,
        conn: &Connector,
        record: &Record,
        link: &mut Link,
        refused: Vec<FieldRefusal>,
        report: &mut Report,
    ) {
        let now = (self.now)();
        for r in refused {
            if r.reason == Refusal::FieldNotOnScreen && PEOPLE.contains(&r.field.as_str()) {
                self.refuse_person(me, &r.field, &r.message);
                report.unmapped_people += 1;
            } else {
                self.park_field(me, conn, record, link, r, now, report);
            }
        }
    }

    /// Where the record's parent is on this connector's site. A parent is kept in the hub
    /// as its record (`{"record": N}`), or, read before its record was known, as the issue of
    /// the site it was read on (`{"site", "id", "key"}`).
    pub(super) fn parent_on(
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
    pub(super) async fn push_assignee(
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
    pub(super) async fn send_edit(
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

    /// Parks one field of `link`: reported now, sent again when [`still_parked`] says so.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn park_field(
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
        tracing::warn!(site = %me.site, connector = %me.connector, issue = %link.issue_key, field = %r.field, reason = r.reason.as_str(), detail = %r.message, "Field refused; parked alone while the rest of the record syncs.");
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

/// How long a parked field waits at most before it is tried again (Jira's configuration may
/// have changed: a priority added to the scheme, a field put on the screen).
pub(super) const PARKED_RETRY: Duration = Duration::days(1);

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
pub(super) enum ParentOn {
    /// No parent.
    None,
    /// The parent's issue there.
    Key(String),
    /// The parent is mirrored, but its issue there does not exist yet: the child waits.
    Pending,
    /// The parent is not mirrored there: why.
    Unmapped(String),
}

/// Keeps `link` (and its record) for this run's commit.
pub(super) fn keep_link(work: &mut Work, record: &Record, link: &Link) {
    work.links.insert(record.id, link.clone());
    work.records
        .entry(record.id)
        .or_insert_with(|| record.clone());
}

/// Jira's messages of a 400 (per-field ones first), as one text for operators.
pub(super) fn jira_words(errors: &[(String, String)], messages: Vec<String>) -> String {
    errors
        .iter()
        .map(|(_, m)| m.clone())
        .chain(messages)
        .collect::<Vec<_>>()
        .join("; ")
}
