//! The OAuth 2.0 (3LO) consent flow behind `jira-sync auth login SITE`: the authorize URL,
//! a one-shot callback server on loopback, the code exchange, and the sites a grant reaches.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use url::Url;

use crate::provider::{TokenFailure, TokenResponse, post_token, token_url, without_url};

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("cannot listen for the callback on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("no callback arrived within {0:?}")]
    Timeout(Duration),
    #[error("consent was not given: {0}")]
    Denied(String),
}

/// A prepared login: open `authorize_url` in a browser, then wait for the code.
#[derive(Debug)]
pub struct Login {
    pub authorize_url: Url,
    pub redirect_uri: Url,
    state: String,
    listener: TcpListener,
}

/// Random hex for `state`: ties the callback to this login (CSRF protection).
fn random_state() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS has randomness");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Binds the callback listener on `bind` and builds the authorize URL.
pub async fn start(
    auth_url: &Url,
    client_id: &str,
    scopes: &[String],
    bind: SocketAddr,
) -> Result<Login, LoginError> {
    let listener = TcpListener::bind(bind)
        .await
        .map_err(|source| LoginError::Listen { addr: bind, source })?;
    let port = listener
        .local_addr()
        .map_err(|source| LoginError::Listen { addr: bind, source })?
        .port();
    let redirect_uri =
        Url::parse(&format!("http://{}:{port}/callback", bind.ip())).expect("a loopback URL");
    let state = random_state();
    let mut authorize_url = auth_url.clone();
    let path = format!("{}/authorize", authorize_url.path().trim_end_matches('/'));
    authorize_url.set_path(&path);
    authorize_url
        .query_pairs_mut()
        .append_pair("audience", "api.atlassian.com")
        .append_pair("client_id", client_id)
        .append_pair("scope", &scopes.join(" "))
        .append_pair("redirect_uri", redirect_uri.as_str())
        .append_pair("state", &state)
        .append_pair("response_type", "code")
        .append_pair("prompt", "consent");
    Ok(Login {
        authorize_url,
        redirect_uri,
        state,
        listener,
    })
}

#[derive(Deserialize)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

#[derive(Clone)]
struct Waiting {
    state: String,
    done: mpsc::Sender<Result<String, String>>,
}

async fn callback(State(w): State<Waiting>, Query(c): Query<Callback>) -> impl IntoResponse {
    if c.state.as_deref() != Some(w.state.as_str()) {
        // Not this login's callback (or a forged one): refuse it and keep waiting.
        return (
            StatusCode::BAD_REQUEST,
            Html("<p>This callback does not belong to the running login (state mismatch).</p>"),
        );
    }
    let outcome = match (c.code, c.error) {
        (Some(code), None) => Ok(code),
        (_, Some(e)) => Err(e),
        (None, None) => Err("the callback carried no code".into()),
    };
    let ok = outcome.is_ok();
    let _ = w.done.send(outcome).await;
    if ok {
        (
            StatusCode::OK,
            Html("<p>jira-sync received the consent. You can close this window.</p>"),
        )
    } else {
        (
            StatusCode::OK,
            Html("<p>Consent was not given. You can close this window.</p>"),
        )
    }
}

impl Login {
    /// Serves the callback until it brings this login's code (or an error), or `timeout`.
    pub async fn wait_for_code(self, timeout: Duration) -> Result<String, LoginError> {
        let (done, mut rx) = mpsc::channel(1);
        let app = Router::new()
            .route("/callback", get(callback))
            .with_state(Waiting {
                state: self.state.clone(),
                done,
            });
        let server = tokio::spawn(async move {
            let _ = axum::serve(self.listener, app).await;
        });
        let result = tokio::time::timeout(timeout, rx.recv()).await;
        // Let the browser's page load before the listener goes away.
        tokio::time::sleep(Duration::from_millis(100)).await;
        server.abort();
        match result {
            Err(_) | Ok(None) => Err(LoginError::Timeout(timeout)),
            Ok(Some(Ok(code))) => Ok(code),
            Ok(Some(Err(e))) => Err(LoginError::Denied(e)),
        }
    }
}

/// Exchanges an authorization code for tokens.
pub async fn exchange(
    http: &reqwest::Client,
    auth_url: &Url,
    client_id: &str,
    client_secret: &str,
    code: &str,
    redirect_uri: &Url,
) -> Result<TokenResponse, TokenFailure> {
    let body = serde_json::json!({
        "grant_type": "authorization_code", "client_id": client_id, "client_secret": client_secret,
        "code": code, "redirect_uri": redirect_uri.as_str(),
    });
    post_token(http, &token_url(auth_url), body).await
}

/// A site an OAuth grant reaches.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Resource {
    pub id: String,
    pub name: String,
    pub url: String,
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// `GET {gateway}/oauth/token/accessible-resources` with an access token.
pub async fn accessible_resources(
    http: &reqwest::Client,
    gateway_url: &Url,
    access_header: &axum::http::HeaderValue,
) -> Result<Vec<Resource>, String> {
    let mut u = gateway_url.clone();
    let path = format!(
        "{}/oauth/token/accessible-resources",
        u.path().trim_end_matches('/')
    );
    u.set_path(&path);
    let resp = http
        .get(u)
        .header(reqwest::header::AUTHORIZATION, access_header.clone())
        .send()
        .await
        .map_err(|e| without_url(&e))?;
    if !resp.status().is_success() {
        return Err(format!(
            "accessible-resources answered HTTP {}",
            resp.status().as_u16()
        ));
    }
    resp.json().await.map_err(|e| {
        format!(
            "accessible-resources answered unreadable JSON: {}",
            without_url(&e)
        )
    })
}

/// Parses the query of a redirect URL (the tests' stand-in for a browser).
pub fn query_of(url: &Url) -> HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}
