//! The authorization server's endpoints: `/authorize` (consent), `/oauth/token` and
//! `/oauth/token/accessible-resources`.

use std::collections::BTreeSet;

use axum::body::Bytes;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use axum_extra::headers::HeaderMapExt;
use axum_extra::headers::authorization::{Authorization, Bearer};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::App;
use crate::error::gateway_unauthorized;
use crate::oauth::{Consent, OAuthError};

pub fn router() -> Router<App> {
    Router::new()
        .route("/authorize", get(authorize).post(consent_form))
        .route("/oauth/token", axum::routing::post(token))
        .route(
            "/oauth/token/accessible-resources",
            get(accessible_resources),
        )
}

#[derive(Debug, Deserialize)]
struct AuthorizeQuery {
    audience: Option<String>,
    client_id: Option<String>,
    scope: Option<String>,
    redirect_uri: Option<String>,
    state: Option<String>,
    response_type: Option<String>,
    #[allow(dead_code)]
    prompt: Option<String>,
}

fn error_page(message: &str) -> Response {
    let body = format!(
        "<html><body><h1>Something went wrong</h1><p>{}</p></body></html>",
        html_escape(message)
    );
    (StatusCode::BAD_REQUEST, Html(body)).into_response()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `redirect_uri?code=..&state=..`
fn callback(redirect_uri: &str, code: &str, state: &str) -> Response {
    match url::Url::parse(redirect_uri) {
        Ok(mut u) => {
            u.query_pairs_mut()
                .append_pair("code", code)
                .append_pair("state", state);
            Redirect::to(u.as_str()).into_response()
        }
        Err(_) => error_page("redirect_uri is not a URL"),
    }
}

async fn authorize(State(app): State<App>, Query(q): Query<AuthorizeQuery>) -> Response {
    let checks = [
        (
            q.audience.as_deref() == Some("api.atlassian.com"),
            "audience must be api.atlassian.com",
        ),
        (
            q.response_type.as_deref() == Some("code"),
            "response_type must be code",
        ),
        (
            q.state.as_deref().is_some_and(|s| !s.is_empty()),
            "state is required",
        ),
        (
            q.scope.as_deref().is_some_and(|s| !s.trim().is_empty()),
            "scope is required",
        ),
    ];
    if let Some((_, why)) = checks.iter().find(|(ok, _)| !ok) {
        return error_page(why);
    }
    let (Some(client_id), Some(redirect_uri)) = (q.client_id.as_deref(), q.redirect_uri.as_deref())
    else {
        return error_page("client_id and redirect_uri are required");
    };
    let (state, scope) = (
        q.state.clone().unwrap_or_default(),
        q.scope.clone().unwrap_or_default(),
    );
    let client = app
        .world
        .oauth
        .lock()
        .expect("oauth lock")
        .clients
        .get(client_id)
        .cloned();
    let Some(client) = client.filter(|c| !c.revoked) else {
        return error_page("unknown client_id");
    };
    if !client.redirect_uris.iter().any(|u| u == redirect_uri) {
        return error_page("redirect_uri does not match the app's callback URL");
    }
    if let Some(sites) = &client.auto_consent {
        let now = app.world.clock().now();
        let scopes: BTreeSet<String> = scope.split_whitespace().map(str::to_owned).collect();
        let code = app.world.oauth.lock().expect("oauth lock").consent(
            client_id,
            redirect_uri,
            sites.clone(),
            scopes,
            now,
        );
        return match code {
            Ok(code) => callback(redirect_uri, &code, &state),
            Err(e) => error_page(&e),
        };
    }
    let site_boxes: String = app
        .world
        .site_names()
        .iter()
        .map(|n| {
            format!(
                "<label><input type=\"checkbox\" name=\"site\" value=\"{0}\"> {0}</label><br>",
                html_escape(n)
            )
        })
        .collect();
    let hidden = |k: &str, v: &str| {
        format!(
            "<input type=\"hidden\" name=\"{k}\" value=\"{}\">",
            html_escape(v)
        )
    };
    let page = format!(
        "<html><body><h1>{client_id} is requesting access to your Atlassian account</h1>\
         <p>Scopes: {}</p><form method=\"post\" action=\"/authorize\">{}{}{}{}\
         <label>Your email <input name=\"account\"></label><br>{site_boxes}\
         <button type=\"submit\">Accept</button></form></body></html>",
        html_escape(&scope),
        hidden("client_id", client_id),
        hidden("redirect_uri", redirect_uri),
        hidden("scope", &scope),
        hidden("state", &state),
    );
    Html(page).into_response()
}

/// The consent page's Accept button.
async fn consent_form(
    State(app): State<App>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let get = |k: &str| {
        fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let sites: Vec<String> = fields
        .iter()
        .filter(|(n, _)| n == "site")
        .map(|(_, v)| v.clone())
        .collect();
    if sites.is_empty() {
        return error_page("choose at least one site");
    }
    let consent = Consent {
        account: get("account"),
        sites,
    };
    match app.control.oauth_consent(
        &get("client_id"),
        &get("redirect_uri"),
        &consent,
        &get("scope"),
    ) {
        Ok(code) => callback(&get("redirect_uri"), &code, &get("state")),
        Err(e) => error_page(&e.to_string()),
    }
}

#[derive(Debug, Deserialize)]
struct TokenRequest {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    refresh_token: Option<String>,
}

fn oauth_error(e: OAuthError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::FORBIDDEN);
    (
        status,
        Json(json!({ "error": e.error, "error_description": e.description })),
    )
        .into_response()
}

/// `POST /oauth/token` with a JSON body, as Atlassian documents it.
async fn token(State(app): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let req: TokenRequest = match serde_json::from_slice(&body) {
        Ok(r) if json_body => r,
        _ => {
            let e = OAuthError {
                status: 400,
                error: "invalid_request",
                description: "The request body must be JSON.".into(),
            };
            return oauth_error(e);
        }
    };
    let now = app.world.clock().now();
    let id = req.client_id.unwrap_or_default();
    let secret = req.client_secret.unwrap_or_default();
    let mut oauth = app.world.oauth.lock().expect("oauth lock");
    let result = match req.grant_type.as_deref() {
        Some("authorization_code") => oauth.exchange_code(
            &id,
            &secret,
            &req.code.unwrap_or_default(),
            &req.redirect_uri.unwrap_or_default(),
            now,
        ),
        Some("refresh_token") => {
            oauth.refresh(&id, &secret, &req.refresh_token.unwrap_or_default(), now)
        }
        Some("client_credentials") => oauth.client_credentials(&id, &secret, now),
        _ => Err(OAuthError {
            status: 400,
            error: "unsupported_grant_type",
            description: "Unsupported grant type.".into(),
        }),
    };
    match result {
        Ok(t) => Json(t).into_response(),
        Err(e) => oauth_error(e),
    }
}

async fn accessible_resources(State(app): State<App>, headers: HeaderMap) -> Response {
    let Some(bearer) = headers.typed_get::<Authorization<Bearer>>() else {
        return gateway_unauthorized("Unauthorized");
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_owned();
    let now = app.world.clock().now();
    let token = app
        .world
        .oauth
        .lock()
        .expect("oauth lock")
        .access_token(bearer.token(), now)
        .cloned();
    let Some(token) = token else {
        return gateway_unauthorized("Unauthorized");
    };
    let scopes: Vec<&String> = token
        .scopes
        .iter()
        .filter(|s| *s != "offline_access")
        .collect();
    let list: Vec<Value> = token
        .sites
        .iter()
        .filter_map(|(name, _)| {
            let site = app.world.site(name)?;
            let cloud_id = crate::model::lock(&site).cloud_id.clone();
            Some(json!({
                "id": cloud_id,
                "name": name,
                "url": format!("http://{host}/site/{name}"),
                "scopes": scopes,
                "avatarUrl": "https://site-admin-avatar-cdn.example.invalid/avatars/240/site.png",
            }))
        })
        .collect();
    Json(Value::Array(list)).into_response()
}
