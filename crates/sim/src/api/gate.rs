//! In front of every REST handler, in order: the site (404), injected faults, credentials
//! and scopes (401), rate limits (429), then the handler; afterwards points are charged,
//! rate-limit headers added and the request counted.

use std::sync::{Arc, Mutex};

use axum::extract::{MatchedPath, OriginalUri, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};

use super::{API, Caller, Objects};
use crate::App;
use crate::auth::{Denied, Form, Identity, authenticate};
use crate::error::{JiraError, unknown_site};
use crate::faults::{Fault, cut_short, fault_response};
use crate::limits::{Limited, Reason, allowed_headers, limited_headers};
use crate::model::{Site, World, lock};
use crate::scopes;

pub async fn gate(State(app): State<App>, mut req: Request, next: Next) -> Response {
    // Nesting strips the `/site/{site}` or `/ex/jira/{cloudId}` prefix from the URI.
    let path = req
        .extensions()
        .get::<OriginalUri>()
        .map_or_else(|| req.uri().path().to_owned(), |u| u.path().to_owned());
    let Some((form, site, prefix)) = resolve(&app.world, &path) else {
        return unknown_site();
    };
    let template = req
        .extensions()
        .get::<MatchedPath>()
        .and_then(|m| m.as_str().find(API).map(|i| m.as_str()[i..].to_owned()))
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().clone();
    let Some(op) = scopes::for_operation(method.as_str(), &template) else {
        // Every served route has an entry (scopes.json); a missing one must not skip the check.
        let msg = format!("simulator bug: no scope entry for {method} {template}");
        return JiraError::new(StatusCode::INTERNAL_SERVER_ERROR, msg).into_response();
    };

    let (latency, fault) = lock(&site).faults.roll();
    if let Some(d) = latency {
        tokio::time::sleep(d).await;
    }
    if matches!(fault, Fault::Error(_) | Fault::Html) {
        let r = fault_response(fault);
        count(&site, &template, &method, r.status().as_u16());
        return r;
    }

    let now = app.world.clock().now();
    let checked = {
        let mut s = lock(&site);
        match authenticate(&app.world, &s, form, req.headers(), now, op) {
            Err(denied) => Err(Refusal::Denied(denied)),
            Ok(id) => {
                let issue = issue_in_path(&s, &template, &path, &prefix);
                // A throttle fault is a real burst refusal: its Retry-After is a promise
                // the limiter keeps track of, like any other.
                let throttle = match fault {
                    Fault::Throttle(seconds) => Some(seconds),
                    _ => None,
                };
                match limit(
                    &app.world, &mut s, &id, &method, &template, issue, throttle, now,
                ) {
                    Ok(headers) => Ok((id, headers)),
                    Err(l) => Err(Refusal::Limited(l)),
                }
            }
        }
    };
    let processed = checked.is_ok();
    let mut response = match checked {
        Err(refusal) => refusal.into_response(),
        Ok((id, limit_headers)) => {
            let host = req
                .headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost")
                .to_owned();
            let oauth_client = id.oauth_client.clone();
            req.extensions_mut().insert(Caller {
                site: site.clone(),
                world: app.world.clone(),
                account: id.account,
                base: format!("http://{host}{prefix}"),
                oauth_client: oauth_client.clone(),
            });
            let mut r = next.run(req).await;
            if let Some(client) = oauth_client {
                charge(&app.world, &site, &client, &method, &r, now);
            }
            if let Some((limit, remaining)) = limit_headers {
                allowed_headers(limit, remaining, r.headers_mut());
            }
            r
        }
    };
    count(&site, &template, &method, response.status().as_u16());
    // Only a processed request is cut: the write happened, the client cannot know. Refusals
    // (401, 429) are the gateway's own answers and arrive whole, so a client can always read
    // its Retry-After.
    if fault == Fault::Close && processed {
        response = cut_short(response).await;
    }
    response
}

/// Why the gate turned a request away.
enum Refusal {
    Denied(Denied),
    Limited(Limited),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Denied(d) => d.into_response(),
            Refusal::Limited(l) => {
                let body =
                    JiraError::new(StatusCode::TOO_MANY_REQUESTS, "Rate limit exceeded.").body();
                let mut r = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
                limited_headers(&l, r.headers_mut());
                r
            }
        }
    }
}

/// Applies the rate limits to one request; the allowed request's burst (limit, remaining).
/// `throttle` (a fault) refuses it as a burst limit of that many seconds would.
#[allow(clippy::too_many_arguments)]
fn limit(
    world: &World,
    site: &mut Site,
    id: &Identity,
    method: &Method,
    template: &str,
    issue: Option<u64>,
    throttle: Option<u64>,
    now: DateTime<Utc>,
) -> Result<Option<(u64, u64)>, Limited> {
    let client = id.client.clone().unwrap_or_else(|| "anonymous".into());
    let burst_key = format!("burst:{method} {template}");
    let issue_key = issue.map(|i| format!("issue:{i}"));
    let write =
        matches!(*method, Method::POST | Method::PUT | Method::DELETE) && issue_key.is_some();
    site.limits.note_retry(&client, &burst_key, now);
    if let (true, Some(k)) = (write, &issue_key) {
        site.limits.note_retry(&client, k, now);
    }
    let result: Result<Option<(u64, u64)>, Limited> = (|| {
        if let Some(oc) = &id.oauth_client {
            site.limits.note_retry(&client, "quota", now);
            let mut oauth = world.oauth.lock().expect("oauth lock");
            if let Some(c) = oauth.clients.get_mut(oc)
                && let Some(q) = c.points_quota
            {
                c.points.check(now, q, Reason::GlobalQuota)?;
            }
            drop(oauth);
            if let Some(q) = site.limits.spec.tenant_quota {
                site.limits
                    .tenant_points
                    .check(now, q, Reason::TenantQuota)?;
            }
        }
        if let Some(seconds) = throttle {
            let seconds = i64::try_from(seconds).unwrap_or(i64::MAX / 2);
            return Err(Limited {
                reason: Reason::Burst,
                retry_after_secs: seconds,
                limit: 1,
                reset: now + chrono::Duration::seconds(seconds),
            });
        }
        let headers = site.limits.burst(method.as_str(), template, now)?;
        if let (true, Some(i)) = (write, issue) {
            site.limits.issue_write(i, now)?;
        }
        Ok(headers)
    })();
    if let Err(l) = &result {
        let key = match l.reason {
            Reason::Burst => burst_key,
            Reason::PerIssueWrite => issue_key.unwrap_or_default(),
            Reason::GlobalQuota | Reason::TenantQuota => "quota".into(),
        };
        site.limits.refused(&client, &key, l, now);
    }
    result
}

/// Points of an OAuth request: writes cost 1, reads 1 plus the objects they return.
fn charge(
    world: &World,
    site: &Mutex<Site>,
    client: &str,
    method: &Method,
    r: &Response,
    now: DateTime<Utc>,
) {
    let objects = r.extensions().get::<Objects>().map_or(1, |o| o.0);
    let points = if *method == Method::GET || r.extensions().get::<Objects>().is_some() {
        1 + objects
    } else {
        1
    };
    if let Some(c) = world
        .oauth
        .lock()
        .expect("oauth lock")
        .clients
        .get_mut(client)
    {
        c.points.charge(now, points);
    }
    lock(site).limits.tenant_points.charge(now, points);
}

/// The issue a path names, for per-issue write limits.
fn issue_in_path(site: &Site, template: &str, path: &str, prefix: &str) -> Option<u64> {
    let idx = template
        .split('/')
        .position(|seg| seg == "{issueIdOrKey}")?;
    let rest = path.strip_prefix(prefix)?;
    site.issue_id(rest.split('/').nth(idx)?)
}

fn count(site: &Mutex<Site>, template: &str, method: &Method, status: u16) {
    let mut s = lock(site);
    *s.counters
        .entry((template.to_owned(), method.to_string(), status))
        .or_default() += 1;
}

/// The site a path names, its URL form and the path prefix up to `/rest`.
fn resolve(world: &World, path: &str) -> Option<(Form, Arc<Mutex<Site>>, String)> {
    if let Some(rest) = path.strip_prefix("/site/") {
        let name = rest.split('/').next()?;
        return Some((Form::Site, world.site(name)?, format!("/site/{name}")));
    }
    let rest = path.strip_prefix("/ex/jira/")?;
    let cloud = rest.split('/').next()?;
    Some((
        Form::Gateway,
        world.site_by_cloud_id(cloud)?,
        format!("/ex/jira/{cloud}"),
    ))
}
