//! Comments of an issue (reference jira-cloud-api.md section 11.9): `getComments` pages of
//! at most 100 with `total`, leaving out what the caller's roles and groups may not read;
//! `addComment` with `visibility` and properties; `updateComment` (200 with the comment);
//! `deleteComment` (204).

use axum::body::Bytes;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Caller;
use super::issues::{IssuePath, find, json_body, list_param, param};
use crate::error::JiraError;
use crate::model::{Site, lock};
use crate::render;
use crate::write;

/// The most comments one page of `getComments` holds on Cloud [S116].
pub const MAX_COMMENTS_PAGE: usize = 100;

#[derive(Deserialize)]
pub struct CommentPath {
    #[serde(rename = "issueIdOrKey")]
    issue: String,
    id: String,
}

pub async fn comments(
    Extension(c): Extension<Caller>,
    Path(p): Path<IssuePath>,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, JiraError> {
    let site = lock(&c.site);
    let id = find(&site, &p.issue)?;
    let issue = &site.issues()[&id];
    let start: usize = param(&q, "startAt")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let max: usize = param(&q, "maxResults")
        .and_then(|s| s.parse().ok())
        .unwrap_or(MAX_COMMENTS_PAGE)
        .clamp(1, MAX_COMMENTS_PAGE);
    let with_props = list_param(&q, "expand").iter().any(|e| e == "properties");
    let mut list: Vec<&crate::model::Comment> = issue
        .comments
        .iter()
        .filter(|cm| site.can_see(c.account_id(), cm))
        .collect();
    if param(&q, "orderBy") == Some("-created") {
        list.reverse();
    }
    let total = list.len();
    let page: Vec<Value> = list
        .iter()
        .skip(start)
        .take(max)
        .map(|cm| render::comment(&site, issue, cm, &c.base, with_props))
        .collect();
    Ok(Json(
        json!({ "comments": page, "startAt": start, "maxResults": max, "total": total }),
    ))
}

pub async fn add_comment(
    Extension(c): Extension<Caller>,
    Path(p): Path<IssuePath>,
    body: Bytes,
) -> Result<Response, JiraError> {
    let body = json_body(&body)?;
    let props = match body.get("properties") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => write::parse_properties(v)?,
    };
    let now = c.world.clock().now();
    let mut site = lock(&c.site);
    let id = find(&site, &p.issue)?;
    let visibility = write::parse_visibility(&site, c.account_id(), body.get("visibility"))?;
    let adf = body.get("body").cloned().unwrap_or(Value::Null);
    let cid = write::add_comment(&mut site, now, c.account_id(), id, &adf, props, visibility)?;
    Ok((StatusCode::CREATED, Json(rendered(&site, id, cid, &c.base))).into_response())
}

pub async fn update_comment(
    Extension(c): Extension<Caller>,
    Path(p): Path<CommentPath>,
    body: Bytes,
) -> Result<Json<Value>, JiraError> {
    let body = json_body(&body)?;
    let now = c.world.clock().now();
    let mut site = lock(&c.site);
    let id = find(&site, &p.issue)?;
    let cid = comment_id(&p.id)?;
    // Absent `visibility` keeps the audience; `null` makes the comment public.
    let visibility = match body.get("visibility") {
        None => None,
        Some(v) => Some(write::parse_visibility(&site, c.account_id(), Some(v))?),
    };
    let adf = body.get("body").cloned().unwrap_or(Value::Null);
    write::edit_comment(&mut site, now, c.account_id(), id, cid, &adf, visibility)?;
    Ok(Json(rendered(&site, id, cid, &c.base)))
}

pub async fn delete_comment(
    Extension(c): Extension<Caller>,
    Path(p): Path<CommentPath>,
) -> Result<StatusCode, JiraError> {
    let now = c.world.clock().now();
    let mut site = lock(&c.site);
    let id = find(&site, &p.issue)?;
    let cid = comment_id(&p.id)?;
    write::delete_comment(&mut site, now, c.account_id(), id, cid)?;
    Ok(StatusCode::NO_CONTENT)
}

fn comment_id(raw: &str) -> Result<u64, JiraError> {
    raw.parse()
        .map_err(|_| JiraError::not_found(format!("Can not find a comment for the id: {raw}.")))
}

fn rendered(site: &Site, issue_id: u64, comment_id: u64, base: &str) -> Value {
    let issue = &site.issues()[&issue_id];
    let cm = issue
        .comments
        .iter()
        .find(|x| x.id == comment_id)
        .expect("the comment just written");
    render::comment(site, issue, cm, base, true)
}
