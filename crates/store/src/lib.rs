//! jira-sync's durable state in one sled database under `state_dir/db`: the token vault
//! (rotating OAuth refresh tokens) and cached site facts.
//!
//! One `Db` per process (sled does not support several opens), cache capped, `LowSpace`
//! mode. Values carry a version byte before their JSON so the format can change later.
//! What must survive a crash (a rotated refresh token) is flushed before the caller goes on.

mod cache; // Cached site facts (cloud IDs, /myself, fields, statuses).
mod durable; // Flushes: one at a time, off sled's IO pool, shared by the writes that wait.
pub mod hub; // Sync records, links, watermarks, write intents, the change sequence.
mod status; // Last runs and credential checks, for `status` and restarts.
mod vault; // OAuth refresh tokens, flushed on every write.

use std::path::{Path, PathBuf};

use durable::Durable;

pub use cache::Cache;
pub use hub::Hub;
pub use status::{RunStatus, SiteStatus, StatusBook};
pub use vault::{RefreshToken, Vault, leave_login};

/// sled's page cache, in bytes of the pages' size on disk (sled's default is 1 GiB). What
/// sled holds in memory is several times this and follows the data a process has read
/// (README "Measured"; `cargo run --release -p jira-sync-store --example resident`): reading
/// a 566 MB database in full left 310 MB resident at 64 MiB and 251 MB at 16 MiB. Idle runs
/// read almost nothing, so a small cache costs them nothing.
pub const CACHE_BYTES: u64 = 16 << 20;
/// How often sled writes dirty pages on its own; explicit flushes cover what must not wait.
pub const FLUSH_EVERY_MS: u64 = 1000;
const FORMAT_VERSION: u8 = 1;
/// Lock conflicts retried, 50 ms apart.
const LOCK_RETRIES: u32 = 20;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process (usually the running daemon) has the database open.
    #[error("the state database {0} is in use by another process (is the daemon running?)")]
    Locked(PathBuf),
    #[error("the state database {path} cannot be opened: {source}")]
    Open { path: PathBuf, source: sled::Error },
    #[error("state database error: {0}")]
    Db(#[from] sled::Error),
    #[error("a stored value under `{key}` is not readable: {reason}")]
    Corrupt { key: String, reason: String },
    /// A record with this external id exists already (the id is its record's).
    #[error("the external id belongs to record {0}")]
    ExternalIdTaken(u64),
    #[error("{path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The open database.
#[derive(Debug, Clone)]
pub struct Store {
    db: sled::Db,
    path: PathBuf,
    durable: Durable,
}

impl Store {
    /// Opens (creating if needed) `state_dir/db`. A lock conflict is retried for up to a
    /// second: sled's background threads release the lock of a just-closed database a
    /// moment after it is dropped.
    pub fn open(state_dir: &Path) -> Result<Store, StoreError> {
        let mut tries = 0;
        loop {
            match Self::open_once(state_dir) {
                Err(StoreError::Locked(_)) if tries < LOCK_RETRIES => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                other => return other,
            }
        }
    }

    fn open_once(state_dir: &Path) -> Result<Store, StoreError> {
        let path = state_dir.join("db");
        owner_only(state_dir, &path).map_err(|e| StoreError::Open {
            path: path.clone(),
            source: sled::Error::Io(e),
        })?;
        let db = sled::Config::new()
            .path(&path)
            .cache_capacity(CACHE_BYTES)
            .flush_every_ms(Some(FLUSH_EVERY_MS))
            .mode(sled::Mode::LowSpace)
            .open()
            .map_err(|e| match e {
                sled::Error::Io(ref io)
                    if io.kind() == std::io::ErrorKind::WouldBlock
                        || io.to_string().contains("lock") =>
                {
                    StoreError::Locked(path.clone())
                }
                other => StoreError::Open {
                    path: path.clone(),
                    source: other,
                },
            })?;
        Ok(Store {
            durable: Durable::new(db.clone()),
            db,
            path,
        })
    }

    /// Waits until everything written so far is on disk.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.durable.flush().await
    }

    /// Bytes the database takes on disk (sled's `size_on_disk`: its log and snapshot files).
    ///
    /// # Errors
    /// The directory cannot be read.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.db.size_on_disk().map_err(StoreError::from)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn vault(&self) -> Result<Vault, StoreError> {
        Ok(Vault::new(
            self.db.open_tree("vault")?,
            self.durable.clone(),
        ))
    }

    pub fn cache(&self) -> Result<Cache, StoreError> {
        Ok(Cache::new(self.db.open_tree("cache")?))
    }

    pub fn status(&self) -> Result<StatusBook, StoreError> {
        Ok(StatusBook::new(
            self.db.open_tree("status")?,
            self.durable.clone(),
        ))
    }

    pub fn hub(&self) -> Result<Hub, StoreError> {
        Hub::new(&self.db, self.durable.clone())
    }

    /// A tree by name, for tests that need to damage stored bytes on purpose.
    #[doc(hidden)]
    pub fn tree_names_for_tests(&self) -> Vec<String> {
        self.db
            .tree_names()
            .iter()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect()
    }

    #[doc(hidden)]
    pub fn raw_tree_for_tests(&self, name: &str) -> Result<sled::Tree, StoreError> {
        Ok(self.db.open_tree(name)?)
    }
}

/// A value as stored: version byte, then JSON.
/// The database holds tokens: owner-only (0700 directories, 0600 files), whatever the
/// umask. (The daemon also sets its umask to 077, so files sled makes
/// later are owner-only too.)
fn owner_only(state_dir: &Path, db: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        let private = std::fs::Permissions::from_mode;
        // A missing state directory is made owner-only; an existing one is the operator's
        // (systemd makes it 0700), and only `db` inside it is certainly jira-sync's own.
        for dir in [state_dir, db] {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
        std::fs::set_permissions(db, private(0o700))?;
        let mut stack = vec![db.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir)? {
                let entry = entry?;
                let kind = entry.file_type()?;
                if kind.is_dir() {
                    std::fs::set_permissions(entry.path(), private(0o700))?;
                    stack.push(entry.path());
                } else if kind.is_file() {
                    std::fs::set_permissions(entry.path(), private(0o600))?;
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (state_dir, db);
    Ok(())
}

pub(crate) fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    let mut out = vec![FORMAT_VERSION];
    serde_json::to_writer(&mut out, value).expect("serializable state");
    out
}

pub(crate) fn decode<T: serde::de::DeserializeOwned>(
    key: &str,
    bytes: &[u8],
) -> Result<T, StoreError> {
    match bytes.split_first() {
        Some((&FORMAT_VERSION, json)) => {
            serde_json::from_slice(json).map_err(|e| StoreError::Corrupt {
                key: key.to_owned(),
                reason: e.to_string(),
            })
        }
        Some((v, _)) => Err(StoreError::Corrupt {
            key: key.to_owned(),
            reason: format!("unknown format version {v}"),
        }),
        None => Err(StoreError::Corrupt {
            key: key.to_owned(),
            reason: "empty value".into(),
        }),
    }
}
