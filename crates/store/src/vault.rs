//! The token vault: the current OAuth refresh token of each site.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use jira_sync_config::Secret;
use serde::{Deserialize, Serialize};

use crate::{Durable, StoreError, decode, encode};

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

impl From<&RefreshToken> for Stored {
    fn from(t: &RefreshToken) -> Self {
        Stored {
            token: t.token.expose().to_owned(),
            consented_at: t.consented_at,
            issued_at: t.issued_at,
            seed: t.seed.clone(),
        }
    }
}

impl From<Stored> for RefreshToken {
    fn from(s: Stored) -> Self {
        RefreshToken {
            token: Secret::new(s.token),
            consented_at: s.consented_at,
            issued_at: s.issued_at,
            seed: s.seed,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Vault {
    tree: sled::Tree,
    durable: Durable,
}

impl Vault {
    pub(crate) fn new(tree: sled::Tree, durable: Durable) -> Self {
        Vault { tree, durable }
    }

    /// The site's refresh token, if one was stored.
    pub fn refresh_token(&self, site: &str) -> Result<Option<RefreshToken>, StoreError> {
        let Some(bytes) = self.tree.get(site.as_bytes())? else {
            return Ok(None);
        };
        let s: Stored = decode(&format!("vault/{site}"), &bytes)?;
        Ok(Some(s.into()))
    }

    /// Stores the site's refresh token and waits until it is on disk: a rotated token that
    /// is lost in a crash locks the site out until the operator consents again.
    pub async fn put_refresh_token(&self, site: &str, t: &RefreshToken) -> Result<(), StoreError> {
        self.tree
            .insert(site.as_bytes(), encode(&Stored::from(t)))?;
        self.durable.flush().await?;
        Ok(())
    }

    /// Takes a refresh token `auth login` left in `dir` for `site` (see [`leave_login`]) into
    /// the vault, flushed, then deletes the file. True when there was one.
    pub async fn take_login(&self, dir: &Path, site: &str) -> Result<bool, StoreError> {
        let path = login_path(dir, site);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(source) => return Err(StoreError::File { path, source }),
        };
        // serde's message could quote a value: only where it broke is said.
        let s: Stored = serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
            key: path.display().to_string(),
            reason: format!(
                "not a login file (line {}, column {})",
                e.line(),
                e.column()
            ),
        })?;
        self.put_refresh_token(site, &s.into()).await?;
        std::fs::remove_file(&path).map_err(|source| StoreError::File { path, source })?;
        Ok(true)
    }

    /// Forgets the site's refresh token (flushed).
    pub async fn remove(&self, site: &str) -> Result<(), StoreError> {
        self.tree.remove(site.as_bytes())?;
        self.durable.flush().await?;
        Ok(())
    }
}

fn login_path(dir: &Path, site: &str) -> PathBuf {
    dir.join(format!("{site}.json"))
}

/// For `auth login` while the daemon holds the database: leaves the site's new refresh
/// token in `dir` (created owner-only), in an owner-only file written whole (a temporary
/// file renamed), where the daemon takes it into the vault at its next start or reload.
pub fn leave_login(dir: &Path, site: &str, t: &RefreshToken) -> Result<PathBuf, StoreError> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let path = login_path(dir, site);
    let io = |source| StoreError::File {
        path: path.clone(),
        source,
    };
    let mut dirs = std::fs::DirBuilder::new();
    dirs.recursive(true);
    #[cfg(unix)]
    dirs.mode(0o700);
    dirs.create(dir).map_err(io)?;
    let json = serde_json::to_vec(&Stored::from(t)).expect("a refresh token serializes");
    let partial = dir.join(format!(".{site}.json.partial"));
    let mut file = std::fs::OpenOptions::new();
    file.write(true).create(true).truncate(true);
    #[cfg(unix)]
    file.mode(0o600);
    let mut f = file.open(&partial).map_err(io)?;
    f.write_all(&json).map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&partial, &path).map_err(io)?;
    Ok(path)
}
