//! Jira's error bodies: `ErrorCollection` for REST errors, and the gateway's own shapes.

use std::collections::BTreeMap;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Jira's `ErrorCollection`: messages about the request, and errors keyed by field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JiraError {
    pub status: StatusCode,
    pub messages: Vec<String>,
    pub errors: BTreeMap<String, String>,
}

impl JiraError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        JiraError {
            status,
            messages: vec![message.into()],
            errors: BTreeMap::new(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 400 with errors keyed by field, as create and edit answer.
    pub fn fields(errors: BTreeMap<String, String>) -> Self {
        JiraError {
            status: StatusCode::BAD_REQUEST,
            messages: Vec::new(),
            errors,
        }
    }

    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::fields(BTreeMap::from([(field.to_owned(), message.into())]))
    }

    pub fn issue_not_found() -> Self {
        Self::not_found("Issue does not exist or you do not have permission to see it.")
    }

    pub fn body(&self) -> serde_json::Value {
        json!({ "errorMessages": self.messages, "errors": self.errors })
    }
}

impl IntoResponse for JiraError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}

/// 401 on the site URL form, as Jira answers a basic-auth failure.
/// Jira's answer to basic auth of an account locked behind a CAPTCHA: `403` with
/// `X-Authentication-Denied-Reason: CAPTCHA_CHALLENGE; login-url=...` and
/// `X-Seraph-LoginReason: AUTHENTICATION_DENIED`, and an HTML body, not an error collection
/// (reference jira-cloud-api.md section 11.6, [S104]).
pub fn captcha_challenge() -> Response {
    let mut r = (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "text/html;charset=UTF-8")],
        "<html><body>Basic authentication failed: CAPTCHA required. Log in through the web \
         interface first.</body></html>",
    )
        .into_response();
    let h = r.headers_mut();
    h.insert(
        "x-authentication-denied-reason",
        HeaderValue::from_static("CAPTCHA_CHALLENGE; login-url=https://id.atlassian.com/login"),
    );
    h.insert(
        "x-seraph-loginreason",
        HeaderValue::from_static("AUTHENTICATION_DENIED"),
    );
    r
}

pub fn site_unauthorized() -> Response {
    let mut r = (
        StatusCode::UNAUTHORIZED,
        "Client must be authenticated to access this resource.",
    )
        .into_response();
    let h = r.headers_mut();
    h.insert(
        "x-seraph-loginreason",
        HeaderValue::from_static("AUTHENTICATED_FAILED"),
    );
    h.insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"protected-area\""),
    );
    r
}

/// 401 from the API gateway (`api.atlassian.com`).
pub fn gateway_unauthorized(message: &str) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        axum::Json(json!({ "code": 401, "message": message })),
    )
        .into_response()
}

/// 404 for a site or cloud ID the simulator does not serve.
pub fn unknown_site() -> Response {
    JiraError::not_found("Site not found.").into_response()
}
