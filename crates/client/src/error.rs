//! Errors a caller can act on. None carries a secret: bodies are Jira's messages only.

use jira_sync_auth::AuthError;
use jira_sync_ratelimit::Reason;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    /// The credential could not produce a token (revoked, no refresh token, token endpoint down).
    #[error("credential: {0}")]
    Auth(#[from] AuthError),
    /// 401 even after a fresh token: the credential is refused.
    #[error("{endpoint}: 401 Unauthorized{}", if *.scope { " (scope does not match)" } else { "" })]
    Unauthorized { endpoint: String, scope: bool },
    /// 403 with `X-Authentication-Denied-Reason`: Jira refused to authenticate the account at
    /// all (after failed logins it demands a CAPTCHA, `CAPTCHA_CHALLENGE; login-url=...`), so
    /// every request of the site fails the same way until a person signs in once in a
    /// browser as the integration account (reference: jira-cloud-api.md section 11.6).
    /// `reason` is the header's reason code, never the login URL or a credential.
    #[error("{endpoint}: 403 authentication denied ({reason}): {}", jira_sync_auth::denied_hint(.reason))]
    AuthenticationDenied { endpoint: String, reason: String },
    /// 403: the account may not do this.
    #[error("{endpoint}: 403 Forbidden: {}", .messages.join("; "))]
    Forbidden {
        endpoint: String,
        messages: Vec<String>,
    },
    /// 404: no such issue or project, or no permission to see it.
    #[error("{endpoint}: 404 Not Found: {}", .messages.join("; "))]
    NotFound {
        endpoint: String,
        messages: Vec<String>,
    },
    /// Another 4xx: Jira's messages and per-field errors.
    #[error("{endpoint}: {status}: {}", join(.messages, .errors))]
    Invalid {
        endpoint: String,
        status: u16,
        messages: Vec<String>,
        errors: Vec<(String, String)>,
    },
    /// Still rate limited after the retries.
    #[error("{endpoint}: rate limited ({reason:?}) after the retries")]
    RateLimited { endpoint: String, reason: Reason },
    /// 5xx after the retries.
    #[error("{endpoint}: server error {status} after the retries")]
    Server { endpoint: String, status: u16 },
    /// No response (connection, timeout) after the retries.
    #[error("{endpoint}: network error: {detail}")]
    Network { endpoint: String, detail: String },
    /// A response that is not what the operation returns (HTML, truncated JSON, wrong shape).
    #[error("{endpoint}: unreadable response (HTTP {status}): {detail}")]
    Decode {
        endpoint: String,
        status: u16,
        detail: String,
    },
    /// A request the client refuses to build.
    #[error("{0}")]
    Usage(String),
}

fn join(messages: &[String], errors: &[(String, String)]) -> String {
    let mut parts: Vec<String> = messages.to_vec();
    parts.extend(errors.iter().map(|(f, m)| format!("{f}: {m}")));
    parts.join("; ")
}

impl ClientError {
    /// True when the credential itself is refused (or cannot produce a token): every further
    /// request of the site would fail the same way.
    pub fn is_credential(&self) -> bool {
        matches!(
            self,
            ClientError::Unauthorized { .. }
                | ClientError::AuthenticationDenied { .. }
                | ClientError::Auth(_)
        )
    }

    /// True for errors a later cycle may not see again (network, server, rate limit).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ClientError::RateLimited { .. }
                | ClientError::Server { .. }
                | ClientError::Network { .. }
                | ClientError::Auth(AuthError::Unreachable(_))
        )
    }
}
