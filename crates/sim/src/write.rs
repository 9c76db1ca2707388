//! The rules of writing to Jira: create, edit, transition, comment and properties, with
//! Jira's field validation and error messages. Shared by the REST API and the control API
//! (which acts "as a person" through the same rules).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value};

mod comments; // Comments: add, edit, delete, with their audience.
mod fields; // One field set from its write value, as Jira validates it.

pub use comments::{add_comment, delete_comment, edit_comment, parse_visibility};

pub use fields::set_field;
use fields::{check_label, unassignable};

use crate::adf;
use crate::error::JiraError;
use crate::model::{Comment, History, Issue, Site};

/// The longest issue property value Jira stores, in characters of its JSON text.
pub const MAX_PROPERTY_CHARS: usize = 32768;
/// The longest issue property key.
pub const MAX_PROPERTY_KEY: usize = 255;

pub(crate) const ADF_ERROR: &str =
    "Operation value must be an Atlassian Document (see the Atlassian Document Format)";

fn cannot_set(field: &str) -> String {
    format!("Field '{field}' cannot be set. It is not on the appropriate screen, or unknown.")
}

/// `IssueUpdateDetails`, the body of create, edit and transition.
#[derive(Debug, Default)]
pub struct UpdateDetails {
    pub fields: Map<String, Value>,
    pub update: Map<String, Value>,
    pub properties: Vec<(String, Value)>,
    pub transition: Option<String>,
}

impl UpdateDetails {
    pub fn parse(body: &Value) -> Result<Self, JiraError> {
        let obj = body
            .as_object()
            .ok_or_else(|| JiraError::bad_request("The request body must be a JSON object."))?;
        let table = |k: &str| -> Result<Map<String, Value>, JiraError> {
            match obj.get(k) {
                None | Some(Value::Null) => Ok(Map::new()),
                Some(Value::Object(m)) => Ok(m.clone()),
                Some(_) => Err(JiraError::bad_request(format!("'{k}' must be an object."))),
            }
        };
        let properties = match obj.get("properties") {
            None | Some(Value::Null) => Vec::new(),
            Some(v) => parse_properties(v)?,
        };
        let transition = match obj.get("transition") {
            None | Some(Value::Null) => None,
            Some(t) => Some(
                t.get("id")
                    .and_then(|i| {
                        i.as_str()
                            .map(str::to_owned)
                            .or_else(|| i.as_u64().map(|n| n.to_string()))
                    })
                    .ok_or_else(|| JiraError::bad_request("A transition needs an 'id'."))?,
            ),
        };
        Ok(UpdateDetails {
            fields: table("fields")?,
            update: table("update")?,
            properties,
            transition,
        })
    }
}

/// `[{"key": .., "value": ..}]`, each checked against Jira's limits.
pub fn parse_properties(v: &Value) -> Result<Vec<(String, Value)>, JiraError> {
    let list = v
        .as_array()
        .ok_or_else(|| JiraError::bad_request("'properties' must be an array."))?;
    list.iter()
        .map(|p| {
            let key = p.get("key").and_then(Value::as_str).unwrap_or_default();
            let value = p.get("value").cloned().unwrap_or(Value::Null);
            check_property(key, &value)?;
            Ok((key.to_owned(), value))
        })
        .collect()
}

pub fn check_property(key: &str, value: &Value) -> Result<(), JiraError> {
    if key.is_empty() || key.chars().count() > MAX_PROPERTY_KEY {
        return Err(JiraError::bad_request(format!(
            "The property key must be between 1 and {MAX_PROPERTY_KEY} characters long."
        )));
    }
    if value.is_null() || value.as_str() == Some("") {
        return Err(JiraError::bad_request(
            "The property value must not be empty.",
        ));
    }
    let len = value.to_string().chars().count();
    if len > MAX_PROPERTY_CHARS {
        return Err(JiraError::bad_request(format!(
            "The property value is {len} characters long; the maximum is {MAX_PROPERTY_CHARS}."
        )));
    }
    Ok(())
}

/// Strictly after the issue's last change, so every change moves `updated`.
pub(crate) fn bump(issue: &mut Issue, now: DateTime<Utc>) -> DateTime<Utc> {
    let t = if now > issue.updated {
        now
    } else {
        issue.updated + Duration::milliseconds(1)
    };
    issue.updated = t;
    t
}

/// Creates an issue from `IssueUpdateDetails`; returns its id.
pub fn create(
    site: &mut Site,
    now: DateTime<Utc>,
    actor: &str,
    body: &Value,
) -> Result<u64, JiraError> {
    let details = UpdateDetails::parse(body)?;
    let mut errors = BTreeMap::new();
    let project = match details.fields.get("project") {
        None => {
            errors.insert(
                "project".to_owned(),
                "Specify a valid project ID or key".to_owned(),
            );
            None
        }
        Some(p) => {
            let r = p.get("key").or_else(|| p.get("id")).and_then(id_string);
            match r.as_deref().and_then(|r| site.project_by_ref(r)) {
                Some(p) => Some(p.clone()),
                None => {
                    errors.insert(
                        "project".to_owned(),
                        "Specify a valid project ID or key".to_owned(),
                    );
                    None
                }
            }
        }
    };
    let issue_type = match (details.fields.get("issuetype"), &project) {
        (None, _) => {
            errors.insert("issuetype".to_owned(), "Specify an issue type".to_owned());
            None
        }
        (Some(t), project) => {
            let by_id = t.get("id").and_then(id_string);
            let by_name = t.get("name").and_then(Value::as_str);
            let found = site.issue_types.iter().find(|it| {
                by_id.as_deref() == Some(it.id.as_str())
                    || by_name.is_some_and(|n| n.eq_ignore_ascii_case(&it.name))
            });
            match (found, project) {
                (Some(it), Some(p)) if p.issue_types.contains(&it.id) => Some(it.id.clone()),
                (Some(_), None) => None,
                _ => {
                    errors.insert(
                        "issuetype".to_owned(),
                        "Specify an issue type that is valid for the project.".to_owned(),
                    );
                    None
                }
            }
        }
    };
    if !details.fields.contains_key("summary") {
        errors.insert(
            "summary".to_owned(),
            "You must specify a summary of the issue.".to_owned(),
        );
    }
    let (Some(project), Some(issue_type)) = (project, issue_type) else {
        return Err(JiraError::fields(errors));
    };
    let workflow = site.workflow_of(&project);
    let mut issue = Issue {
        id: site.next_issue_id,
        key: format!("{}-{}", project.key, project.next_number),
        project_id: project.id,
        issue_type,
        summary: String::new(),
        description: None,
        status: workflow.initial.clone(),
        priority: Some("3".to_owned()),
        resolution: None,
        parent: None,
        labels: Vec::new(),
        duedate: None,
        assignee: None,
        reporter: Some(actor.to_owned()),
        creator: actor.to_owned(),
        created: now,
        updated: now,
        custom: BTreeMap::new(),
        comments: Vec::new(),
        properties: BTreeMap::new(),
        history: Vec::new(),
        attachments: Vec::new(),
    };
    for (field, value) in &details.fields {
        if field == "project" || field == "issuetype" {
            continue;
        }
        if let Err(e) = set_field(site, &mut issue, field, value) {
            errors.insert(field.clone(), e);
        }
    }
    apply_update_ops(
        site,
        &mut issue,
        &details.update,
        false,
        &mut errors,
        now,
        actor,
    );
    let transition_to = match &details.transition {
        None => None,
        Some(t) => match site
            .workflow_of(&project)
            .from_status(&issue.status)
            .find(|tr| &tr.id == t)
        {
            Some(tr) => Some(tr.to.clone()),
            None => {
                errors.insert(
                    "transition".to_owned(),
                    format!("Transition id '{t}' is not valid for this issue."),
                );
                None
            }
        },
    };
    let level = site
        .issue_type(&issue.issue_type)
        .map_or(0, |t| t.hierarchy_level);
    if level < 0 && issue.parent.is_none() && !errors.contains_key("parent") {
        errors.insert(
            "issuetype".to_owned(),
            "Issue type is a sub-task but parent issue key or id not specified.".to_owned(),
        );
    }
    if !errors.is_empty() {
        return Err(JiraError::fields(errors));
    }
    if let Some(to) = transition_to {
        issue.status = to;
    }
    issue.properties.extend(details.properties);
    issue.history.push(History {
        author: actor.to_owned(),
        created: now,
        items: Vec::new(),
    });
    let id = issue.id;
    site.keys.insert(issue.key.clone(), id);
    site.put_issue(issue, now);
    site.next_issue_id += 1;
    if let Some(p) = site.projects.iter_mut().find(|p| p.id == project.id) {
        p.next_number += 1;
    }
    Ok(id)
}

/// Edits fields (and properties) of an issue; `updated` moves only when something changed.
pub fn edit(
    site: &mut Site,
    now: DateTime<Utc>,
    actor: &str,
    id: u64,
    body: &Value,
) -> Result<(), JiraError> {
    let details = UpdateDetails::parse(body)?;
    let mut errors = BTreeMap::new();
    let mut draft = site
        .issues()
        .get(&id)
        .ok_or_else(JiraError::issue_not_found)?
        .clone();
    let project = site
        .project(draft.project_id)
        .expect("issues belong to projects");
    if site.workflow_of(project).locked.contains(&draft.status) {
        // `jira.issue.editable = false`: the edit screen offers no field in this status.
        for field in details.fields.keys().chain(details.update.keys()) {
            errors.insert(field.clone(), cannot_set(field));
        }
        if !errors.is_empty() {
            return Err(JiraError::fields(errors));
        }
    }
    apply_changes(site, &mut draft, &details, &mut errors, now, actor)?;
    let had_properties = !details.properties.is_empty();
    draft.properties.extend(details.properties);
    commit(site, now, actor, draft, had_properties);
    Ok(())
}

/// Moves an issue along a transition valid from its current status.
pub fn transition(
    site: &mut Site,
    now: DateTime<Utc>,
    actor: &str,
    id: u64,
    body: &Value,
) -> Result<(), JiraError> {
    let details = UpdateDetails::parse(body)?;
    let Some(tid) = details.transition.clone() else {
        return Err(JiraError::bad_request("Missing 'transition' identifier"));
    };
    let mut draft = site
        .issues()
        .get(&id)
        .ok_or_else(JiraError::issue_not_found)?
        .clone();
    let project = site
        .project(draft.project_id)
        .expect("issues belong to projects")
        .clone();
    let Some(t) = site
        .workflow_of(&project)
        .from_status(&draft.status)
        .find(|t| t.id == tid)
        .cloned()
    else {
        return Err(JiraError::bad_request(format!(
            "Transition id '{tid}' is not valid for this issue."
        )));
    };
    let mut errors = BTreeMap::new();
    // Only the transition screen's fields may be sent with it; its validators require some.
    let mut fields = details.fields.clone();
    let resolution = fields.remove("resolution");
    // A comment may go along with any transition; the simulator accepts it.
    let updates = details.update.keys().filter(|k| k.as_str() != "comment");
    for field in fields.keys().chain(updates) {
        if !t.screen.contains(field) {
            errors.insert(field.clone(), cannot_set(field));
        }
    }
    let resolution = match resolution {
        Some(_) if !t.screen.iter().any(|f| f == "resolution") => {
            errors.insert("resolution".into(), cannot_set("resolution"));
            None
        }
        Some(v) => {
            let by_id = v.get("id").and_then(id_string);
            let by_name = v.get("name").and_then(Value::as_str);
            match crate::model::RESOLUTIONS.iter().find(|(i, n)| {
                by_id.as_deref() == Some(*i) || by_name.is_some_and(|b| b.eq_ignore_ascii_case(n))
            }) {
                Some((i, _)) => Some((*i).to_owned()),
                None => {
                    errors.insert(
                        "resolution".into(),
                        "Could not find valid 'id' or 'name' in resolution object.".into(),
                    );
                    None
                }
            }
        }
        None => None,
    };
    for r in &t.required {
        if r == "resolution" && resolution.is_none() && !errors.contains_key(r) {
            errors.insert(r.clone(), "Resolution is required.".into());
        }
    }
    if !errors.is_empty() {
        return Err(JiraError::fields(errors));
    }
    let to = t.to.clone();
    let done = site
        .status(&to)
        .is_some_and(|s| s.category == crate::model::Category::Done);
    draft.resolution = match resolution {
        Some(r) => Some(r),
        // Leaving done clears the resolution (the "clear resolution" post function).
        None if !done => None,
        None => draft.resolution.clone(),
    };
    let details = UpdateDetails {
        fields: Map::new(),
        ..details
    };
    apply_changes(site, &mut draft, &details, &mut errors, now, actor)?;
    draft.status = to;
    draft.properties.extend(details.properties);
    commit(site, now, actor, draft, true);
    Ok(())
}

/// Sets an issue property; true when it was created rather than replaced.
pub fn set_property(
    site: &mut Site,
    now: DateTime<Utc>,
    id: u64,
    key: &str,
    value: Value,
) -> Result<bool, JiraError> {
    check_property(key, &value)?;
    site.write_issue(id, now, |issue| {
        let created = issue.properties.insert(key.to_owned(), value).is_none();
        bump(issue, now);
        created
    })
    .ok_or_else(JiraError::issue_not_found)
}

/// Applies the `fields` and `update` of an edit or transition to `draft`; every refused field
/// is reported (project and issue type cannot change this way).
fn apply_changes(
    site: &mut Site,
    draft: &mut Issue,
    details: &UpdateDetails,
    errors: &mut BTreeMap<String, String>,
    now: DateTime<Utc>,
    actor: &str,
) -> Result<(), JiraError> {
    for (field, value) in &details.fields {
        if matches!(field.as_str(), "project" | "issuetype") {
            errors.insert(field.clone(), cannot_set(field));
        } else if let Err(e) = set_field(site, draft, field, value) {
            errors.insert(field.clone(), e);
        }
    }
    apply_update_ops(site, draft, &details.update, true, errors, now, actor);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(JiraError::fields(std::mem::take(errors)))
    }
}

/// Replaces the stored issue with `draft`, recording what changed and by whom.
fn commit(site: &mut Site, now: DateTime<Utc>, actor: &str, mut draft: Issue, force_bump: bool) {
    let old = site
        .issues()
        .get(&draft.id)
        .expect("draft of a stored issue");
    let items = diff(old, &draft);
    if items.is_empty() && !force_bump && draft.comments.len() == old.comments.len() {
        return;
    }
    let t = bump(&mut draft, now);
    if !items.is_empty() {
        draft.history.push(History {
            author: actor.to_owned(),
            created: t,
            items,
        });
    }
    site.put_issue(draft, now);
}

fn diff(a: &Issue, b: &Issue) -> Vec<(String, Option<String>, Option<String>)> {
    let mut items = Vec::new();
    let mut cmp = |f: &str, x: Option<String>, y: Option<String>| {
        if x != y {
            items.push((f.to_owned(), x, y));
        }
    };
    cmp("summary", Some(a.summary.clone()), Some(b.summary.clone()));
    cmp(
        "description",
        a.description.as_ref().map(Value::to_string),
        b.description.as_ref().map(Value::to_string),
    );
    cmp("status", Some(a.status.clone()), Some(b.status.clone()));
    cmp("priority", a.priority.clone(), b.priority.clone());
    cmp("resolution", a.resolution.clone(), b.resolution.clone());
    cmp(
        "parent",
        a.parent.map(|p| p.to_string()),
        b.parent.map(|p| p.to_string()),
    );
    cmp("labels", Some(a.labels.join(" ")), Some(b.labels.join(" ")));
    cmp(
        "duedate",
        a.duedate.map(|d| d.to_string()),
        b.duedate.map(|d| d.to_string()),
    );
    cmp("assignee", a.assignee.clone(), b.assignee.clone());
    cmp("reporter", a.reporter.clone(), b.reporter.clone());
    for k in a.custom.keys().chain(b.custom.keys()) {
        cmp(
            k,
            a.custom.get(k).map(Value::to_string),
            b.custom.get(k).map(Value::to_string),
        );
    }
    items.dedup();
    items
}

fn id_string(v: &Value) -> Option<String> {
    v.as_str()
        .map(str::to_owned)
        .or_else(|| v.as_u64().map(|n| n.to_string()))
}

/// The `update` operations: `set` on any settable field, `add`/`remove` on labels, and
/// `add` on comment (edit and transition only).
#[allow(clippy::too_many_arguments)]
fn apply_update_ops(
    site: &mut Site,
    issue: &mut Issue,
    update: &Map<String, Value>,
    comments_allowed: bool,
    errors: &mut BTreeMap<String, String>,
    now: DateTime<Utc>,
    actor: &str,
) {
    for (field, ops) in update {
        let Some(ops) = ops.as_array() else {
            errors.insert(field.clone(), "Update operations must be an array.".into());
            continue;
        };
        for op in ops {
            let Some((name, arg)) = op.as_object().and_then(|o| o.iter().next()) else {
                errors.insert(field.clone(), "Update operation must be an object.".into());
                continue;
            };
            let result = match (field.as_str(), name.as_str()) {
                ("labels", "add") => arg
                    .as_str()
                    .ok_or_else(|| "Operation value must be a string".to_owned())
                    .and_then(|l| {
                        check_label(l)?;
                        if !issue.labels.iter().any(|x| x == l) {
                            issue.labels.push(l.to_owned());
                        }
                        Ok(())
                    }),
                ("labels", "remove") => arg
                    .as_str()
                    .ok_or_else(|| "Operation value must be a string".to_owned())
                    .map(|l| {
                        issue.labels.retain(|x| x != l);
                    }),
                ("comment", "add") if comments_allowed => {
                    let body = arg.get("body").cloned().unwrap_or(Value::Null);
                    match adf::validate(&body) {
                        Ok(()) => {
                            issue.comments.push(Comment {
                                id: site.next_comment_id,
                                author: actor.to_owned(),
                                update_author: actor.to_owned(),
                                body,
                                created: now,
                                updated: now,
                                properties: BTreeMap::new(),
                                visibility: None,
                            });
                            site.next_comment_id += 1;
                            Ok(())
                        }
                        Err(_) => Err(ADF_ERROR.to_owned()),
                    }
                }
                (f, "set") if !matches!(f, "comment" | "project" | "issuetype") => {
                    set_field(site, issue, f, arg)
                }
                (f, op) => Err(format!("Field '{f}' does not support operation '{op}'")),
            };
            if let Err(e) = result {
                errors.insert(field.clone(), e);
            }
        }
    }
}

/// `assignIssue` (`PUT /issue/{key}/assignee`): `{"accountId": id}`, null to unassign, or
/// `"-1"` for the project's default (none here). Refused as Jira does: an unknown account or a
/// missing identifier, and a person who may not be assigned (reference section 11.5).
pub fn assign(
    site: &mut Site,
    now: DateTime<Utc>,
    actor: &str,
    id: u64,
    body: &Value,
) -> Result<(), JiraError> {
    let Some(obj) = body.as_object().filter(|o| o.contains_key("accountId")) else {
        return Err(JiraError::bad_request(
            "The request must name an 'accountId' (null to unassign).",
        ));
    };
    let who = match &obj["accountId"] {
        Value::Null => None,
        Value::String(s) if s == "-1" => None,
        Value::String(s) => match site.accounts.get(s) {
            Some(a) if !a.assignable => {
                return Err(JiraError::field("assignee", unassignable(&a.display_name)));
            }
            Some(_) => Some(s.clone()),
            None => {
                return Err(JiraError::field(
                    "assignee",
                    "Specify a valid value for assignee",
                ));
            }
        },
        _ => {
            return Err(JiraError::bad_request(
                "'accountId' must be a string or null.",
            ));
        }
    };
    let mut draft = site
        .issues()
        .get(&id)
        .ok_or_else(JiraError::issue_not_found)?
        .clone();
    draft.assignee = who;
    commit(site, now, actor, draft, false);
    Ok(())
}
