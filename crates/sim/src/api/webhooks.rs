//! Dynamic webhooks (`registerDynamicWebhooks`, `getDynamicWebhooksForApp`,
//! `deleteWebhookById`, `refreshWebhooks`; reference jira-cloud-api.md section 9.1) and
//! admin webhooks (`POST /rest/webhooks/1.0/webhook`, section 9.2). Deliveries:
//! `crate::webhooks`.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{Value, json};

use super::Caller;
use super::issues::{json_body, param};
use crate::App;
use crate::auth::{Form, authenticate};
use crate::error::{JiraError, unknown_site};
use crate::model::{Site, lock};
use crate::scopes::OpScopes;
use crate::webhooks::{
    DYNAMIC_TTL, EVENTS, MAX_DYNAMIC_PER_APP_USER, Signer, Webhook, arm, check_filter,
};

/// The app and user behind a call, or the 403 Jira gives callers that are not apps.
fn app_of(c: &Caller) -> Result<(String, String), JiraError> {
    match &c.oauth_client {
        Some(id) => Ok((id.clone(), c.account_id().to_owned())),
        None => Err(JiraError::new(
            StatusCode::FORBIDDEN,
            "Only Connect and OAuth 2.0 apps can use this operation.",
        )),
    }
}

/// The `events` a webhook names (strings only).
fn events_of(w: &Value) -> Vec<String> {
    w.get("events")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|e| e.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn ids(body: &Value) -> Result<Vec<u64>, JiraError> {
    body.get("webhookIds")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .ok_or_else(|| JiraError::bad_request("webhookIds is required."))
}

fn owned_by<'a>(site: &'a Site, app: &'a (String, String)) -> impl Iterator<Item = &'a Webhook> {
    site.webhooks.hooks.iter().filter(move |h| {
        matches!(&h.signer, Signer::Dynamic { client_id, account } if *client_id == app.0 && *account == app.1)
    })
}

/// `POST /rest/api/3/webhook`: one result per webhook, in order; a webhook with an unknown
/// event, no or an unsupported `jqlFilter`, or past the app's limit gets `errors`.
pub async fn register(Extension(c): Extension<Caller>, body: Bytes) -> Result<Response, JiraError> {
    let app = app_of(&c)?;
    let body = json_body(&body)?;
    let url = body
        .get("url")
        .and_then(Value::as_str)
        .filter(|u| u.starts_with("https://") || u.starts_with("http://127.0.0.1"))
        .ok_or_else(|| JiraError::bad_request("url must be an https:// URL."))?
        .to_owned();
    let list = body
        .get("webhooks")
        .and_then(Value::as_array)
        .ok_or_else(|| JiraError::bad_request("webhooks is required."))?;
    let now = c.world.clock().now();
    let mut site = lock(&c.site);
    // "Only a single URL per app is allowed to be registered."
    if owned_by(&site, &app).any(|h| h.url != url) {
        return Err(JiraError::bad_request(
            "Only a single URL per app is allowed to be registered.",
        ));
    }
    let mut results = Vec::new();
    for w in list {
        let events = events_of(w);
        let mut errors = Vec::new();
        if events.is_empty() {
            errors.push("At least one event is required.".to_owned());
        }
        for e in events.iter().filter(|e| !EVENTS.contains(&e.as_str())) {
            errors.push(format!("The event '{e}' is not supported."));
        }
        let jql = w.get("jqlFilter").and_then(Value::as_str);
        match jql {
            None => errors.push("The JQL filter is required.".to_owned()),
            Some(q) => {
                if let Err(e) = check_filter(&site, q) {
                    errors.push(e);
                }
            }
        }
        if owned_by(&site, &app).count() >= MAX_DYNAMIC_PER_APP_USER {
            errors.push(format!(
                "An OAuth 2.0 app may register at most {MAX_DYNAMIC_PER_APP_USER} webhooks per user."
            ));
        }
        if !errors.is_empty() {
            results.push(json!({ "errors": errors }));
            continue;
        }
        let id = site.webhooks.add(Webhook {
            id: 0,
            url: url.clone(),
            events,
            jql: jql.map(str::to_owned),
            signer: Signer::Dynamic {
                client_id: app.0.clone(),
                account: app.1.clone(),
            },
            expires: Some(now + DYNAMIC_TTL),
        });
        results.push(json!({ "createdWebhookId": id }));
    }
    arm(&c.world, &mut site, Some(&c.base));
    Ok(Json(json!({ "webhookRegistrationResult": results })).into_response())
}

/// `GET /rest/api/3/webhook`: the calling app's webhooks, a page of `Webhook`.
pub async fn list(
    Extension(c): Extension<Caller>,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, JiraError> {
    let app = app_of(&c)?;
    let start: usize = param(&q, "startAt")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let max: usize = param(&q, "maxResults")
        .and_then(|s| s.parse().ok())
        .unwrap_or(100)
        .clamp(1, 100);
    let site = lock(&c.site);
    let all: Vec<Value> = owned_by(&site, &app).map(Webhook::render).collect();
    let page: Vec<Value> = all.iter().skip(start).take(max).cloned().collect();
    Ok(Json(json!({
        "startAt": start,
        "maxResults": max,
        "total": all.len(),
        "isLast": start + page.len() >= all.len(),
        "values": page,
    })))
}

/// `DELETE /rest/api/3/webhook`: 202; ids of other apps or unknown ids are left alone.
pub async fn delete(Extension(c): Extension<Caller>, body: Bytes) -> Result<Response, JiraError> {
    let app = app_of(&c)?;
    let gone = ids(&json_body(&body)?)?;
    let mut site = lock(&c.site);
    site.webhooks.hooks.retain(|h| {
        !(gone.contains(&h.id)
            && matches!(&h.signer, Signer::Dynamic { client_id, account } if *client_id == app.0 && *account == app.1))
    });
    Ok(StatusCode::ACCEPTED.into_response())
}

/// `PUT /rest/api/3/webhook/refresh`: the app's named webhooks live 30 days from now;
/// answers `{"expirationDate": <epoch ms>}`. An expired webhook cannot be refreshed: it is
/// gone, and must be registered again.
pub async fn refresh(
    Extension(c): Extension<Caller>,
    body: Bytes,
) -> Result<Json<Value>, JiraError> {
    let app = app_of(&c)?;
    let wanted = ids(&json_body(&body)?)?;
    let now = c.world.clock().now();
    let until = now + DYNAMIC_TTL;
    let mut site = lock(&c.site);
    site.webhooks
        .hooks
        .retain(|h| h.expires.is_none_or(|x| x > now));
    for h in site
        .webhooks
        .hooks
        .iter_mut()
        .filter(|h| wanted.contains(&h.id))
    {
        if matches!(&h.signer, Signer::Dynamic { client_id, account } if *client_id == app.0 && *account == app.1)
        {
            h.expires = Some(until);
        }
    }
    Ok(Json(json!({ "expirationDate": until.timestamp_millis() })))
}

/// An admin webhook as a request body gives it: `name`, `url`, `events`, optional
/// `filters."issue-related-events-section"` (JQL, checked against the site) and `secret`.
fn admin_hook(s: &Site, body: &Value) -> Result<Webhook, JiraError> {
    let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
    let (Some(name), Some(url)) = (text("name"), text("url")) else {
        return Err(JiraError::bad_request("name and url are required."));
    };
    let events = events_of(body);
    if events.is_empty() || events.iter().any(|e| !EVENTS.contains(&e.as_str())) {
        return Err(JiraError::bad_request(format!(
            "events must name some of: {}",
            EVENTS.join(", ")
        )));
    }
    let jql = body
        .pointer("/filters/issue-related-events-section")
        .and_then(Value::as_str)
        .filter(|q| !q.is_empty())
        .map(str::to_owned);
    if let Some(q) = &jql {
        check_filter(s, q).map_err(JiraError::bad_request)?;
    }
    Ok(Webhook {
        id: 0,
        url,
        events,
        jql,
        signer: Signer::Admin {
            name,
            secret: text("secret"),
        },
        expires: None,
    })
}

/// An admin webhook as Jira shows it: its `self` (whose last segment is its id), no secret.
fn admin_view(base: &str, h: &Webhook) -> Option<Value> {
    let Signer::Admin { name, .. } = &h.signer else {
        return None;
    };
    Some(json!({
        "self": format!("{base}/rest/webhooks/1.0/webhook/{}", h.id),
        "name": name,
        "url": h.url,
        "events": h.events,
        "filters": { "issue-related-events-section": h.jql.clone().unwrap_or_default() },
        "enabled": true,
    }))
}

/// `http://HOST/site/SITE`, the base of `self` links.
fn base_of(headers: &HeaderMap, site_name: &str) -> String {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}/site/{site_name}")
}

/// `POST /site/{site}/rest/webhooks/1.0/webhook`: an admin webhook (basic auth of an account
/// with *Administer Jira*; 403 otherwise). Body: see [`admin_hook`]. Answers 201 with the
/// webhook and its `self`.
pub async fn register_admin(
    State(app): State<App>,
    Path(site_name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, JiraError> {
    as_admin(&app, &site_name, &headers, |s| {
        let hook = admin_hook(s, &json_body(&body)?)?;
        let id = s.webhooks.add(hook);
        let base = base_of(&headers, &site_name);
        arm(&app.world, s, Some(&base));
        let hook = s.webhooks.hooks.iter().find(|h| h.id == id);
        let out = hook.and_then(|h| admin_view(&base, h)).unwrap_or_default();
        Ok((StatusCode::CREATED, Json(out)).into_response())
    })
}

/// `PUT /site/{site}/rest/webhooks/1.0/webhook/{id}`: replaces an admin webhook's name, URL,
/// events, filter and secret (the body as [`register_admin`]'s); 404 for no such webhook.
/// `DELETE` of the same path removes it (204).
pub async fn update_admin(
    State(app): State<App>,
    Path((site_name, id)): Path<(String, u64)>,
    method: axum::http::Method,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, JiraError> {
    as_admin(&app, &site_name, &headers, |s| {
        let at = s
            .webhooks
            .hooks
            .iter()
            .position(|h| h.id == id && matches!(h.signer, Signer::Admin { .. }))
            .ok_or_else(|| JiraError::new(StatusCode::NOT_FOUND, "No such webhook."))?;
        if method == axum::http::Method::DELETE {
            s.webhooks.hooks.remove(at);
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        let mut hook = admin_hook(s, &json_body(&body)?)?;
        hook.id = id;
        s.webhooks.hooks[at] = hook;
        let base = base_of(&headers, &site_name);
        let out = admin_view(&base, &s.webhooks.hooks[at]).unwrap_or_default();
        Ok(Json(out).into_response())
    })
}

/// `GET /site/{site}/rest/webhooks/1.0/webhook`: every admin webhook of the site (accounts
/// with *Administer Jira*; 403 otherwise), secrets left out.
pub async fn list_admin(
    State(app): State<App>,
    Path(site_name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, JiraError> {
    as_admin(&app, &site_name, &headers, |s| {
        let base = base_of(&headers, &site_name);
        let out: Vec<Value> = s
            .webhooks
            .hooks
            .iter()
            .filter_map(|h| admin_view(&base, h))
            .collect();
        Ok(Json(Value::Array(out)).into_response())
    })
}

/// `f` on site `site_name` when the caller administers Jira; otherwise Jira's answer (404
/// for no such site, 401 or 403 from [`admin_of`]).
fn as_admin(
    app: &App,
    site_name: &str,
    headers: &HeaderMap,
    f: impl FnOnce(&mut Site) -> Result<Response, JiraError>,
) -> Result<Response, JiraError> {
    let Some(site) = app.world.site(site_name) else {
        return Ok(unknown_site());
    };
    let mut s = lock(&site);
    if let Err(r) = admin_of(app, &s, headers) {
        return Ok(*r);
    }
    f(&mut s)
}

/// The calling account when it administers Jira; 401 or 403 as Jira answers otherwise.
fn admin_of(app: &App, s: &Site, headers: &HeaderMap) -> Result<String, Box<Response>> {
    let scopes = OpScopes {
        anonymous: false,
        classic: vec![],
        granular: vec![],
    };
    let now = app.world.clock().now();
    let account = authenticate(&app.world, s, Form::Site, headers, now, &scopes)
        .map_err(|d| Box::new(d.into_response()))?
        .account
        .unwrap_or_default();
    if !s.accounts.get(&account).is_some_and(|a| a.administer_jira) {
        return Err(Box::new(
            JiraError::new(
                StatusCode::FORBIDDEN,
                "You must be a Jira administrator to manage webhooks.",
            )
            .into_response(),
        ));
    }
    Ok(account)
}
