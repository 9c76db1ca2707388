//! Jira's REST API v3 on both URL forms: `/site/{name}/rest/api/3/...` and
//! `/ex/jira/{cloudId}/rest/api/3/...`.

mod issues;
mod meta;
mod search;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{MatchedPath, OriginalUri, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::App;
use crate::auth::{Form, authenticate};
use crate::error::{JiraError, unknown_site};
use crate::model::{Site, World, lock};
use crate::scopes;

/// What every handler knows about its request.
#[derive(Clone)]
pub struct Caller {
    pub site: Arc<Mutex<Site>>,
    pub world: Arc<World>,
    /// The account, or `None` for an anonymous call.
    pub account: Option<String>,
    /// Base URL of the form the request used, for `self` links.
    pub base: String,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("account", &self.account)
            .field("base", &self.base)
            .finish()
    }
}

impl Caller {
    /// The account id; handlers of operations that need one are never reached anonymously.
    pub fn account_id(&self) -> &str {
        self.account.as_deref().unwrap_or_default()
    }
}

pub const API: &str = "/rest/api/3";

/// The REST routes, mounted under both URL forms.
pub fn router(app: App) -> Router<App> {
    let api = Router::new()
        .route("/myself", get(meta::myself))
        .route("/serverInfo", get(meta::server_info))
        .route("/field", get(meta::fields))
        .route("/issuetype", get(meta::issue_types))
        .route("/project/{projectIdOrKey}", get(meta::project))
        .route(
            "/issue/createmeta/{projectIdOrKey}/issuetypes",
            get(meta::createmeta_issue_types),
        )
        .route(
            "/search/jql",
            get(search::search_get).post(search::search_post),
        )
        .route("/search/approximate-count", post(search::approximate_count))
        .route("/issue", post(issues::create))
        .route("/issue/bulk", post(issues::create_bulk))
        .route("/issue/bulkfetch", post(issues::bulkfetch))
        .route("/issue/{issueIdOrKey}", get(issues::get).put(issues::edit))
        .route(
            "/issue/{issueIdOrKey}/transitions",
            get(issues::transitions).post(issues::do_transition),
        )
        .route(
            "/issue/{issueIdOrKey}/comment",
            get(issues::comments).post(issues::add_comment),
        )
        .route(
            "/issue/{issueIdOrKey}/properties/{propertyKey}",
            get(issues::get_property).put(issues::set_property),
        )
        .route_layer(middleware::from_fn_with_state(app.clone(), gate))
        // The removed legacy search answers 410 whoever asks.
        .route("/search", get(search::removed).post(search::removed))
        .fallback(|| async { JiraError::not_found("No REST resource here (simulated Jira).") });
    Router::new()
        .nest(&format!("/site/{{site}}{API}"), api.clone())
        .nest(&format!("/ex/jira/{{cloudId}}{API}"), api)
}

/// Resolves the site and the caller, checks credentials and scopes, and counts the request.
async fn gate(State(app): State<App>, mut req: Request, next: Next) -> Response {
    // Nesting strips the `/site/{site}` or `/ex/jira/{cloudId}` prefix from the URI.
    let path = req
        .extensions()
        .get::<OriginalUri>()
        .map_or_else(|| req.uri().path().to_owned(), |u| u.path().to_owned());
    let (form, site, prefix) = match resolve(&app.world, &path) {
        Some(r) => r,
        None => return unknown_site(),
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
    let now = app.world.clock().now();
    let auth = authenticate(&lock(&site), form, req.headers(), now, op);
    let response = match auth {
        Err(denied) => denied.into_response(),
        Ok(account) => {
            let host = req
                .headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost")
                .to_owned();
            req.extensions_mut().insert(Caller {
                site: site.clone(),
                world: app.world.clone(),
                account,
                base: format!("http://{host}{prefix}"),
            });
            next.run(req).await
        }
    };
    count(&site, &template, &method, response.status().as_u16());
    response
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

/// `GET /site/{name}/_edge/tenant_info`: the cloud ID, no authentication.
pub async fn tenant_info(
    State(app): State<App>,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> Response {
    match app.world.site(&name) {
        Some(site) => {
            axum::Json(serde_json::json!({ "cloudId": lock(&site).cloud_id })).into_response()
        }
        None => unknown_site(),
    }
}
