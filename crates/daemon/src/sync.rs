//! `jira-sync sync SITE/CONNECTOR`: one cycle now.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;

use jira_sync_config::{Config, ConnectorRef};
use jira_sync_engine::{Engine, Report};
use jira_sync_store::Store;

use crate::cli::SyncArgs;

pub fn run(args: &SyncArgs) -> ExitCode {
    let config = match crate::load_placed(&args.config.config, None, "sync") {
        Ok((c, _)) => c,
        Err(code) => return code,
    };
    if let Err(code) = crate::state_owner_ok(&config.daemon.state_dir, "sync") {
        return code;
    }
    let target: ConnectorRef = match args.connector.parse() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("jira-sync sync: {e}");
            return ExitCode::from(crate::EXIT_CONFIG);
        }
    };
    if config.connector(&target).is_none() {
        eprintln!(
            "jira-sync sync: no connector {target} in {}",
            config.dir.join("sites.d").display()
        );
        return ExitCode::from(crate::EXIT_CONFIG);
    }
    let store = match Store::open(&config.daemon.state_dir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("jira-sync sync: {e}");
            return ExitCode::from(crate::EXIT_FAILURE);
        }
    };
    let started = std::time::Instant::now();
    let ran = crate::runtime().block_on(cycle(Arc::new(config), &store, &target));
    // Recorded as the daemon records its runs: `jira-sync status` then shows what is parked.
    let (outcome, message) = match &ran {
        Ok(_) => ("success", None),
        Err(e) => ("error", Some(e.clone())),
    };
    if let Err(e) = record(
        &store,
        &target,
        outcome,
        started.elapsed(),
        ran.as_ref().ok(),
        message,
    ) {
        eprintln!("jira-sync sync: could not record the run for `jira-sync status`: {e}");
    }
    match ran {
        Ok(report) => {
            print!("{}", render(&target, &report));
            // A write Jira refused (parked) or that failed is not a silent success.
            if report.parked.is_empty() && report.failed.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(crate::EXIT_FAILURE)
            }
        }
        Err(e) => {
            eprintln!("jira-sync sync {target}: {e}");
            ExitCode::from(crate::EXIT_FAILURE)
        }
    }
}

/// Stores the run's status (outcome, backlog, parked writes by reason) in the state
/// database, as the daemon does after each run.
fn record(
    store: &Store,
    target: &ConnectorRef,
    outcome: &str,
    elapsed: std::time::Duration,
    report: Option<&Report>,
    message: Option<String>,
) -> Result<(), String> {
    let book = store.status().map_err(|e| e.to_string())?;
    let before = book
        .run(&target.site, &target.connector)
        .map_err(|e| e.to_string())?
        .unwrap_or_default();
    let status = jira_sync_jobs::run_status(
        before,
        outcome,
        elapsed,
        report,
        message,
        chrono::Utc::now(),
    );
    crate::runtime()
        .block_on(book.set_run(&target.site, &target.connector, &status))
        .map_err(|e| e.to_string())
}

async fn cycle(
    config: Arc<Config>,
    store: &Store,
    target: &ConnectorRef,
) -> Result<Report, String> {
    let site = config.site(&target.site).expect("checked above");
    let http = jira_sync_auth::http_client();
    let ctx = crate::sites::site_ctx(&config, store, site, &http).await?;
    let mut sites = HashMap::from([(site.name.clone(), ctx)]);
    // The mirror peers' sites too: a file is read from the site it is attached on, and a
    // mention is mapped by the email its own site shows. One that cannot be reached only
    // leaves those waiting (the run itself writes to the target site).
    let peers = config
        .connector(target)
        .map(|(_, c)| c.mirror.clone())
        .unwrap_or_default();
    for peer in peers {
        if sites.contains_key(&peer.site) {
            continue;
        }
        let Some(s) = config.site(&peer.site) else {
            continue;
        };
        match crate::sites::site_ctx(&config, store, s, &http).await {
            Ok(ctx) => {
                sites.insert(s.name.clone(), ctx);
            }
            Err(e) => eprintln!(
                "jira-sync sync {target}: site {} not reachable ({e}); its files and mentions wait",
                s.name
            ),
        }
    }
    let engine = Engine::new(
        config.clone(),
        store.hub().map_err(|e| e.to_string())?,
        sites,
    );
    // A manual sync looks at every record, so what it prints is the whole picture.
    engine.reconcile(target).await.map_err(|e| e.to_string())
}

fn render(target: &ConnectorRef, r: &Report) -> String {
    let mut out = format!(
        "{target}: pulled {}, created {}, updated {}, transitioned {}, commented {}, conflicts {}, parked {}, deferred {}\n",
        r.pulled,
        r.created,
        r.updated,
        r.transitioned,
        r.commented,
        r.conflicts,
        r.parked.len(),
        r.deferred
    );
    for (what, why) in &r.parked {
        out.push_str(&format!("  parked {what}: {why}\n"));
    }
    for (what, why) in &r.failed {
        out.push_str(&format!(
            "  failed {what}: {why} (the next cycle retries)\n"
        ));
    }
    let waiting: usize = r
        .parked_now
        .values()
        .sum::<usize>()
        .saturating_sub(r.parked.len());
    if waiting > 0 {
        out.push_str(&format!(
            "  {waiting} write(s) parked earlier still wait for a change (jira-sync status shows them by reason)\n"
        ));
    }
    for (key, why) in &r.gone {
        out.push_str(&format!(
            "  {key}: {why}; its record is marked gone and no longer synced\n"
        ));
    }
    for key in &r.deleted {
        out.push_str(&format!(
            "  {key}: deleted, as the issue it mirrors was (propagate_deletes)\n"
        ));
    }
    if r.unmapped_people > 0 {
        out.push_str(&format!(
            "  {} assignee/reporter value(s) left unset: no account here shows the person's email, or Jira refuses the field\n",
            r.unmapped_people
        ));
    }
    for (key, status) in &r.unreachable {
        out.push_str(&format!(
            "  {key}: no transition reaches status `{status}`\n"
        ));
    }
    if r.files > 0 {
        out.push_str(&format!("  {} attachment(s) copied or removed\n", r.files));
    }
    if r.files_too_large > 0 {
        out.push_str(&format!(
            "  {} attachment(s) larger than max_attachment_size not copied\n",
            r.files_too_large
        ));
    }
    if r.comments_restricted > 0 {
        out.push_str(&format!(
            "  {} restricted comment(s) not mirrored: a role or group restriction, or an internal note, and this connector says comments = \"public\"\n",
            r.comments_restricted
        ));
    }
    out
}
