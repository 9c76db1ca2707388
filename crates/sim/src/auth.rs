//! Who is calling: credentials by URL form, expiry, revocation and scopes, answered the way
//! Jira's site and Atlassian's gateway answer.

use std::sync::atomic::Ordering;

use axum::http::HeaderMap;
use axum::response::Response;
use axum_extra::headers::HeaderMapExt;
use axum_extra::headers::authorization::{Authorization, Basic, Bearer};
use chrono::{DateTime, Utc};

use crate::error::{gateway_unauthorized, site_unauthorized};
use crate::model::{CredentialKind, Site, World};
use crate::scopes::OpScopes;

/// How the request reached the site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `https://SITE.atlassian.net/rest/api/3/...` (here `/site/NAME/rest/api/3/...`).
    Site,
    /// `https://api.atlassian.com/ex/jira/{cloudId}/rest/api/3/...`.
    Gateway,
}

/// Why a request was refused; each becomes the 401 of its URL form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// Bad, expired or revoked credential, or one not valid on this URL form.
    Unauthenticated(Form),
    /// A scoped credential without the scopes the operation needs (gateway only).
    ScopeMismatch,
    /// Basic auth of an account Jira has locked behind a CAPTCHA: 403 with
    /// `X-Authentication-Denied-Reason` (reference jira-cloud-api.md section 11.6).
    Captcha,
}

impl Denied {
    pub fn into_response(self) -> Response {
        match self {
            Denied::Unauthenticated(Form::Site) => site_unauthorized(),
            Denied::Unauthenticated(Form::Gateway) => gateway_unauthorized("Unauthorized"),
            Denied::ScopeMismatch => gateway_unauthorized("Unauthorized; scope does not match"),
            Denied::Captcha => crate::error::captcha_challenge(),
        }
    }
}

fn unauthorized(form: Form) -> Denied {
    Denied::Unauthenticated(form)
}

/// Who is calling.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    /// The account; `None` for an anonymous call the operation allows.
    pub account: Option<String>,
    /// The credential (`cred-N`) or OAuth client (`oauth:ID`); the unit of rate-limit
    /// bookkeeping.
    pub client: Option<String>,
    /// The OAuth client id, for OAuth traffic (points quotas apply).
    pub oauth_client: Option<String>,
}

/// Checks the request's credentials for `site` and the operation's `scopes`.
pub fn authenticate(
    world: &World,
    site: &Site,
    form: Form,
    headers: &HeaderMap,
    now: DateTime<Utc>,
    scopes: &OpScopes,
) -> Result<Identity, Denied> {
    if let Some(bearer) = headers.typed_get::<Authorization<Bearer>>() {
        // OAuth access tokens go through the gateway only.
        if form != Form::Gateway {
            return Err(unauthorized(form));
        }
        let oauth = world.oauth.lock().expect("oauth lock");
        let token = oauth
            .access_token(bearer.token(), now)
            .ok_or(unauthorized(form))?;
        let account = token
            .sites
            .iter()
            .find(|(s, _)| *s == site.name)
            .map(|(_, a)| a.clone())
            .ok_or(unauthorized(form))?;
        if !scopes.granted_by(|s| token.scopes.contains(s)) {
            return Err(Denied::ScopeMismatch);
        }
        return Ok(Identity {
            account: Some(account),
            client: Some(format!("oauth:{}", token.client_id)),
            oauth_client: Some(token.client_id.clone()),
        });
    }
    let Some(basic) = headers.typed_get::<Authorization<Basic>>() else {
        // Anonymous access is served only where no scope is needed (serverInfo): the
        // simulator's sites grant anonymous users no permissions.
        let open =
            scopes.anonymous && scopes.classic.is_empty() && !headers.contains_key("authorization");
        return if open {
            Ok(Identity::default())
        } else {
            Err(unauthorized(form))
        };
    };
    let cred = site.credentials.iter().find(|c| {
        c.token == basic.password()
            && site
                .accounts
                .get(&c.account_id)
                .and_then(|a| a.email.as_deref())
                .is_some_and(|e| e.eq_ignore_ascii_case(basic.username()))
    });
    // A CAPTCHA lock refuses every basic-auth request of the account, whatever its token.
    let locked = site
        .accounts
        .values()
        .filter(|a| {
            a.email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(basic.username()))
        })
        .filter_map(|a| a.captcha_after.as_ref())
        .any(|left| {
            left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_err()
        });
    if locked {
        return Err(Denied::Captcha);
    }
    let Some(cred) = cred else {
        return Err(unauthorized(form));
    };
    let used_up = cred.uses_left.as_ref().is_some_and(|left| {
        left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_err()
    });
    if used_up || cred.revoked || cred.expires_at.is_some_and(|t| t <= now) {
        return Err(unauthorized(form));
    }
    match (cred.kind, form) {
        (CredentialKind::ClassicToken, Form::Site) => {}
        (CredentialKind::ScopedToken | CredentialKind::ServiceAccountToken, Form::Gateway) => {
            if !scopes.granted_by(|scope| cred.scopes.contains(scope)) {
                return Err(Denied::ScopeMismatch);
            }
        }
        // A scoped token on the site URL, or a classic token on the gateway: 401.
        _ => return Err(unauthorized(form)),
    }
    Ok(Identity {
        account: Some(cred.account_id.clone()),
        client: Some(cred.id.clone()),
        oauth_client: None,
    })
}
