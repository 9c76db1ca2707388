//! Files attached to an issue (reference jira-cloud-api.md section 11.10): listed from the
//! issue's `attachment` field, downloaded (`getAttachmentContent` with `redirect=false`),
//! uploaded (`addAttachment`, multipart, `X-Atlassian-Token: no-check`) and removed
//! (`removeAttachment`).

use jira_sync_ratelimit::retry::Idempotency;
use reqwest::Method;
use serde::Deserialize;

use crate::error::ClientError;
use crate::ops::enc;
use crate::request::{Client, Req};

/// A file attached to an issue, as `Attachment` reads: its id (per site), name and size in
/// bytes.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Attachment {
    pub id: String,
    pub filename: String,
    #[serde(default)]
    pub size: u64,
}

/// The name a file is uploaded under: quotes, backslashes and line breaks cannot be carried
/// portably in a multipart part header, so each becomes `_` (`crash "1".png` is uploaded
/// as `crash _1_.png`). A copy is matched to its source by this name too.
pub fn upload_name(filename: &str) -> String {
    filename
        .chars()
        .map(|c| {
            if matches!(c, '"' | '\r' | '\n' | '\\') {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// The `multipart/form-data` body of one file in a part named `file`, with its boundary.
fn multipart(filename: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    // A boundary that cannot occur in the file: long random-looking and checked.
    let mut n: u64 = 0x6a09_e667_f3bc_c908 ^ bytes.len() as u64;
    let boundary = loop {
        let b = format!("jira-sync-{n:016x}");
        if !bytes.windows(b.len()).any(|w| w == b.as_bytes()) {
            break b;
        }
        n = n.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    };
    let name = upload_name(filename);
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

impl Client {
    /// The files attached to issue `key` (its `attachment` field).
    pub async fn attachments(&self, key: &str) -> Result<Vec<Attachment>, ClientError> {
        #[derive(Deserialize)]
        struct Fields {
            #[serde(default)]
            attachment: Vec<Attachment>,
        }
        #[derive(Deserialize)]
        struct Issue {
            fields: Fields,
        }
        let mut req = Req::get("/issue/{issueIdOrKey}", format!("/issue/{}", enc(key)));
        req.query.push(("fields", "attachment".into()));
        let issue: Issue = self.execute(req).await?;
        Ok(issue.fields.attachment)
    }

    /// The bytes of attachment `id` (`GET /attachment/content/{id}?redirect=false`).
    pub async fn attachment_content(&self, id: &str) -> Result<Vec<u8>, ClientError> {
        let mut req = Req::get(
            "/attachment/content/{id}",
            format!("/attachment/content/{}", enc(id)),
        );
        req.query.push(("redirect", "false".into()));
        Ok(self.execute_raw(req).await?.1)
    }

    /// The Media Services id of attachment `id`: what an ADF `media` node names it by. Jira
    /// documents no way to ask; the file's download redirects to
    /// `.../file/{media id}/binary` (reference jira-cloud-api.md section 11.10, reported by
    /// several integrations, unconfirmed by Atlassian), so the id is the first UUID-shaped
    /// segment of where `getAttachmentContent` ends. `None` when there is none.
    pub async fn attachment_media_id(&self, id: &str) -> Result<Option<String>, ClientError> {
        let mut req = Req::get(
            "/attachment/content/{id}",
            format!("/attachment/content/{}", enc(id)),
        );
        req.located = true;
        let (_, url) = self.execute_raw(req).await?;
        Ok(media_id_in(&String::from_utf8_lossy(&url)))
    }

    /// Attaches `bytes` as `filename` to issue `key`; the new attachment. Not retried after
    /// a lost answer (a repeat would attach the file twice): the caller finds it by name,
    /// size and content instead.
    pub async fn add_attachment(
        &self,
        key: &str,
        filename: &str,
        bytes: &[u8],
    ) -> Result<Attachment, ClientError> {
        let (content_type, body) = multipart(filename, bytes);
        let mut req = Req::get(
            "/issue/{issueIdOrKey}/attachments",
            format!("/issue/{}/attachments", enc(key)),
        );
        req.method = Method::POST;
        req.raw = Some((content_type, std::sync::Arc::new(body)));
        req.headers.push(("X-Atlassian-Token", "no-check"));
        req.idempotency = Idempotency::Create;
        req.write_to = Some(key);
        let added: Vec<Attachment> = self.execute(req).await?;
        added.into_iter().next().ok_or_else(|| ClientError::Decode {
            endpoint: "/rest/api/3/issue/{issueIdOrKey}/attachments".into(),
            status: 200,
            detail: "the answer lists no attachment".into(),
        })
    }

    /// Removes attachment `id` (`DELETE /attachment/{id}`); one already gone is no error.
    pub async fn delete_attachment(&self, id: &str) -> Result<(), ClientError> {
        let mut req = Req::get("/attachment/{id}", format!("/attachment/{}", enc(id)));
        req.method = Method::DELETE;
        match self.execute_empty(req).await {
            Ok(()) | Err(ClientError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// The first UUID-shaped segment of a URL's path (`8-4-4-4-12` hex digits).
fn media_id_in(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    path.split('/')
        .find(|s| {
            let parts: Vec<&str> = s.split('-').collect();
            parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
                && parts
                    .iter()
                    .all(|p| p.chars().all(|c| c.is_ascii_hexdigit()))
        })
        .map(str::to_ascii_lowercase)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_media_id_is_the_uuid_of_the_files_location() {
        let id = "5e2c3f0a-1b2c-4d5e-8f90-a1b2c3d4e5f6";
        assert_eq!(
            media_id_in(&format!(
                "https://api.media.atlassian.com/file/{id}/binary?token=FAKE&client=x&dl=true"
            )),
            Some(id.to_owned())
        );
        assert_eq!(
            media_id_in("https://acme.atlassian.net/rest/api/3/attachment/content/10001"),
            None
        );
        assert_eq!(media_id_in(&format!("https://x/binary?file={id}")), None);
    }

    #[test]
    fn a_multipart_body_holds_the_file_between_boundaries_that_do_not_occur_in_it() {
        let file = b"--jira-sync-not-the-boundary\r\n\x00\xffbytes";
        let (ct, body) = multipart("crash \"1\".png", file);
        let boundary = ct.strip_prefix("multipart/form-data; boundary=").unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(text.starts_with(&format!("--{boundary}\r\n")));
        assert!(text.contains("name=\"file\"; filename=\"crash _1_.png\""));
        assert!(text.ends_with(&format!("\r\n--{boundary}--\r\n")));
        let start = body.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert_eq!(&body[start..start + file.len()], file);
        assert!(
            !file
                .windows(boundary.len())
                .any(|w| w == boundary.as_bytes())
        );
    }
}
