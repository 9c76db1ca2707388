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

/// What `check` takes from the environment: the shard when both variables name one, and
/// the number of shards (the template unit's `ExecStartPre=` has only JIRA_SYNC_SHARDS, its
/// shard being on `run`'s command line).
#[derive(Debug, Default)]
pub struct CheckPlacement {
    pub shard: Option<Placement>,
    pub count: Option<u32>,
}

/// [`CheckPlacement`] from the environment. Errors: as [`placement`], except that
/// JIRA_SYNC_SHARDS alone is a valid count (at most 1024).
pub fn check_placement() -> Result<CheckPlacement, String> {
    check_placement_from(|k| std::env::var(k).ok())
}

fn check_placement_from(env: impl Fn(&str) -> Option<String>) -> Result<CheckPlacement, String> {
    let index = env(SHARD_ENV).filter(|v| !v.trim().is_empty());
    match (index, env(SHARDS_ENV).filter(|v| !v.trim().is_empty())) {
        (None, Some(n)) => {
            let any: Shard = format!("0/{}", n.trim())
                .parse()
                .map_err(|e| format!("{SHARDS_ENV}={n}: {e}"))?;
            Ok(CheckPlacement {
                shard: None,
                count: Some(any.count),
            })
        }
        _ => {
            let shard = placement_from(None, env)?;
            Ok(CheckPlacement {
                shard,
                count: shard.map(|p| p.shard.count),
            })
        }
    }
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
            if !ordinal.chars().all(|c| c.is_ascii_digit()) {
                return Err(format!(
                    "{SHARD_ENV}={i}: not a shard index (digits, or a pod name ending in -I)"
                ));
            }
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
        // The webhook listener moves the same way: shards on one host must not share it.
        if let Some(w) = d
            .webhook_listen
            .as_mut()
            .filter(|w| p.shares_host && w.port() != 0)
        {
            let port = u16::try_from(u32::from(w.port()) + p.shard.index).map_err(|_| {
                format!(
                    "shard {} would listen for webhooks on port {} + {}, beyond 65535; lower `webhook_listen`'s port",
                    p.shard,
                    w.port(),
                    p.shard.index
                )
            })?;
            w.set_port(port);
        }
    }
    Ok(())
}

/// The shard databases in `state_dir` (`shard-0, shard-2`), if any: an unplaced command
/// there would open a second, empty database beside them.
fn shard_databases(state_dir: &std::path::Path) -> Option<String> {
    let mut held: Vec<String> = std::fs::read_dir(state_dir)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| {
            n.strip_prefix("shard-")
                .is_some_and(|i| i.parse::<u32>().is_ok())
        })
        .collect();
    held.sort();
    (!held.is_empty()).then(|| held.join(", "))
}

/// The refusal of a command that names no shard in a `state_dir` holding shard databases:
/// it would open a second, empty database and mirror everything again. `how` says how to
/// name the shard for `command`. `None` when `state_dir` holds none.
pub fn beside_shards(state_dir: &std::path::Path, command: &str, how: &str) -> Option<String> {
    let held = shard_databases(state_dir)?;
    Some(format!(
        "jira-sync {command}: {} holds the databases of shards ({held}); name the shard this is for with {how}, or this would open a second, empty database and write every mirror again\n",
        state_dir.display()
    ))
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
    fn shards_on_one_host_move_both_listeners_by_their_index() {
        let f = jira_sync_harness::config_dir::Fixture::new();
        f.daemon("listen = \"127.0.0.1:9464\"\nwebhook_listen = \"127.0.0.1:9470\"\n");
        f.site("acme", jira_sync_harness::config_dir::SITE);
        let mut config = f.ok();
        let p = placement_from(Some("2/3".parse().unwrap()), env(&[]))
            .unwrap()
            .unwrap();
        apply(&mut config, Some(p)).unwrap();
        assert_eq!(config.daemon.listen.port(), 9466);
        assert_eq!(config.daemon.webhook_listen.unwrap().port(), 9472);
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
    fn check_takes_the_count_alone_but_refuses_a_bad_one() {
        let p = check_placement_from(env(&[(SHARDS_ENV, "3")])).unwrap();
        assert_eq!((p.shard, p.count), (None, Some(3)));
        for n in ["0", "1025", "100000000", "x", "-2"] {
            assert!(
                check_placement_from(env(&[(SHARDS_ENV, n)])).is_err(),
                "{n}"
            );
        }
        assert!(check_placement_from(env(&[(SHARD_ENV, "-1"), (SHARDS_ENV, "2")])).is_err());
        assert!(check_placement_from(env(&[(SHARD_ENV, "1")])).is_err());
        let p =
            check_placement_from(env(&[(SHARD_ENV, "jira-sync-1"), (SHARDS_ENV, "2")])).unwrap();
        assert_eq!(p.count, Some(2));
        assert!(p.shard.is_some());
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
