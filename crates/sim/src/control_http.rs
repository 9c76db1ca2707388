//! `/_sim/...`: the control API over HTTP (JSON), for the demo and for other processes.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::App;
use crate::control::{AccountSpec, ControlError, CredentialSpec, FieldSpec, ProjectSpec, SiteSpec};
use crate::faults::FaultSpec;
use crate::limits::LimitsSpec;
use crate::model::WorkflowSpec;
use crate::oauth::{Consent, OAuthClientSpec};

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        let status = match &self {
            ControlError::UnknownSite(_) | ControlError::NotFound(_) => StatusCode::NOT_FOUND,
            ControlError::Invalid(_) => StatusCode::BAD_REQUEST,
            ControlError::Conflict(_) => StatusCode::CONFLICT,
            ControlError::Jira(e) => e.status,
        };
        let body = match &self {
            ControlError::Jira(e) => json!({ "error": "jira", "jira": e.body() }),
            other => json!({ "error": other.to_string() }),
        };
        (status, Json(body)).into_response()
    }
}

type Result<T> = std::result::Result<T, ControlError>;

pub fn router() -> Router<App> {
    Router::new()
        .route("/_sim/sites", get(sites).post(create_site))
        .route("/_sim/sites/{site}/accounts", post(create_account))
        .route("/_sim/sites/{site}/credentials", post(create_credential))
        .route(
            "/_sim/sites/{site}/accounts/{account}/captcha",
            post(require_captcha).delete(clear_captcha),
        )
        .route("/_sim/sites/{site}/credentials/{id}/revoke", post(revoke))
        .route("/_sim/sites/{site}/credentials/{id}/restore", post(restore))
        .route("/_sim/sites/{site}/credentials/{id}/expire", post(expire))
        .route("/_sim/sites/{site}/workflows", post(create_workflow))
        .route("/_sim/sites/{site}/fields", post(create_field))
        .route("/_sim/sites/{site}/projects", post(create_project))
        .route("/_sim/sites/{site}/projects/{key}/seed", post(seed))
        .route("/_sim/sites/{site}/issues", post(create_issue))
        .route(
            "/_sim/sites/{site}/issues/{key}",
            get(issue).delete(delete_issue),
        )
        .route("/_sim/sites/{site}/issues/{key}/edit", post(edit))
        .route(
            "/_sim/sites/{site}/issues/{key}/transition",
            post(transition),
        )
        .route("/_sim/sites/{site}/issues/{key}/comment", post(comment))
        .route(
            "/_sim/sites/{site}/issues/{key}/comment/{id}",
            put(edit_comment).delete(delete_comment),
        )
        .route("/_sim/sites/{site}/counters", get(site_counters))
        .route("/_sim/counters", get(counters).delete(reset_counters))
        .route("/_sim/clock/advance", post(advance_clock))
        .route("/_sim/clock/freeze", post(freeze_clock))
        .route("/_sim/sites/{site}/limits", put(set_limits))
        .route("/_sim/sites/{site}/faults", put(set_faults))
        .route("/_sim/sites/{site}/search-lag", put(set_search_lag))
        .route(
            "/_sim/sites/{site}/webhooks",
            get(webhooks).post(register_admin_webhook),
        )
        .route(
            "/_sim/sites/{site}/webhooks/faults",
            put(set_webhook_faults),
        )
        .route("/_sim/sites/{site}/rate-limits", get(rate_limits))
        .route("/_sim/oauth/clients", post(create_client))
        .route(
            "/_sim/oauth/clients/{id}/rotate-secret",
            post(rotate_secret),
        )
        .route("/_sim/oauth/clients/{id}/revoke", post(revoke_client))
        .route("/_sim/oauth/grants", get(grants))
        .route("/_sim/oauth/grants/{id}/revoke", post(revoke_grant))
        .route("/_sim/oauth/consent", post(consent))
        .route("/_sim/health", get(|| async { "ok" }))
        .route(
            "/_sim/{*rest}",
            delete(not_found).get(not_found).post(not_found),
        )
}

async fn not_found() -> Response {
    ControlError::NotFound("no such control endpoint; see crates/sim/README.md".into())
        .into_response()
}

async fn sites(State(app): State<App>) -> Json<Value> {
    Json(json!(app.control.sites()))
}

async fn create_site(State(app): State<App>, Json(spec): Json<SiteSpec>) -> Result<Response> {
    let info = app.control.create_site(spec)?;
    Ok((StatusCode::CREATED, Json(json!(info))).into_response())
}

async fn create_account(
    State(app): State<App>,
    Path(site): Path<String>,
    Json(spec): Json<AccountSpec>,
) -> Result<Response> {
    let id = app.control.create_account(&site, spec)?;
    Ok((StatusCode::CREATED, Json(json!({ "accountId": id }))).into_response())
}

async fn create_credential(
    State(app): State<App>,
    Path(site): Path<String>,
    Json(spec): Json<CredentialSpec>,
) -> Result<Response> {
    let info = app.control.create_credential(&site, spec)?;
    Ok((StatusCode::CREATED, Json(json!(info))).into_response())
}

/// `POST /_sim/sites/{site}/accounts/{account}/captcha` `{"after": N}` (default 0): Jira
/// demands a CAPTCHA of the account after N more basic-auth requests.
async fn require_captcha(
    State(app): State<App>,
    Path((site, account)): Path<(String, String)>,
    body: Option<Json<CaptchaSpec>>,
) -> Result<StatusCode> {
    let after = body.map_or(0, |Json(b)| b.after);
    app.control.require_captcha(&site, &account, after)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /_sim/sites/{site}/accounts/{account}/captcha`: a person signed in once.
async fn clear_captcha(
    State(app): State<App>,
    Path((site, account)): Path<(String, String)>,
) -> Result<StatusCode> {
    app.control.clear_captcha(&site, &account)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CaptchaSpec {
    #[serde(default)]
    after: u64,
}

async fn revoke(
    State(app): State<App>,
    Path((site, id)): Path<(String, String)>,
) -> Result<StatusCode> {
    app.control.revoke_credential(&site, &id)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn restore(
    State(app): State<App>,
    Path((site, id)): Path<(String, String)>,
) -> Result<StatusCode> {
    app.control.restore_credential(&site, &id)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn expire(
    State(app): State<App>,
    Path((site, id)): Path<(String, String)>,
) -> Result<StatusCode> {
    app.control.expire_credential(&site, &id)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn create_workflow(
    State(app): State<App>,
    Path(site): Path<String>,
    Json(spec): Json<WorkflowSpec>,
) -> Result<StatusCode> {
    app.control.create_workflow(&site, spec)?;
    Ok(StatusCode::CREATED)
}

async fn create_field(
    State(app): State<App>,
    Path(site): Path<String>,
    Json(spec): Json<FieldSpec>,
) -> Result<Response> {
    let id = app.control.create_field(&site, spec)?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))).into_response())
}

async fn create_project(
    State(app): State<App>,
    Path(site): Path<String>,
    Json(spec): Json<ProjectSpec>,
) -> Result<Response> {
    let id = app.control.create_project(&site, spec)?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id.to_string() }))).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedRequest {
    count: usize,
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default, rename = "as")]
    as_account: Option<String>,
}

async fn seed(
    State(app): State<App>,
    Path((site, key)): Path<(String, String)>,
    Json(r): Json<SeedRequest>,
) -> Result<Response> {
    let keys = app.control.seed_issues(
        &site,
        &key,
        r.count,
        r.seed.unwrap_or(1),
        r.as_account.as_deref(),
    )?;
    Ok((StatusCode::CREATED, Json(json!({ "keys": keys }))).into_response())
}

async fn issue(
    State(app): State<App>,
    Path((site, key)): Path<(String, String)>,
) -> Result<Json<Value>> {
    Ok(Json(app.control.issue(&site, &key)?))
}

async fn delete_issue(
    State(app): State<App>,
    Path((site, key)): Path<(String, String)>,
) -> Result<StatusCode> {
    app.control.delete_issue(&site, &key)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActAs {
    #[serde(rename = "as")]
    as_account: String,
    #[serde(default)]
    fields: Option<Value>,
    #[serde(default)]
    update: Option<Value>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    body: Option<Value>,
    /// A comment's audience: `["role" | "group", name]`; for an edit, `null` makes it public.
    #[serde(default, deserialize_with = "present")]
    visibility: Option<Option<(String, String)>>,
    /// A comment written as a service-desk internal note.
    #[serde(default)]
    internal: bool,
}

/// A key given (even as `null`) reads `Some`; an absent key stays `None` (serde's default).
fn present<'de, D, T>(d: D) -> std::result::Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

async fn edit(
    State(app): State<App>,
    Path((site, key)): Path<(String, String)>,
    Json(a): Json<ActAs>,
) -> Result<StatusCode> {
    let body =
        json!({ "fields": a.fields.unwrap_or(json!({})), "update": a.update.unwrap_or(json!({})) });
    app.control.edit_issue(&site, &key, &a.as_account, &body)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn transition(
    State(app): State<App>,
    Path((site, key)): Path<(String, String)>,
    Json(a): Json<ActAs>,
) -> Result<StatusCode> {
    let to =
        a.to.ok_or_else(|| ControlError::Invalid("`to` (a status name) is required".into()))?;
    app.control
        .transition_issue(&site, &key, &a.as_account, &to)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn comment(
    State(app): State<App>,
    Path((site, key)): Path<(String, String)>,
    Json(a): Json<ActAs>,
) -> Result<Response> {
    let body = a
        .body
        .ok_or_else(|| ControlError::Invalid("`body` (text or ADF) is required".into()))?;
    let options = crate::control::CommentOptions {
        visibility: a.visibility.flatten(),
        internal: a.internal,
    };
    let id = app
        .control
        .comment_issue_with(&site, &key, &a.as_account, &body, &options)?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id.to_string() }))).into_response())
}

async fn create_issue(
    State(app): State<App>,
    Path(site): Path<String>,
    Json(a): Json<ActAs>,
) -> Result<Response> {
    let body =
        json!({ "fields": a.fields.unwrap_or(json!({})), "update": a.update.unwrap_or(json!({})) });
    let key = app.control.create_issue(&site, &a.as_account, &body)?;
    Ok((StatusCode::CREATED, Json(json!({ "key": key }))).into_response())
}

async fn edit_comment(
    State(app): State<App>,
    Path((site, key, id)): Path<(String, String, u64)>,
    Json(a): Json<ActAs>,
) -> Result<StatusCode> {
    let body = a
        .body
        .ok_or_else(|| ControlError::Invalid("`body` (text or ADF) is required".into()))?;
    app.control
        .edit_comment(&site, &key, id, &a.as_account, &body, a.visibility)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_comment(
    State(app): State<App>,
    Path((site, key, id)): Path<(String, String, u64)>,
) -> Result<StatusCode> {
    app.control.delete_comment(&site, &key, id)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn site_counters(State(app): State<App>, Path(site): Path<String>) -> Result<Json<Value>> {
    Ok(Json(json!(app.control.counters(Some(&site))?)))
}

async fn counters(State(app): State<App>) -> Result<Json<Value>> {
    Ok(Json(json!(app.control.counters(None)?)))
}

async fn reset_counters(State(app): State<App>) -> StatusCode {
    app.control.reset_counters();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct Advance {
    seconds: i64,
}

async fn advance_clock(State(app): State<App>, Query(a): Query<Advance>) -> StatusCode {
    app.control
        .world()
        .clock()
        .advance(chrono::Duration::seconds(a.seconds));
    StatusCode::NO_CONTENT
}

async fn set_limits(
    State(app): State<App>,
    Path(site): Path<String>,
    Json(spec): Json<LimitsSpec>,
) -> Result<StatusCode> {
    app.control.set_limits(&site, spec)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The site's webhooks and the deliveries so far.
async fn webhooks(State(app): State<App>, Path(site): Path<String>) -> Result<Json<Value>> {
    Ok(Json(json!({
        "webhooks": app.control.webhooks(&site)?,
        "deliveries": app.control.deliveries(&site)?,
    })))
}

async fn register_admin_webhook(
    State(app): State<App>,
    Path(site): Path<String>,
    Json(spec): Json<crate::control::AdminWebhookSpec>,
) -> Result<Json<Value>> {
    let id = app.control.register_admin_webhook(&site, spec)?;
    Ok(Json(json!({ "id": id })))
}

async fn set_webhook_faults(
    State(app): State<App>,
    Path(site): Path<String>,
    Json(f): Json<crate::webhooks::WebhookFaults>,
) -> Result<StatusCode> {
    app.control.set_webhook_faults(&site, f)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_faults(
    State(app): State<App>,
    Path(site): Path<String>,
    Json(spec): Json<FaultSpec>,
) -> Result<StatusCode> {
    app.control.set_faults(&site, spec)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Lag {
    seconds: f64,
}

async fn set_search_lag(
    State(app): State<App>,
    Path(site): Path<String>,
    Json(l): Json<Lag>,
) -> Result<StatusCode> {
    app.control.set_search_lag(&site, l.seconds)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn rate_limits(State(app): State<App>, Path(site): Path<String>) -> Result<Json<Value>> {
    Ok(Json(json!(app.control.rate_limit_stats(&site)?)))
}

async fn create_client(
    State(app): State<App>,
    Json(spec): Json<OAuthClientSpec>,
) -> Result<Response> {
    let (id, secret) = app.control.create_oauth_client(spec)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "client_id": id, "client_secret": secret })),
    )
        .into_response())
}

async fn rotate_secret(State(app): State<App>, Path(id): Path<String>) -> Result<Json<Value>> {
    Ok(Json(
        json!({ "client_secret": app.control.rotate_client_secret(&id)? }),
    ))
}

async fn revoke_client(State(app): State<App>, Path(id): Path<String>) -> Result<StatusCode> {
    app.control.revoke_oauth_client(&id)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn grants(State(app): State<App>) -> Json<Value> {
    Json(json!(app.control.grants()))
}

async fn revoke_grant(State(app): State<App>, Path(id): Path<String>) -> Result<StatusCode> {
    app.control.revoke_grant(&id)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsentRequest {
    client_id: String,
    redirect_uri: String,
    scope: String,
    #[serde(flatten)]
    consent: Consent,
}

async fn consent(State(app): State<App>, Json(r): Json<ConsentRequest>) -> Result<Json<Value>> {
    let code = app
        .control
        .oauth_consent(&r.client_id, &r.redirect_uri, &r.consent, &r.scope)?;
    Ok(Json(json!({ "code": code })))
}

async fn freeze_clock(State(app): State<App>) -> StatusCode {
    app.control.world().clock().freeze();
    StatusCode::NO_CONTENT
}
