//! A simulator with one well-known site, `acme`, and a raw HTTP caller: what the simulator's
//! own tests speak Jira's API through.

use jira_sim::Simulator;
use jira_sim::control::{AccountSpec, CredentialSpec, FieldSpec, ProjectSpec, SiteSpec};
use jira_sim::model::CredentialKind;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub use crate::{http_client, install_crypto};

/// Alice (Europe/Berlin), who holds the site's tokens.
pub const ALICE: &str = "alice@acme.example";
/// A service account of type `app`.
pub const BOT: &str = "bot@serviceaccount.atlassian.com";

/// Scopes a full read-write integration holds (classic).
pub const RW: &[&str] = &["read:jira-work", "write:jira-work", "read:jira-user"];

/// The site `acme` (projects SEC on the default workflow, OPS on `ops`; fields Severity,
/// Team and Notes) and a token of each kind.
#[derive(Debug)]
pub struct Fixture {
    pub sim: Simulator,
    pub http: reqwest::Client,
    pub cloud_id: String,
    /// Classic token of Alice (Europe/Berlin): site URL.
    pub classic: String,
    /// Scoped token of Alice with `RW`: gateway.
    pub scoped: String,
    /// Scoped token of Alice with read scopes only.
    pub read_only: String,
    /// Service-account token with granular scopes.
    pub service: String,
    pub classic_id: String,
}

/// How a request authenticates and which URL form it uses.
#[derive(Debug, Clone)]
pub struct As {
    pub base: String,
    pub email: String,
    pub token: String,
}

impl Fixture {
    /// Starts a simulator on `127.0.0.1:0` and creates the site.
    pub async fn new() -> Self {
        let sim = Simulator::start().await.expect("start simulator");
        let c = sim.control();
        let info = c
            .create_site(SiteSpec {
                name: "acme".into(),
                accounts: vec![
                    AccountSpec {
                        account_id: Some("acc-alice".into()),
                        display_name: "Alice".into(),
                        email: Some(ALICE.into()),
                        time_zone: Some("Europe/Berlin".into()),
                        // A site administrator: she may read workflows.
                        view_workflows: Some(true),
                        ..Default::default()
                    },
                    AccountSpec {
                        account_id: Some("acc-bob".into()),
                        display_name: "Bob".into(),
                        email: Some("bob@acme.example".into()),
                        email_visible: Some(false),
                        time_zone: Some("Asia/Tokyo".into()),
                        ..Default::default()
                    },
                    AccountSpec {
                        account_id: Some("acc-bot".into()),
                        display_name: "Sync Bot".into(),
                        email: Some(BOT.into()),
                        account_type: Some("app".into()),
                        ..Default::default()
                    },
                ],
                workflows: vec![crate::world::ops_workflow()],
                fields: vec![
                    crate::world::severity("customfield_10042"),
                    FieldSpec {
                        id: Some("customfield_10050".into()),
                        name: "Team".into(),
                        kind: "text".into(),
                        options: vec![],
                    },
                    FieldSpec {
                        id: Some("customfield_10060".into()),
                        name: "Notes".into(),
                        kind: "textarea".into(),
                        options: vec![],
                    },
                ],
                // The role the OpenAPI document's comment example restricts to.
                roles: vec![jira_sim::control::AudienceSpec {
                    name: "Administrators".into(),
                    members: vec![ALICE.into()],
                    ..Default::default()
                }],
                projects: vec![
                    ProjectSpec {
                        key: "SEC".into(),
                        name: Some("Security".into()),
                        ..Default::default()
                    },
                    ProjectSpec {
                        key: "OPS".into(),
                        workflow: Some("ops".into()),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            })
            .expect("create site");
        let cred = |kind, account: &str, scopes: &[&str]| {
            c.create_credential(
                "acme",
                CredentialSpec {
                    kind,
                    account: account.into(),
                    token: None,
                    expires_at: Some("2099-01-01".into()),
                    scopes: scopes.iter().map(|s| s.to_string()).collect(),
                },
            )
            .expect("credential")
        };
        let classic = cred(CredentialKind::ClassicToken, ALICE, &[]);
        let scoped = cred(CredentialKind::ScopedToken, ALICE, RW);
        let read_only = cred(
            CredentialKind::ScopedToken,
            ALICE,
            &["read:jira-work", "read:jira-user"],
        );
        let service = cred(
            CredentialKind::ServiceAccountToken,
            BOT,
            &[
                "read:issue-details:jira",
                "read:audit-log:jira",
                "read:avatar:jira",
                "read:field-configuration:jira",
                "read:issue-meta:jira",
            ],
        );
        Fixture {
            http: http_client(),
            cloud_id: info.cloud_id,
            classic: classic.token,
            classic_id: classic.id,
            scoped: scoped.token,
            read_only: read_only.token,
            service: service.token,
            sim,
        }
    }

    /// Alice with her classic token on the site URL.
    pub fn site(&self) -> As {
        As {
            base: self.sim.site_url("acme"),
            email: ALICE.into(),
            token: self.classic.clone(),
        }
    }

    /// Alice with her scoped read-write token on the gateway.
    pub fn gateway(&self) -> As {
        As {
            base: self.sim.gateway_site_url(&self.cloud_id),
            email: ALICE.into(),
            token: self.scoped.clone(),
        }
    }

    pub async fn call(
        &self,
        who: &As,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}/rest/api/3{path}", who.base))
            .basic_auth(&who.email, Some(&who.token));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(&self.site(), Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(&self.site(), Method::POST, path, Some(body))
            .await
    }

    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(&self.site(), Method::PUT, path, Some(body)).await
    }

    /// Creates an issue in `project` and returns its key.
    pub async fn create(&self, project: &str, summary: &str) -> String {
        let (s, v) = self
            .post("/issue", json!({ "fields": { "project": { "key": project }, "issuetype": { "name": "Task" }, "summary": summary } }))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["key"].as_str().unwrap().to_owned()
    }

    /// Search with a POST body; returns the status and body.
    pub async fn search(&self, body: Value) -> (StatusCode, Value) {
        self.post("/search/jql", body).await
    }
}

/// A one-paragraph ADF document.
pub fn adf(text: &str) -> Value {
    json!({ "type": "doc", "version": 1, "content": [{ "type": "paragraph", "content": [{ "type": "text", "text": text }] }] })
}
