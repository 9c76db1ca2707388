//! `myself`, `serverInfo`, fields, issue types, projects and create metadata.

use axum::extract::{Path, Query};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Caller;
use crate::error::JiraError;
use crate::model::{FieldKind, lock};
use crate::render;

pub async fn myself(Extension(c): Extension<Caller>) -> Result<Json<Value>, JiraError> {
    let site = lock(&c.site);
    let a = site
        .accounts
        .get(c.account_id())
        .ok_or_else(|| JiraError::not_found("The account does not exist."))?;
    let mut v = render::user(a, &c.base, true);
    v["locale"] = json!("en_US");
    v["groups"] = json!({ "size": 1, "items": [] });
    v["applicationRoles"] = json!({ "size": 1, "items": [] });
    v["expand"] = json!("groups,applicationRoles");
    Ok(Json(v))
}

pub async fn server_info(Extension(c): Extension<Caller>) -> Json<Value> {
    let now = render::timestamp(c.world.clock().now());
    let base = c.base.clone();
    Json(json!({
        "baseUrl": base,
        "displayUrl": base,
        "version": "1001.0.0-SNAPSHOT",
        "versionNumbers": [1001, 0, 0],
        "deploymentType": "Cloud",
        "buildNumber": 100300,
        "buildDate": "2026-11-01T00:00:00.000+0000",
        "serverTime": now,
        "scmInfo": "0000000000000000000000000000000000000000",
        "serverTitle": "Jira",
        "serverTimeZone": "Etc/UTC",
    }))
}

pub async fn fields(Extension(c): Extension<Caller>) -> Json<Value> {
    let site = lock(&c.site);
    let mut out: Vec<Value> = render::SYSTEM_FIELDS
        .iter()
        .map(|(id, name, ty)| {
            let mut schema = json!({ "type": ty, "system": id });
            match *id {
                "labels" => schema["items"] = json!("string"),
                "components" => schema["items"] = json!("component"),
                "fixVersions" => schema["items"] = json!("version"),
                "attachment" => schema["items"] = json!("attachment"),
                _ => {}
            }
            json!({ "id": id, "key": id, "name": name, "custom": false, "orderable": *id != "status",
                    "navigable": *id != "comment", "searchable": true, "clauseNames": [id], "schema": schema })
        })
        .collect();
    for f in &site.fields {
        let number = f.id.trim_start_matches("customfield_");
        out.push(json!({
            "id": f.id, "key": f.id, "name": f.name, "custom": true, "orderable": true, "navigable": true,
            "searchable": !matches!(f.kind, FieldKind::Textarea),
            "clauseNames": [format!("cf[{number}]"), f.name],
            "schema": render::custom_field_schema(f),
        }));
    }
    Json(Value::Array(out))
}

pub async fn issue_types(Extension(c): Extension<Caller>) -> Json<Value> {
    let site = lock(&c.site);
    Json(
        site.issue_types
            .iter()
            .map(|t| render::issue_type(t, &c.base))
            .collect(),
    )
}

#[derive(Deserialize)]
pub struct ProjectPath {
    #[serde(rename = "projectIdOrKey")]
    project: String,
}

#[derive(Deserialize)]
pub struct ProjectQuery {
    expand: Option<String>,
}

fn no_project(key: &str) -> JiraError {
    JiraError::not_found(format!("No project could be found with key '{key}'."))
}

pub async fn project(
    Extension(c): Extension<Caller>,
    Path(p): Path<ProjectPath>,
    Query(q): Query<ProjectQuery>,
) -> Result<Json<Value>, JiraError> {
    let site = lock(&c.site);
    let project = site
        .project_by_ref(&p.project)
        .ok_or_else(|| no_project(&p.project))?;
    let mut v = json!({
        "self": format!("{}/rest/api/3/project/{}", c.base, project.id),
        "id": project.id.to_string(),
        "key": project.key,
        "name": project.name,
        "description": "",
        "projectTypeKey": "software",
        "simplified": false,
        "style": "classic",
        "isPrivate": false,
        "avatarUrls": render::avatar_urls(&project.key),
        "expand": "description,lead,issueTypes,url,projectKeys,permissions,insight",
    });
    let expand = q.expand.unwrap_or_default();
    if expand.split(',').any(|e| e.trim() == "issueTypes") {
        v["issueTypes"] = project
            .issue_types
            .iter()
            .filter_map(|id| site.issue_type(id))
            .map(|t| render::issue_type(t, &c.base))
            .collect();
    }
    Ok(Json(v))
}

/// `GET /project/{key}/statuses`: each issue type of the project with its workflow's statuses.
pub async fn project_statuses(
    Extension(c): Extension<Caller>,
    Path(p): Path<ProjectPath>,
) -> Result<Json<Value>, JiraError> {
    let site = lock(&c.site);
    let project = site
        .project_by_ref(&p.project)
        .ok_or_else(|| no_project(&p.project))?;
    let workflow = site.workflow_of(project);
    let statuses: Vec<Value> = workflow
        .statuses
        .iter()
        .filter_map(|id| site.status(id))
        .map(|s| render::status(s, &c.base))
        .collect();
    let out: Vec<Value> = project
        .issue_types
        .iter()
        .filter_map(|id| site.issue_type(id))
        .map(|t| json!({ "self": format!("{}/rest/api/3/issuetype/{}", c.base, t.id), "id": t.id, "name": t.name, "subtask": false, "statuses": statuses }))
        .collect();
    Ok(Json(Value::Array(out)))
}

#[derive(Deserialize)]
pub struct PageQuery {
    #[serde(rename = "startAt")]
    start_at: Option<usize>,
    #[serde(rename = "maxResults")]
    max_results: Option<usize>,
}

pub async fn createmeta_issue_types(
    Extension(c): Extension<Caller>,
    Path(p): Path<ProjectPath>,
    Query(q): Query<PageQuery>,
) -> Result<Json<Value>, JiraError> {
    let site = lock(&c.site);
    let project = site
        .project_by_ref(&p.project)
        .ok_or_else(|| no_project(&p.project))?;
    let start = q.start_at.unwrap_or(0);
    let max = q.max_results.unwrap_or(50).clamp(1, 200);
    let all: Vec<Value> = project
        .issue_types
        .iter()
        .filter_map(|id| site.issue_type(id))
        .map(|t| {
            let mut v = render::issue_type(t, &c.base);
            v.as_object_mut().map(|o| o.remove("hierarchyLevel"));
            v["hierarchyLevel"] = json!(t.hierarchy_level);
            v
        })
        .collect();
    let total = all.len();
    let page: Vec<Value> = all.into_iter().skip(start).take(max).collect();
    Ok(Json(
        json!({ "issueTypes": page, "maxResults": max, "startAt": start, "total": total }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FindUsers {
    query: Option<String>,
    account_id: Option<String>,
    #[serde(default)]
    start_at: usize,
    max_results: Option<usize>,
}

/// `GET /user/search`: users whose display name (or a word of it) or *visible* email starts
/// with `query`. A hidden email never matches, so it cannot be probed through search.
pub async fn find_users(
    Extension(c): Extension<Caller>,
    Query(q): Query<FindUsers>,
) -> Result<Json<Value>, JiraError> {
    if q.query.is_none() && q.account_id.is_none() {
        return Err(JiraError::bad_request(
            "One of 'query' or 'accountId' parameters must be provided.",
        ));
    }
    let needle = q.query.as_deref().unwrap_or_default().to_lowercase();
    let matches = |a: &crate::model::Account| {
        if let Some(id) = &q.account_id {
            return a.account_id == *id;
        }
        let name = a.display_name.to_lowercase();
        name.starts_with(&needle)
            || name.split_whitespace().any(|w| w.starts_with(&needle))
            || a.email
                .as_ref()
                .filter(|_| a.email_visible)
                .is_some_and(|e| e.to_lowercase().starts_with(&needle))
    };
    let site = lock(&c.site);
    let me = c.account_id();
    let users: Vec<Value> = site
        .accounts
        .values()
        .filter(|a| matches(a))
        .take(1000)
        .skip(q.start_at)
        .take(q.max_results.unwrap_or(50).min(1000))
        .map(|a| render::user(a, &c.base, a.account_id == me))
        .collect();
    Ok(Json(Value::Array(users)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetUser {
    account_id: Option<String>,
}

/// `GET /user?accountId=` (`getUser`): one account of the site, its email shown only where
/// its profile visibility allows; 404 for an account the site does not know.
pub async fn get_user(
    Extension(c): Extension<Caller>,
    Query(q): Query<GetUser>,
) -> Result<Json<Value>, JiraError> {
    let Some(id) = q.account_id else {
        return Err(JiraError::bad_request(
            "The accountId query parameter needs to be provided.",
        ));
    };
    let site = lock(&c.site);
    let me = c.account_id();
    site.accounts
        .get(&id)
        .map(|a| Json(render::user(a, &c.base, a.account_id == me)))
        .ok_or_else(|| {
            JiraError::not_found(
                "Specified user does not exist or you do not have required permissions",
            )
        })
}

#[derive(Deserialize)]
pub struct CreateMetaPath {
    #[serde(rename = "projectIdOrKey")]
    project: String,
    #[serde(rename = "issueTypeId")]
    issue_type: String,
}

/// `getCreateIssueMetaIssueTypeId`: the create screen's fields of one issue type of a
/// project, as `FieldCreateMetadata` (an array, with `fieldId`), with the values the
/// project offers (its priority scheme, a select field's options). Fields the project's
/// screens leave out (`hidden_fields`) are not listed; `reporter` only while it is on the
/// screens; `parent` for sub-tasks (required) and standard issues (reference
/// jira-cloud-api.md section 11.3).
pub async fn createmeta_fields(
    Extension(c): Extension<Caller>,
    Path(p): Path<CreateMetaPath>,
    Query(q): Query<PageQuery>,
) -> Result<Json<Value>, JiraError> {
    let site = lock(&c.site);
    let project = site
        .project_by_ref(&p.project)
        .ok_or_else(|| no_project(&p.project))?;
    let Some(ty) = project
        .issue_types
        .iter()
        .filter_map(|id| site.issue_type(id))
        .find(|t| t.id == p.issue_type)
    else {
        return Err(JiraError::not_found(format!(
            "Issue type with id '{}' does not exist in project {}.",
            p.issue_type, project.key
        )));
    };
    let fields = screen_fields(&site, project, ty, &c.base, true);
    let start = q.start_at.unwrap_or(0);
    let max = q.max_results.unwrap_or(50).clamp(1, 200);
    let total = fields.len();
    let page: Vec<Value> = fields.into_iter().skip(start).take(max).collect();
    Ok(Json(
        json!({ "fields": page, "maxResults": max, "startAt": start, "total": total }),
    ))
}

/// The fields of a project's create (`create`) or edit screen for issue type `ty`, as
/// `FieldMetadata` with `fieldId` (values it offers: the priority scheme, select options).
/// Fields the project's screens leave out (`hidden_fields`) are not listed; `reporter` only
/// while it is on the screens; `parent` for sub-tasks (required on create) and standard
/// issues; issue type and project on the create screen only.
fn screen_fields(
    site: &crate::model::Site,
    project: &crate::model::Project,
    ty: &crate::model::IssueType,
    base: &str,
    create: bool,
) -> Vec<Value> {
    let meta =
        |id: &str, name: &str, schema: Value, required: bool, allowed: Option<Vec<Value>>| {
            let mut v = json!({ "fieldId": id, "key": id, "name": name, "required": required,
                            "schema": schema, "operations": ["set"], "hasDefaultValue": false });
            if let Some(a) = allowed {
                v["allowedValues"] = Value::Array(a);
            }
            v
        };
    let mut fields = vec![
        meta(
            "summary",
            "Summary",
            json!({ "type": "string", "system": "summary" }),
            true,
            None,
        ),
        meta(
            "issuetype",
            "Issue Type",
            json!({ "type": "issuetype", "system": "issuetype" }),
            true,
            None,
        ),
        meta(
            "project",
            "Project",
            json!({ "type": "project", "system": "project" }),
            true,
            None,
        ),
        meta(
            "description",
            "Description",
            json!({ "type": "string", "system": "description" }),
            false,
            None,
        ),
        meta(
            "labels",
            "Labels",
            json!({ "type": "array", "items": "string", "system": "labels" }),
            false,
            None,
        ),
        meta(
            "duedate",
            "Due date",
            json!({ "type": "date", "system": "duedate" }),
            false,
            None,
        ),
        meta(
            "assignee",
            "Assignee",
            json!({ "type": "user", "system": "assignee" }),
            false,
            None,
        ),
    ];
    let priorities: Vec<Value> = crate::model::PRIORITIES
        .iter()
        .filter(|(_, n)| {
            project
                .priorities
                .as_ref()
                .is_none_or(|a| a.iter().any(|x| x.eq_ignore_ascii_case(n)))
        })
        .map(|(i, n)| json!({ "self": format!("{base}/rest/api/3/priority/{i}"), "id": i, "name": n }))
        .collect();
    fields.push(meta(
        "priority",
        "Priority",
        json!({ "type": "priority", "system": "priority" }),
        false,
        Some(priorities),
    ));
    if site.reporter_on_screens {
        fields.push(meta(
            "reporter",
            "Reporter",
            json!({ "type": "user", "system": "reporter" }),
            false,
            None,
        ));
    }
    if ty.hierarchy_level <= 0 {
        fields.push(meta(
            "parent",
            "Parent",
            json!({ "type": "issuelink", "system": "parent" }),
            ty.hierarchy_level < 0,
            None,
        ));
    }
    // The project's components and versions, on the default screens.
    for (id, name, kind, list) in [
        ("components", "Components", "component", &project.components),
        ("fixVersions", "Fix versions", "version", &project.versions),
    ] {
        let allowed = list
            .iter()
            .map(|(i, n)| json!({ "self": format!("{base}/rest/api/3/{kind}/{i}"), "id": i, "name": n }))
            .collect();
        fields.push(meta(
            id,
            name,
            json!({ "type": "array", "items": kind, "system": id }),
            false,
            Some(allowed),
        ));
    }
    for f in &site.fields {
        let allowed = match &f.kind {
            FieldKind::Select(options) | FieldKind::MultiSelect(options) => Some(
                options
                    .iter()
                    .enumerate()
                    .map(|(i, o)| json!({ "self": format!("{base}/rest/api/3/customFieldOption/{}", f.option_id(i)), "value": o, "id": f.option_id(i) }))
                    .collect(),
            ),
            FieldKind::Cascading(tree) => Some(
                tree.iter()
                    .enumerate()
                    .map(|(i, (p, children))| {
                        let children: Vec<Value> = children
                            .iter()
                            .enumerate()
                            .map(|(j, c)| json!({ "self": format!("{base}/rest/api/3/customFieldOption/{}", f.child_id(i, j)), "value": c, "id": f.child_id(i, j) }))
                            .collect();
                        json!({ "self": format!("{base}/rest/api/3/customFieldOption/{}", f.option_id(i)), "value": p, "id": f.option_id(i), "children": children })
                    })
                    .collect(),
            ),
            _ => None,
        };
        fields.push(meta(
            &f.id,
            &f.name,
            render::custom_field_schema(f),
            false,
            allowed,
        ));
    }
    fields.retain(|f| {
        let id = f["fieldId"].as_str().unwrap_or_default();
        !project.hidden_fields.iter().any(|h| h == id)
    });
    if !create {
        fields.retain(|f| !matches!(f["fieldId"].as_str(), Some("issuetype" | "project")));
        if ty.hierarchy_level < 0 {
            fields.retain(|f| f["fieldId"] != "parent");
        }
    }
    fields
}

/// `getEditIssueMeta` (`GET /issue/{key}/editmeta`): the fields an edit of the issue may set,
/// as a map of `FieldMetadata`. A status whose issues cannot be edited offers none (the
/// editmeta check that drops every field; reference jira-cloud-api.md section 11.2).
pub async fn editmeta(
    Extension(c): Extension<Caller>,
    Path(p): Path<IssueRef>,
) -> Result<Json<Value>, JiraError> {
    let site = lock(&c.site);
    let issue = site
        .issues()
        .values()
        .find(|i| i.key.eq_ignore_ascii_case(&p.issue) || i.id.to_string() == p.issue)
        .ok_or_else(JiraError::issue_not_found)?;
    let project = site.project(issue.project_id).expect("issue's project");
    let locked = site.workflow_of(project).locked.contains(&issue.status);
    let fields: serde_json::Map<String, Value> = match site.issue_type(&issue.issue_type) {
        Some(ty) if !locked => screen_fields(&site, project, ty, &c.base, false)
            .into_iter()
            .filter_map(|mut f| {
                let id = f["fieldId"].as_str()?.to_owned();
                f.as_object_mut()?.remove("fieldId");
                Some((id, f))
            })
            .collect(),
        _ => serde_json::Map::new(),
    };
    Ok(Json(json!({ "fields": fields })))
}

#[derive(Deserialize)]
pub struct IssueRef {
    #[serde(rename = "issueIdOrKey")]
    issue: String,
}

/// `POST /workflows` (`readWorkflows`): the workflows of the given project and issue type
/// pairs, with their statuses and transitions. Only an account that may view workflows
/// (*Administer Jira*, or *Administer projects* / *View (read-only) workflow*) reads them;
/// anyone else gets 401, which the OpenAPI document gives for "doesn't have permissions"
/// (reference jira-cloud-api.md section 11.1). The simulator keeps one workflow per project,
/// so every issue type of a project answers with it.
pub async fn read_workflows(
    Extension(c): Extension<Caller>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, JiraError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Pair {
        project_id: String,
        issue_type_id: String,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct ReadRequest {
        #[serde(default)]
        project_and_issue_types: Vec<Pair>,
        #[serde(default)]
        workflow_ids: Vec<String>,
        #[serde(default)]
        workflow_names: Vec<String>,
    }
    let req: ReadRequest = serde_json::from_slice(&body)
        .map_err(|e| JiraError::bad_request(format!("Invalid request payload: {e}")))?;
    let site = lock(&c.site);
    let allowed = site
        .accounts
        .get(c.account_id())
        .is_some_and(|a| a.view_workflows);
    if !allowed {
        return Err(JiraError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            "You are not authorized to perform this action. Administrator privileges are required.",
        ));
    }
    let mut names: Vec<String> = req.workflow_names.clone();
    names.extend(req.workflow_ids.iter().cloned());
    for p in &req.project_and_issue_types {
        if let Some(project) = site.project_by_ref(&p.project_id)
            && project.issue_types.contains(&p.issue_type_id)
            && !names.contains(&project.workflow)
        {
            names.push(project.workflow.clone());
        }
    }
    let mut statuses: Vec<Value> = Vec::new();
    let mut workflows: Vec<Value> = Vec::new();
    for w in names.iter().filter_map(|n| site.workflows.get(n)) {
        for s in w.statuses.iter().filter_map(|id| site.status(id)) {
            if !statuses.iter().any(|v| v["id"] == s.id.as_str()) {
                let category = match s.category {
                    crate::model::Category::New => "TODO",
                    crate::model::Category::Indeterminate => "IN_PROGRESS",
                    crate::model::Category::Done => "DONE",
                };
                statuses.push(json!({ "id": s.id, "name": s.name, "description": "",
                    "scope": { "type": "GLOBAL" }, "statusCategory": category, "statusReference": s.id }));
            }
        }
        let wf_statuses: Vec<Value> = w
            .statuses
            .iter()
            .map(|id| {
                let properties = if w.locked.contains(id) {
                    json!({ "jira.issue.editable": "false" })
                } else {
                    json!({})
                };
                json!({ "statusReference": id, "deprecated": false, "properties": properties })
            })
            .collect();
        let mut transitions = vec![json!({ "id": "1", "name": "Create", "type": "INITIAL",
            "toStatusReference": w.initial, "links": [], "actions": [], "validators": [], "triggers": [], "properties": {} })];
        transitions.extend(w.transitions.iter().map(|t| {
            let links: Vec<Value> = t
                .from
                .iter()
                .map(|f| json!({ "fromStatusReference": f, "fromPort": 0, "toPort": 1 }))
                .collect();
            json!({ "id": t.id, "name": t.name, "description": "",
                "type": if t.from.is_empty() { "GLOBAL" } else { "DIRECTED" },
                "toStatusReference": t.to, "links": links,
                "actions": [], "validators": [], "triggers": [], "properties": {} })
        }));
        workflows.push(
            json!({ "id": format!("wf-{}", w.name), "name": w.name, "description": "",
            "isEditable": true, "scope": { "type": "GLOBAL" },
            "statuses": wf_statuses, "transitions": transitions }),
        );
    }
    Ok(Json(
        json!({ "statuses": statuses, "workflows": workflows }),
    ))
}
