//! Files in step (`attachments = true`): read from each issue's `attachment` field into the
//! record, copied to the mirrors (downloaded from the source, uploaded to the target,
//! matched by name, size and SHA-256 so none is uploaded twice), removed from the mirrors
//! when removed from the source, and never larger than `max_attachment_size` (reference
//! jira-cloud-api.md section 11.10).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use jira_sync_client::{Attachment, ClientError, upload_name};
use jira_sync_config::{Connector, ConnectorRef};
use jira_sync_store::hub::{HubAttachment, Link, Record};
use serde_json::Value;

use super::changes::PARKED_RETRY;
use super::{Engine, EngineError, Report, SiteCtx, Work};
use crate::plan::{FieldRefusal, Refusal};

/// The fingerprint of a file parked for its size: cleared as soon as the size is allowed.
const TOO_LARGE: u64 = 1;

/// Whether a file named `name` here is the copy of a file named `source` (uploaded under
/// [`upload_name`]).
fn same_name(name: &str, source: &str) -> bool {
    name == source || name == upload_name(source)
}

/// Forgets what `link`'s issue shows of its rich text: a copy it may show is gone, so each
/// body is written again (with a placeholder where the copy was), never left naming it.
fn forget_shown(link: &mut Link) {
    let rich: Vec<String> = link
        .base
        .iter()
        .filter(|(_, v)| crate::rich::is_doc(v))
        .map(|(f, _)| f.clone())
        .collect();
    for f in rich {
        link.base.remove(&f);
        link.written.remove(&f);
    }
}

/// Where a file that could not be copied is parked on its link.
fn parked_key(hub_id: &str) -> String {
    format!("attachment {hub_id}")
}

/// SHA-256 of `bytes`, hex.
fn sha256(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Merges the files of one issue as read (`field`, its `attachment` field; absent: not
/// read, nothing changes): new files join the record; a file gone from its source issue
/// is marked deleted so its copies go; a copy a person removed here is not copied again.
/// A new file with the name and size of a record's file this issue has no copy of yet is
/// left for the push, which compares contents (an upload whose answer was lost, or the
/// same file attached by hand, is that copy).
pub(super) fn merge_attachments(
    me: &ConnectorRef,
    conn: &Connector,
    record: &mut Record,
    link: &mut Link,
    field: Option<&Value>,
    now: DateTime<Utc>,
    adopt: bool,
) {
    let Some(list) = field.and_then(Value::as_array) else {
        return;
    };
    let files: Vec<Attachment> = list
        .iter()
        .filter_map(|a| serde_json::from_value(a.clone()).ok())
        .collect();
    let present: BTreeSet<&str> = files.iter().map(|a| a.id.as_str()).collect();
    for a in &files {
        if link.attachments.values().any(|j| *j == a.id) {
            continue;
        }
        // A file of the record this issue may hold a copy of: same name and size, not
        // linked here, and not too large to be copied here.
        let twin = record.attachments.iter().find(|h| {
            h.deleted.is_none()
                && same_name(&a.filename, &h.filename)
                && h.size == a.size
                && h.size <= conn.max_attachment_size
                && !link.attachments.contains_key(&h.id)
        });
        if let Some(h) = twin {
            if adopt {
                // A rebuilt store: the copy is known by its name and size.
                link.attachments.insert(h.id.clone(), a.id.clone());
            }
            continue;
        }
        let id = format!("{}/{}/{}", me.site, me.connector, a.id);
        record.attachments.push(HubAttachment {
            id: id.clone(),
            filename: a.filename.clone(),
            size: a.size,
            sha256: None,
            origin: (me.site.clone(), me.connector.clone(), a.id.clone()),
            deleted: None,
            media: Default::default(),
        });
        link.attachments.insert(id, a.id.clone());
    }
    let mut gone_copy = false;
    for (hub_id, jid) in link.attachments.iter_mut() {
        if jid.is_empty() || present.contains(jid.as_str()) {
            continue;
        }
        match record.attachments.iter_mut().find(|h| h.id == *hub_id) {
            Some(h) if h.origin.0 == me.site && h.origin.1 == me.connector => {
                // Removed from its source issue: its copies go too.
                h.deleted.get_or_insert(now);
            }
            // A copy removed here (by a person, or by Jira when a body stopped showing it):
            // the source keeps its file, it is not copied here again, and rich text here
            // shows its placeholder again.
            Some(h) => {
                h.media.remove(&me.site);
                jid.clear();
                gone_copy = true;
            }
            None => jid.clear(),
        }
    }
    if gone_copy {
        forget_shown(link);
    }
}

impl Engine {
    /// Brings the record's files in step on `link`'s issue: copies what it lacks, removes
    /// copies of files removed from their source. Returns whether anything was written.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn push_attachments(
        &self,
        me: &ConnectorRef,
        conn: &Connector,
        ctx: &SiteCtx,
        record: &Record,
        link: &mut Link,
        work: &mut Work,
        report: &mut Report,
    ) -> Result<(), EngineError> {
        let now = (self.now)();
        // What the issue has now, read once when a file is to be copied.
        let mut here: Option<Vec<Attachment>> = None;
        for h in &record.attachments {
            let from_here = h.origin.0 == me.site && h.origin.1 == me.connector;
            let linked = link.attachments.get(&h.id).cloned();
            if h.deleted.is_some() {
                if let Some(jid) = linked.filter(|j| !j.is_empty() && !from_here) {
                    ctx.client.delete_attachment(&jid).await?;
                    report.files += 1;
                    link.attachments.remove(&h.id);
                    forget_shown(link);
                    if let Some(x) = work
                        .records
                        .entry(record.id)
                        .or_insert_with(|| record.clone())
                        .attachments
                        .iter_mut()
                        .find(|x| x.id == h.id)
                    {
                        x.media.remove(&me.site);
                    }
                }
                continue;
            }
            if from_here || linked.is_some() {
                // Copied before its media ids were learned (an upgrade, a rebuilt store).
                self.learn_all_media(record, h, link, work).await?;
                continue;
            }
            let slot = parked_key(&h.id);
            if h.size > conn.max_attachment_size {
                report.files_too_large += 1;
                if !link.parked.contains_key(&slot) {
                    let r = FieldRefusal {
                        field: slot.clone(),
                        reason: Refusal::Refused,
                        message: format!(
                            "the file `{}` is {} bytes, more than this connector's max_attachment_size ({} bytes): not copied",
                            h.filename, h.size, conn.max_attachment_size
                        ),
                    };
                    self.park_field(me, conn, record, link, r, now, report);
                    if let Some(p) = link.parked.get_mut(&slot) {
                        p.fingerprint = TOO_LARGE;
                    }
                }
                continue;
            }
            if link
                .parked
                .get(&slot)
                .is_some_and(|p| p.fingerprint == TOO_LARGE)
            {
                // The size is allowed now (the limit was raised).
                link.parked.remove(&slot);
            }
            if link
                .parked
                .get(&slot)
                .is_some_and(|p| now - p.at < PARKED_RETRY)
            {
                report.waiting += 1;
                continue;
            }
            // The source's bytes: from the site it was attached on.
            let Ok(source) = self.site_ctx(&h.origin.0) else {
                continue;
            };
            let bytes = source.client.attachment_content(&h.origin.2).await?;
            let sum = sha256(&bytes);
            if h.sha256.as_deref() != Some(sum.as_str())
                && let Some(x) = work
                    .records
                    .entry(record.id)
                    .or_insert_with(|| record.clone())
                    .attachments
                    .iter_mut()
                    .find(|x| x.id == h.id)
            {
                x.sha256 = Some(sum.clone());
            }
            if here.is_none() {
                here = Some(ctx.client.attachments(&link.issue_key).await?);
            }
            // Already here (an upload whose answer was lost, or attached by hand): the
            // same name, size and content.
            let mut found = None;
            for a in here.iter().flatten() {
                let taken = link.attachments.values().any(|j| *j == a.id);
                if taken || !same_name(&a.filename, &h.filename) || a.size != h.size {
                    continue;
                }
                if sha256(&ctx.client.attachment_content(&a.id).await?) == sum {
                    found = Some(a.id.clone());
                    break;
                }
            }
            if let Some(jid) = found {
                link.attachments.insert(h.id.clone(), jid.clone());
                self.learn_all_media(record, h, link, work).await?;
                continue;
            }
            match ctx
                .client
                .add_attachment(&link.issue_key, &h.filename, &bytes)
                .await
            {
                Ok(added) => {
                    report.files += 1;
                    link.attachments.insert(h.id.clone(), added.id.clone());
                    link.parked.remove(&slot);
                    self.learn_all_media(record, h, link, work).await?;
                }
                Err(ClientError::Invalid {
                    status, messages, ..
                }) => {
                    // Too large for the site, or refused: parked a day, never retried every run.
                    let r = FieldRefusal {
                        field: slot,
                        reason: Refusal::Refused,
                        message: format!(
                            "the file `{}` was refused ({status}): {}",
                            h.filename,
                            messages.join(" ")
                        ),
                    };
                    self.park_field(me, conn, record, link, r, now, report);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Learns the media ids of file `h` on every site whose issue of the record holds it
    /// (its source, its copies) that are not known yet.
    async fn learn_all_media(
        &self,
        record: &Record,
        h: &HubAttachment,
        link: &Link,
        work: &mut Work,
    ) -> Result<(), EngineError> {
        let known = work
            .records
            .get(&record.id)
            .and_then(|r| r.attachments.iter().find(|x| x.id == h.id))
            .map_or_else(|| h.media.clone(), |x| x.media.clone());
        if known.contains_key(&link.site) && known.contains_key(&h.origin.0) {
            // Known here and at its source: a third site's run learns its own copy's id.
            return Ok(());
        }
        let mut holders: Vec<(String, String)> = vec![(
            link.site.clone(),
            link.attachments.get(&h.id).cloned().unwrap_or_default(),
        )];
        if h.origin.0 == link.site {
            holders[0].1 = h.origin.2.clone();
        }
        for l in self.hub.links_of(record.id)? {
            if l.site != link.site
                && let Some(j) = l.attachments.get(&h.id)
            {
                holders.push((l.site.clone(), j.clone()));
            }
        }
        let mut media = known.clone();
        for (site, jid) in holders {
            if jid.is_empty() || media.contains_key(&site) {
                continue;
            }
            let Ok(ctx) = self.site_ctx(&site) else {
                continue;
            };
            let id = ctx.client.attachment_media_id(&jid).await?;
            media.insert(site, id.unwrap_or_default());
        }
        if media != known {
            let r = work
                .records
                .entry(record.id)
                .or_insert_with(|| record.clone());
            if let Some(x) = r.attachments.iter_mut().find(|x| x.id == h.id) {
                x.media = media;
            }
        }
        Ok(())
    }
}
