//! Jira's REST API v3 on both URL forms: `/site/{name}/rest/api/3/...` and
//! `/ex/jira/{cloudId}/rest/api/3/...`.

mod attachments;
pub use attachments::media_file;
mod comments;
mod gate;
mod issues;
mod meta;
mod search;
mod webhooks;
pub use webhooks::{
    list_admin as list_admin_webhooks, register_admin as register_admin_webhook,
    update_admin as update_admin_webhook,
};

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};

use crate::App;
use crate::error::{JiraError, unknown_site};
use crate::model::{Site, World, lock};

/// What every handler knows about its request.
#[derive(Clone)]
pub struct Caller {
    pub site: Arc<Mutex<Site>>,
    pub world: Arc<World>,
    /// The account, or `None` for an anonymous call.
    pub account: Option<String>,
    /// Base URL of the form the request used, for `self` links.
    pub base: String,
    /// The OAuth 2.0 app calling (3LO or service account), if any.
    pub oauth_client: Option<String>,
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

/// Objects a read returned (issues), set by handlers for the points cost of OAuth traffic.
#[derive(Debug, Clone, Copy)]
pub struct Objects(pub u64);

/// The REST routes, mounted under both URL forms.
pub fn router(app: App) -> Router<App> {
    let api = Router::new()
        .route("/myself", get(meta::myself))
        .route("/serverInfo", get(meta::server_info))
        .route("/user", get(meta::get_user))
        .route("/user/search", get(meta::find_users))
        .route("/field", get(meta::fields))
        .route("/issuetype", get(meta::issue_types))
        .route("/project/{projectIdOrKey}", get(meta::project))
        .route(
            "/project/{projectIdOrKey}/statuses",
            get(meta::project_statuses),
        )
        .route(
            "/issue/createmeta/{projectIdOrKey}/issuetypes",
            get(meta::createmeta_issue_types),
        )
        .route(
            "/issue/createmeta/{projectIdOrKey}/issuetypes/{issueTypeId}",
            get(meta::createmeta_fields),
        )
        .route(
            "/search/jql",
            get(search::search_get).post(search::search_post),
        )
        .route("/search/approximate-count", post(search::approximate_count))
        .route("/workflows", post(meta::read_workflows))
        .route("/issue", post(issues::create))
        .route("/issue/bulk", post(issues::create_bulk))
        .route("/issue/bulkfetch", post(issues::bulkfetch))
        .route(
            "/issue/{issueIdOrKey}",
            get(issues::get).put(issues::edit).delete(issues::delete),
        )
        .route("/issue/{issueIdOrKey}/assignee", put(issues::assign))
        .route("/issue/{issueIdOrKey}/editmeta", get(meta::editmeta))
        .route("/issue/{issueIdOrKey}/changelog", get(issues::changelogs))
        .route(
            "/issue/{issueIdOrKey}/transitions",
            get(issues::transitions).post(issues::do_transition),
        )
        .route(
            "/issue/{issueIdOrKey}/comment",
            get(comments::comments).post(comments::add_comment),
        )
        .route(
            "/issue/{issueIdOrKey}/comment/{id}",
            put(comments::update_comment).delete(comments::delete_comment),
        )
        .route(
            "/issue/{issueIdOrKey}/attachments",
            post(attachments::add).layer(axum::extract::DefaultBodyLimit::max(256 << 20)),
        )
        .route("/attachment/content/{id}", get(attachments::content))
        .route(
            "/attachment/{id}",
            axum::routing::delete(attachments::remove),
        )
        .route(
            "/issue/{issueIdOrKey}/properties/{propertyKey}",
            get(issues::get_property).put(issues::set_property),
        )
        .route(
            "/webhook",
            post(webhooks::register)
                .get(webhooks::list)
                .delete(webhooks::delete),
        )
        .route("/webhook/refresh", put(webhooks::refresh))
        .route_layer(middleware::from_fn_with_state(app.clone(), gate::gate))
        // The removed legacy search answers 410 whoever asks.
        .route("/search", get(search::removed).post(search::removed))
        .fallback(|| async { JiraError::not_found("No REST resource here (simulated Jira).") });
    Router::new()
        .nest(&format!("/site/{{site}}{API}"), api.clone())
        .nest(&format!("/ex/jira/{{cloudId}}{API}"), api)
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
