//! Issues: create (one and bulk), get, edit, transitions, properties, bulkfetch.

use axum::body::Bytes;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Caller;
use crate::error::JiraError;
use crate::model::{Site, lock};
use crate::render::{self, FieldSelection};
use crate::write;

/// The most issues one bulk create takes.
pub const MAX_BULK_CREATE: usize = 50;
/// The most issues one bulkfetch returns.
pub const MAX_BULK_FETCH: usize = 100;
/// The most issue properties returned inline.
pub const MAX_INLINE_PROPERTIES: usize = 5;

/// Parses a JSON body, answering malformed JSON as Jira does.
pub fn json_body(bytes: &Bytes) -> Result<Value, JiraError> {
    serde_json::from_slice(bytes).map_err(|e| {
        JiraError::bad_request(format!("Unexpected character in the request body: {e}"))
    })
}

/// Values of a repeatable, comma-separated query parameter.
pub fn list_param(q: &[(String, String)], name: &str) -> Vec<String> {
    q.iter()
        .filter(|(k, _)| k == name)
        .flat_map(|(_, v)| v.split(','))
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

pub fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

pub fn check_properties(props: &[String]) -> Result<(), JiraError> {
    if props.len() > MAX_INLINE_PROPERTIES {
        return Err(JiraError::bad_request(format!(
            "At most {MAX_INLINE_PROPERTIES} issue properties can be requested."
        )));
    }
    Ok(())
}

#[derive(Deserialize)]
pub struct IssuePath {
    #[serde(rename = "issueIdOrKey")]
    pub(super) issue: String,
}

#[derive(Deserialize)]
pub struct PropertyPath {
    #[serde(rename = "issueIdOrKey")]
    issue: String,
    #[serde(rename = "propertyKey")]
    key: String,
}

pub(super) fn find(site: &Site, key_or_id: &str) -> Result<u64, JiraError> {
    site.issue_id(key_or_id)
        .ok_or_else(JiraError::issue_not_found)
}

fn created(site: &Site, id: u64, base: &str) -> Value {
    let issue = &site.issues()[&id];
    json!({ "id": id.to_string(), "key": issue.key, "self": format!("{base}/rest/api/3/issue/{id}") })
}

pub async fn create(Extension(c): Extension<Caller>, body: Bytes) -> Result<Response, JiraError> {
    let body = json_body(&body)?;
    let now = c.world.clock().now();
    let mut site = lock(&c.site);
    let id = write::create(&mut site, now, c.account_id(), &body)?;
    Ok((StatusCode::CREATED, Json(created(&site, id, &c.base))).into_response())
}

pub async fn create_bulk(
    Extension(c): Extension<Caller>,
    body: Bytes,
) -> Result<Response, JiraError> {
    let body = json_body(&body)?;
    let updates = body
        .get("issueUpdates")
        .and_then(Value::as_array)
        .ok_or_else(|| JiraError::bad_request("The request needs an 'issueUpdates' array."))?;
    if updates.len() > MAX_BULK_CREATE {
        return Err(JiraError::bad_request(format!(
            "Bulk create is limited to {MAX_BULK_CREATE} issues; got {}.",
            updates.len()
        )));
    }
    let now = c.world.clock().now();
    let mut site = lock(&c.site);
    let mut issues = Vec::new();
    let mut errors = Vec::new();
    for (i, u) in updates.iter().enumerate() {
        match write::create(&mut site, now, c.account_id(), u) {
            Ok(id) => issues.push(created(&site, id, &c.base)),
            Err(e) => errors.push(json!({ "status": e.status.as_u16(), "elementErrors": e.body(), "failedElementNumber": i })),
        }
    }
    let status = if issues.is_empty() && !errors.is_empty() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(json!({ "issues": issues, "errors": errors }))).into_response())
}

fn changelog(site: &Site, issue: &crate::model::Issue, base: &str) -> Value {
    let histories: Vec<Value> = issue
        .history
        .iter()
        .enumerate()
        .filter(|(_, h)| !h.items.is_empty())
        .map(|(i, h)| {
            let author = site.accounts.get(&h.author).map_or(Value::Null, |a| render::user(a, base, false));
            let items: Vec<Value> = h
                .items
                .iter()
                .map(|(f, from, to)| json!({ "field": f, "fieldId": f, "fieldtype": if f.starts_with("customfield_") { "custom" } else { "jira" },
                                             "from": from, "fromString": from, "to": to, "toString": to }))
                .collect();
            json!({ "id": (issue.id * 1000 + i as u64).to_string(), "author": author, "created": render::timestamp(h.created), "items": items })
        })
        .collect();
    json!({ "startAt": 0, "maxResults": histories.len(), "total": histories.len(), "histories": histories })
}

/// `GET /issue/{key}/changelog` (`getChangeLogs`): the issue's changes oldest first, pages
/// of at most 100 (reference jira-cloud-api.md section 11.8).
pub async fn changelogs(
    Extension(c): Extension<Caller>,
    Path(p): Path<IssuePath>,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, JiraError> {
    let site = lock(&c.site);
    let id = find(&site, &p.issue)?;
    let issue = &site.issues()[&id];
    let all = changelog(&site, issue, &c.base)["histories"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let start: usize = param(&q, "startAt")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let max: usize = param(&q, "maxResults")
        .and_then(|s| s.parse().ok())
        .unwrap_or(100)
        .clamp(1, 100);
    let values: Vec<Value> = all.iter().skip(start).take(max).cloned().collect();
    let page_url = |at: usize| {
        format!(
            "{}/rest/api/3/issue/{}/changelog?startAt={at}&maxResults={max}",
            c.base, issue.key
        )
    };
    let is_last = start + values.len() >= all.len();
    let mut v = json!({ "self": page_url(start), "startAt": start, "maxResults": max,
                        "total": all.len(), "isLast": is_last, "values": values });
    if !is_last {
        v["nextPage"] = json!(page_url(start + max));
    }
    Ok(Json(v))
}

pub async fn get(
    Extension(c): Extension<Caller>,
    Path(p): Path<IssuePath>,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, JiraError> {
    let site = lock(&c.site);
    let id = find(&site, &p.issue)?;
    let fields = list_param(&q, "fields");
    // A single issue embeds the newest 100 comments (reference jira-cloud-api.md 11.9).
    let sel = if fields.is_empty() {
        FieldSelection::all()
    } else {
        FieldSelection::parse(&fields)
    }
    .seen_by(c.account_id())
    .comments_capped(100, true);
    let props = list_param(&q, "properties");
    check_properties(&props)?;
    let issue = &site.issues()[&id];
    let mut v = render::issue(&site, issue, &sel, &props, &c.base);
    if v.get("fields").is_none() {
        v["fields"] = json!({});
        v["key"] = json!(issue.key);
    }
    if list_param(&q, "expand").iter().any(|e| e == "changelog") {
        v["changelog"] = changelog(&site, issue, &c.base);
    }
    Ok(Json(v))
}

pub async fn edit(
    Extension(c): Extension<Caller>,
    Path(p): Path<IssuePath>,
    Query(q): Query<Vec<(String, String)>>,
    body: Bytes,
) -> Result<Response, JiraError> {
    let body = json_body(&body)?;
    let now = c.world.clock().now();
    let mut site = lock(&c.site);
    let id = find(&site, &p.issue)?;
    write::edit(&mut site, now, c.account_id(), id, &body)?;
    if param(&q, "returnIssue") == Some("true") {
        let v = render::issue(
            &site,
            &site.issues()[&id],
            &FieldSelection::all(),
            &[],
            &c.base,
        );
        return Ok((StatusCode::OK, Json(v)).into_response());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /issue/{issueIdOrKey}` (the simulator has no subtasks, so never Jira's 400 for
/// an issue that has some).
pub async fn delete(
    Extension(c): Extension<Caller>,
    Path(p): Path<IssuePath>,
) -> Result<StatusCode, JiraError> {
    let now = c.world.clock().now();
    let mut site = lock(&c.site);
    let id = find(&site, &p.issue)?;
    site.remove_issue(id, now);
    Ok(StatusCode::NO_CONTENT)
}

/// `getTransitions`: the transitions valid from the issue's status; with
/// `expand=transitions.fields`, each one's screen fields as `FieldMetadata` (reference
/// jira-cloud-api.md section 11.1).
pub async fn transitions(
    Extension(c): Extension<Caller>,
    Path(p): Path<IssuePath>,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, JiraError> {
    let with_fields = q
        .iter()
        .any(|(k, v)| k == "expand" && v.split(',').any(|e| e.trim() == "transitions.fields"));
    let site = lock(&c.site);
    let id = find(&site, &p.issue)?;
    let issue = &site.issues()[&id];
    let project = site.project(issue.project_id).expect("issue's project");
    let list: Vec<Value> = site
        .workflow_of(project)
        .from_status(&issue.status)
        .filter_map(|t| {
            let to = site.status(&t.to)?;
            let mut v = json!({ "id": t.id, "name": t.name, "to": render::status(to, &c.base),
                         "hasScreen": !t.screen.is_empty(),
                         "isGlobal": t.from.is_empty(), "isInitial": false, "isAvailable": true,
                         "isConditional": false, "looped": false });
            if with_fields {
                let fields: serde_json::Map<String, Value> = t
                    .screen
                    .iter()
                    .map(|f| {
                        let allowed: Vec<Value> = crate::model::RESOLUTIONS
                            .iter()
                            .map(|(i, _)| render::resolution(i, &c.base))
                            .collect();
                        (
                            f.clone(),
                            json!({ "required": t.required.contains(f),
                            "schema": { "type": "resolution", "system": "resolution" },
                            "name": "Resolution", "key": f, "operations": ["set"],
                            "allowedValues": allowed, "hasDefaultValue": false }),
                        )
                    })
                    .collect();
                v["fields"] = Value::Object(fields);
            }
            Some(v)
        })
        .collect();
    Ok(Json(
        json!({ "expand": "transitions", "transitions": list }),
    ))
}

/// `assignIssue`: `PUT /issue/{key}/assignee` -> 204.
pub async fn assign(
    Extension(c): Extension<Caller>,
    Path(p): Path<IssuePath>,
    body: Bytes,
) -> Result<StatusCode, JiraError> {
    let body = json_body(&body)?;
    let now = c.world.clock().now();
    let mut site = lock(&c.site);
    let id = find(&site, &p.issue)?;
    write::assign(&mut site, now, c.account_id(), id, &body)?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn do_transition(
    Extension(c): Extension<Caller>,
    Path(p): Path<IssuePath>,
    body: Bytes,
) -> Result<StatusCode, JiraError> {
    let body = json_body(&body)?;
    let now = c.world.clock().now();
    let mut site = lock(&c.site);
    let id = find(&site, &p.issue)?;
    write::transition(&mut site, now, c.account_id(), id, &body)?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn get_property(
    Extension(c): Extension<Caller>,
    Path(p): Path<PropertyPath>,
) -> Result<Json<Value>, JiraError> {
    let site = lock(&c.site);
    let id = find(&site, &p.issue)?;
    let value = site.issues()[&id].properties.get(&p.key).ok_or_else(|| {
        JiraError::not_found(format!("The property with key '{}' does not exist.", p.key))
    })?;
    Ok(Json(json!({ "key": p.key, "value": value })))
}

pub async fn set_property(
    Extension(c): Extension<Caller>,
    Path(p): Path<PropertyPath>,
    body: Bytes,
) -> Result<StatusCode, JiraError> {
    if body.is_empty() {
        return Err(JiraError::bad_request(
            "The property value must not be empty.",
        ));
    }
    let value = json_body(&body)?;
    let now = c.world.clock().now();
    let mut site = lock(&c.site);
    let id = find(&site, &p.issue)?;
    let created = write::set_property(&mut site, now, id, &p.key, value)?;
    Ok(if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct BulkFetch {
    issue_ids_or_keys: Vec<String>,
    #[serde(default)]
    fields: Vec<String>,
    #[serde(default)]
    expand: Vec<String>,
    #[serde(default)]
    properties: Vec<String>,
    #[serde(default)]
    fields_by_keys: bool,
}

pub async fn bulkfetch(
    Extension(c): Extension<Caller>,
    body: Bytes,
) -> Result<Response, JiraError> {
    let req: BulkFetch = serde_json::from_slice(&body)
        .map_err(|e| JiraError::bad_request(format!("Invalid request: {e}")))?;
    let _ = (req.fields_by_keys, &req.expand);
    if req.issue_ids_or_keys.len() > MAX_BULK_FETCH {
        return Err(JiraError::bad_request(format!(
            "The number of issues requested ({}) is over the limit of {MAX_BULK_FETCH}.",
            req.issue_ids_or_keys.len()
        )));
    }
    check_properties(&req.properties)?;
    let site = lock(&c.site);
    // Embedded comments as search embeds them.
    let sel = if req.fields.is_empty() {
        FieldSelection::navigable()
    } else {
        FieldSelection::parse(&req.fields)
    }
    .seen_by(c.account_id())
    .comments_capped(super::search::EMBEDDED_COMMENTS, false);
    let mut ids = Vec::new();
    let mut errors = Vec::new();
    for r in &req.issue_ids_or_keys {
        match site.issue_id(r) {
            Some(id) => ids.push(id),
            None => errors.push(json!({ "id": r, "errorMessage": "Issue does not exist or you do not have permission to see it." })),
        }
    }
    ids.sort_unstable();
    ids.dedup();
    let issues: Vec<Value> = ids
        .iter()
        .map(|id| render::issue(&site, &site.issues()[id], &sel, &req.properties, &c.base))
        .collect();
    let n = issues.len() as u64;
    let mut r = Json(json!({ "issues": issues, "issueErrors": errors })).into_response();
    r.extensions_mut().insert(super::Objects(n));
    Ok(r)
}
