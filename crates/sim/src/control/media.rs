//! The control API's attachments: a file attached to an issue as a person would (its
//! media id is what rich text names it by), and the files an issue has.

use serde::Serialize;

use super::{Control, ControlError, issue_ref};

/// A file attached to an issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttachmentInfo {
    pub id: String,
    /// The Media Services id a `media` node names it by.
    pub media_id: String,
    pub filename: String,
    pub size: u64,
    /// The file (in-process only).
    #[serde(skip)]
    pub content: Vec<u8>,
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
        // Deterministic content of the given size.
        let content: Vec<u8> = (0..size)
            .map(|n| (n % 251) as u8 ^ filename.len() as u8)
            .collect();
        self.attach_bytes(site, issue, filename, content)
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
                    content: a.content.clone(),
                })
                .collect())
        })
    }

    /// A person removes the file named `filename` from `issue`.
    pub fn detach(&self, site: &str, issue: &str, filename: &str) -> Result<(), ControlError> {
        let now = self.world.clock().now();
        self.with_site(site, |s| {
            let id = issue_ref(s, issue)?;
            let found = s.issues()[&id]
                .attachments
                .iter()
                .any(|a| a.filename == filename);
            if !found {
                return Err(ControlError::NotFound(format!(
                    "no file `{filename}` on {issue}"
                )));
            }
            let who = s.accounts.keys().next().cloned().unwrap_or_default();
            s.write_issue(id, now, |i| {
                crate::media::remove(i, |a| a.filename == filename, &who, now);
            });
            Ok(())
        })
    }

    /// A person attaches `content` as `filename` to `issue` (the given bytes).
    pub fn attach_bytes(
        &self,
        site: &str,
        issue: &str,
        filename: &str,
        content: Vec<u8>,
    ) -> Result<AttachmentInfo, ControlError> {
        let now = self.world.clock().now();
        self.with_site(site, |s| {
            let id = issue_ref(s, issue)?;
            let who = s.accounts.keys().next().cloned().unwrap_or_default();
            let a = s.new_attachment(filename, content, &who, now);
            let info = AttachmentInfo {
                id: a.id.to_string(),
                media_id: a.media_id.clone(),
                filename: a.filename.clone(),
                size: a.size,
                content: a.content.clone(),
            };
            s.write_issue(id, now, |i| crate::media::add(i, a, &who, now));
            Ok(info)
        })
    }
}
