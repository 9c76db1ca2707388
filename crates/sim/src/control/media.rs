//! The control API's attachments: a file attached to an issue as a person would (its
//! media id is what rich text names it by), and the files an issue has.

use serde::Serialize;

use super::{Control, ControlError, issue_ref};
use crate::media::Attachment;

/// A file attached to an issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttachmentInfo {
    pub id: String,
    /// The Media Services id a `media` node names it by.
    pub media_id: String,
    pub filename: String,
    pub size: u64,
}

impl Control {
    /// Attaches a file of `size` bytes named `filename` to `issue`; its media id, for a
    /// `media` node of a description or comment.
    pub fn attach(
        &self,
        site: &str,
        issue: &str,
        filename: &str,
        size: u64,
    ) -> Result<AttachmentInfo, ControlError> {
        let now = self.world.clock().now();
        self.with_site(site, |s| {
            let id = issue_ref(s, issue)?;
            let next = s
                .issues()
                .values()
                .flat_map(|i| i.attachments.iter().map(|a| a.id))
                .max()
                .unwrap_or(10_000)
                + 1;
            // A UUID-shaped id that differs between sites, as Media Services ids do.
            let tag: u32 = s
                .name
                .bytes()
                .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(b.into()));
            let media_id = format!("{tag:08x}-0000-4000-8000-{next:012x}");
            let a = Attachment {
                id: next,
                media_id: media_id.clone(),
                filename: filename.to_owned(),
                size,
                created: now,
            };
            s.write_issue(id, now, |i| i.attachments.push(a));
            Ok(AttachmentInfo {
                id: next.to_string(),
                media_id,
                filename: filename.to_owned(),
                size,
            })
        })
    }

    /// The files attached to `issue`, oldest first.
    pub fn attachments(
        &self,
        site: &str,
        issue: &str,
    ) -> Result<Vec<AttachmentInfo>, ControlError> {
        self.with_site(site, |s| {
            let id = issue_ref(s, issue)?;
            Ok(s.issues()[&id]
                .attachments
                .iter()
                .map(|a| AttachmentInfo {
                    id: a.id.to_string(),
                    media_id: a.media_id.clone(),
                    filename: a.filename.clone(),
                    size: a.size,
                })
                .collect())
        })
    }
}
