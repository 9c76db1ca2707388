//! The hub API under `/v1`: other systems on the host create and change hub records, which
//! jira-sync carries to their connectors' sites, and follow every change (theirs and Jira's)
//! through the change feed. JSON over HTTP, a bearer token from `api_token`, off without one.
//! The contract is `openapi.json` (served at `/v1/openapi.json`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use jira_sync_config::{Config, ConnectorRef};
use jira_sync_engine::mapping::STANDARD;
use jira_sync_jobs::Daemon;
use jira_sync_metrics::Metrics;
use jira_sync_store::hub::{Commit, HubComment, Record, RecordId};
use jira_sync_store::{Hub, StoreError};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// The largest request body taken.
const MAX_BODY: usize = 256 * 1024;
/// The longest a change-feed request waits for a change.
const MAX_WAIT: u64 = 60;
/// How long `?sync=now` waits for the targets' cycles before answering.
const SYNC_NOW_WAIT: Duration = Duration::from_secs(30);
/// The contract, committed and served.
pub const OPENAPI: &str = include_str!("openapi.json");

#[derive(Clone)]
pub struct Api {
    pub hub: Hub,
    pub daemon: Daemon,
    pub metrics: Metrics,
}

/// An error as the API answers it: `{"error": "...", "field": "..."}`.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    message: String,
    field: Option<String>,
}

impl ApiError {
    fn bad(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            field: Some(field.into()),
        }
    }

    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            field: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.message });
        if let Some(f) = self.field {
            body["field"] = json!(f);
        }
        (self.status, Json(body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "Hub API: store error.");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the state database failed",
        )
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let status = match r {
            JsonRejection::BytesRejection(_) => StatusCode::PAYLOAD_TOO_LARGE,
            JsonRejection::MissingJsonContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(
            status,
            format!("the body is not usable JSON: {}", r.body_text()),
        )
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::bad("query", r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, r.body_text())
    }
}

type Result<T> = std::result::Result<T, ApiError>;

/// The `/v1` routes, behind the bearer token and the request metrics.
pub fn router(api: Api) -> Router {
    Router::new()
        .route("/v1/openapi.json", get(openapi))
        .route("/v1/records", post(create).get(find))
        .route("/v1/records/{id}", get(read).patch(patch))
        .route("/v1/records/{id}/comments", post(comment))
        .route("/v1/changes", get(changes))
        .layer(middleware::from_fn_with_state(api.clone(), guard))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(api)
}

/// Equal in constant time (the token's length is not secret).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The API is off without a token; with one, every request carries it. Counts requests by
/// route template and status.
async fn guard(State(api): State<Api>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let response = match &api.daemon.config().daemon.api_token {
        None => ApiError::new(
            StatusCode::NOT_FOUND,
            "the hub API is off: set `api_token` in jira-sync.toml",
        )
        .into_response(),
        Some(token)
            if route != "/v1/openapi.json" && !authorized(req.headers(), token.expose()) =>
        {
            let mut r = ApiError::new(
                StatusCode::UNAUTHORIZED,
                "a bearer token is needed: Authorization: Bearer <api_token>",
            )
            .into_response();
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, "Bearer".parse().expect("valid"));
            r
        }
        Some(_) => next.run(req).await,
    };
    api.metrics
        .api_requests_total
        .with_label_values(&[route.as_str(), response.status().as_str()])
        .inc();
    response
}

fn authorized(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| same(given.trim().as_bytes(), token.as_bytes()))
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

#[derive(Debug, Deserialize)]
struct SyncParam {
    sync: Option<String>,
}

impl SyncParam {
    fn now(&self) -> Result<bool> {
        match self.sync.as_deref() {
            None => Ok(false),
            Some("now") => Ok(true),
            Some(other) => Err(ApiError::bad(
                "sync",
                format!("`{other}` is not allowed; the only value is `now`"),
            )),
        }
    }
}

/// `site/connector` references of `value` (an array), each a connector that writes to Jira.
fn targets(config: &Config, value: Option<&Value>) -> Result<Vec<ConnectorRef>> {
    let list = value
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
        .ok_or_else(|| {
            ApiError::bad(
                "targets",
                "a non-empty array of connectors (\"site/connector\") to write the record to",
            )
        })?;
    let mut out = Vec::new();
    for (i, t) in list.iter().enumerate() {
        let field = format!("targets[{i}]");
        let r: ConnectorRef = t
            .as_str()
            .ok_or_else(|| ApiError::bad(&field, "a string \"site/connector\""))?
            .parse()
            .map_err(|e: String| ApiError::bad(&field, e))?;
        match config.connector(&r) {
            None => return Err(ApiError::bad(&field, format!("no connector {r}"))),
            Some((_, c)) if !c.direction.pushes() => {
                return Err(ApiError::bad(
                    &field,
                    format!("{r} only pulls (direction = \"pull\"): it writes nothing to Jira"),
                ));
            }
            Some(_) => {}
        }
        if !out.contains(&r) {
            out.push(r);
        }
    }
    Ok(out)
}

/// Checks `fields` against what the connectors map, and converts text descriptions to ADF.
fn fields(
    config: &Config,
    connectors: &[ConnectorRef],
    value: Option<&Value>,
    creating: bool,
) -> Result<BTreeMap<String, Value>> {
    let map: Map<String, Value> = match value {
        Some(Value::Object(m)) => m.clone(),
        None if !creating => Map::new(),
        _ => return Err(ApiError::bad("fields", "an object of hub fields")),
    };
    let conns: Vec<_> = connectors
        .iter()
        .filter_map(|r| config.connector(r).map(|(_, c)| c))
        .collect();
    let custom: BTreeSet<&str> = conns
        .iter()
        .flat_map(|c| c.fields.keys().map(String::as_str))
        .collect();
    let statuses: BTreeSet<&str> = conns
        .iter()
        .flat_map(|c| c.statuses.values().map(String::as_str))
        .collect();
    let mut out = BTreeMap::new();
    for (name, v) in map {
        let field = format!("fields.{name}");
        let string = |v: &Value, what: &str| -> Result<()> {
            match v {
                Value::String(_) | Value::Null => Ok(()),
                _ => Err(ApiError::bad(&field, format!("{what}, or null"))),
            }
        };
        let v = match name.as_str() {
            "summary" => {
                let s = v.as_str().map(str::trim).unwrap_or_default();
                if s.is_empty() || s.chars().count() > 255 {
                    return Err(ApiError::bad(&field, "a string of 1 to 255 characters"));
                }
                json!(s)
            }
            "description" => match v {
                Value::String(text) => jira_sync_client::adf::from_text(&text),
                Value::Object(ref o) if o.get("type") == Some(&json!("doc")) => v,
                Value::Null => v,
                _ => {
                    return Err(ApiError::bad(
                        &field,
                        "plain text, an Atlassian Document Format document, or null",
                    ));
                }
            },
            "status" => {
                let s = v.as_str().unwrap_or_default();
                if s.is_empty() || (!statuses.is_empty() && !statuses.contains(s)) {
                    return Err(ApiError::bad(
                        &field,
                        format!(
                            "one of the connectors' hub statuses: {}",
                            statuses.iter().copied().collect::<Vec<_>>().join(", ")
                        ),
                    ));
                }
                v
            }
            "priority" | "issuetype" => {
                string(&v, "a name")?;
                v
            }
            "duedate" => {
                let ok = v.is_null()
                    || v.as_str()
                        .is_some_and(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok());
                if !ok {
                    return Err(ApiError::bad(&field, "a date YYYY-MM-DD, or null"));
                }
                v
            }
            "labels" => {
                let ok = v.as_array().is_some_and(|l| {
                    l.iter().all(|x| {
                        x.as_str()
                            .is_some_and(|s| !s.is_empty() && !s.contains(' '))
                    })
                });
                if !ok {
                    return Err(ApiError::bad(&field, "an array of labels without spaces"));
                }
                let mut l: Vec<String> = v
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect();
                l.sort();
                l.dedup();
                json!(l)
            }
            "assignee" | "reporter" => {
                let ok = v.is_null() || v["email"].as_str().is_some_and(|e| e.contains('@'));
                if !ok {
                    return Err(ApiError::bad(&field, "{\"email\": \"...\"}, or null"));
                }
                if v.is_null() {
                    v
                } else {
                    json!({ "email": v["email"] })
                }
            }
            c if custom.contains(c) => match v {
                Value::Object(_) => {
                    return Err(ApiError::bad(&field, "a string, number, array or null"));
                }
                _ => v,
            },
            _ => {
                let mut known: Vec<&str> = STANDARD.to_vec();
                known.extend(custom.iter().copied());
                return Err(ApiError::bad(
                    &field,
                    format!(
                        "not a field of these connectors; known: {}",
                        known.join(", ")
                    ),
                ));
            }
        };
        out.insert(name, v);
    }
    if creating && !out.contains_key("summary") {
        return Err(ApiError::bad("fields.summary", "a record needs a summary"));
    }
    Ok(out)
}

/// The record as the API shows it: fields, comments, links (with browse URLs) and, per
/// connector, whether it is written there yet.
fn view(api: &Api, r: &Record) -> Result<Value> {
    let config = api.daemon.config();
    let links = api.hub.links_of(r.id)?;
    let mut sync = Vec::new();
    let mut connectors: BTreeSet<String> = r.targets.clone();
    connectors.extend(links.iter().map(|l| format!("{}/{}", l.site, l.connector)));
    for c in &connectors {
        let link = links
            .iter()
            .find(|l| format!("{}/{}", l.site, l.connector) == *c);
        let (state, reason) = match (link, r.parked.get(c), r.gone) {
            (_, _, Some(_)) => ("gone", None),
            (_, Some(p), _) => ("parked", Some(p.reason.clone())),
            (Some(l), _, _) if l.missing.is_some() => ("missing", l.missing.clone()),
            (Some(_), _, _) => ("linked", None),
            (None, _, _) => ("pending", None),
        };
        let parked_fields: Vec<Value> = link
            .map(|l| {
                l.parked
                    .iter()
                    .map(|(field, p)| json!({ "field": field, "reason": p.reason, "message": p.message }))
                    .collect()
            })
            .unwrap_or_default();
        sync.push(json!({ "connector": c, "state": state, "reason": reason, "parked_fields": parked_fields }));
    }
    let links: Vec<Value> = links
        .iter()
        .map(|l| {
            let url = config.site(&l.site).map(|s| {
                format!(
                    "{}/browse/{}",
                    s.url.as_str().trim_end_matches('/'),
                    l.issue_key
                )
            });
            json!({
                "site": l.site,
                "connector": l.connector,
                "issue_id": l.issue_id,
                "issue_key": l.issue_key,
                "url": url,
            })
        })
        .collect();
    let description_text = r
        .fields
        .get("description")
        .filter(|d| !d.is_null())
        .map(jira_sync_client::adf::to_text);
    Ok(json!({
        "id": r.id,
        "seq": r.seq,
        "external_id": r.external_id,
        "targets": r.targets,
        "fields": r.fields,
        "description_text": description_text,
        "comments": r.comments.iter().map(|c| json!({
            "id": c.id,
            "author": c.author,
            "created": c.created,
            "body": c.body,
            "text": jira_sync_client::adf::to_text(&c.body),
            "visibility": c.visibility,
            "internal": c.internal,
            "edited": c.edited,
            "deleted": c.deleted,
        })).collect::<Vec<_>>(),
        "gone": r.gone,
        "links": links,
        "sync": sync,
    }))
}

fn record(api: &Api, id: RecordId) -> Result<Record> {
    api.hub
        .record(id)?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no record {id}")))
}

/// Runs the record's connectors now (`?sync=now`), waiting a bounded time.
async fn sync_now(api: &Api, r: &Record) {
    let mut connectors: BTreeSet<ConnectorRef> =
        r.targets.iter().filter_map(|t| t.parse().ok()).collect();
    if let Ok(links) = api.hub.links_of(r.id) {
        connectors.extend(links.iter().map(|l| ConnectorRef {
            site: l.site.clone(),
            connector: l.connector.clone(),
        }));
    }
    let mut runs = tokio::task::JoinSet::new();
    for c in connectors {
        let d = api.daemon.clone();
        runs.spawn(async move { d.tick(&c).await });
    }
    let _ = tokio::time::timeout(SYNC_NOW_WAIT, runs.join_all()).await;
}

/// Commits a changed record (on disk before the answer), runs its connectors when asked,
/// and answers with it.
async fn save(api: &Api, r: Record, sync: bool, status: StatusCode) -> Result<Response> {
    let id = r.id;
    api.hub
        .commit(Commit {
            records: vec![r.clone()],
            ..Default::default()
        })
        .await?;
    if sync {
        sync_now(api, &r).await;
    }
    respond(api, id, status).await
}

async fn respond(api: &Api, id: RecordId, status: StatusCode) -> Result<Response> {
    let r = record(api, id)?;
    Ok((status, Json(view(api, &r)?)).into_response())
}

async fn create(
    State(api): State<Api>,
    sync: std::result::Result<Query<SyncParam>, QueryRejection>,
    body: std::result::Result<Json<Value>, JsonRejection>,
) -> Result<Response> {
    let sync = sync?.now()?;
    let Json(body) = body?;
    let Some(obj) = body.as_object() else {
        return Err(ApiError::bad("", "a JSON object"));
    };
    if let Some(unknown) = obj
        .keys()
        .find(|k| !["targets", "fields", "external_id"].contains(&k.as_str()))
    {
        return Err(ApiError::bad(
            unknown,
            "not a key of a record; known: targets, fields, external_id",
        ));
    }
    let config = api.daemon.config();
    let targets = targets(&config, obj.get("targets"))?;
    let fields = fields(&config, &targets, obj.get("fields"), true)?;
    let external_id = match obj.get("external_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 255 => Some(s.clone()),
        Some(_) => {
            return Err(ApiError::bad(
                "external_id",
                "a string of 1 to 255 characters",
            ));
        }
    };
    if let Some(ext) = &external_id
        && let Some(id) = api.hub.by_external_id(ext)?
    {
        return respond(&api, id, StatusCode::OK).await;
    }
    let now = Utc::now();
    let mut r = Record::new(api.hub.new_record_id()?);
    r.field_times = fields.keys().map(|k| (k.clone(), now)).collect();
    r.fields = fields;
    r.targets = targets.iter().map(ToString::to_string).collect();
    r.external_id = external_id;
    let id = match api
        .hub
        .commit(Commit {
            records: vec![r],
            ..Default::default()
        })
        .await
    {
        Ok(stored) => stored[0].id,
        // Another request made it first: the same record.
        Err(StoreError::ExternalIdTaken(id)) => return respond(&api, id, StatusCode::OK).await,
        Err(e) => return Err(e.into()),
    };
    let stored = record(&api, id)?;
    if sync {
        sync_now(&api, &stored).await;
    }
    respond(&api, id, StatusCode::CREATED).await
}

#[derive(Debug, Deserialize)]
struct FindParam {
    external_id: Option<String>,
}

async fn find(
    State(api): State<Api>,
    q: std::result::Result<Query<FindParam>, QueryRejection>,
) -> Result<Response> {
    let Some(ext) = q?.0.external_id.filter(|e| !e.is_empty()) else {
        return Err(ApiError::bad("external_id", "give ?external_id=..."));
    };
    match api.hub.by_external_id(&ext)? {
        Some(id) => respond(&api, id, StatusCode::OK).await,
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no record with that external id",
        )),
    }
}

async fn read(
    State(api): State<Api>,
    id: std::result::Result<Path<RecordId>, PathRejection>,
) -> Result<Response> {
    respond(&api, id?.0, StatusCode::OK).await
}

async fn patch(
    State(api): State<Api>,
    id: std::result::Result<Path<RecordId>, PathRejection>,
    sync: std::result::Result<Query<SyncParam>, QueryRejection>,
    body: std::result::Result<Json<Value>, JsonRejection>,
) -> Result<Response> {
    let id = id?.0;
    let sync = sync?.now()?;
    let Json(body) = body?;
    let Some(obj) = body.as_object() else {
        return Err(ApiError::bad("", "a JSON object"));
    };
    if let Some(unknown) = obj.keys().find(|k| k.as_str() != "fields") {
        return Err(ApiError::bad(unknown, "only `fields` can be changed"));
    }
    let mut r = record(&api, id)?;
    if r.gone.is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "the record is gone: its issue was deleted or moved out of scope",
        ));
    }
    let config = api.daemon.config();
    let mut connectors: Vec<ConnectorRef> =
        r.targets.iter().filter_map(|t| t.parse().ok()).collect();
    connectors.extend(api.hub.links_of(id)?.iter().map(|l| ConnectorRef {
        site: l.site.clone(),
        connector: l.connector.clone(),
    }));
    let changed = fields(&config, &connectors, obj.get("fields"), false)?;
    let now = Utc::now();
    for (k, v) in changed {
        // A body replaced through the API keeps the sites' media (by their nodes): Jira
        // would delete an attachment whose node a rewrite drops.
        let v = match r.fields.get(&k) {
            Some(old) => jira_sync_engine::rich::keep_media(&v, old, None),
            None => v,
        };
        if r.fields.get(&k) != Some(&v) {
            r.fields.insert(k.clone(), v);
            r.field_times.insert(k, now);
        }
    }
    save(&api, r, sync, StatusCode::OK).await
}

async fn comment(
    State(api): State<Api>,
    id: std::result::Result<Path<RecordId>, PathRejection>,
    sync: std::result::Result<Query<SyncParam>, QueryRejection>,
    body: std::result::Result<Json<Value>, JsonRejection>,
) -> Result<Response> {
    let id = id?.0;
    let sync = sync?.now()?;
    let Json(body) = body?;
    let text = match &body["body"] {
        Value::String(t) if !t.trim().is_empty() => jira_sync_client::adf::from_text(t),
        Value::Object(o) if o.get("type") == Some(&json!("doc")) => body["body"].clone(),
        _ => {
            return Err(ApiError::bad(
                "body",
                "plain text or an Atlassian Document Format document",
            ));
        }
    };
    let author = match &body["author"] {
        Value::Null => "hub API".to_owned(),
        Value::String(a) if !a.is_empty() && a.len() <= 255 => a.clone(),
        _ => return Err(ApiError::bad("author", "a name of 1 to 255 characters")),
    };
    let mut r = record(&api, id)?;
    r.comments.push(HubComment {
        id: format!("api/{}", api.hub.new_record_id()?),
        body: text,
        author,
        created: Utc::now(),
        origin: None,
        visibility: None,
        internal: false,
        edited: None,
        deleted: None,
    });
    save(&api, r, sync, StatusCode::CREATED).await
}

#[derive(Debug, Deserialize)]
struct ChangesParam {
    after: Option<u64>,
    limit: Option<usize>,
    wait: Option<u64>,
}

async fn changes(
    State(api): State<Api>,
    q: std::result::Result<Query<ChangesParam>, QueryRejection>,
) -> Result<Response> {
    let q = q?.0;
    let after = q.after.unwrap_or(0);
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad("limit", "from 1 to 1000"));
    }
    let wait = q.wait.unwrap_or(0);
    if wait > MAX_WAIT {
        return Err(ApiError::bad("wait", format!("at most {MAX_WAIT} seconds")));
    }
    // Subscribe before reading, so a change between the read and the wait is not missed.
    let subscriber = api.hub.watch_changes();
    let mut list = api.hub.changes_after(after, limit)?;
    if list.is_empty() && wait > 0 {
        let _ = tokio::time::timeout(Duration::from_secs(wait), subscriber).await;
        list = api.hub.changes_after(after, limit)?;
    }
    let mut out = Vec::new();
    let mut next = after;
    for (seq, id) in list {
        next = next.max(seq);
        if let Some(r) = api.hub.record(id)? {
            out.push(json!({ "seq": seq, "record": view(&api, &r)? }));
        }
    }
    Ok(Json(json!({ "changes": out, "next": next })).into_response())
}
