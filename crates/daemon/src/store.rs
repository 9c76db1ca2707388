//! `jira-sync store rebuild`: records and links re-derived from the sites.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;

use jira_sync_engine::{Engine, Rebuilt};
use jira_sync_store::Store;

use crate::cli::ConfigArgs;

pub fn rebuild(args: &ConfigArgs) -> ExitCode {
    let config = match crate::load_placed(&args.config, None, "store rebuild") {
        Ok((c, _)) => Arc::new(c),
        Err(code) => return code,
    };
    if let Err(code) = crate::state_owner_ok(&config.daemon.state_dir, "store rebuild") {
        return code;
    }
    let store = match Store::open(&config.daemon.state_dir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("jira-sync store rebuild: {e}");
            return ExitCode::from(crate::EXIT_FAILURE);
        }
    };
    match crate::runtime().block_on(run(config, &store)) {
        Ok(r) => {
            println!(
                "rebuilt {} records with {} links and {} comments from {} issues; {} issues no jira-sync property names (the next cycles read them as new)",
                r.records, r.links, r.comments, r.scanned, r.unlinked
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("jira-sync store rebuild: {e}");
            ExitCode::from(crate::EXIT_FAILURE)
        }
    }
}

async fn run(config: Arc<jira_sync_config::Config>, store: &Store) -> Result<Rebuilt, String> {
    let http = jira_sync_auth::http_client();
    let mut sites = HashMap::new();
    for site in &config.sites {
        let ctx = crate::sites::site_ctx(&config, store, site, &http)
            .await
            .map_err(|e| format!("site {}: {e}", site.name))?;
        sites.insert(site.name.clone(), ctx);
    }
    let hub = store.hub().map_err(|e| e.to_string())?;
    Engine::new(config, hub, sites)
        .rebuild()
        .await
        .map_err(|e| e.to_string())
}
