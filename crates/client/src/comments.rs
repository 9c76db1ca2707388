//! The comments of an issue (reference jira-cloud-api.md section 11.9): read in full, added
//! with an audience and properties, edited, deleted.

use jira_sync_ratelimit::retry::Idempotency;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ClientError;
use crate::ops::enc;
use crate::request::{Client, Req};

/// A comment as `getComments` and `addComment` return it.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
pub struct Comment {
    pub id: String,
    #[serde(default)]
    pub author: Option<Value>,
    #[serde(default)]
    pub body: Value,
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub updated: Option<String>,
    #[serde(default)]
    pub properties: Vec<Value>,
    /// Who may read it (`Visibility`: `{"type":"role"|"group","value","identifier"}`);
    /// absent for everyone who sees the issue.
    #[serde(default)]
    pub visibility: Option<Value>,
    /// In a service-desk project: false for an internal note (reference jira-cloud-api.md
    /// section 11.9); absent elsewhere.
    #[serde(default, rename = "jsdPublic")]
    pub jsd_public: Option<bool>,
}

impl Client {
    /// Every comment of an issue, oldest first.
    pub async fn comments(&self, key: &str) -> Result<Vec<Comment>, ClientError> {
        let mut out = Vec::new();
        loop {
            let mut req = Req::get(
                "/issue/{issueIdOrKey}/comment",
                format!("/issue/{}/comment", enc(key)),
            );
            req.query = vec![
                ("startAt", out.len().to_string()),
                ("maxResults", "100".into()),
                ("expand", "properties".into()),
            ];
            let v: Value = self.execute(req).await?;
            let page: Vec<Comment> =
                serde_json::from_value(v["comments"].clone()).map_err(|e| ClientError::Decode {
                    endpoint: "/rest/api/3/issue/{issueIdOrKey}/comment".into(),
                    status: 200,
                    detail: e.to_string(),
                })?;
            let total = v["total"].as_u64().unwrap_or(0) as usize;
            let got = page.len();
            out.extend(page);
            if got == 0 || out.len() >= total {
                return Ok(out);
            }
        }
    }

    /// Adds a comment (ADF body) with properties (`addComment`), visible to `visibility`
    /// (`{"type":"role"|"group","value":name}`) when given. Never retried: a repeat would
    /// duplicate it.
    ///
    /// # Errors
    /// A role or group the site lacks, or one the account is not in, is a 400 (`Invalid`,
    /// reference jira-cloud-api.md section 11.9); never retried without the restriction.
    pub async fn add_comment(
        &self,
        key: &str,
        body: Value,
        visibility: Option<Value>,
        properties: Vec<(String, Value)>,
    ) -> Result<Comment, ClientError> {
        let props: Vec<Value> = properties
            .into_iter()
            .map(|(k, v)| json!({ "key": k, "value": v }))
            .collect();
        let mut details = json!({ "body": body, "properties": props });
        if let Some(v) = visibility {
            details["visibility"] = v;
        }
        let mut req = Req::send(
            Method::POST,
            "/issue/{issueIdOrKey}/comment",
            format!("/issue/{}/comment", enc(key)),
            details,
        );
        req.idempotency = Idempotency::Create;
        req.write_to = Some(key);
        self.execute(req).await
    }

    /// Replaces comment `id`'s body and audience (`updateComment`, 200 with the comment as
    /// Jira now holds it). `visibility` `None` sends `"visibility": null`, which makes it
    /// readable by everyone who sees the issue (**UNCONFIRMED** that Jira takes null there;
    /// jira-sync only sends it where a restricted comment became public on its source).
    /// Setting the same body twice is the same as once, so retried.
    ///
    /// # Errors
    /// `NotFound` when the comment is gone; `Invalid` for a refused audience.
    pub async fn edit_comment(
        &self,
        key: &str,
        id: &str,
        body: Value,
        visibility: Option<Value>,
    ) -> Result<Comment, ClientError> {
        let mut req = Req::send(
            Method::PUT,
            "/issue/{issueIdOrKey}/comment/{id}",
            format!("/issue/{}/comment/{}", enc(key), enc(id)),
            json!({ "body": body, "visibility": visibility }),
        );
        req.write_to = Some(key);
        self.execute(req).await
    }

    /// Deletes comment `id` (`deleteComment`, 204). A comment already gone (404) is done.
    pub async fn delete_comment(&self, key: &str, id: &str) -> Result<(), ClientError> {
        let mut req = Req::send(
            Method::DELETE,
            "/issue/{issueIdOrKey}/comment/{id}",
            format!("/issue/{}/comment/{}", enc(key), enc(id)),
            Value::Null,
        );
        req.body = None;
        req.write_to = Some(key);
        match self.execute_empty(req).await {
            Err(ClientError::NotFound { .. }) => Ok(()),
            other => other,
        }
    }
}
