//! Token health: one probe classifies a site's credential for operators and alerts.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use url::Url;

use jira_sync_ratelimit::retry::{Failure, Idempotency, Retry};

use crate::provider::{AuthError, Authorization, Form, Provider, without_url};
use crate::scopes::Scopes;

/// The credential states of `jira_sync_credential_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CredentialState {
    Valid,
    Expiring,
    Expired,
    Revoked,
    InsufficientScope,
    Unreachable,
}

impl CredentialState {
    pub const ALL: [CredentialState; 6] = [
        CredentialState::Valid,
        CredentialState::Expiring,
        CredentialState::Expired,
        CredentialState::Revoked,
        CredentialState::InsufficientScope,
        CredentialState::Unreachable,
    ];

    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialState::Valid => "valid",
            CredentialState::Expiring => "expiring",
            CredentialState::Expired => "expired",
            CredentialState::Revoked => "revoked",
            CredentialState::InsufficientScope => "insufficient_scope",
            CredentialState::Unreachable => "unreachable",
        }
    }

    /// True when sync traffic may use the credential.
    pub fn usable(self) -> bool {
        matches!(self, CredentialState::Valid | CredentialState::Expiring)
    }
}

impl std::fmt::Display for CredentialState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A probe's verdict. `message` is for operators and never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    pub state: CredentialState,
    pub expires_at: Option<DateTime<Utc>>,
    pub message: String,
    pub missing_scopes: Vec<String>,
}

/// What to probe.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    /// The site URL (`https://acme.atlassian.net`).
    pub site_url: &'a Url,
    /// The gateway base (`https://api.atlassian.com/ex/jira/{cloudId}`), once the cloud ID is known.
    pub gateway_base: Option<&'a Url>,
    /// The scopes the site's connectors need.
    pub required: &'a Scopes,
    /// A project to try a search in, to find missing read scopes of scoped tokens.
    pub project: Option<&'a str>,
    /// When the credential stops working, if known (declared, or the refresh family's end).
    pub expires_at: Option<DateTime<Utc>>,
    /// How early an expiry counts as `expiring` (default 28 days).
    pub window: chrono::Duration,
}

/// The reason code of an `X-Authentication-Denied-Reason` header
/// (`CAPTCHA_CHALLENGE; login-url=https://...` -> `CAPTCHA_CHALLENGE`): the part before the
/// first `;`, letters, digits and `_` only, at most 64 characters, so nothing else the header
/// carries reaches a log or a metric. Reference: jira-cloud-api.md section 11.6.
pub fn denied_reason(header: &str) -> String {
    let code: String = header
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect();
    if code.is_empty() {
        "AUTHENTICATION_DENIED".into()
    } else {
        code
    }
}

/// What an operator does about an authentication denial of reason `reason`.
pub fn denied_hint(reason: &str) -> &'static str {
    if reason.eq_ignore_ascii_case("CAPTCHA_CHALLENGE") {
        "Jira locked the integration account behind a CAPTCHA after failed logins; sign in once in a browser as that account to clear it, then the site resumes by itself"
    } else {
        "Jira refuses to authenticate the integration account; check the account in Atlassian administration"
    }
}

/// Default `expiring` window.
pub const EXPIRING_WINDOW_DAYS: i64 = 28;

enum Answer {
    Ok,
    ScopeMismatch,
    Unauthorized,
    /// 403 with `X-Authentication-Denied-Reason`: the reason code.
    Denied(String),
    Other(String),
}

/// One probe request, retried the way every request of the daemon is (Atlassian's recipe in
/// `jira_sync_ratelimit::retry`): a `429` or `5xx` is asked again after its `Retry-After` (or
/// the recipe's backoff), at most 4 times, before the answer counts. A throttled probe means
/// "reachable, but busy", not "unreachable" (reference jira-cloud-api.md section 11.6).
async fn call(
    http: &reqwest::Client,
    url: Url,
    auth: &Authorization,
    body: Option<serde_json::Value>,
) -> Answer {
    let mut retry = Retry::new(Idempotency::Safe);
    loop {
        let req = match &body {
            None => http.get(url.clone()),
            Some(b) => http.post(url.clone()).json(b),
        };
        let resp = match req
            .header(reqwest::header::AUTHORIZATION, auth.header().clone())
            .timeout(Duration::from_secs(30))
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => return Answer::Other(format!("network error: {}", without_url(&e))),
        };
        let status = resp.status();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let denied = header("x-authentication-denied-reason");
        let retry_after = header("retry-after")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let text = resp.text().await.unwrap_or_default();
        return match status {
            s if s.is_success() => Answer::Ok,
            StatusCode::UNAUTHORIZED if text.contains("scope does not match") => {
                Answer::ScopeMismatch
            }
            StatusCode::UNAUTHORIZED => Answer::Unauthorized,
            StatusCode::FORBIDDEN if denied.is_some() => {
                Answer::Denied(denied_reason(denied.as_deref().unwrap_or_default()))
            }
            s if s == StatusCode::TOO_MANY_REQUESTS || s.is_server_error() => {
                match retry.next(Failure::Status(s.as_u16()), retry_after) {
                    Some(wait) => {
                        tracing::debug!(
                            status = s.as_u16(),
                            wait_ms = wait.as_millis() as u64,
                            "Probe answered {s}; asking again after the wait."
                        );
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    None => Answer::Other(format!(
                        "HTTP {} after {} retries",
                        s.as_u16(),
                        jira_sync_ratelimit::retry::MAX_RETRIES
                    )),
                }
            }
            s => Answer::Other(format!("HTTP {}", s.as_u16())),
        };
    }
}

fn api(base: &Url, path: &str) -> Url {
    let mut u = base.clone();
    let p = format!("{}/rest/api/3{path}", u.path().trim_end_matches('/'));
    u.set_path(&p);
    u
}

fn health(
    state: CredentialState,
    expires_at: Option<DateTime<Utc>>,
    message: impl Into<String>,
) -> Health {
    Health {
        state,
        expires_at,
        message: message.into(),
        missing_scopes: Vec::new(),
    }
}

/// Probes the credential: `/myself` on its URL form, then (when it answers) a search for
/// missing read scopes, granted OAuth scopes against the required ones, and the expiry.
pub async fn probe(
    provider: &Provider,
    http: &reqwest::Client,
    t: &Target<'_>,
    now: DateTime<Utc>,
) -> Health {
    let expired = t.expires_at.is_some_and(|e| e <= now);
    let auth = match provider.authorization().await {
        Ok(a) => a,
        Err(AuthError::Unreachable(e)) => {
            return health(
                CredentialState::Unreachable,
                t.expires_at,
                format!("token endpoint: {e}"),
            );
        }
        Err(e) => {
            return health(
                if expired {
                    CredentialState::Expired
                } else {
                    CredentialState::Revoked
                },
                t.expires_at,
                e.to_string(),
            );
        }
    };
    let form = provider.form();
    let (base, other) = match form {
        Form::Site => (Some(t.site_url), t.gateway_base),
        Form::Gateway => (t.gateway_base, Some(t.site_url)),
    };
    let Some(base) = base else {
        return health(
            CredentialState::Unreachable,
            t.expires_at,
            "the site's cloud ID is not known yet, so the gateway URL cannot be built",
        );
    };
    let mut answer = call(http, api(base, "/myself"), &auth, None).await;
    if let (Answer::Unauthorized, Ok(fresh)) = (&answer, provider.after_unauthorized(&auth).await) {
        answer = call(http, api(base, "/myself"), &fresh, None).await;
    }
    match answer {
        Answer::Ok => {}
        Answer::ScopeMismatch => {
            let mut h = health(
                CredentialState::InsufficientScope,
                t.expires_at,
                "the credential lacks a scope /myself needs (401 scope does not match)",
            );
            h.missing_scopes = crate::scopes::TABLE["GET /rest/api/3/myself"]
                .classic
                .clone();
            return h;
        }
        Answer::Unauthorized => {
            // A token on the wrong URL form also gets 401: try the other before calling it revoked.
            if let Some(other) = other
                && let Answer::Ok = call(http, api(other, "/myself"), &auth, None).await
            {
                let hint = match form {
                    Form::Site => {
                        "it works on the gateway URL, so it is a scoped (or service-account) token: set auth.method = \"service_account\", or create a classic API token"
                    }
                    Form::Gateway => {
                        "it works on the site URL, so it is a classic API token: set auth.method = \"api_token\""
                    }
                };
                return health(
                    CredentialState::Revoked,
                    t.expires_at,
                    format!(
                        "401 on the {} URL: {hint}",
                        if form == Form::Site {
                            "site"
                        } else {
                            "gateway"
                        }
                    ),
                );
            }
            let state = if expired {
                CredentialState::Expired
            } else {
                CredentialState::Revoked
            };
            return health(
                state,
                t.expires_at,
                "401 Unauthorized: the credential is revoked, expired or wrong",
            );
        }
        Answer::Denied(reason) => {
            // Jira refuses to authenticate the account at all: no sync traffic may go out
            // (it would add failed logins), and a person has to act.
            return health(
                CredentialState::Revoked,
                t.expires_at,
                format!(
                    "403 authentication denied ({reason}): {}",
                    denied_hint(&reason)
                ),
            );
        }
        Answer::Other(why) => {
            return health(
                CredentialState::Unreachable,
                t.expires_at,
                format!("/myself: {why}"),
            );
        }
    }
    let mut missing = Vec::new();
    if let Some(granted) = provider.granted_scopes() {
        missing = t.required.missing_from(&granted);
    } else if form == Form::Gateway
        && let Some(project) = t.project
    {
        let body =
            serde_json::json!({ "jql": format!("project = \"{project}\""), "maxResults": 1 });
        if let Answer::ScopeMismatch = call(http, api(base, "/search/jql"), &auth, Some(body)).await
        {
            missing = crate::scopes::TABLE["POST /rest/api/3/search/jql"]
                .classic
                .clone();
        }
    }
    if !missing.is_empty() {
        let mut h = health(
            CredentialState::InsufficientScope,
            t.expires_at,
            format!("missing scopes: {}", missing.join(" ")),
        );
        h.missing_scopes = missing;
        return h;
    }
    match t.expires_at {
        Some(e) if e <= now => health(
            CredentialState::Expiring,
            Some(e),
            "the declared expiry has passed but the credential still works: update auth.expires_at",
        ),
        Some(e) if e - now <= t.window => health(
            CredentialState::Expiring,
            Some(e),
            format!("expires in {} days", (e - now).num_days()),
        ),
        e => health(CredentialState::Valid, e, "ok"),
    }
}
