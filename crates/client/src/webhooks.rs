//! Dynamic webhooks of an OAuth 2.0 app (reference jira-cloud-api.md section 9.1):
//! `registerDynamicWebhooks`, `getDynamicWebhooksForApp`, `deleteWebhookById`,
//! `refreshWebhooks`. All need the scope `manage:jira-webhook` (with `read:jira-work`);
//! Jira answers 403 to callers that are not apps.

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ClientError;
use crate::request::{Client, Req};
use jira_sync_ratelimit::retry::Idempotency;

/// One of the app's webhooks (`Webhook` in the OpenAPI document).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DynamicWebhook {
    pub id: u64,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub events: Vec<String>,
    #[serde(default)]
    pub jql_filter: Option<String>,
    /// Epoch milliseconds (the reference notes a string form in one example: both read).
    #[serde(default, deserialize_with = "epoch_ms")]
    pub expiration_date: Option<DateTime<Utc>>,
}

fn epoch_ms<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Number(n)) => n.as_i64().and_then(DateTime::from_timestamp_millis),
        Some(Value::String(s)) => DateTime::parse_from_str(&s, "%Y-%m-%dT%H:%M:%S%.3f%z")
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        _ => None,
    })
}

impl Client {
    /// Registers one webhook for `events` and `jql` at `url`; returns its id, or Jira's
    /// reasons when it refused this webhook (`webhookRegistrationResult[0].errors`). Not
    /// retried: a repeat could register it twice (the caller lists and removes extras).
    pub async fn register_webhook(
        &self,
        url: &str,
        events: &[&str],
        jql: &str,
    ) -> Result<Result<u64, Vec<String>>, ClientError> {
        let mut req = Req::send(
            Method::POST,
            "/webhook",
            "/webhook",
            json!({ "url": url, "webhooks": [{ "events": events, "jqlFilter": jql }] }),
        );
        req.idempotency = Idempotency::Create;
        let v: Value = self.execute(req).await?;
        let first = &v["webhookRegistrationResult"][0];
        if let Some(id) = first["createdWebhookId"].as_u64() {
            return Ok(Ok(id));
        }
        let errors = first["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_else(|| vec![format!("unexpected answer: {v}")]);
        Ok(Err(errors))
    }

    /// Every webhook of this app and user on the site (all pages).
    pub async fn dynamic_webhooks(&self) -> Result<Vec<DynamicWebhook>, ClientError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Page {
            #[serde(default)]
            values: Vec<DynamicWebhook>,
            #[serde(default)]
            is_last: Option<bool>,
        }
        let mut out = Vec::new();
        loop {
            let mut req = Req::get("/webhook", "/webhook");
            req.query.push(("startAt", out.len().to_string()));
            req.query.push(("maxResults", "100".into()));
            let page: Page = self.execute(req).await?;
            let n = page.values.len();
            out.extend(page.values);
            if n == 0 || page.is_last != Some(false) {
                return Ok(out);
            }
        }
    }

    /// Removes webhooks of this app by id (202).
    pub async fn delete_webhooks(&self, ids: &[u64]) -> Result<(), ClientError> {
        let req = Req::send(
            Method::DELETE,
            "/webhook",
            "/webhook",
            json!({ "webhookIds": ids }),
        );
        self.execute_empty(req).await
    }

    /// Extends the webhooks' life to 30 days from now; returns their new expiry.
    pub async fn refresh_webhooks(&self, ids: &[u64]) -> Result<DateTime<Utc>, ClientError> {
        let req = Req::send(
            Method::PUT,
            "/webhook/refresh",
            "/webhook/refresh",
            json!({ "webhookIds": ids }),
        );
        let v: Value = self.execute(req).await?;
        v["expirationDate"]
            .as_i64()
            .and_then(DateTime::from_timestamp_millis)
            .ok_or_else(|| ClientError::Decode {
                endpoint: "/rest/api/3/webhook/refresh".into(),
                status: 200,
                detail: "no expirationDate".into(),
            })
    }
}

/// The REST API of admin webhooks (reference jira-cloud-api.md section 9.2).
const ADMIN_API: &str = "/rest/webhooks/1.0";

/// One admin webhook as `GET /rest/webhooks/1.0/webhook` lists it (secrets are not listed).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct AdminWebhook {
    /// Its own address, `.../rest/webhooks/1.0/webhook/{id}`: the only place Jira gives
    /// the id.
    #[serde(default, rename = "self")]
    pub link: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub events: Vec<String>,
}

impl AdminWebhook {
    /// The id, the last segment of `self` (`None` when Jira gave no `self`).
    pub fn id(&self) -> Option<u64> {
        self.link.as_deref()?.rsplit('/').next()?.parse().ok()
    }
}

/// What an admin webhook is registered with: its name, the URL Jira calls, the events, the
/// JQL filter (`filters."issue-related-events-section"`) and the secret Jira signs
/// deliveries with (`X-Hub-Signature`).
#[derive(Debug, Clone, Copy)]
pub struct AdminWebhookSpec<'a> {
    pub name: &'a str,
    pub url: &'a str,
    pub events: &'a [&'a str],
    pub jql: &'a str,
    pub secret: &'a str,
}

impl AdminWebhookSpec<'_> {
    fn body(&self) -> Value {
        json!({
            "name": self.name,
            "url": self.url,
            "events": self.events,
            "filters": { "issue-related-events-section": self.jql },
            "excludeBody": false,
            "secret": self.secret,
        })
    }
}

impl Client {
    /// Every admin webhook of the site. Needs *Administer Jira*: Jira answers 403 otherwise
    /// (a `ClientError` with that status).
    pub async fn admin_webhooks(&self) -> Result<Vec<AdminWebhook>, ClientError> {
        let mut req = Req::get("/webhook", "/webhook");
        req.api = ADMIN_API;
        self.execute(req).await
    }

    /// Registers an admin webhook. Not retried (a repeat would register it twice). Needs
    /// *Administer Jira*.
    pub async fn register_admin_webhook(
        &self,
        spec: AdminWebhookSpec<'_>,
    ) -> Result<(), ClientError> {
        let mut req = Req::send(Method::POST, "/webhook", "/webhook", spec.body());
        req.api = ADMIN_API;
        req.idempotency = Idempotency::Create;
        self.execute_empty(req).await
    }

    /// Replaces admin webhook `id`'s name, URL, events, filter and secret
    /// (`PUT /rest/webhooks/1.0/webhook/{id}`). Needs *Administer Jira*.
    pub async fn update_admin_webhook(
        &self,
        id: u64,
        spec: AdminWebhookSpec<'_>,
    ) -> Result<(), ClientError> {
        let path = format!("/webhook/{id}");
        let mut req = Req::send(Method::PUT, "/webhook/{id}", path, spec.body());
        req.api = ADMIN_API;
        self.execute_empty(req).await
    }

    /// Removes admin webhook `id` (`DELETE /rest/webhooks/1.0/webhook/{id}`). Needs
    /// *Administer Jira*.
    pub async fn delete_admin_webhook(&self, id: u64) -> Result<(), ClientError> {
        let mut req = Req::send(
            Method::DELETE,
            "/webhook/{id}",
            format!("/webhook/{id}"),
            Value::Null,
        );
        req.body = None;
        req.api = ADMIN_API;
        self.execute_empty(req).await
    }
}
