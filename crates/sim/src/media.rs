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
