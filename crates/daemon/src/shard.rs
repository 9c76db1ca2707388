//! Which shard this process is, and what that changes: its database and, for shards that
//! share a host, its port.
//!
//! Two ways to name the shard (`../shared/DESIGN.md`, "Beyond one host"):
//! - `--shard I/N` on the command line, as the systemd template `jira-sync@.service` does:
//!   the shards of one host, each on `listen`'s port + I so they never collide;
//! - `JIRA_SYNC_SHARD` (I, or a StatefulSet pod name ending in `-I`) and `JIRA_SYNC_SHARDS`
//!   (N) in the environment, as a Kubernetes StatefulSet does: one shard per pod, every pod
//!   on `listen`'s port itself.
//!
//! Either way shard I keeps its database in `state_dir/shard-I`.

use jira_sync_config::Config;
use jira_sync_jobs::Shard;

/// The environment variable naming this process's shard index.
pub const SHARD_ENV: &str = "JIRA_SYNC_SHARD";
/// The environment variable naming the number of shards.
pub const SHARDS_ENV: &str = "JIRA_SYNC_SHARDS";

/// A shard and how it was named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    pub shard: Shard,
    /// Several shards share this host (`--shard`): each adds its index to `listen`'s port.
    pub shares_host: bool,
}

/// The shard of this process: `cli` (`--shard I/N`) when given, else the environment.
///
/// Errors (the caller exits 2): an index or count that is not a number, an index not below
/// the count, or only one of the two variables set: a pod that forgot its index would run
/// every mirror group a second time.
pub fn placement(cli: Option<Shard>) -> Result<Option<Placement>, String> {
    placement_from(cli, |k| std::env::var(k).ok())
}

fn placement_from(
    cli: Option<Shard>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<Placement>, String> {
    if let Some(shard) = cli {
        return Ok(Some(Placement {
            shard,
            shares_host: true,
        }));
    }
    let index = env(SHARD_ENV).filter(|v| !v.trim().is_empty());
    let count = env(SHARDS_ENV).filter(|v| !v.trim().is_empty());
    match (index, count) {
        (None, None) => Ok(None),
        (Some(i), None) => Err(format!(
            "{SHARD_ENV}={i} is set but {SHARDS_ENV} (the number of shards) is not"
        )),
        (None, Some(n)) => Err(format!(
            "{SHARDS_ENV}={n} is set but neither {SHARD_ENV} (this shard's index) nor --shard I/N is; without one this process would run every shard's connectors"
        )),
        (Some(i), Some(n)) => {
            // An index, or a StatefulSet pod's name (`jira-sync-2`), which ends in its ordinal.
            let i_trim = i.trim();
            let ordinal = match i_trim.rsplit_once('-') {
                Some((name, ordinal)) if !name.is_empty() => ordinal,
                Some(_) => "-",
                None => i_trim,
            };
            let shard: Shard = format!("{ordinal}/{}", n.trim())
                .parse()
                .map_err(|e| format!("{SHARD_ENV}={i}, {SHARDS_ENV}={n}: {e}"))?;
            Ok(Some(Placement {
                shard,
                shares_host: false,
            }))
        }
    }
}

/// Shard I keeps its database in `state_dir/shard-I`; a shard sharing its host also listens
/// on `listen`'s port + I (port 0, any free port, stays 0).
///
/// Errors: port + I beyond 65535 (two shards would share a port).
pub fn apply(config: &mut Config, placement: Option<Placement>) -> Result<(), String> {
    if let Some(p) = placement {
        let d = &mut config.daemon;
        d.state_dir = d.state_dir.join(format!("shard-{}", p.shard.index));
        if p.shares_host && d.listen.port() != 0 {
            let port = u16::try_from(u32::from(d.listen.port()) + p.shard.index).map_err(|_| {
                format!(
                    "shard {} would listen on port {} + {}, beyond 65535; lower `listen`'s port",
                    p.shard,
                    d.listen.port(),
                    p.shard.index
                )
            })?;
            d.listen.set_port(port);
        }
    }
    Ok(())
}

/// Where `auth login` leaves refresh tokens when it cannot write the vault itself (the
/// daemon holds the database, or the host runs shards): `state_dir/logins`, one for all the
/// shards of a host (each takes in the sites it runs). `config` is as `apply` left it.
pub fn logins_dir(config: &Config, shard: Option<Shard>) -> std::path::PathBuf {
    let state_dir = &config.daemon.state_dir;
    match shard {
        // `apply` put the shard's database one level down.
        Some(_) => state_dir.parent().unwrap_or(state_dir).join("logins"),
        None => state_dir.join("logins"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn the_command_line_wins_and_shares_the_host() {
        let p = placement_from(
            Some("1/3".parse().unwrap()),
            env(&[(SHARD_ENV, "2"), (SHARDS_ENV, "3")]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(p.shard.to_string(), "1/3");
        assert!(p.shares_host);
    }

    #[test]
    fn the_environment_names_a_pod_shard_by_index_or_pod_name() {
        for index in ["2", "jira-sync-2", " 2 "] {
            let p = placement_from(None, env(&[(SHARD_ENV, index), (SHARDS_ENV, "3")]))
                .unwrap()
                .unwrap();
            assert_eq!(p.shard.to_string(), "2/3", "{index}");
            assert!(!p.shares_host);
        }
        assert_eq!(placement_from(None, env(&[])).unwrap(), None);
    }

    #[test]
    fn half_a_placement_or_a_bad_one_is_refused() {
        let only_count = placement_from(None, env(&[(SHARDS_ENV, "3")])).unwrap_err();
        assert!(only_count.contains("JIRA_SYNC_SHARD"), "{only_count}");
        let only_index = placement_from(None, env(&[(SHARD_ENV, "1")])).unwrap_err();
        assert!(only_index.contains("JIRA_SYNC_SHARDS"), "{only_index}");
        for (i, n) in [
            ("3", "3"),
            ("x", "3"),
            ("1", "0"),
            ("jira-sync", "2"),
            ("-1", "3"),
            ("1", "100000"),
        ] {
            let e = placement_from(None, env(&[(SHARD_ENV, i), (SHARDS_ENV, n)])).unwrap_err();
            assert!(e.contains("not a shard"), "{i}/{n}: {e}");
        }
    }
}
