//! Comments as Jira writes them (reference jira-cloud-api.md section 11.9): added with an
//! optional audience (`visibility`, a role or group the caller belongs to) and properties
//! (`sd.public.comment` makes a service-desk internal note), edited (`updateComment`: body
//! and visibility) and deleted (`deleteComment`). Each bumps the issue's `updated`
//! (**UNCONFIRMED** for edits and deletes; the strictest reading for a poller is that it
//! does, since then a missed bump is the client's bug, not the simulator's leniency).

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{ADF_ERROR, bump};
use crate::adf;
use crate::error::JiraError;
use crate::model::{Audience, Comment, Site};

/// Reads a `visibility` object (`{"type":"role"|"group","value":name}` or, for groups,
/// `"identifier"`: the group id) and checks it against the site: the role or group must
/// exist and `actor` must belong to it, as Jira refuses otherwise (reference section 11.9,
/// `Role with id: X does not exist.`).
///
/// # Errors
/// 400 with Jira's words for an unknown type, role or group, or a caller outside it.
pub fn parse_visibility(
    site: &Site,
    actor: &str,
    v: Option<&Value>,
) -> Result<Option<Audience>, JiraError> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let kind = v["type"].as_str().unwrap_or_default();
    match kind {
        "role" => {
            let name = v["value"]
                .as_str()
                .or_else(|| v["identifier"].as_str())
                .unwrap_or_default();
            let members = site.roles.get(name).ok_or_else(|| {
                JiraError::field(
                    "commentLevel",
                    format!("Role with id: {name} does not exist."),
                )
            })?;
            if !members.contains(actor) {
                return Err(JiraError::field(
                    "commentLevel",
                    format!("You are currently not a member of the project role: {name}."),
                ));
            }
            Ok(Some(Audience {
                kind: "role".into(),
                name: name.to_owned(),
            }))
        }
        "group" => {
            let by_id = v["identifier"].as_str();
            let found = site.groups.iter().find(|(name, (id, _))| {
                by_id.map_or(Some(name.as_str()) == v["value"].as_str(), |i| i == id)
            });
            let Some((name, (_, members))) = found else {
                let shown = by_id.or_else(|| v["value"].as_str()).unwrap_or_default();
                return Err(JiraError::field(
                    "commentLevel",
                    format!("Group: {shown} does not exist."),
                ));
            };
            if !members.contains(actor) {
                return Err(JiraError::field(
                    "commentLevel",
                    format!("You are currently not a member of the group: {name}."),
                ));
            }
            Ok(Some(Audience {
                kind: "group".into(),
                name: name.clone(),
            }))
        }
        other => Err(JiraError::bad_request(format!(
            "Visibility type '{other}' is not supported: use role or group."
        ))),
    }
}

fn check_body(body: &Value) -> Result<(), JiraError> {
    if body.is_null() {
        return Err(JiraError::field(
            "comment",
            "Comment body can not be empty!",
        ));
    }
    adf::validate(body).map_err(|_| JiraError::field("comment", ADF_ERROR))
}

/// Adds a comment (ADF body) with its audience and properties; returns its id.
///
/// # Errors
/// 400 for an empty or malformed body; 404 for an unknown issue.
pub fn add_comment(
    site: &mut Site,
    now: DateTime<Utc>,
    actor: &str,
    id: u64,
    body: &Value,
    properties: Vec<(String, Value)>,
    visibility: Option<Audience>,
) -> Result<u64, JiraError> {
    check_body(body)?;
    let comment_id = site.next_comment_id;
    site.write_issue(id, now, |issue| {
        let t = bump(issue, now);
        issue.comments.push(Comment {
            id: comment_id,
            author: actor.to_owned(),
            update_author: actor.to_owned(),
            body: body.clone(),
            created: t,
            updated: t,
            properties: properties.into_iter().collect(),
            visibility,
        });
    })
    .ok_or_else(JiraError::issue_not_found)?;
    site.next_comment_id += 1;
    Ok(comment_id)
}

/// Replaces comment `comment_id`'s body and, when `visibility` is `Some`, its audience
/// (`Some(None)` makes it public).
///
/// # Errors
/// 400 for a malformed body; 404 for an unknown issue or a comment the caller cannot see.
pub fn edit_comment(
    site: &mut Site,
    now: DateTime<Utc>,
    actor: &str,
    id: u64,
    comment_id: u64,
    body: &Value,
    visibility: Option<Option<Audience>>,
) -> Result<(), JiraError> {
    check_body(body)?;
    visible_comment(site, actor, id, comment_id)?;
    site.write_issue(id, now, |issue| {
        let t = bump(issue, now);
        if let Some(c) = issue.comments.iter_mut().find(|c| c.id == comment_id) {
            c.body = body.clone();
            c.updated = t;
            c.update_author = actor.to_owned();
            if let Some(v) = visibility {
                c.visibility = v;
            }
        }
    })
    .ok_or_else(JiraError::issue_not_found)
}

/// Deletes comment `comment_id`.
///
/// # Errors
/// 404 for an unknown issue or a comment the caller cannot see.
pub fn delete_comment(
    site: &mut Site,
    now: DateTime<Utc>,
    actor: &str,
    id: u64,
    comment_id: u64,
) -> Result<(), JiraError> {
    visible_comment(site, actor, id, comment_id)?;
    site.write_issue(id, now, |issue| {
        bump(issue, now);
        issue.comments.retain(|c| c.id != comment_id);
    })
    .ok_or_else(JiraError::issue_not_found)
}

/// The comment exists and `actor` may read it (a restricted comment is as absent to others).
fn visible_comment(site: &Site, actor: &str, id: u64, comment_id: u64) -> Result<(), JiraError> {
    let issue = site
        .issues()
        .get(&id)
        .ok_or_else(JiraError::issue_not_found)?;
    match issue.comments.iter().find(|c| c.id == comment_id) {
        Some(c) if actor.is_empty() || site.can_see(actor, c) => Ok(()),
        _ => Err(JiraError::not_found(format!(
            "Can not find a comment for the id: {comment_id}."
        ))),
    }
}
