//! Comments in step: read in full, with their audience; edits and deletions follow them;
//! a comment is never readable by more people on a mirror than on its source (reference
//! jira-cloud-api.md section 11.9).
//!
//! Each link keeps, per Jira comment, two fingerprints of its body and audience: as Jira
//! last showed it on that issue, and as the hub held it then. A read that differs from the
//! first is an edit made in Jira; a hub comment that differs from the second is an edit
//! that issue has not had yet. Two, because Jira may store a body a little differently
//! from how it was sent, and that difference must never read as an edit.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use jira_sync_client::ClientError;
use jira_sync_config::{CommentAudience, Connector, ConnectorRef};
use jira_sync_store::hub::{HubComment, IntentKind, Link, Record};
use serde_json::{Value, json};

use super::changes::jira_words;
use super::{Engine, EngineError, PROPERTY, Report, SiteCtx, Work, jira_time};
use crate::plan::{FieldRefusal, Refusal, fnv1a};
use crate::rich::{self, Sources};

/// The property that makes a comment a service-desk internal note.
const INTERNAL: &str = "sd.public.comment";

/// A Jira comment's audience as the hub keeps it: its restriction by name
/// (`{"type","value"}`; a group's id differs between sites) and whether it is an internal
/// note (`jsdPublic: false`, or the `sd.public.comment` property read with it).
pub(super) fn audience(c: &Value) -> (Option<Value>, bool) {
    let v = &c["visibility"];
    let visibility = v["type"].as_str().map(|t| {
        let name = v["value"].as_str().or_else(|| v["identifier"].as_str());
        json!({ "type": t, "value": name })
    });
    let internal = c["jsdPublic"] == false
        || c["properties"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["key"] == INTERNAL && p["value"]["internal"] == true);
    (visibility, internal)
}

/// The fingerprint of a body and its restriction.
fn print(body: &Value, visibility: &Option<Value>) -> u64 {
    fnv1a(json!([body, visibility]).to_string().as_bytes())
}

fn hub_print(c: &HubComment) -> u64 {
    print(&c.body, &c.visibility)
}

/// A hub comment read from Jira comment `c` of `me`'s issue.
pub(super) fn hub_comment(me: &ConnectorRef, c: &Value) -> HubComment {
    let cid = c["id"].as_str().unwrap_or_default();
    let (visibility, internal) = audience(c);
    HubComment {
        id: format!("{}/{}/{cid}", me.site, me.connector),
        body: rich::tag(&c["body"], &me.site),
        author: c["author"]["displayName"]
            .as_str()
            .unwrap_or("someone")
            .to_owned(),
        created: c["created"]
            .as_str()
            .and_then(jira_time)
            .unwrap_or_else(Utc::now),
        origin: Some((me.site.clone(), me.connector.clone(), cid.to_owned())),
        visibility,
        internal,
        edited: None,
        deleted: None,
    }
}

/// Merges the comments of one issue as read (`list`, every comment the account may read
/// when `complete`): new ones join the record, edits made in Jira replace the hub's text
/// unless the hub holds a later edit, and a comment gone from its source issue is marked
/// deleted so its mirrors follow. A mirror's copy deleted on its own issue is not added
/// again; the source keeps its comment.
pub(super) fn merge_comments(
    me: &ConnectorRef,
    record: &mut Record,
    link: &mut Link,
    list: &[Value],
    complete: bool,
    now: DateTime<Utc>,
    sources: &Sources,
) {
    let mut present = BTreeSet::new();
    let copies = record.media_copies();
    for c in list {
        let cid = c["id"].as_str().unwrap_or_default().to_owned();
        if cid.is_empty() {
            continue;
        }
        present.insert(cid.clone());
        let (visibility, internal) = audience(c);
        let read = print(&c["body"], &visibility);
        let hub_id = link
            .comments
            .iter()
            .find(|(_, j)| **j == cid)
            .map(|(h, _)| h.clone());
        let Some(hub_id) = hub_id else {
            let hc = hub_comment(me, c);
            link.comment_seen
                .insert(cid.clone(), [read, hub_print(&hc)]);
            link.comments.insert(hc.id.clone(), cid);
            record.comments.push(hc);
            continue;
        };
        let Some(hc) = record.comments.iter_mut().find(|h| h.id == hub_id) else {
            continue;
        };
        match link.comment_seen.get(&cid) {
            // Known before fingerprints were kept (an upgrade, a rebuilt store): this issue
            // shows this reading; if the hub holds other text, the push edits it once.
            None => {
                link.comment_seen.insert(cid, [read, read]);
            }
            Some([seen, _]) if *seen == read => {}
            Some(_) => {
                // Edited in Jira since last synced here: the later edit wins.
                let at = c["updated"].as_str().and_then(jira_time).unwrap_or(now);
                if hc.deleted.is_none() && hc.edited.is_none_or(|e| at >= e) {
                    // Other sites' media come back from their placeholders, never dropped.
                    let body = rich::tag(&c["body"], &me.site);
                    hc.body = rich::to_hub_with(&body, &me.site, &[&hc.body], sources, &copies);
                    hc.visibility = visibility;
                    hc.internal = internal;
                    hc.edited = Some(at);
                    link.comment_seen.insert(cid, [read, hub_print(hc)]);
                } else {
                    // The hub holds a later edit: this issue has this reading, not the hub's,
                    // so the push edits it, never dropping the files this site added.
                    let shown = rich::tag(&c["body"], &me.site);
                    hc.body = rich::keep_own(&hc.body, &shown, &me.site);
                    link.comment_seen.insert(cid, [read, read]);
                }
            }
        }
    }
    if !complete {
        return;
    }
    for (hub_id, cid) in &link.comments {
        if present.contains(cid) || link.comment_seen.remove(cid).is_none() {
            continue;
        }
        let from_here =
            |o: &(String, String, String)| o.0 == me.site && o.1 == me.connector && o.2 == *cid;
        if let Some(hc) = record
            .comments
            .iter_mut()
            .find(|h| h.id == *hub_id && h.origin.as_ref().is_some_and(from_here))
        {
            // Deleted (or hidden from the integration) on its source.
            hc.deleted.get_or_insert(now);
        }
    }
}

impl Engine {
    /// Reads the rest of an issue's comments when the embedded list is shorter than its
    /// `total` (search embeds at most 20): every comment, paged from `getComments`.
    pub(super) async fn all_comments(
        &self,
        ctx: &SiteCtx,
        issue: &mut Value,
    ) -> Result<(), EngineError> {
        let embedded = &issue["fields"]["comment"];
        let shown = embedded["comments"].as_array().map_or(0, Vec::len);
        let total = embedded["total"].as_u64().unwrap_or(0) as usize;
        if total <= shown && embedded["startAt"].as_u64().unwrap_or(0) == 0 {
            return Ok(());
        }
        let key = issue["key"].as_str().unwrap_or_default().to_owned();
        let all = ctx.client.comments(&key).await?;
        issue["fields"]["comment"]["comments"] = serde_json::to_value(all).unwrap_or_default();
        issue["fields"]["comment"]["total"] = json!(total.max(shown));
        Ok(())
    }

    /// Brings hub comment `id` in step on `link`'s issue: adds it (with its restriction),
    /// edits it, or deletes it (deleted on its source, or its audience narrowed past what
    /// this connector may write). A restricted comment is written only where the connector
    /// says `comments = "all"`, with the same restriction; where the target lacks the role
    /// or group it is parked (`audience_unavailable`), never widened.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn push_comment(
        &self,
        me: &ConnectorRef,
        conn: &Connector,
        ctx: &SiteCtx,
        record: &Record,
        link: &mut Link,
        id: &str,
        work: &mut Work,
        report: &mut Report,
    ) -> Result<(), EngineError> {
        let Some(c) = record.comments.iter().find(|c| c.id == id) else {
            return Ok(());
        };
        let key = link.issue_key.clone();
        let from_here = c
            .origin
            .as_ref()
            .is_some_and(|(s, conn_name, _)| *s == me.site && *conn_name == me.connector);
        let allowed = conn.comments == CommentAudience::All || !c.restricted();
        let Some(cid) = link.comments.get(id).cloned() else {
            if from_here || c.deleted.is_some() {
                return Ok(());
            }
            if !allowed {
                // Not written here by configuration: counted, not parked (a refusal parked
                // under `comments = "all"` no longer applies).
                report.comments_restricted += 1;
                link.parked.remove(&parked_key(id));
                return Ok(());
            }
            let slot = parked_key(id);
            if let Some(p) = link.parked.get(&slot)
                && p.fingerprint == hub_print(c)
                && p.updated == link.updated
                && (self.now)() - p.at < super::changes::PARKED_RETRY
            {
                report.waiting += 1;
                return Ok(());
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
            let mut props = vec![(
                PROPERTY.into(),
                json!({ "record": record.id, "comment": c.id }),
            )];
            if c.internal {
                props.push((INTERNAL.into(), json!({ "internal": true })));
            }
            let body = self.rich_for(me, ctx, record.id, work, &c.body).await?;
            let sent = ctx
                .client
                .add_comment(&key, body, c.visibility.clone(), props)
                .await;
            // An answer lost on the way leaves the intent pending: the next pull finds the
            // comment by its marker instead of adding it twice.
            if matches!(sent, Ok(_) | Err(ClientError::Invalid { .. })) {
                work.done.push(intent);
            }
            match sent {
                Ok(added) => {
                    report.commented += 1;
                    let read = print(&added.body, &audience(&json!(added)).0);
                    link.comment_seen
                        .insert(added.id.clone(), [read, hub_print(c)]);
                    link.comments.insert(c.id.clone(), added.id);
                    link.parked.remove(&slot);
                }
                Err(ClientError::Invalid {
                    errors, messages, ..
                }) if c.restricted() => {
                    let message = jira_words(&errors, messages);
                    let r = FieldRefusal {
                        field: slot,
                        reason: Refusal::AudienceUnavailable,
                        message: format!(
                            "a comment restricted to {} was not written (it is never widened): {message}",
                            c.visibility
                                .as_ref()
                                .map_or("internal notes".to_owned(), |v| format!(
                                    "{} `{}`",
                                    v["type"].as_str().unwrap_or("role"),
                                    v["value"].as_str().unwrap_or_default()
                                ))
                        ),
                    };
                    self.park_comment(me, conn, record, link, r, c, report);
                }
                Err(e) => return Err(e.into()),
            }
            return Ok(());
        };
        // On its own source a comment is never deleted or hidden by jira-sync; an edit made on
        // a copy still reaches it (the source already has it for its audience).
        if from_here && c.deleted.is_some() {
            return Ok(());
        }
        if !from_here && (c.deleted.is_some() || !allowed) {
            // Deleted on its source, or no longer readable by everyone there: the copy
            // here goes (a comment made public again is added anew).
            remove_copy(ctx, link, id, &cid, report).await?;
            if !allowed {
                report.comments_restricted += 1;
            }
            return Ok(());
        }
        let Some([shown, synced]) = link.comment_seen.get(&cid).copied() else {
            // Deleted here by a person (or known before fingerprints): left alone.
            return Ok(());
        };
        if synced == hub_print(c) {
            return Ok(());
        }
        let body = self.rich_for(me, ctx, record.id, work, &c.body).await?;
        if print(&body, &c.visibility) == shown {
            // This issue already shows it so (a rebuilt store, a copy written in the form
            // the hub now reads): nothing to send.
            link.comment_seen.insert(cid, [shown, hub_print(c)]);
            return Ok(());
        }
        match ctx
            .client
            .edit_comment(&key, &cid, body, c.visibility.clone())
            .await
        {
            Ok(edited) => {
                report.commented += 1;
                let read = print(&edited.body, &audience(&json!(edited)).0);
                link.comment_seen.insert(cid, [read, hub_print(c)]);
            }
            Err(ClientError::NotFound { .. }) => {
                link.comment_seen.remove(&cid);
            }
            Err(ClientError::Invalid {
                errors, messages, ..
            }) => {
                let message = jira_words(&errors, messages);
                if c.restricted() && !from_here {
                    // Narrowed on its source to an audience this site cannot give: the copy,
                    // readable more widely, goes, and the comment waits as a refused add.
                    remove_copy(ctx, link, id, &cid, report).await?;
                    let r = FieldRefusal {
                        field: parked_key(id),
                        reason: Refusal::AudienceUnavailable,
                        message: format!(
                            "a comment restricted on its source was removed here, as this site cannot restrict it the same way (it is never widened): {message}"
                        ),
                    };
                    self.park_comment(me, conn, record, link, r, c, report);
                    return Ok(());
                }
                let r = FieldRefusal {
                    field: parked_key(id),
                    reason: if c.restricted() {
                        Refusal::AudienceUnavailable
                    } else {
                        Refusal::Refused
                    },
                    message: format!("the edit of a comment was refused: {message}"),
                };
                self.park_comment(me, conn, record, link, r, c, report);
                // Not sent again until the hub's comment changes.
                link.comment_seen.insert(cid, [synced, hub_print(c)]);
            }
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }
}

impl Engine {
    /// Parks a refused comment on `link`, waiting until the comment itself changes (its
    /// text or audience), the issue changes, or a day passes.
    #[allow(clippy::too_many_arguments)]
    fn park_comment(
        &self,
        me: &ConnectorRef,
        conn: &Connector,
        record: &Record,
        link: &mut Link,
        r: FieldRefusal,
        c: &HubComment,
        report: &mut Report,
    ) {
        let slot = r.field.clone();
        self.park_field(me, conn, record, link, r, (self.now)(), report);
        if let Some(p) = link.parked.get_mut(&slot) {
            p.fingerprint = hub_print(c);
        }
    }
}

/// Deletes the copy `cid` of hub comment `id` from `link`'s issue and forgets it there (a
/// comment that may be written there again is added anew).
async fn remove_copy(
    ctx: &SiteCtx,
    link: &mut Link,
    id: &str,
    cid: &str,
    report: &mut Report,
) -> Result<(), EngineError> {
    ctx.client.delete_comment(&link.issue_key, cid).await?;
    report.commented += 1;
    link.comments.remove(id);
    link.comment_seen.remove(cid);
    Ok(())
}

/// Where a refused comment is parked on its link: beside the fields, under its own name.
fn parked_key(hub_id: &str) -> String {
    format!("comment {hub_id}")
}

/// The hub comments to bring in step on `link` (to add, edit or delete), in order.
pub(super) fn pending_comments(
    me: &ConnectorRef,
    conn: &Connector,
    record: &Record,
    link: &Link,
) -> Vec<String> {
    record
        .comments
        .iter()
        .filter(|c| {
            let from_here = c
                .origin
                .as_ref()
                .is_some_and(|(s, conn_name, _)| *s == me.site && *conn_name == me.connector);
            let allowed = conn.comments == CommentAudience::All || !c.restricted();
            match link.comments.get(&c.id) {
                None => !from_here && c.deleted.is_none(),
                Some(cid) => {
                    ((c.deleted.is_some() || !allowed) && !from_here)
                        || link
                            .comment_seen
                            .get(cid)
                            .is_some_and(|[_, synced]| *synced != hub_print(c))
                }
            }
        })
        .map(|c| c.id.clone())
        .collect()
}
