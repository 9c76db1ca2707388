//! The token vault: the current OAuth refresh token of each site.

use chrono::{DateTime, Utc};
use jira_sync_config::Secret;
use serde::{Deserialize, Serialize};

use crate::{StoreError, decode, encode};

/// A site's refresh token and when its family began.
#[derive(Clone)]
pub struct RefreshToken {
    pub token: Secret,
    /// When the user consented (`auth login`): the family's absolute expiry counts from here.
    pub consented_at: DateTime<Utc>,
    /// When this token was issued (consent or the latest rotation).
    pub issued_at: DateTime<Utc>,
    /// Which configured `refresh_token` this family came from, or was current when it was
    /// stored (a fingerprint, never the token): a different one in the configuration is a
    /// new consent the operator supplied.
    pub seed: Option<String>,
}

impl std::fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshToken")
            .field("token", &"[REDACTED]")
            .field("consented_at", &self.consented_at)
            .field("issued_at", &self.issued_at)
            .field("seed", &self.seed)
            .finish()
    }
}

#[derive(Serialize, Deserialize)]
struct Stored {
    token: String,
    consented_at: DateTime<Utc>,
    issued_at: DateTime<Utc>,
    #[serde(default)]
    seed: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Vault {
    tree: sled::Tree,
}

impl Vault {
    pub(crate) fn new(tree: sled::Tree) -> Self {
        Vault { tree }
    }

    /// The site's refresh token, if one was stored.
    pub fn refresh_token(&self, site: &str) -> Result<Option<RefreshToken>, StoreError> {
        let Some(bytes) = self.tree.get(site.as_bytes())? else {
            return Ok(None);
        };
        let s: Stored = decode(&format!("vault/{site}"), &bytes)?;
        Ok(Some(RefreshToken {
            token: Secret::new(s.token),
            consented_at: s.consented_at,
            issued_at: s.issued_at,
            seed: s.seed,
        }))
    }

    /// Stores the site's refresh token and waits until it is on disk: a rotated token that
    /// is lost in a crash locks the site out until the operator consents again.
    pub async fn put_refresh_token(&self, site: &str, t: &RefreshToken) -> Result<(), StoreError> {
        let stored = Stored {
            token: t.token.expose().to_owned(),
            consented_at: t.consented_at,
            issued_at: t.issued_at,
            seed: t.seed.clone(),
        };
        self.tree.insert(site.as_bytes(), encode(&stored))?;
        self.tree.flush_async().await?;
        Ok(())
    }

    /// Forgets the site's refresh token (flushed).
    pub async fn remove(&self, site: &str) -> Result<(), StoreError> {
        self.tree.remove(site.as_bytes())?;
        self.tree.flush_async().await?;
        Ok(())
    }
}
