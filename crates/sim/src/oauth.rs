//! Atlassian's OAuth 2.0 authorization server: 3LO consent and codes, rotating refresh
//! tokens with a reuse leeway, client credentials of service accounts, access tokens.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::limits::Quota;

/// An OAuth client, as the control API and seed files create it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthClientSpec {
    /// Default: generated.
    pub client_id: Option<String>,
    /// Default: generated (an obviously fake value).
    pub client_secret: Option<String>,
    /// `3lo` (authorization code, default) or `service_account` (client credentials).
    pub kind: Option<String>,
    /// Callback URLs the 3LO app registered; `redirect_uri` must be one of them.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Scopes a service account's credential holds (client credentials).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The service account behind client credentials: its account (id or email) and sites.
    pub service_account: Option<Consent>,
    /// Consent given at once on `/authorize` (tests and the demo): who and which sites.
    pub auto_consent: Option<Consent>,
    /// Access-token lifetime; default 3600.
    pub access_ttl_seconds: Option<i64>,
    /// How long a rotated refresh token may still be used; default 600.
    pub refresh_leeway_seconds: Option<i64>,
    /// Refresh-token inactivity expiry; default 90 days.
    pub refresh_inactivity_seconds: Option<i64>,
    /// Absolute expiry of a refresh-token family from consent; default 365 days.
    pub refresh_absolute_seconds: Option<i64>,
    /// Hourly points quota of the app across all sites (`jira-quota-global-based`).
    pub points_quota: Option<u64>,
}

/// A user's (or service account's) access to sites.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Consent {
    /// Account id or email; it must exist on every site.
    pub account: String,
    pub sites: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    ThreeLo,
    ServiceAccount,
}

#[derive(Debug, Clone)]
pub struct Client {
    pub client_id: String,
    pub secret: String,
    pub kind: ClientKind,
    pub redirect_uris: Vec<String>,
    pub scopes: BTreeSet<String>,
    /// (site, account id) for client credentials.
    pub service_account: Vec<(String, String)>,
    /// (site, account id) consented at once on `/authorize`.
    pub auto_consent: Option<Vec<(String, String)>>,
    pub access_ttl: Duration,
    pub leeway: Duration,
    pub inactivity: Duration,
    pub absolute: Duration,
    pub revoked: bool,
    pub points_quota: Option<u64>,
    pub points: Quota,
}

/// One consent of one user to one app: the family of its refresh tokens.
#[derive(Debug, Clone, Serialize)]
pub struct Grant {
    pub id: String,
    pub client_id: String,
    /// (site, account id).
    pub sites: Vec<(String, String)>,
    pub scopes: BTreeSet<String>,
    pub created: DateTime<Utc>,
    /// Revoked by the control API (the user removed the app's access).
    pub revoked: bool,
    /// A rotated refresh token was reused after the leeway: every refresh token is dead.
    pub family_killed: bool,
}

#[derive(Debug, Clone)]
struct AuthCode {
    client_id: String,
    redirect_uri: String,
    sites: Vec<(String, String)>,
    scopes: BTreeSet<String>,
    expires: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct RefreshToken {
    grant: String,
    issued: DateTime<Utc>,
    /// When a newer token replaced it.
    rotated: Option<DateTime<Utc>>,
}

/// An access token and what it may reach.
#[derive(Debug, Clone)]
pub struct AccessToken {
    pub client_id: String,
    pub grant: Option<String>,
    /// (site, account id).
    pub sites: Vec<(String, String)>,
    pub scopes: BTreeSet<String>,
    pub expires: DateTime<Utc>,
}

/// What the token endpoint answers.
#[derive(Debug, Clone, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub expires_in: i64,
    pub scope: String,
    pub token_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// Token-endpoint failures, with Atlassian's status and `error` code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub status: u16,
    pub error: &'static str,
    pub description: String,
}

fn invalid_grant(description: &str) -> OAuthError {
    OAuthError {
        status: 403,
        error: "invalid_grant",
        description: description.into(),
    }
}

const BAD_REFRESH: &str = "Unknown or invalid refresh token.";

#[derive(Debug, Default)]
pub struct OAuthState {
    pub clients: HashMap<String, Client>,
    pub grants: Vec<Grant>,
    codes: HashMap<String, AuthCode>,
    refresh: HashMap<String, RefreshToken>,
    pub access: HashMap<String, AccessToken>,
    counter: u64,
}

impl OAuthState {
    fn mint(&mut self, what: &str) -> String {
        self.counter += 1;
        let noise =
            crate::control::derived_uuid(&format!("{what}-{}", self.counter)).replace('-', "");
        format!("FAKE-sim-{what}-{}-{noise}", self.counter)
    }

    pub fn add_client(&mut self, c: Client) -> Result<(), String> {
        if self.clients.contains_key(&c.client_id) {
            return Err(format!("client {} exists already", c.client_id));
        }
        self.clients.insert(c.client_id.clone(), c);
        Ok(())
    }

    pub fn new_secret(&mut self, client_id: &str) -> Option<String> {
        let secret = self.mint("secret");
        let c = self.clients.get_mut(client_id)?;
        c.secret = secret.clone();
        Some(secret)
    }

    fn client(&self, client_id: &str, secret: &str) -> Result<&Client, OAuthError> {
        let unauthorized = OAuthError {
            status: 401,
            error: "access_denied",
            description: "Unauthorized".into(),
        };
        let c = self
            .clients
            .get(client_id)
            .ok_or_else(|| unauthorized.clone())?;
        if c.secret != secret {
            return Err(unauthorized);
        }
        if c.revoked {
            return Err(OAuthError {
                status: 403,
                error: "unauthorized_client",
                description: "The client has been revoked.".into(),
            });
        }
        Ok(c)
    }

    /// A one-time code for a consent, valid ten minutes.
    pub fn consent(
        &mut self,
        client_id: &str,
        redirect_uri: &str,
        sites: Vec<(String, String)>,
        scopes: BTreeSet<String>,
        now: DateTime<Utc>,
    ) -> Result<String, String> {
        let c = self.clients.get(client_id).ok_or("unknown client_id")?;
        if c.revoked || c.kind != ClientKind::ThreeLo {
            return Err("this client cannot ask for consent".into());
        }
        if !c.redirect_uris.iter().any(|u| u == redirect_uri) {
            return Err(format!(
                "redirect_uri {redirect_uri} is not registered for the app"
            ));
        }
        let code = self.mint("code");
        self.codes.insert(
            code.clone(),
            AuthCode {
                client_id: client_id.into(),
                redirect_uri: redirect_uri.into(),
                sites,
                scopes,
                expires: now + Duration::minutes(10),
            },
        );
        Ok(code)
    }

    fn issue(
        &mut self,
        client_id: &str,
        grant: Option<String>,
        sites: Vec<(String, String)>,
        scopes: BTreeSet<String>,
        now: DateTime<Utc>,
    ) -> TokenResponse {
        let ttl = self.clients[client_id].access_ttl;
        let access_token = self.mint("access");
        let offline = grant.is_some() && scopes.contains("offline_access");
        let refresh_token = if offline {
            let rt = self.mint("refresh");
            self.refresh.insert(
                rt.clone(),
                RefreshToken {
                    grant: grant.clone().unwrap_or_default(),
                    issued: now,
                    rotated: None,
                },
            );
            Some(rt)
        } else {
            None
        };
        let scope = scopes.iter().cloned().collect::<Vec<_>>().join(" ");
        self.access.insert(
            access_token.clone(),
            AccessToken {
                client_id: client_id.into(),
                grant,
                sites,
                scopes,
                expires: now + ttl,
            },
        );
        TokenResponse {
            access_token,
            expires_in: ttl.num_seconds(),
            scope,
            token_type: "Bearer",
            refresh_token,
        }
    }

    pub fn exchange_code(
        &mut self,
        client_id: &str,
        secret: &str,
        code: &str,
        redirect_uri: &str,
        now: DateTime<Utc>,
    ) -> Result<TokenResponse, OAuthError> {
        self.client(client_id, secret)?;
        let c = self
            .codes
            .remove(code)
            .ok_or_else(|| invalid_grant("Invalid authorization code"))?;
        if c.client_id != client_id || c.redirect_uri != redirect_uri || c.expires <= now {
            return Err(invalid_grant("Invalid authorization code"));
        }
        let id = format!("grant-{}", self.grants.len() + 1);
        self.grants.push(Grant {
            id: id.clone(),
            client_id: client_id.into(),
            sites: c.sites.clone(),
            scopes: c.scopes.clone(),
            created: now,
            revoked: false,
            family_killed: false,
        });
        Ok(self.issue(client_id, Some(id), c.sites, c.scopes, now))
    }

    /// Rotates a refresh token. Reuse of a rotated token within the leeway is allowed; after
    /// it, the whole family dies.
    pub fn refresh(
        &mut self,
        client_id: &str,
        secret: &str,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<TokenResponse, OAuthError> {
        let client = self.client(client_id, secret)?.clone();
        let rt = self
            .refresh
            .get(token)
            .cloned()
            .ok_or_else(|| invalid_grant(BAD_REFRESH))?;
        let grant_idx = self
            .grants
            .iter()
            .position(|g| g.id == rt.grant)
            .ok_or_else(|| invalid_grant(BAD_REFRESH))?;
        let grant = self.grants[grant_idx].clone();
        if grant.client_id != client_id || grant.revoked || grant.family_killed {
            return Err(invalid_grant(BAD_REFRESH));
        }
        if now >= grant.created + client.absolute || now >= rt.issued + client.inactivity {
            return Err(invalid_grant(BAD_REFRESH));
        }
        if let Some(rotated) = rt.rotated
            && now > rotated + client.leeway
        {
            self.grants[grant_idx].family_killed = true;
            return Err(invalid_grant(BAD_REFRESH));
        }
        if let Some(r) = self.refresh.get_mut(token) {
            r.rotated.get_or_insert(now);
        }
        Ok(self.issue(client_id, Some(grant.id), grant.sites, grant.scopes, now))
    }

    pub fn client_credentials(
        &mut self,
        client_id: &str,
        secret: &str,
        now: DateTime<Utc>,
    ) -> Result<TokenResponse, OAuthError> {
        let c = self.client(client_id, secret)?.clone();
        if c.kind != ClientKind::ServiceAccount {
            return Err(OAuthError {
                status: 403,
                error: "unauthorized_client",
                description: "The client is not allowed the client_credentials grant.".into(),
            });
        }
        Ok(self.issue(
            client_id,
            None,
            c.service_account.clone(),
            c.scopes.clone(),
            now,
        ))
    }

    /// The live access token, if it is one.
    pub fn access_token(&self, token: &str, now: DateTime<Utc>) -> Option<&AccessToken> {
        let t = self.access.get(token)?;
        let client = self.clients.get(&t.client_id)?;
        let grant_ok = t
            .grant
            .as_ref()
            .is_none_or(|g| self.grants.iter().any(|x| &x.id == g && !x.revoked));
        (t.expires > now && !client.revoked && grant_ok).then_some(t)
    }

    pub fn revoke_grant(&mut self, id: &str) -> bool {
        match self.grants.iter_mut().find(|g| g.id == id) {
            Some(g) => {
                g.revoked = true;
                true
            }
            None => false,
        }
    }

    pub fn revoke_client(&mut self, id: &str) -> bool {
        match self.clients.get_mut(id) {
            Some(c) => {
                c.revoked = true;
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(leeway: i64) -> OAuthState {
        let mut s = OAuthState::default();
        s.add_client(Client {
            client_id: "app".into(),
            secret: "FAKE-secret".into(),
            kind: ClientKind::ThreeLo,
            redirect_uris: vec!["http://127.0.0.1:1/cb".into()],
            scopes: BTreeSet::new(),
            service_account: vec![],
            auto_consent: None,
            access_ttl: Duration::hours(1),
            leeway: Duration::seconds(leeway),
            inactivity: Duration::days(90),
            absolute: Duration::days(365),
            revoked: false,
            points_quota: None,
            points: Quota::default(),
        })
        .unwrap();
        s
    }

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn login(s: &mut OAuthState) -> TokenResponse {
        let scopes: BTreeSet<String> =
            ["read:jira-work".to_owned(), "offline_access".to_owned()].into();
        let code = s
            .consent(
                "app",
                "http://127.0.0.1:1/cb",
                vec![("acme".into(), "acc".into())],
                scopes,
                t0(),
            )
            .unwrap();
        s.exchange_code("app", "FAKE-secret", &code, "http://127.0.0.1:1/cb", t0())
            .unwrap()
    }

    #[test]
    fn refresh_rotates_and_reuse_after_the_leeway_kills_the_family() {
        let mut s = state(600);
        let first = login(&mut s);
        let rt1 = first.refresh_token.unwrap();
        let second = s
            .refresh("app", "FAKE-secret", &rt1, t0() + Duration::minutes(50))
            .unwrap();
        let rt2 = second.refresh_token.unwrap();
        assert_ne!(rt1, rt2, "each refresh returns a new refresh token");
        // The old one still works inside the leeway...
        assert!(
            s.refresh("app", "FAKE-secret", &rt1, t0() + Duration::minutes(55))
                .is_ok()
        );
        // ...and kills every token of the family after it.
        let e = s
            .refresh("app", "FAKE-secret", &rt1, t0() + Duration::minutes(61))
            .unwrap_err();
        assert_eq!(
            (e.status, e.error, e.description.as_str()),
            (403, "invalid_grant", BAD_REFRESH)
        );
        assert!(
            s.refresh("app", "FAKE-secret", &rt2, t0() + Duration::minutes(62))
                .is_err(),
            "family is dead"
        );
    }

    #[test]
    fn inactivity_and_absolute_expiry_end_the_family() {
        let mut s = state(600);
        let rt = login(&mut s).refresh_token.unwrap();
        assert!(
            s.refresh("app", "FAKE-secret", &rt, t0() + Duration::days(91))
                .is_err(),
            "90 days idle"
        );
        let mut s = state(600);
        let mut rt = login(&mut s).refresh_token.unwrap();
        for month in 1..=12 {
            rt = s
                .refresh("app", "FAKE-secret", &rt, t0() + Duration::days(30 * month))
                .unwrap()
                .refresh_token
                .unwrap();
        }
        assert!(
            s.refresh("app", "FAKE-secret", &rt, t0() + Duration::days(366))
                .is_err(),
            "365 days absolute"
        );
    }

    #[test]
    fn codes_are_single_use_and_bound_to_the_redirect() {
        let mut s = state(600);
        let code = s
            .consent(
                "app",
                "http://127.0.0.1:1/cb",
                vec![],
                BTreeSet::new(),
                t0(),
            )
            .unwrap();
        assert!(
            s.exchange_code("app", "FAKE-secret", &code, "http://evil/cb", t0())
                .is_err()
        );
        assert!(
            s.exchange_code("app", "FAKE-secret", &code, "http://127.0.0.1:1/cb", t0())
                .is_err(),
            "a refused code is spent"
        );
        let code = s
            .consent(
                "app",
                "http://127.0.0.1:1/cb",
                vec![],
                BTreeSet::new(),
                t0(),
            )
            .unwrap();
        assert_eq!(
            s.exchange_code("app", "wrong", &code, "http://127.0.0.1:1/cb", t0())
                .unwrap_err()
                .status,
            401
        );
        assert!(
            s.consent("app", "http://evil/cb", vec![], BTreeSet::new(), t0())
                .is_err()
        );
    }
}
