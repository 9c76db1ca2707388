//! The operations the engine and the health probe call, typed.

use std::collections::BTreeMap;

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ClientError;
use crate::request::{Client, Req};
use crate::workflow::WorkflowGraph;
use jira_sync_ratelimit::retry::Idempotency;

/// The most issues one bulk create takes.
pub const BULK_CREATE_MAX: usize = 50;
/// The most ids `reconcileIssues` takes.
pub const RECONCILE_MAX: usize = 50;
/// The most issues one bulkfetch takes (with explicit fields and no wildcard).
pub const BULK_FETCH_MAX: usize = 100;
/// Past this many characters of query string, search goes by POST.
const LONG_QUERY: usize = 1500;

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Myself {
    pub account_id: String,
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub email_address: Option<String>,
    /// `false` for a deactivated account (user search lists those too).
    #[serde(default)]
    pub active: Option<bool>,
}

/// What to search for.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    pub jql: String,
    /// Fields to return; empty returns ids only (Jira's default).
    pub fields: Vec<String>,
    /// Issue properties returned inline (at most 5).
    pub properties: Vec<String>,
    /// Ids written recently: read-after-write for them (at most 50).
    pub reconcile: Vec<u64>,
    /// Issues per page (Jira may return fewer).
    pub page_size: u32,
}

/// One page of `search/jql`.
#[derive(Debug, Clone, Deserialize)]
pub struct SearchPage {
    #[serde(default)]
    pub issues: Vec<Value>,
    #[serde(rename = "nextPageToken", default)]
    pub next_page_token: Option<String>,
    #[serde(rename = "isLast", default)]
    pub is_last: Option<bool>,
}

/// A search, page after page.
#[derive(Debug)]
pub struct Pages<'c> {
    client: &'c Client,
    query: SearchQuery,
    next: Option<String>,
    done: bool,
}

impl Pages<'_> {
    /// Whether the last page has been read.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The next page, or `None` after the last.
    pub async fn next(&mut self) -> Result<Option<SearchPage>, ClientError> {
        if self.done {
            return Ok(None);
        }
        let page = self
            .client
            .search_page(&self.query, self.next.as_deref())
            .await?;
        match &page.next_page_token {
            Some(t) if self.next.as_deref() == Some(t.as_str()) => {
                return Err(ClientError::Decode {
                    endpoint: "/rest/api/3/search/jql".into(),
                    status: 200,
                    detail: "the same nextPageToken came back twice".into(),
                });
            }
            Some(t) if page.is_last != Some(true) => self.next = Some(t.clone()),
            _ => self.done = true,
        }
        Ok(Some(page))
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Created {
    pub id: String,
    pub key: String,
}

/// One refused element of a bulk create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementError {
    /// Index in the caller's list.
    pub index: usize,
    pub status: u16,
    pub messages: Vec<String>,
    pub errors: Vec<(String, String)>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkCreated {
    /// (index in the caller's list, created issue).
    pub created: Vec<(usize, Created)>,
    pub failed: Vec<ElementError>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct StatusRef {
    pub id: String,
    pub name: String,
    /// The status category (`key`: `new`, `indeterminate` or `done`), where Jira gives it.
    #[serde(default, rename = "statusCategory")]
    pub category: Option<StatusCategory>,
}

/// A status category: Jira's three, `new`, `indeterminate` and `done`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct StatusCategory {
    pub key: String,
}

impl StatusRef {
    /// The category's place on the way to done: new 0, indeterminate 1, done 2.
    pub fn category_rank(&self) -> Option<u8> {
        match self.category.as_ref()?.key.as_str() {
            "new" => Some(0),
            "indeterminate" => Some(1),
            "done" => Some(2),
            _ => None,
        }
    }
}

/// One transition valid from an issue's status (`IssueTransition` of `getTransitions`, read
/// with `expand=transitions.fields`; reference jira-cloud-api.md section 11.1).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Transition {
    pub id: String,
    pub name: String,
    pub to: StatusRef,
    /// The transition screen's fields by id (`resolution`, ...): only these may be sent with
    /// it, and the `required` ones must be. Empty for a transition without a screen.
    #[serde(default)]
    pub fields: BTreeMap<String, FieldMeta>,
}

/// A field of a screen (`FieldMetadata`): whether it must be given, and the values it takes.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
pub struct FieldMeta {
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub name: Option<String>,
    /// The values the field offers (resolutions, priorities, options): objects with `id` and
    /// `name` (or `value`).
    #[serde(default, rename = "allowedValues")]
    pub allowed_values: Vec<Value>,
}

impl FieldMeta {
    /// The allowed value named `name` (by `name` or `value`, ignoring case), if offered.
    pub fn allowed(&self, name: &str) -> Option<&Value> {
        self.allowed_values.iter().find(|v| {
            v.get("name")
                .or_else(|| v.get("value"))
                .and_then(Value::as_str)
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Field {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub custom: bool,
    #[serde(default)]
    pub schema: Option<FieldSchema>,
}

/// A field's value type (`string`, `number`, `option`, `array`, `date`, ...).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct FieldSchema {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub items: Option<String>,
    /// The custom field type's key (`com.atlassian.jira.plugin.system.customfieldtypes:select`,
    /// `com.pyxis.greenhopper.jira:gh-sprint`, a third-party app's), for custom fields.
    #[serde(default)]
    pub custom: Option<String>,
}

impl FieldSchema {
    /// The value's shape as one word: the type, and for arrays the item type
    /// (`option`, `array/option`, `array/string`, `datetime`, `number`, ...; reference
    /// jira-cloud-api.md section 11.7).
    pub fn shape(&self) -> String {
        match (&self.kind[..], &self.items) {
            ("array", Some(items)) => format!("array/{items}"),
            _ => self.kind.clone(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct IssueTypeRef {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    pub id: String,
    pub key: String,
    pub name: String,
    #[serde(default)]
    pub issue_types: Vec<IssueTypeRef>,
}

pub(crate) fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

impl Client {
    pub async fn myself(&self) -> Result<Myself, ClientError> {
        self.execute(Req::get("/myself", "/myself")).await
    }

    /// A search as a sequence of pages.
    pub fn search(&self, query: SearchQuery) -> Result<Pages<'_>, ClientError> {
        if query.reconcile.len() > RECONCILE_MAX {
            return Err(ClientError::Usage(format!(
                "reconcileIssues takes at most {RECONCILE_MAX} ids"
            )));
        }
        if query.properties.len() > 5 {
            return Err(ClientError::Usage(
                "search returns at most 5 issue properties".into(),
            ));
        }
        Ok(Pages {
            client: self,
            query,
            next: None,
            done: false,
        })
    }

    async fn search_page(
        &self,
        q: &SearchQuery,
        token: Option<&str>,
    ) -> Result<SearchPage, ClientError> {
        let mut query: Vec<(&'static str, String)> = vec![
            ("jql", q.jql.clone()),
            ("maxResults", q.page_size.max(1).to_string()),
        ];
        if !q.fields.is_empty() {
            query.push(("fields", q.fields.join(",")));
        }
        if !q.properties.is_empty() {
            query.push(("properties", q.properties.join(",")));
        }
        if !q.reconcile.is_empty() {
            query.push((
                "reconcileIssues",
                q.reconcile
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
            ));
        }
        if let Some(t) = token {
            query.push(("nextPageToken", t.to_owned()));
        }
        let length: usize = query.iter().map(|(k, v)| k.len() + enc(v).len() + 2).sum();
        if length <= LONG_QUERY {
            let mut req = Req::get("/search/jql", "/search/jql");
            req.query = query;
            return self.execute(req).await;
        }
        let mut body = json!({ "jql": q.jql, "maxResults": q.page_size.max(1) });
        if !q.fields.is_empty() {
            body["fields"] = json!(q.fields);
        }
        if !q.properties.is_empty() {
            body["properties"] = json!(q.properties);
        }
        if !q.reconcile.is_empty() {
            body["reconcileIssues"] = json!(q.reconcile);
        }
        if let Some(t) = token {
            body["nextPageToken"] = json!(t);
        }
        self.execute(Req::send(Method::POST, "/search/jql", "/search/jql", body))
            .await
    }

    pub async fn approximate_count(&self, jql: &str) -> Result<u64, ClientError> {
        let v: Value = self
            .execute(Req::send(
                Method::POST,
                "/search/approximate-count",
                "/search/approximate-count",
                json!({ "jql": jql }),
            ))
            .await?;
        v["count"].as_u64().ok_or_else(|| ClientError::Decode {
            endpoint: "/rest/api/3/search/approximate-count".into(),
            status: 200,
            detail: "no count".into(),
        })
    }

    /// Issues by id or key (at most 100); unknown ones are simply missing from the result.
    pub async fn bulkfetch(
        &self,
        ids: &[String],
        fields: &[String],
        properties: &[String],
    ) -> Result<Vec<Value>, ClientError> {
        if ids.len() > BULK_FETCH_MAX {
            return Err(ClientError::Usage(format!(
                "bulkfetch takes at most {BULK_FETCH_MAX} issues"
            )));
        }
        let body = json!({ "issueIdsOrKeys": ids, "fields": fields, "properties": properties });
        let v: Value = self
            .execute(Req::send(
                Method::POST,
                "/issue/bulkfetch",
                "/issue/bulkfetch",
                body,
            ))
            .await?;
        Ok(v["issues"].as_array().cloned().unwrap_or_default())
    }

    pub async fn get_issue(
        &self,
        key: &str,
        fields: &[String],
        properties: &[String],
    ) -> Result<Value, ClientError> {
        let mut req = Req::get("/issue/{issueIdOrKey}", format!("/issue/{}", enc(key)));
        if !fields.is_empty() {
            req.query.push(("fields", fields.join(",")));
        }
        if !properties.is_empty() {
            req.query.push(("properties", properties.join(",")));
        }
        self.execute(req).await
    }

    /// Creates an issue from `IssueUpdateDetails` (fields, update, properties). Never retried:
    /// a create that may have landed is for the engine's pending-create path to find.
    pub async fn create(&self, details: Value) -> Result<Created, ClientError> {
        let mut req = Req::send(Method::POST, "/issue", "/issue", details);
        req.idempotency = Idempotency::Create;
        self.execute(req).await
    }

    /// Creates issues, 50 per request; each refused element is reported with its index.
    pub async fn bulk_create(&self, details: &[Value]) -> Result<BulkCreated, ClientError> {
        let mut out = BulkCreated::default();
        for (chunk_no, chunk) in details.chunks(BULK_CREATE_MAX).enumerate() {
            let offset = chunk_no * BULK_CREATE_MAX;
            let mut req = Req::send(
                Method::POST,
                "/issue/bulk",
                "/issue/bulk",
                json!({ "issueUpdates": chunk }),
            );
            req.idempotency = Idempotency::Create;
            // When every element fails, Jira answers 400 with the same per-element shape.
            req.answers = &[400];
            let v: Value = self.execute(req).await?;
            let answer = crate::decode::bulk_answer(&v, chunk.len())?;
            out.created
                .extend(answer.created.into_iter().map(|(i, c)| (offset + i, c)));
            out.failed.extend(answer.failed.into_iter().map(|mut e| {
                e.index += offset;
                e
            }));
        }
        Ok(out)
    }

    /// Edits fields and properties of an issue (204).
    pub async fn edit(&self, key: &str, details: Value) -> Result<(), ClientError> {
        let mut req = Req::send(
            Method::PUT,
            "/issue/{issueIdOrKey}",
            format!("/issue/{}", enc(key)),
            details,
        );
        req.write_to = Some(key);
        self.execute_empty(req).await
    }

    /// Assigns the issue to `account_id`, or unassigns it with `None` (`assignIssue`,
    /// `PUT /issue/{key}/assignee` -> 204). Unlike an edit, it needs *Assign issues* rather
    /// than the edit screen, and it is applied where an edit's `assignee` may be silently
    /// ignored (reference jira-cloud-api.md section 11.5). Errors: `Invalid` (400) for a
    /// person who cannot be assigned, `Forbidden` without the permission.
    pub async fn assign(&self, key: &str, account_id: Option<&str>) -> Result<(), ClientError> {
        let mut req = Req::send(
            Method::PUT,
            "/issue/{issueIdOrKey}/assignee",
            format!("/issue/{}/assignee", enc(key)),
            json!({ "accountId": account_id }),
        );
        req.write_to = Some(key);
        self.execute_empty(req).await
    }

    /// Deletes an issue. Retried like any idempotent write: a retry of a delete that landed
    /// answers 404 (`NotFound`), which callers take as done.
    pub async fn delete(&self, key: &str) -> Result<(), ClientError> {
        let mut req = Req::get("/issue/{issueIdOrKey}", format!("/issue/{}", enc(key)));
        req.method = Method::DELETE;
        req.write_to = Some(key);
        self.execute_empty(req).await
    }

    /// The transitions valid from the issue's status, each with its screen's fields
    /// (`getTransitions` with `expand=transitions.fields`).
    pub async fn transitions(&self, key: &str) -> Result<Vec<Transition>, ClientError> {
        let mut req = Req::get(
            "/issue/{issueIdOrKey}/transitions",
            format!("/issue/{}/transitions", enc(key)),
        );
        req.query.push(("expand", "transitions.fields".into()));
        let v: Value = self.execute(req).await?;
        serde_json::from_value(v["transitions"].clone()).map_err(|e| ClientError::Decode {
            endpoint: "/rest/api/3/issue/{issueIdOrKey}/transitions".into(),
            status: 200,
            detail: e.to_string(),
        })
    }

    /// Takes transition `id` with the screen `fields` it needs (`doTransition`; `{}` for
    /// none): moving to a target status twice is the same as once, so retried.
    pub async fn transition(&self, key: &str, id: &str, fields: Value) -> Result<(), ClientError> {
        let body = if fields.as_object().is_some_and(|f| !f.is_empty()) {
            json!({ "transition": { "id": id }, "fields": fields })
        } else {
            json!({ "transition": { "id": id } })
        };
        let mut req = Req::send(
            Method::POST,
            "/issue/{issueIdOrKey}/transitions",
            format!("/issue/{}/transitions", enc(key)),
            body,
        );
        req.write_to = Some(key);
        self.execute_empty(req).await
    }

    /// An issue property's value, `None` if unset.
    pub async fn get_property(
        &self,
        key: &str,
        property: &str,
    ) -> Result<Option<Value>, ClientError> {
        let req = Req::get(
            "/issue/{issueIdOrKey}/properties/{propertyKey}",
            format!("/issue/{}/properties/{}", enc(key), enc(property)),
        );
        match self.execute::<Value>(req).await {
            Ok(v) => Ok(Some(v["value"].clone())),
            Err(ClientError::NotFound { messages, .. })
                if messages.iter().any(|m| m.contains("property")) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    pub async fn set_property(
        &self,
        key: &str,
        property: &str,
        value: Value,
    ) -> Result<(), ClientError> {
        let mut req = Req::send(
            Method::PUT,
            "/issue/{issueIdOrKey}/properties/{propertyKey}",
            format!("/issue/{}/properties/{}", enc(key), enc(property)),
            value,
        );
        req.write_to = Some(key);
        self.execute_empty(req).await
    }

    /// The active account whose *visible* email is exactly `email` (case-insensitive), if
    /// there is exactly one. Jira's user search also matches names and prefixes, and hides emails by
    /// profile visibility, so only an exact match on a shown email counts.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<Myself>, ClientError> {
        let mut req = Req::get("/user/search", "/user/search");
        req.query.push(("query", email.to_owned()));
        req.query.push(("maxResults", "50".into()));
        let users: Vec<Myself> = self.execute(req).await?;
        let mut exact = users.into_iter().filter(|u| {
            u.active != Some(false)
                && u.email_address
                    .as_deref()
                    .is_some_and(|e| e.eq_ignore_ascii_case(email))
        });
        Ok(match (exact.next(), exact.next()) {
            (Some(u), None) => Some(u),
            _ => None,
        })
    }

    /// The account `account_id` as this site shows it (`getUser`,
    /// `GET /rest/api/3/user?accountId=`), its email only where the person's profile
    /// visibility shows it; `None` when the site does not know the account (404).
    pub async fn user(&self, account_id: &str) -> Result<Option<Myself>, ClientError> {
        let mut req = Req::get("/user", "/user");
        req.query.push(("accountId", account_id.to_owned()));
        match self.execute(req).await {
            Ok(u) => Ok(Some(u)),
            Err(ClientError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn fields(&self) -> Result<Vec<Field>, ClientError> {
        self.execute(Req::get("/field", "/field")).await
    }

    pub async fn project(&self, key: &str) -> Result<Project, ClientError> {
        let mut req = Req::get(
            "/project/{projectIdOrKey}",
            format!("/project/{}", enc(key)),
        );
        req.query.push(("expand", "issueTypes".into()));
        self.execute(req).await
    }

    /// Every status of project `key`'s workflows, with its category (`GET
    /// /project/{key}/statuses`, per issue type; Browse permission). Duplicates removed.
    pub async fn project_statuses(&self, key: &str) -> Result<Vec<StatusRef>, ClientError> {
        let v: Value = self
            .execute(Req::get(
                "/project/{projectIdOrKey}/statuses",
                format!("/project/{}/statuses", enc(key)),
            ))
            .await?;
        let mut out: Vec<StatusRef> = Vec::new();
        for t in v.as_array().into_iter().flatten() {
            let statuses: Vec<StatusRef> =
                serde_json::from_value(t["statuses"].clone()).map_err(|e| ClientError::Decode {
                    endpoint: "/rest/api/3/project/{projectIdOrKey}/statuses".into(),
                    status: 200,
                    detail: e.to_string(),
                })?;
            for s in statuses {
                if !out.iter().any(|o| o.id == s.id) {
                    out.push(s);
                }
            }
        }
        Ok(out)
    }

    /// The workflow of issue type `issue_type_id` in project `project_id` (both ids), as its
    /// definition reads (`readWorkflows`, `POST /rest/api/3/workflows` with
    /// `projectAndIssueTypes`). `None` when the account may not read workflows: that needs
    /// *Administer Jira*, or *Administer projects* / *View (read-only) workflow* on the
    /// project, and the OpenAPI document answers 401 to anyone else (a missing
    /// `manage:jira-configuration` or `read:workflow:jira` scope reads the same way); 400, 403
    /// and 404 are taken the same way. Reference jira-cloud-api.md section 11.1.
    ///
    /// # Errors
    /// Transport, rate limit and server failures as for every request; an unreadable 200.
    pub async fn workflow(
        &self,
        project_id: &str,
        issue_type_id: &str,
    ) -> Result<Option<WorkflowGraph>, ClientError> {
        let mut req = Req::send(
            Method::POST,
            "/workflows",
            "/workflows",
            json!({ "projectAndIssueTypes": [{ "projectId": project_id, "issueTypeId": issue_type_id }] }),
        );
        // 401 goes through the request loop's refresh first: an OAuth access token that just
        // expired must not read as "may not read workflows".
        req.answers = &[400, 403, 404];
        let (status, body) = match self.execute_raw(req).await {
            Err(ClientError::Unauthorized { .. }) => return Ok(None),
            other => other?,
        };
        if status != 200 {
            return Ok(None);
        }
        let v: Value = serde_json::from_slice(&body).map_err(|e| ClientError::Decode {
            endpoint: "/rest/api/3/workflows".into(),
            status,
            detail: e.to_string(),
        })?;
        Ok(WorkflowGraph::from_read(&v))
    }

    /// When each field of an issue last changed: field id -> the newest `created` of a
    /// changelog entry naming it (`getChangeLogs`, `GET /issue/{key}/changelog`, every page
    /// of 100, oldest first; reference jira-cloud-api.md section 11.8). Timestamps as Jira
    /// prints them. Read only for issues whose fields conflict.
    pub async fn field_change_times(
        &self,
        key: &str,
    ) -> Result<BTreeMap<String, String>, ClientError> {
        let mut out = BTreeMap::new();
        let mut start = 0usize;
        loop {
            let mut req = Req::get(
                "/issue/{issueIdOrKey}/changelog",
                format!("/issue/{}/changelog", enc(key)),
            );
            req.query = vec![("startAt", start.to_string()), ("maxResults", "100".into())];
            let v: Value = self.execute(req).await?;
            let values = v["values"].as_array().cloned().unwrap_or_default();
            for entry in &values {
                let Some(at) = entry["created"].as_str() else {
                    continue;
                };
                for item in entry["items"].as_array().into_iter().flatten() {
                    if let Some(f) = item["fieldId"].as_str().or_else(|| item["field"].as_str()) {
                        out.insert(f.to_owned(), at.to_owned());
                    }
                }
            }
            start += values.len();
            let total = v["total"].as_u64().unwrap_or(0) as usize;
            if values.is_empty() || v["isLast"] == true || start >= total {
                return Ok(out);
            }
        }
    }

    /// The edit screen of an issue: field id -> what an edit may set (`getEditIssueMeta`). Empty
    /// in a status whose issues cannot be edited.
    pub async fn editmeta(&self, key: &str) -> Result<BTreeMap<String, FieldMeta>, ClientError> {
        let v: Value = self
            .execute(Req::get(
                "/issue/{issueIdOrKey}/editmeta",
                format!("/issue/{}/editmeta", enc(key)),
            ))
            .await?;
        serde_json::from_value(v["fields"].clone()).map_err(|e| ClientError::Decode {
            endpoint: "/rest/api/3/issue/{issueIdOrKey}/editmeta".into(),
            status: 200,
            detail: e.to_string(),
        })
    }

    /// The create screen of issue type `type_id` in project `key`: field id -> what it takes
    /// (`getCreateIssueMetaIssueTypeId`; its `fields` is an array with `fieldId`, up to 200).
    pub async fn createmeta_fields(
        &self,
        key: &str,
        type_id: &str,
    ) -> Result<BTreeMap<String, FieldMeta>, ClientError> {
        let mut req = Req::get(
            "/issue/createmeta/{projectIdOrKey}/issuetypes/{issueTypeId}",
            format!("/issue/createmeta/{}/issuetypes/{}", enc(key), enc(type_id)),
        );
        req.query.push(("maxResults", "200".into()));
        let v: Value = self.execute(req).await?;
        let mut out = BTreeMap::new();
        for f in v["fields"].as_array().into_iter().flatten() {
            let Some(id) = f["fieldId"].as_str() else {
                continue;
            };
            let meta: FieldMeta =
                serde_json::from_value(f.clone()).map_err(|e| ClientError::Decode {
                    endpoint:
                        "/rest/api/3/issue/createmeta/{projectIdOrKey}/issuetypes/{issueTypeId}"
                            .into(),
                    status: 200,
                    detail: e.to_string(),
                })?;
            out.insert(id.to_owned(), meta);
        }
        Ok(out)
    }

    /// The issue types a create in project `key` may use (`getCreateIssueMetaIssueTypes`,
    /// up to 200, the most one page holds).
    pub async fn createmeta_issue_types(
        &self,
        key: &str,
    ) -> Result<Vec<IssueTypeRef>, ClientError> {
        let mut req = Req::get(
            "/issue/createmeta/{projectIdOrKey}/issuetypes",
            format!("/issue/createmeta/{}/issuetypes", enc(key)),
        );
        req.query.push(("maxResults", "200".into()));
        let v: Value = self.execute(req).await?;
        let list = if v["issueTypes"].is_array() {
            v["issueTypes"].clone()
        } else {
            v["createMetaIssueType"].clone()
        };
        serde_json::from_value(list).map_err(|e| ClientError::Decode {
            endpoint: "/rest/api/3/issue/createmeta/{projectIdOrKey}/issuetypes".into(),
            status: 200,
            detail: e.to_string(),
        })
    }
}
