//! A stateful simulator of Jira Cloud: many sites on one port, both URL forms, credentials
//! with scopes, workflows, issues, JQL search and a control API. An independent
//! implementation of Jira's side for tests, the demo and benchmarks.

mod adf; // Atlassian Document Format checks.
mod api; // REST API v3 routes on the site and gateway URL forms.
mod auth; // Credentials by URL form, expiry, revocation, scopes.
pub mod control; // The control API: set up sites, act as a person.
mod control_http; // `/_sim/...` over HTTP.
mod error; // Jira's error bodies.
pub mod faults; // Latency, 5xx, HTML pages, cut connections.
pub mod jql; // The JQL subset: parser and evaluator.
pub mod limits; // Burst, points and per-issue rate limits; early-retry records.
mod media; // Attachments and the media ids rich text names them by.
pub mod model; // Sites, accounts, projects, workflows, issues.
pub mod oauth; // The OAuth 2.0 authorization server's state and rules.
mod oauth_http; // `/authorize`, `/oauth/token`, accessible-resources.
mod render; // JSON as Jira prints it.
mod scopes; // Scopes per operation, from the OpenAPI document.
pub mod seed; // Seed files and the issue generator.
pub mod webhooks;
mod write; // Create, edit, transition, comment, properties. // Registered webhooks, their events and signed deliveries.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub use control::{Control, ControlError};
pub use model::World;

/// Shared state of every route.
#[derive(Debug, Clone)]
pub struct App {
    pub world: Arc<World>,
    pub control: Control,
}

/// The whole simulator as an axum router.
pub fn router(world: Arc<World>) -> Router {
    let app = App {
        control: Control::new(world.clone()),
        world,
    };
    Router::new()
        .route("/site/{site}/_edge/tenant_info", get(api::tenant_info))
        .route("/_media/file/{id}/binary", get(api::media_file))
        .route(
            "/site/{site}/rest/webhooks/1.0/webhook",
            get(api::list_admin_webhooks).post(api::register_admin_webhook),
        )
        .route(
            "/site/{site}/rest/webhooks/1.0/webhook/{id}",
            axum::routing::put(api::update_admin_webhook).delete(api::update_admin_webhook),
        )
        .merge(api::router(app.clone()))
        .merge(oauth_http::router())
        .merge(control_http::router())
        .with_state(app)
}

/// A running simulator; stops when dropped.
#[derive(Debug)]
pub struct Simulator {
    addr: SocketAddr,
    control: Control,
    stop: Option<oneshot::Sender<()>>,
}

impl Simulator {
    /// Starts on `127.0.0.1` with a free port.
    pub async fn start() -> std::io::Result<Self> {
        Self::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts on `addr`.
    pub async fn bind(addr: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let world = Arc::new(World::default());
        world.dispatcher.set_origin(format!("http://{addr}"));
        let router = router(world.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Simulator {
            addr,
            control: Control::new(world),
            stop: Some(stop),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`: the gateway and auth server URL.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The site URL form of `site`: `http://127.0.0.1:PORT/site/NAME`.
    pub fn site_url(&self, site: &str) -> String {
        format!("{}/site/{site}", self.base_url())
    }

    /// The gateway URL form of a cloud ID: `http://127.0.0.1:PORT/ex/jira/ID`.
    pub fn gateway_site_url(&self, cloud_id: &str) -> String {
        format!("{}/ex/jira/{cloud_id}", self.base_url())
    }

    pub fn control(&self) -> &Control {
        &self.control
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
