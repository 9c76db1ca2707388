//! `search/jql` (GET and POST), `search/approximate-count`, and the removed `/search`.

use std::hash::{DefaultHasher, Hash, Hasher};

use axum::body::Bytes;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::Caller;
use super::issues::{check_properties, list_param, param};
use crate::error::JiraError;
use crate::jql::{self, Compiled};
use crate::model::{Issue, Site, lock};
use crate::render::{self, FieldSelection};

/// The most comments search embeds per issue.
pub const EMBEDDED_COMMENTS: usize = 20;

/// Page size when no `maxResults` is given.
pub const DEFAULT_PAGE: usize = 50;
/// Most issues a page carries when fields or properties are requested.
pub const MAX_PAGE_WITH_FIELDS: usize = 100;
/// Most issues a page carries when only ids are requested.
pub const MAX_PAGE_IDS_ONLY: usize = 5000;
/// Most ids `reconcileIssues` takes.
pub const MAX_RECONCILE: usize = 50;

const UNBOUNDED: &str =
    "Unbounded JQL queries are not allowed here. Please add a search restriction to your query.";

/// The request, whichever way it came.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SearchRequest {
    #[serde(default)]
    jql: Option<String>,
    #[serde(default)]
    next_page_token: Option<String>,
    #[serde(default)]
    max_results: Option<i64>,
    #[serde(default)]
    fields: Vec<String>,
    #[serde(default)]
    expand: Option<String>,
    #[serde(default)]
    properties: Vec<String>,
    #[serde(default)]
    fields_by_keys: Option<bool>,
    #[serde(default)]
    reconcile_issues: Vec<i64>,
}

pub async fn search_get(
    Extension(c): Extension<Caller>,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Response, JiraError> {
    let max_results = match param(&q, "maxResults") {
        None => None,
        Some(m) => Some(m.parse().map_err(|_| {
            JiraError::bad_request(format!("'{m}' is not a valid number for maxResults."))
        })?),
    };
    let reconcile = list_param(&q, "reconcileIssues")
        .iter()
        .map(|s| {
            s.parse::<i64>()
                .map_err(|_| JiraError::bad_request(format!("'{s}' is not an issue id.")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let req = SearchRequest {
        jql: param(&q, "jql").map(str::to_owned),
        next_page_token: param(&q, "nextPageToken").map(str::to_owned),
        max_results,
        fields: list_param(&q, "fields"),
        expand: param(&q, "expand").map(str::to_owned),
        properties: list_param(&q, "properties"),
        fields_by_keys: None,
        reconcile_issues: reconcile,
    };
    search(&c, req).map(with_objects)
}

/// The JSON response, carrying the number of issues for the points cost.
fn with_objects(v: Value) -> Response {
    let n = v["issues"].as_array().map_or(0, Vec::len) as u64;
    let mut r = Json(v).into_response();
    r.extensions_mut().insert(super::Objects(n));
    r
}

pub async fn search_post(
    Extension(c): Extension<Caller>,
    body: Bytes,
) -> Result<Response, JiraError> {
    let req: SearchRequest = serde_json::from_slice(&body)
        .map_err(|e| JiraError::bad_request(format!("Invalid request payload: {e}")))?;
    search(&c, req).map(with_objects)
}

/// Parses and resolves `jql` for the caller; refuses empty and unbounded queries.
fn compile(site: &Site, caller: &str, jql: Option<&str>) -> Result<Compiled, JiraError> {
    let jql = jql.unwrap_or_default();
    if jql.trim().is_empty() {
        return Err(JiraError::bad_request(UNBOUNDED));
    }
    let tz = site
        .accounts
        .get(caller)
        .map_or(chrono_tz::UTC, |a| a.time_zone);
    let query = jql::parse(jql).map_err(JiraError::bad_request)?;
    let compiled = jql::compile(&query, site, caller, tz).map_err(JiraError::bad_request)?;
    if !compiled.is_bounded() {
        return Err(JiraError::bad_request(UNBOUNDED));
    }
    Ok(compiled)
}

fn fingerprint(jql: &str) -> u64 {
    let mut h = DefaultHasher::new();
    jql.hash(&mut h);
    h.finish()
}

/// An opaque token: which query, and where the next page starts.
fn page_token(jql: &str, offset: usize) -> String {
    format!(
        "{:016x}{:012x}",
        fingerprint(jql),
        offset ^ 0x5a5a_5a5a_5a5a
    )
}

fn read_token(jql: &str, token: &str) -> Result<usize, JiraError> {
    let invalid = || JiraError::bad_request("The provided next page token is invalid or expired.");
    if token.len() != 28 || !token.is_ascii() {
        return Err(invalid());
    }
    let fp = u64::from_str_radix(&token[..16], 16).map_err(|_| invalid())?;
    let off = usize::from_str_radix(&token[16..], 16).map_err(|_| invalid())?;
    if fp != fingerprint(jql) {
        return Err(invalid());
    }
    Ok(off ^ 0x5a5a_5a5a_5a5a)
}

fn search(c: &Caller, req: SearchRequest) -> Result<Value, JiraError> {
    let _ = (&req.expand, req.fields_by_keys);
    check_properties(&req.properties)?;
    if req.reconcile_issues.len() > MAX_RECONCILE {
        return Err(JiraError::bad_request(format!(
            "At most {MAX_RECONCILE} issues can be reconciled."
        )));
    }
    // Search embeds at most 20 comments per issue (reference jira-cloud-api.md section
    // 11.9; which 20 is unconfirmed: the oldest, so a client that ignores `total` loses the
    // newest).
    let sel = FieldSelection::parse(&req.fields)
        .seen_by(c.account_id())
        .comments_capped(EMBEDDED_COMMENTS, false);
    let cap = if sel.ids_only() && req.properties.is_empty() {
        MAX_PAGE_IDS_ONLY
    } else {
        MAX_PAGE_WITH_FIELDS
    };
    let max = match req.max_results {
        None => DEFAULT_PAGE,
        Some(n) if n < 1 => {
            return Err(JiraError::bad_request("maxResults must be greater than 0."));
        }
        Some(n) => usize::try_from(n).unwrap_or(cap).min(cap),
    };
    let jql = req.jql.clone().unwrap_or_default();
    let offset = match &req.next_page_token {
        None => 0,
        Some(t) => read_token(&jql, t)?,
    };
    let mut site = lock(&c.site);
    let compiled = compile(&site, c.account_id(), req.jql.as_deref())?;
    // Later pages of a query read the result list the first page computed, as long as no
    // issue changed in between (Jira pages from its index the same way).
    let now = c.world.clock().now();
    let page: Vec<Value>;
    let total;
    if site.search_is_current(now) {
        let hits = site.cached_search(&jql, c.account_id(), |s| {
            let mut hits: Vec<&Issue> = s
                .issues()
                .values()
                .filter(|i| compiled.matches(i))
                .collect();
            compiled.sort(&mut hits);
            hits.iter().map(|i| i.id).collect()
        });
        total = hits.len();
        page = hits
            .iter()
            .skip(offset)
            .take(max)
            .filter_map(|id| site.issues().get(id))
            .map(|i| render::issue(&site, i, &sel, &req.properties, &c.base))
            .collect();
    } else {
        // Writes younger than the search lag are not indexed yet, except reconciled ids.
        let fresh: Vec<u64> = req
            .reconcile_issues
            .iter()
            .filter_map(|i| u64::try_from(*i).ok())
            .collect();
        let mut visible = site.searchable(now, &fresh);
        visible.retain(|i| compiled.matches(i));
        compiled.sort(&mut visible);
        total = visible.len();
        let page_issues: Vec<Issue> = visible
            .into_iter()
            .skip(offset)
            .take(max)
            .cloned()
            .collect();
        page = page_issues
            .iter()
            .map(|i| render::issue(&site, i, &sel, &req.properties, &c.base))
            .collect();
    }
    let next = offset + page.len();
    let mut out = Map::new();
    out.insert("issues".into(), Value::Array(page));
    let is_last = next >= total;
    if !is_last {
        out.insert("nextPageToken".into(), json!(page_token(&jql, next)));
    }
    out.insert("isLast".into(), json!(is_last));
    Ok(Value::Object(out))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CountRequest {
    jql: Option<String>,
}

pub async fn approximate_count(
    Extension(c): Extension<Caller>,
    body: Bytes,
) -> Result<Json<Value>, JiraError> {
    let req: CountRequest = serde_json::from_slice(&body)
        .map_err(|e| JiraError::bad_request(format!("Invalid request payload: {e}")))?;
    let mut site = lock(&c.site);
    let compiled = compile(&site, c.account_id(), req.jql.as_deref())?;
    let now = c.world.clock().now();
    let count = site
        .searchable(now, &[])
        .into_iter()
        .filter(|i| compiled.matches(i))
        .count();
    Ok(Json(json!({ "count": count })))
}

/// The legacy search API was removed in 2025 and answers 410.
pub async fn removed() -> Response {
    let body = json!({
        "errorMessages": ["The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"],
        "errors": {},
    });
    (StatusCode::GONE, Json(body)).into_response()
}
