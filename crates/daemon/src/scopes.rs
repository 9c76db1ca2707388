//! `jira-sync scopes [SITE]`: the minimal scopes each site needs.

use std::fmt::Write as _;
use std::process::ExitCode;

use jira_sync_auth::scopes::required_for_site;
use jira_sync_config::{AuthMethod, Config};

use crate::cli::ScopesArgs;

pub fn run(args: &ScopesArgs) -> ExitCode {
    let config = match crate::load(&args.config.config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if let Some(name) = &args.site
        && config.site(name).is_none()
    {
        eprintln!(
            "jira-sync scopes: no site named `{name}` in {}",
            config.dir.join("sites.d").display()
        );
        return ExitCode::from(crate::EXIT_CONFIG);
    }
    print!("{}", render(&config, args.site.as_deref()));
    ExitCode::SUCCESS
}

pub fn render(config: &Config, only: Option<&str>) -> String {
    let mut out = String::new();
    for site in config
        .sites
        .iter()
        .filter(|s| only.is_none_or(|o| o == s.name))
    {
        let mut scopes = required_for_site(site);
        if site.auth.method() == AuthMethod::OAuth2 {
            // A refresh token comes only with offline_access.
            scopes.classic.insert("offline_access".into());
            scopes.granular.insert("offline_access".into());
        }
        let connectors: Vec<String> = site
            .connectors
            .iter()
            .map(|c| format!("{} ({})", c.name, c.direction.as_str()))
            .collect();
        let _ = writeln!(
            out,
            "{} ({}; connectors: {})",
            site.name,
            site.auth.method(),
            connectors.join(", ")
        );
        let _ = writeln!(
            out,
            "  classic:  {}",
            scopes.classic.iter().cloned().collect::<Vec<_>>().join(" ")
        );
        let _ = writeln!(
            out,
            "  granular: {}",
            scopes
                .granular
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(" ")
        );
        if site.auth.method() == AuthMethod::ApiToken {
            let _ = writeln!(
                out,
                "  (a classic API token has no scopes: it acts with the user's permissions; the scopes apply if you switch to a scoped token)"
            );
        }
    }
    out
}
