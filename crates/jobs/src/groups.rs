//! Mirror groups and shards (`../shared/DESIGN.md`, "Beyond one host"): sites whose
//! connectors are joined by `mirror`, directly or through each other, share hub records and
//! so must run in one daemon. A group is named by its smallest site name and assigned to a
//! shard by rendezvous hashing of that name, so it never moves unless N changes.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use jira_sync_config::Config;

/// `--shard I/N`: this daemon runs shard I (0-based) of N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// The most shards a configuration may be split into: placing a group costs a hash per
/// shard (rendezvous hashing).
pub const MAX_SHARDS: u32 = 1024;

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("`{s}` is not a shard; expected I/N with 0 <= I < N, e.g. 0/3");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (u32, u32) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if count == 0 || index >= count {
            return Err(bad());
        }
        if count > MAX_SHARDS {
            return Err(format!(
                "`{s}` is not a shard: at most {MAX_SHARDS} shards (each carries thousands of connectors)"
            ));
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// Whether this shard runs `group`.
    pub fn owns(&self, group: &str) -> bool {
        shard_of(group, self.count) == self.index
    }
}

/// Site name -> its group's name (the smallest site name of the group).
pub fn groups(config: &Config) -> BTreeMap<String, String> {
    // Union-find over site names.
    let mut parent: BTreeMap<String, String> = config
        .sites
        .iter()
        .map(|s| (s.name.clone(), s.name.clone()))
        .collect();
    fn root(parent: &BTreeMap<String, String>, mut s: String) -> String {
        while let Some(p) = parent.get(&s).filter(|p| **p != s) {
            s = p.clone();
        }
        s
    }
    for site in &config.sites {
        for c in &site.connectors {
            for m in &c.mirror {
                if !parent.contains_key(&m.site) {
                    continue;
                }
                let (a, b) = (
                    root(&parent, site.name.clone()),
                    root(&parent, m.site.clone()),
                );
                // The smaller name becomes the root: the group's name is its smallest site.
                let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
                parent.insert(hi, lo);
            }
        }
    }
    let names: BTreeSet<String> = parent.keys().cloned().collect();
    names
        .into_iter()
        .map(|s| {
            let r = root(&parent, s.clone());
            (s, r)
        })
        .collect()
}

/// The shard (0..n) rendezvous hashing gives `group`: the index with the highest
/// hash of (group, index). Stable across processes and versions (FNV-1a, not std's hasher).
pub fn shard_of(group: &str, n: u32) -> u32 {
    (0..n.max(1))
        .max_by_key(|i| fnv1a(format!("{group}\0{i}").as_bytes()))
        .unwrap_or(0)
}

/// FNV-1a, 64 bits: a small, fixed hash for placement and tick offsets.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // Mix the high bits down: FNV's low bits vary little for inputs that differ at the end.
    h ^ (h >> 29)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shard_parses_and_refuses_what_is_out_of_range() {
        assert_eq!(
            "1/3".parse::<Shard>().unwrap(),
            Shard { index: 1, count: 3 }
        );
        for bad in ["3/3", "0/0", "x/2", "1", "-1/2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn every_group_lands_on_exactly_one_shard_and_stays_there() {
        let groups: Vec<String> = (0..1000).map(|i| format!("site-{i}")).collect();
        for n in [1u32, 2, 3, 7] {
            let mut counts = vec![0usize; n as usize];
            for g in &groups {
                let owners: Vec<u32> = (0..n)
                    .filter(|i| {
                        Shard {
                            index: *i,
                            count: n,
                        }
                        .owns(g)
                    })
                    .collect();
                assert_eq!(owners.len(), 1, "{g} with {n} shards: {owners:?}");
                counts[owners[0] as usize] += 1;
            }
            // Spread: no shard gets less than half its fair share.
            let fair = groups.len() / n as usize;
            assert!(counts.iter().all(|c| *c * 2 >= fair), "{n}: {counts:?}");
        }
        // Going from 3 to 4 shards moves only groups that land on the new shard.
        for g in &groups {
            let (a, b) = (shard_of(g, 3), shard_of(g, 4));
            assert!(a == b || b == 3, "{g}: {a} -> {b}");
        }
    }
}
