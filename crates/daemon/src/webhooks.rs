//! `jira-sync webhooks SITE`: the webhook a site's administrator registers (reference
//! jira-cloud-api.md section 9.2), or, for `oauth2` sites, the one the daemon keeps itself.

use std::fmt::Write as _;
use std::process::ExitCode;

use jira_sync_config::{Config, Site};
use jira_sync_jobs::{WEBHOOK_EVENTS, registers_webhook, webhook_filter};

use crate::cli::WebhooksArgs;

pub fn run(args: &WebhooksArgs) -> ExitCode {
    let config = match crate::load(&args.config.config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let Some(site) = config.site(&args.site) else {
        eprintln!(
            "jira-sync webhooks: no site named `{}` in {}",
            args.site,
            config.dir.join("sites.d").display()
        );
        return ExitCode::from(crate::EXIT_CONFIG);
    };
    match render(&config, site) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("jira-sync webhooks: {why}");
            ExitCode::from(crate::EXIT_CONFIG)
        }
    }
}

/// What to register for `site`, or why there is nothing to register.
pub fn render(config: &Config, site: &Site) -> Result<String, String> {
    if !site.webhooks {
        return Err(format!(
            "site `{}` has webhooks off; set `webhooks = true` in {} (and webhook_listen, webhook_url in jira-sync.toml)",
            site.name,
            site.file.display()
        ));
    }
    // Validation makes both present when a site has webhooks on.
    let url = config.daemon.webhook_url_of(&site.name).unwrap_or_default();
    let jql = webhook_filter(site);
    let mut out = String::new();
    if registers_webhook(site) {
        let _ = writeln!(
            out,
            "Site {}: oauth2; jira-sync registers and refreshes this dynamic webhook itself (nothing to do):",
            site.name
        );
    } else {
        let _ = writeln!(
            out,
            "Site {}: this admin webhook is registered by jira-sync itself when the site's account administers Jira (as `{}`), else by a Jira administrator (Settings > System > WebHooks, or POST /rest/webhooks/1.0/webhook):",
            site.name,
            jira_sync_jobs::admin_webhook_name(&site.name)
        );
    }
    let _ = writeln!(out, "  URL:     {url}");
    let _ = writeln!(out, "  Events:  {}", WEBHOOK_EVENTS.join(", "));
    match &jql {
        Some(q) => {
            let _ = writeln!(out, "  JQL:     {q}");
        }
        None => {
            let _ = writeln!(
                out,
                "  JQL:     (none: no connector of this site pulls, so no webhook is needed)"
            );
        }
    }
    if !registers_webhook(site) {
        let _ = writeln!(
            out,
            "  Secret:  the value `webhook_secret` names in {} (never printed)",
            site.file.display()
        );
        let _ = writeln!(
            out,
            "Deliveries without a valid X-Hub-Signature are refused (401) and counted."
        );
    }
    Ok(out)
}
