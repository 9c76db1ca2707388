//! `jira-sync status`: one line per site and per connector, from the running daemon's
//! `/status`, or from the state database when the daemon is down.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use jira_sync_config::Config;
use jira_sync_jobs::{Status, stored_status};
use jira_sync_store::Store;

use crate::cli::StatusArgs;

pub fn run(args: &StatusArgs) -> ExitCode {
    let (config, placement) = match crate::load_placed(&args.config.config, args.shard, "status") {
        Ok(placed) => placed,
        Err(code) => return code,
    };
    let shard = placement.map(|p| p.shard);
    let (status, source) = match crate::runtime().block_on(from_daemon(&config)) {
        Some(s) => (s, "the running daemon"),
        None if crate::state_owner_ok(&config.daemon.state_dir, "status").is_err() => {
            return ExitCode::from(crate::EXIT_CONFIG);
        }
        None => match Store::open(&config.daemon.state_dir)
            .and_then(|s| s.status())
            .and_then(|book| stored_status(&config, &book, shard))
        {
            Ok(s) => (s, "the state database (daemon not running)"),
            Err(e) => {
                eprintln!(
                    "jira-sync status: the daemon does not answer on {} and {e}",
                    config.daemon.listen
                );
                return ExitCode::from(crate::EXIT_FAILURE);
            }
        },
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&status).expect("serializable")
        );
    } else {
        print!("{}", render(&status, source));
    }
    ExitCode::SUCCESS
}

/// The daemon's `/status`, if it answers on `listen`.
pub(crate) async fn from_daemon(config: &Config) -> Option<Status> {
    let mut addr = config.daemon.listen;
    if addr.port() == 0 {
        return None;
    }
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let resp = jira_sync_auth::http_client()
        .get(format!("http://{addr}/status"))
        .timeout(Duration::from_secs(3))
        .send()
        .await
        .ok()?;
    if !resp.status().is_success() {
        return None;
    }
    resp.json().await.ok()
}

fn time(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map_or("-".into(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string())
}

/// `: why`, when there is something to say.
fn because(message: &Option<String>) -> String {
    message
        .as_deref()
        .map_or(String::new(), |m| format!(": {m}"))
}

/// A site's webhook in one line: what is registered (a dynamic webhook for `oauth2` sites,
/// an admin webhook for the others) and by whom, expiry, last delivery, the last error.
pub(crate) fn webhook_line(w: &jira_sync_jobs::WebhookState, method: &str) -> String {
    let registered = match (method, w.id, &w.registered_by) {
        ("oauth2", Some(id), _) => format!("dynamic webhook {id}, expires {}", time(w.expires)),
        ("oauth2", None, _) => "dynamic webhook not registered yet".into(),
        (_, _, Some(by)) => format!("admin webhook, registered by {by}"),
        (_, _, None) if w.last_delivery.is_some() => "admin webhook (deliveries arrive)".into(),
        (_, _, None) => {
            "admin webhook not seen (an administrator registers what `jira-sync webhooks SITE` prints)"
                .into()
        }
    };
    format!(
        "{registered}, last delivery {}{}",
        time(w.last_delivery),
        because(&w.error)
    )
}

fn render(s: &Status, source: &str) -> String {
    let mut out = format!("from {source}\n");
    for site in &s.sites {
        let _ = writeln!(
            out,
            "site {}: {} credential {} (expires {}, checked {}), group {}, shard {}{}",
            site.site,
            site.method,
            site.health.state.as_deref().unwrap_or("unknown"),
            site.health
                .expires_at
                .map_or("-".into(), |t| t.format("%Y-%m-%d").to_string()),
            time(site.health.checked_at),
            site.group,
            site.shard,
            because(&site.health.message),
        );
        if let Some(w) = &site.webhook {
            let _ = writeln!(out, "  webhook: {}", webhook_line(w, &site.method));
        }
    }
    for c in &s.connectors {
        let _ = writeln!(
            out,
            "connector {}/{}: last run {} {}{}, last success {}, backlog {}{}, schedule \"{}\"{}",
            c.site,
            c.connector,
            time(c.last.last_run),
            c.last.outcome.as_deref().unwrap_or("never"),
            if c.running { " (running now)" } else { "" },
            time(c.last.last_success),
            c.last.backlog,
            parked(&c.last.parked),
            c.schedule,
            because(&c.last.message),
        );
    }
    out
}

/// ` (parked: value_not_allowed 1, no_transition 2)`, or nothing when nothing is parked.
fn parked(by_reason: &std::collections::BTreeMap<String, u64>) -> String {
    let parts: Vec<String> = by_reason
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(r, n)| format!("{r} {n}"))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(" (parked: {})", parts.join(", "))
    }
}
