//! A site's media store: the files attached to its issues, each known to rich text by a
//! Media Services id (a UUID, not the numeric attachment id). Rewriting a body without a
//! file's node deletes that attachment, as Jira Cloud does, with no restore (reference
//! jira-cloud-api.md section 11.10).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::model::Issue;

/// A file attached to an issue.
#[derive(Debug, Clone)]
pub struct Attachment {
    /// The REST attachment id (numeric, per site).
    pub id: u64,
    /// The Media Services id rich text names it by (`media.attrs.id`).
    pub media_id: String,
    pub filename: String,
    /// Bytes.
    pub size: u64,
    pub created: DateTime<Utc>,
    /// The file.
    pub content: Vec<u8>,
    pub mime_type: String,
    /// Who attached it (account id).
    pub author: String,
}

impl crate::model::Site {
    /// A new file of this site (not yet on an issue): the next attachment id and a media id
    /// of this site (UUID-shaped, different on every site, as Media Services ids are).
    pub fn new_attachment(
        &mut self,
        filename: &str,
        content: Vec<u8>,
        author: &str,
        now: DateTime<Utc>,
    ) -> Attachment {
        // Ids are never reused, as Jira's are not.
        self.next_attachment_id += 1;
        let id = self.next_attachment_id;
        let tag: u32 = self
            .name
            .bytes()
            .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(b.into()));
        let lower = filename.to_ascii_lowercase();
        let mime_type = match lower.rsplit('.').next() {
            Some("png") => "image/png",
            Some("jpg" | "jpeg") => "image/jpeg",
            Some("txt" | "log") => "text/plain",
            Some("pdf") => "application/pdf",
            _ => "application/octet-stream",
        };
        Attachment {
            id,
            media_id: format!("{tag:08x}-0000-4000-8000-{id:012x}"),
            filename: filename.to_owned(),
            size: content.len() as u64,
            created: now,
            content,
            mime_type: mime_type.to_owned(),
            author: author.to_owned(),
        }
    }
}

/// The media ids that `media` and `mediaInline` nodes of `doc` name.
fn refs_in(doc: &Value, out: &mut BTreeSet<String>) {
    if matches!(doc["type"].as_str(), Some("media" | "mediaInline"))
        && let Some(id) = doc["attrs"]["id"].as_str()
    {
        out.insert(id.to_owned());
    }
    for child in doc["content"].as_array().into_iter().flatten() {
        refs_in(child, out);
    }
}

/// The media ids the bodies of `issue` name: its description, paragraph fields and
/// comments.
pub fn refs(issue: &Issue) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if let Some(d) = &issue.description {
        refs_in(d, &mut out);
    }
    for v in issue.custom.values() {
        refs_in(v, &mut out);
    }
    for c in &issue.comments {
        refs_in(&c.body, &mut out);
    }
    out
}

/// After a write: each attachment whose node a body held (`before`) and no body holds now
/// is deleted from the issue.
pub fn drop_unreferenced(before: &BTreeSet<String>, issue: &mut Issue) {
    if before.is_empty() || issue.attachments.is_empty() {
        return;
    }
    let now = refs(issue);
    issue
        .attachments
        .retain(|a| !before.contains(&a.media_id) || now.contains(&a.media_id));
}

/// Attaches `a` to `issue` as `who`: the issue's `updated` moves and its history records
/// the file, as Jira's changelog does (field `Attachment`).
pub fn add(issue: &mut Issue, a: Attachment, who: &str, now: DateTime<Utc>) {
    let t = crate::write::bump(issue, now);
    issue.history.push(crate::model::History {
        author: who.to_owned(),
        created: t,
        items: vec![("Attachment".into(), None, Some(a.filename.clone()))],
    });
    issue.attachments.push(a);
}

/// Removes the attachments `which` selects from `issue` as `who` (`updated` moves, the
/// history records each).
pub fn remove(
    issue: &mut Issue,
    which: impl Fn(&Attachment) -> bool,
    who: &str,
    now: DateTime<Utc>,
) {
    let gone: Vec<String> = issue
        .attachments
        .iter()
        .filter(|a| which(a))
        .map(|a| a.filename.clone())
        .collect();
    if gone.is_empty() {
        return;
    }
    issue.attachments.retain(|a| !which(a));
    let t = crate::write::bump(issue, now);
    issue.history.push(crate::model::History {
        author: who.to_owned(),
        created: t,
        items: gone
            .into_iter()
            .map(|f| ("Attachment".to_owned(), Some(f), None))
            .collect(),
    });
}
