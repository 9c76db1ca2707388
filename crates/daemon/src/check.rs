//! `jira-sync check`: validate the configuration and summarise it.

use std::fmt::Write as _;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use jira_sync_config::{Auth, Config};

use crate::cli::CheckArgs;

pub fn run(args: &CheckArgs) -> ExitCode {
    let config = match crate::load(&args.config.config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    print!(
        "{}",
        summary(&config, Utc::now(), args.shards.unwrap_or(1).max(1))
    );
    if args.offline {
        return ExitCode::SUCCESS;
    }
    let rows = crate::runtime().block_on(crate::online::check(&config));
    println!();
    print!("{}", crate::online::table(&rows));
    if rows.iter().all(|r| r.usable) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::EXIT_FAILURE)
    }
}

/// A short, secret-free description of a valid configuration; each site's mirror group
/// and the shard (of `shards`) that runs it.
pub fn summary(config: &Config, now: DateTime<Utc>, shards: u32) -> String {
    let groups = jira_sync_jobs::groups(config);
    let mut out = String::new();
    let d = &config.daemon;
    let n = config.sites.len();
    let _ = writeln!(out, "Configuration in {} is valid.", config.dir.display());
    let _ = writeln!(
        out,
        "daemon: listen {}, state_dir {}, hub API {}",
        d.listen,
        d.state_dir.display(),
        if d.api_token.is_some() { "on" } else { "off" }
    );
    let _ = writeln!(out, "{n} site{}:", if n == 1 { "" } else { "s" });
    for site in &config.sites {
        let l = &site.limits;
        let _ = writeln!(
            out,
            "  {}  {}  auth {}{}  limits {}/s burst {} concurrency {}",
            site.name,
            site.url,
            site.auth.method(),
            expiry_note(&site.auth, now),
            l.requests_per_second,
            l.burst,
            l.max_concurrency
        );
        let group = groups.get(&site.name).map_or("", String::as_str);
        let _ = writeln!(
            out,
            "    mirror group {group}, shard {}/{shards}",
            jira_sync_jobs::shard_of(group, shards)
        );
        for c in &site.connectors {
            let mirrors = if c.mirror.is_empty() {
                String::new()
            } else {
                let list: Vec<String> = c.mirror.iter().map(ToString::to_string).collect();
                format!(", mirrors {}", list.join(" "))
            };
            let _ = writeln!(
                out,
                "    connector {}: project {}{}, {}, schedule \"{}\" (UTC), conflict {}{}",
                c.name,
                c.project,
                c.jql
                    .as_ref()
                    .map(|q| format!(" AND ({q})"))
                    .unwrap_or_default(),
                c.direction.as_str(),
                c.schedule.as_str(),
                c.conflict.as_str(),
                mirrors
            );
        }
    }
    out
}

fn expiry_note(auth: &Auth, now: DateTime<Utc>) -> String {
    match auth {
        Auth::ApiToken(t) | Auth::ServiceAccount(t) => match t.expires_at {
            None => {
                " (expiry not declared: set auth.expires_at to be warned before it lapses)".into()
            }
            Some(at) => {
                let days = (at - now).num_days();
                if at <= now {
                    format!(" (EXPIRED on {})", at.format("%Y-%m-%d"))
                } else {
                    format!(" (expires {}, in {days} days)", at.format("%Y-%m-%d"))
                }
            }
        },
        Auth::OAuth2(_) => " (refresh token in the token vault)".into(),
        Auth::ClientCredentials(_) => String::new(),
    }
}
