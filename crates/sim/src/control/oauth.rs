//! The control API's OAuth part: clients, secrets, grants, consent without a browser.

use super::{Control, ControlError, account_ref};
use crate::oauth::{Client, ClientKind, Consent, Grant, OAuthClientSpec};

impl Control {
    /// Registers an OAuth client; returns (client id, client secret).
    pub fn create_oauth_client(
        &self,
        spec: OAuthClientSpec,
    ) -> Result<(String, String), ControlError> {
        let kind = match spec.kind.as_deref().unwrap_or("3lo") {
            "3lo" => ClientKind::ThreeLo,
            "service_account" => ClientKind::ServiceAccount,
            other => {
                return Err(ControlError::Invalid(format!(
                    "client kind `{other}` is not 3lo or service_account"
                )));
            }
        };
        let resolve = |c: &Consent| -> Result<Vec<(String, String)>, ControlError> {
            c.sites
                .iter()
                .map(|site| {
                    self.with_site(site, |s| Ok((site.clone(), account_ref(s, &c.account)?)))
                })
                .collect()
        };
        let service_account = match (&spec.service_account, kind) {
            (Some(c), ClientKind::ServiceAccount) => resolve(c)?,
            (None, ClientKind::ServiceAccount) => {
                return Err(ControlError::Invalid(
                    "a service_account client needs `service_account`".into(),
                ));
            }
            (Some(_), ClientKind::ThreeLo) => {
                return Err(ControlError::Invalid(
                    "`service_account` is for service_account clients".into(),
                ));
            }
            (None, ClientKind::ThreeLo) => Vec::new(),
        };
        let auto_consent = spec.auto_consent.as_ref().map(resolve).transpose()?;
        let secs = |v: Option<i64>, d: i64| chrono::Duration::seconds(v.unwrap_or(d));
        let mut oauth = self.world.oauth.lock().expect("oauth lock");
        let n = oauth.clients.len() + 1;
        let client_id = spec.client_id.unwrap_or_else(|| format!("sim-client-{n}"));
        let secret = spec
            .client_secret
            .unwrap_or_else(|| format!("FAKE-sim-client-secret-{n}"));
        oauth
            .add_client(Client {
                client_id: client_id.clone(),
                secret: secret.clone(),
                kind,
                redirect_uris: spec.redirect_uris,
                scopes: spec.scopes.into_iter().collect(),
                service_account,
                auto_consent,
                access_ttl: secs(spec.access_ttl_seconds, 3600),
                leeway: secs(spec.refresh_leeway_seconds, 600),
                inactivity: secs(spec.refresh_inactivity_seconds, 90 * 86400),
                absolute: secs(spec.refresh_absolute_seconds, 365 * 86400),
                revoked: false,
                points_quota: spec.points_quota,
                points: Default::default(),
            })
            .map_err(ControlError::Conflict)?;
        Ok((client_id, secret))
    }

    /// Gives a client a new secret; the old one stops working at once.
    pub fn rotate_client_secret(&self, client_id: &str) -> Result<String, ControlError> {
        let mut oauth = self.world.oauth.lock().expect("oauth lock");
        oauth
            .new_secret(client_id)
            .ok_or_else(|| ControlError::NotFound(format!("no OAuth client `{client_id}`")))
    }

    /// Sets an app's points quota across sites (`jira-quota-global-based`) and its window
    /// (seconds; `None`: an hour, as Jira's). `None` quota: unlimited.
    pub fn set_points_quota(
        &self,
        client_id: &str,
        quota: Option<u64>,
        window_seconds: Option<u64>,
    ) -> Result<(), ControlError> {
        let mut oauth = self.world.oauth.lock().expect("oauth lock");
        let c = oauth
            .clients
            .get_mut(client_id)
            .ok_or_else(|| ControlError::NotFound(format!("no OAuth client `{client_id}`")))?;
        c.points_quota = quota;
        c.points.window_seconds = window_seconds;
        Ok(())
    }

    /// Revokes a client: its tokens stop working and its token requests are refused.
    pub fn revoke_oauth_client(&self, client_id: &str) -> Result<(), ControlError> {
        let mut oauth = self.world.oauth.lock().expect("oauth lock");
        oauth
            .revoke_client(client_id)
            .then_some(())
            .ok_or_else(|| ControlError::NotFound(format!("no OAuth client `{client_id}`")))
    }

    /// Revokes a user's consent: its access and refresh tokens stop working.
    pub fn revoke_grant(&self, grant: &str) -> Result<(), ControlError> {
        let mut oauth = self.world.oauth.lock().expect("oauth lock");
        oauth
            .revoke_grant(grant)
            .then_some(())
            .ok_or_else(|| ControlError::NotFound(format!("no grant `{grant}`")))
    }

    pub fn grants(&self) -> Vec<Grant> {
        self.world.oauth.lock().expect("oauth lock").grants.clone()
    }

    /// Consent as the user would give it on the consent page; returns the code the app's
    /// callback would receive.
    pub fn oauth_consent(
        &self,
        client_id: &str,
        redirect_uri: &str,
        consent: &Consent,
        scope: &str,
    ) -> Result<String, ControlError> {
        let sites: Vec<(String, String)> = consent
            .sites
            .iter()
            .map(|site| {
                self.with_site(site, |s| {
                    Ok((site.clone(), account_ref(s, &consent.account)?))
                })
            })
            .collect::<Result<_, _>>()?;
        let now = self.world.clock().now();
        let scopes = scope.split_whitespace().map(str::to_owned).collect();
        let mut oauth = self.world.oauth.lock().expect("oauth lock");
        oauth
            .consent(client_id, redirect_uri, sites, scopes, now)
            .map_err(ControlError::Invalid)
    }
}
