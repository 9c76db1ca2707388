//! Attachments (reference jira-cloud-api.md section 11.10): `addAttachment`
//! (`POST /issue/{key}/attachments`, multipart with parts named `file`, refused without
//! `X-Atlassian-Token: no-check`, 413 over the site's upload limit), `getAttachmentContent`
//! (`GET /attachment/content/{id}`: 303 to the file, or the bytes with `redirect=false`) and
//! `removeAttachment` (`DELETE /attachment/{id}`, 204). An issue's files read in its
//! `attachment` field.

use axum::body::Bytes;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::Value;

use super::Caller;
use super::issues::{IssuePath, find, param};
use crate::error::JiraError;
use crate::media::Attachment;
use crate::model::lock;
use crate::render;

#[derive(Deserialize)]
pub struct AttachmentPath {
    id: String,
}

/// The parts of a `multipart/form-data` body named `file`: (file name, bytes). A body that
/// is not well-formed multipart is refused.
fn files(headers: &HeaderMap, body: &[u8]) -> Result<Vec<(String, Vec<u8>)>, JiraError> {
    let bad = || JiraError::bad_request("The request is not a valid multipart/form-data body.");
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !ct.starts_with("multipart/form-data") {
        return Err(JiraError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Expected multipart/form-data.",
        ));
    }
    let boundary = ct
        .split(';')
        .filter_map(|p| p.trim().strip_prefix("boundary="))
        .next()
        .map(|b| b.trim_matches('"'))
        .filter(|b| !b.is_empty())
        .ok_or_else(bad)?;
    let delimiter = format!("--{boundary}").into_bytes();
    let mut out = Vec::new();
    let mut rest = body.strip_prefix(delimiter.as_slice()).ok_or_else(bad)?;
    loop {
        if rest.starts_with(b"--") {
            return Ok(out);
        }
        rest = rest.strip_prefix(b"\r\n").ok_or_else(bad)?;
        let head_end = find_bytes(rest, b"\r\n\r\n").ok_or_else(bad)?;
        let head = String::from_utf8_lossy(&rest[..head_end]).to_string();
        rest = &rest[head_end + 4..];
        let mut end_marker = b"\r\n".to_vec();
        end_marker.extend_from_slice(&delimiter);
        let end = find_bytes(rest, &end_marker).ok_or_else(bad)?;
        let content = rest[..end].to_vec();
        rest = &rest[end + end_marker.len()..];
        let disposition = head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))
            .unwrap_or_default();
        let field = |name: &str| disposition_param(disposition, name);
        if field("name").as_deref() == Some("file") {
            let filename = field("filename")
                .filter(|f| !f.is_empty())
                .ok_or_else(bad)?;
            out.push((filename, content));
        }
    }
}

/// Parameter `name` of a `Content-Disposition` header: a token, or a quoted string (whose
/// `;` and backslash-escaped characters belong to the value).
fn disposition_param(header: &str, name: &str) -> Option<String> {
    let mut rest = header.split_once(':').map_or(header, |(_, v)| v);
    while let Some(i) = rest.find(';') {
        rest = rest[i + 1..].trim_start();
        let (key, after) = rest.split_once('=')?;
        let (value, tail) = match after.strip_prefix('"') {
            Some(q) => {
                let mut out = String::new();
                let mut chars = q.char_indices();
                let mut end = q.len();
                while let Some((i, c)) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some((_, n)) = chars.next() {
                                out.push(n);
                            }
                        }
                        '"' => {
                            end = i + 1;
                            break;
                        }
                        c => out.push(c),
                    }
                }
                (out, &q[end..])
            }
            None => {
                let end = after.find(';').unwrap_or(after.len());
                (after[..end].trim().to_owned(), &after[end..])
            }
        };
        if key.trim().eq_ignore_ascii_case(name) {
            return Some(value);
        }
        rest = tail;
    }
    None
}

fn find_bytes(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

pub async fn add(
    Extension(c): Extension<Caller>,
    Path(p): Path<IssuePath>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, JiraError> {
    // Without the header Jira's XSRF check refuses the upload (section 11.10).
    if headers
        .get("x-atlassian-token")
        .and_then(|v| v.to_str().ok())
        != Some("no-check")
    {
        return Err(JiraError::new(StatusCode::FORBIDDEN, "XSRF check failed"));
    }
    let uploads = files(&headers, &body)?;
    let now = c.world.clock().now();
    let mut site = lock(&c.site);
    let id = find(&site, &p.issue)?;
    if uploads
        .iter()
        .any(|(_, b)| b.len() as u64 > site.upload_limit)
    {
        return Err(JiraError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "The file is larger than the attachment size limit.",
        ));
    }
    let who = c.account_id().to_owned();
    let mut added = Vec::new();
    for (filename, content) in uploads {
        let a = site.new_attachment(&filename, content, &who, now);
        added.push(a.id);
        site.write_issue(id, now, |i| crate::media::add(i, a, &who, now));
    }
    let issue = &site.issues()[&id];
    Ok(Json(Value::Array(
        issue
            .attachments
            .iter()
            .filter(|a| added.contains(&a.id))
            .map(|a| render::attachment(&site, a, &c.base))
            .collect(),
    )))
}

/// The issue holding attachment `id`, and the attachment's place in its list.
fn locate(site: &crate::model::Site, id: &str) -> Result<(u64, usize), JiraError> {
    let n: u64 = id
        .parse()
        .map_err(|_| JiraError::not_found("The attachment does not exist."))?;
    site.issues()
        .values()
        .find_map(|i| {
            i.attachments
                .iter()
                .position(|a| a.id == n)
                .map(|pos| (i.id, pos))
        })
        .ok_or_else(|| JiraError::not_found(format!("Attachment with id '{id}' does not exist.")))
}

pub async fn content(
    Extension(c): Extension<Caller>,
    Path(p): Path<AttachmentPath>,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Response, JiraError> {
    let site = lock(&c.site);
    let (issue, pos) = locate(&site, &p.id)?;
    let a: &Attachment = &site.issues()[&issue].attachments[pos];
    if param(&q, "redirect") == Some("false") {
        return Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, a.mime_type.clone())],
            a.content.clone(),
        )
            .into_response());
    }
    // The file itself is served by Media Services, at a URL naming its media id and
    // carrying its own short-lived token.
    let location = format!(
        "/_media/file/{}/binary?token=FAKE-media-token&client=jira-sim&dl=true",
        a.media_id
    );
    Ok((StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response())
}

pub async fn remove(
    Extension(c): Extension<Caller>,
    Path(p): Path<AttachmentPath>,
) -> Result<StatusCode, JiraError> {
    let now = c.world.clock().now();
    let mut site = lock(&c.site);
    let (issue, pos) = locate(&site, &p.id)?;
    let gone = site.issues()[&issue].attachments[pos].id;
    let who = c.account_id().to_owned();
    site.write_issue(issue, now, |i| {
        crate::media::remove(i, |a| a.id == gone, &who, now);
    });
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /_media/file/{media id}/binary`: Media Services' download of a file, for the
/// location `getAttachmentContent` redirects to (no Jira credential: the URL's token).
pub async fn media_file(
    axum::extract::State(app): axum::extract::State<crate::App>,
    Path(p): Path<AttachmentPath>,
) -> Response {
    for name in app.world.site_names() {
        let Some(site) = app.world.site(&name) else {
            continue;
        };
        let site = lock(&site);
        let found = site
            .issues()
            .values()
            .flat_map(|i| i.attachments.iter())
            .find(|a| a.media_id == p.id);
        if let Some(a) = found {
            return (
                StatusCode::OK,
                [(header::CONTENT_TYPE, a.mime_type.clone())],
                a.content.clone(),
            )
                .into_response();
        }
    }
    StatusCode::NOT_FOUND.into_response()
}
