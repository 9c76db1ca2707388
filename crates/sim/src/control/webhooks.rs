//! The control API's webhooks: what is registered, what was delivered, faults of the
//! deliveries, and admin webhooks registered as a site administrator would in the UI.

use serde::Deserialize;

use super::{Control, ControlError};
use crate::webhooks::{DeliveryLog, EVENTS, Signer, WebhookFaults, arm, check_filter};

/// An admin webhook as an administrator registers it (reference jira-cloud-api.md 9.2).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminWebhookSpec {
    pub name: String,
    pub url: String,
    /// Default: every issue and comment event.
    #[serde(default)]
    pub events: Vec<String>,
    /// JQL of the "issue related events" section.
    pub jql: Option<String>,
    /// Signs deliveries (`X-Hub-Signature`).
    pub secret: Option<String>,
}

/// One registered webhook as the control API lists it (secrets left out).
#[derive(Debug, Clone, serde::Serialize)]
pub struct WebhookView {
    pub id: u64,
    /// `dynamic` or `admin`.
    pub kind: &'static str,
    pub url: String,
    pub events: Vec<String>,
    pub jql: Option<String>,
    /// Epoch milliseconds (dynamic webhooks).
    pub expires: Option<i64>,
    /// An admin webhook's name and secret (tests check what a registrant set; Jira itself
    /// never shows the secret).
    pub name: Option<String>,
    pub secret: Option<String>,
}

impl Control {
    /// Registers an admin webhook; returns its id.
    pub fn register_admin_webhook(
        &self,
        site: &str,
        spec: AdminWebhookSpec,
    ) -> Result<u64, ControlError> {
        let events = if spec.events.is_empty() {
            EVENTS[..6].iter().map(|e| (*e).to_owned()).collect()
        } else {
            spec.events
        };
        if let Some(e) = events.iter().find(|e| !EVENTS.contains(&e.as_str())) {
            return Err(ControlError::Invalid(format!("no webhook event `{e}`")));
        }
        let world = self.world.clone();
        self.with_site(site, |s| {
            if let Some(q) = &spec.jql {
                check_filter(s, q).map_err(ControlError::Invalid)?;
            }
            let id = s.webhooks.add(crate::webhooks::Webhook {
                id: 0,
                url: spec.url,
                events,
                jql: spec.jql,
                signer: Signer::Admin {
                    name: spec.name,
                    secret: spec.secret,
                },
                expires: None,
            });
            arm(&world, s, None);
            Ok(id)
        })
    }

    /// The site's webhooks.
    pub fn webhooks(&self, site: &str) -> Result<Vec<WebhookView>, ControlError> {
        self.with_site(site, |s| {
            Ok(s.webhooks
                .hooks
                .iter()
                .map(|h| WebhookView {
                    id: h.id,
                    kind: match h.signer {
                        Signer::Dynamic { .. } => "dynamic",
                        Signer::Admin { .. } => "admin",
                    },
                    url: h.url.clone(),
                    events: h.events.clone(),
                    jql: h.jql.clone(),
                    expires: h.expires.map(|t| t.timestamp_millis()),
                    name: match &h.signer {
                        Signer::Admin { name, .. } => Some(name.clone()),
                        Signer::Dynamic { .. } => None,
                    },
                    secret: match &h.signer {
                        Signer::Admin { secret, .. } => secret.clone(),
                        Signer::Dynamic { .. } => None,
                    },
                })
                .collect())
        })
    }

    /// The site's deliveries so far, oldest first.
    pub fn deliveries(&self, site: &str) -> Result<Vec<DeliveryLog>, ControlError> {
        self.with_site(site, |s| Ok(s.webhooks.log.clone()))
    }

    /// Replaces the faults of the site's deliveries.
    pub fn set_webhook_faults(
        &self,
        site: &str,
        faults: WebhookFaults,
    ) -> Result<(), ControlError> {
        if faults.delay_ms > 30 * 60 * 1000 {
            return Err(ControlError::Invalid(
                "a delivery delay is at most 30 minutes".into(),
            ));
        }
        self.with_site(site, |s| {
            s.webhooks.faults = faults;
            Ok(())
        })
    }
}
