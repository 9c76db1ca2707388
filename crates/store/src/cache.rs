//! Cached facts about sites: rebuildable, so written without waiting for the disk.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{StoreError, decode, encode};

#[derive(Debug, Clone)]
pub struct Cache {
    tree: sled::Tree,
}

fn key(site: &str, name: &str) -> Vec<u8> {
    // Site names never contain NUL, so `site\0name` keeps each site's keys together.
    let mut k = site.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(name.as_bytes());
    k
}

impl Cache {
    pub(crate) fn new(tree: sled::Tree) -> Self {
        Cache { tree }
    }

    pub fn get<T: DeserializeOwned>(
        &self,
        site: &str,
        name: &str,
    ) -> Result<Option<T>, StoreError> {
        match self.tree.get(key(site, name))? {
            None => Ok(None),
            Some(bytes) => decode(&format!("cache/{site}/{name}"), &bytes).map(Some),
        }
    }

    pub fn put<T: Serialize>(&self, site: &str, name: &str, value: &T) -> Result<(), StoreError> {
        self.tree.insert(key(site, name), encode(value))?;
        Ok(())
    }

    /// Forgets everything cached about `site`.
    pub fn forget_site(&self, site: &str) -> Result<(), StoreError> {
        let mut prefix = site.as_bytes().to_vec();
        prefix.push(0);
        for k in self.tree.scan_prefix(prefix).keys() {
            self.tree.remove(k?)?;
        }
        Ok(())
    }
}
