//! `jira-sync check`: validate the configuration and summarise it.

use std::fmt::Write as _;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use jira_sync_config::{Auth, Config};
use serde_json::{Value, json};

use crate::cli::CheckArgs;
use crate::online::Row;

pub fn run(args: &CheckArgs) -> ExitCode {
    let mut config = match jira_sync_config::load(&args.config.config) {
        Ok(c) => c,
        Err(e) if args.json => {
            println!("{}", pretty(&invalid(&e)));
            return ExitCode::from(crate::EXIT_CONFIG);
        }
        Err(e) => {
            crate::logs::eprint_error(&e.to_string());
            return ExitCode::from(crate::EXIT_CONFIG);
        }
    };
    // In a shard's pod the online check opens that shard's database, and sites are placed
    // on the shards the environment names. The template unit's ExecStartPre= has only
    // JIRA_SYNC_SHARDS (the shard is on `run`'s command line): the count alone is enough.
    let placement = match crate::shard::check_placement() {
        Ok(p) => p,
        Err(e) => {
            crate::logs::eprint_error(&format!("jira-sync check: {e}\n"));
            return ExitCode::from(crate::EXIT_CONFIG);
        }
    };
    let shards = args.shards.or(placement.count).unwrap_or(1).max(1);
    let placement = placement.shard;
    // Named by the environment: no port offset, so no error.
    let _ = crate::shard::apply(&mut config, placement);
    if !args.offline {
        if crate::state_owner_ok(&config.daemon.state_dir, "check").is_err() {
            return ExitCode::from(crate::EXIT_CONFIG);
        }
        let how = "JIRA_SYNC_SHARD=I and JIRA_SYNC_SHARDS=N (or use --offline)";
        if placement.is_none()
            && let Some(refusal) =
                crate::shard::beside_shards(&config.daemon.state_dir, "check", how)
        {
            crate::logs::eprint_error(&refusal);
            return ExitCode::from(crate::EXIT_CONFIG);
        }
    }
    let now = Utc::now();
    if !args.json {
        print!("{}", summary(&config, now, shards));
    }
    let rows = (!args.offline).then(|| crate::runtime().block_on(crate::online::check(&config)));
    if args.json {
        println!(
            "{}",
            pretty(&document(&config, now, shards, rows.as_deref()))
        );
    } else if let Some(rows) = &rows {
        println!();
        print!("{}", crate::online::table(rows));
        print!("{}", webhook_states(&config));
    }
    match rows {
        Some(rows) if !rows.iter().all(|r| r.usable) => ExitCode::from(crate::EXIT_FAILURE),
        _ => ExitCode::SUCCESS,
    }
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).expect("a JSON value serializes")
}

/// `check --json` of a configuration with problems: `{"valid": false, "problems": [{"file",
/// "key", "message"}]}` (`key` empty for a problem with a file as a whole).
pub fn invalid(errors: &jira_sync_config::ConfigErrors) -> Value {
    let problems: Vec<Value> = errors
        .problems()
        .iter()
        .map(|p| json!({"file": p.file.display().to_string(), "key": p.key, "message": p.message}))
        .collect();
    json!({"valid": false, "problems": problems})
}

/// `check --json` of a valid configuration: what `summary` says, as data, and with `rows`
/// (online) `usable` (every site works) and each site's `probe`: `state`
/// (CredentialState), `usable`, `api_base`, `cloud_id`, `expires_at` (RFC 3339 or null),
/// `missing_scopes` and `message`. A site's
/// `expires_at` is the declared expiry of an API token (null: not declared, so no expiry
/// alert can fire); `expiry_declared` is false only for API tokens without one.
pub fn document(config: &Config, now: DateTime<Utc>, shards: u32, rows: Option<&[Row]>) -> Value {
    let groups = jira_sync_jobs::groups(config);
    let d = &config.daemon;
    let sites: Vec<Value> = config
        .sites
        .iter()
        .map(|site| {
            let group = groups.get(&site.name).map_or("", String::as_str);
            let declared = site.auth.declared_expiry();
            let api_token = matches!(site.auth, Auth::ApiToken(_) | Auth::ServiceAccount(_));
            let connectors: Vec<Value> = site
                .connectors
                .iter()
                .map(|c| {
                    json!({
                        "name": c.name,
                        "project": c.project,
                        "jql": c.jql,
                        "direction": c.direction.as_str(),
                        "schedule": c.schedule.as_str(),
                        "conflict": c.conflict.as_str(),
                        "mirror": c.mirror.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    })
                })
                .collect();
            let mut v = json!({
                "name": site.name,
                "url": site.url.as_str(),
                "auth_method": site.auth.method().as_str(),
                "expires_at": declared,
                "expiry_declared": !api_token || declared.is_some(),
                "expired": declared.is_some_and(|at| at <= now),
                "limits": {
                    "requests_per_second": site.limits.requests_per_second,
                    "burst": site.limits.burst,
                    "max_concurrency": site.limits.max_concurrency,
                },
                "mirror_group": group,
                "shard": jira_sync_jobs::shard_of(group, shards),
                "shards": shards,
                "connectors": connectors,
            });
            if let Some(r) = rows.and_then(|rows| rows.iter().find(|r| r.site == site.name)) {
                v["probe"] = json!({
                    "state": r.state,
                    "usable": r.usable,
                    "api_base": (r.api_base != "-").then_some(&r.api_base),
                    "cloud_id": (r.cloud_id != "-").then_some(&r.cloud_id),
                    "expires_at": r.expires_at,
                    "missing_scopes": r.missing_scopes,
                    "message": r.message,
                });
            }
            v
        })
        .collect();
    let mut doc = json!({
        "valid": true,
        "config_dir": config.dir.display().to_string(),
        "daemon": {
            "listen": d.listen.to_string(),
            "state_dir": d.state_dir.display().to_string(),
            "hub_api": d.api_token.is_some(),
        },
        "sites": sites,
    });
    if let Some(rows) = rows {
        // Online: whether every site works (the exit status: 0 when true, 1 when not).
        doc["usable"] = json!(rows.iter().all(|r| r.usable));
    }
    doc
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
        if site.webhooks {
            let kind = if jira_sync_jobs::registers_webhook(site) {
                "dynamic webhook, registered by the daemon"
            } else {
                "admin webhook, registered by the daemon when its account administers Jira, else by an administrator (jira-sync webhooks SITE)"
            };
            let _ = writeln!(
                out,
                "    webhooks on: {kind}, deliveries to {}",
                d.webhook_url_of(&site.name).unwrap_or_default()
            );
        }
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

/// Each webhook site's state as the running daemon sees it (registered, expiry, last
/// delivery), or why it is unknown.
fn webhook_states(config: &Config) -> String {
    let hooked: Vec<&str> = config
        .sites
        .iter()
        .filter(|s| s.webhooks)
        .map(|s| s.name.as_str())
        .collect();
    if hooked.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nwebhooks:\n");
    match crate::runtime().block_on(crate::status::from_daemon(config)) {
        None => {
            let _ = writeln!(
                out,
                "  the daemon does not answer on {}: the webhooks' state (registered, expires, last delivery) is unknown",
                config.daemon.listen
            );
        }
        Some(status) => {
            for site in status
                .sites
                .iter()
                .filter(|s| hooked.contains(&s.site.as_str()))
            {
                let line = site.webhook.as_ref().map_or("unknown".into(), |w| {
                    crate::status::webhook_line(w, &site.method)
                });
                let _ = writeln!(out, "  {}: {line}", site.site);
            }
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
