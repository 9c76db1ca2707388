//! `jira-sync auth login SITE`: OAuth 2.0 (3LO) consent, and the refresh token into the vault.

use std::process::ExitCode;
use std::time::Duration;

use chrono::Utc;
use jira_sync_auth::http_client;
use jira_sync_auth::login::{accessible_resources, exchange, start};
use jira_sync_auth::scopes::required_for_site;
use jira_sync_config::{Auth, Secret};
use jira_sync_store::{RefreshToken, Store, StoreError, leave_login};

use crate::cli::LoginArgs;

pub fn run(args: &LoginArgs) -> ExitCode {
    let (config, placement) = match crate::load_placed(&args.config.config, None, "auth login") {
        Ok(placed) => placed,
        Err(code) => return code,
    };
    if let Err(code) = crate::state_owner_ok(&config.daemon.state_dir, "auth login") {
        return code;
    }
    let Some(site) = config.site(&args.site) else {
        eprintln!(
            "jira-sync auth login: no site named `{}` in {}",
            args.site,
            config.dir.join("sites.d").display()
        );
        return ExitCode::from(crate::EXIT_CONFIG);
    };
    let Auth::OAuth2(oauth) = &site.auth else {
        eprintln!(
            "jira-sync auth login: site `{}` uses auth method {}; auth login is for method oauth2",
            site.name,
            site.auth.method()
        );
        return ExitCode::from(crate::EXIT_CONFIG);
    };
    // Where the token will go, known before the consent: the vault, or (the daemon holds
    // the database, or shards keep their own) a file the daemon takes in at its reload.
    let logins = crate::shard::logins_dir(&config, placement.map(|p| p.shard));
    let sharded = std::fs::read_dir(&config.daemon.state_dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("shard-"))
    });
    let store = if sharded {
        None
    } else {
        match Store::open(&config.daemon.state_dir) {
            Ok(s) => Some(s),
            Err(StoreError::Locked(_)) => None,
            Err(e) => {
                eprintln!("jira-sync auth login: {e}");
                return ExitCode::from(crate::EXIT_FAILURE);
            }
        }
    };
    let mut scopes: Vec<String> = required_for_site(site).classic.into_iter().collect();
    scopes.push("offline_access".into());
    crate::runtime().block_on(async {
        let login = match start(&config.daemon.auth_url, &oauth.client_id, &scopes, args.listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("jira-sync auth login: {e}");
                return ExitCode::from(crate::EXIT_FAILURE);
            }
        };
        println!("The app's callback URL must be {}", login.redirect_uri);
        println!("Open this URL in a browser and accept:");
        println!("{}", login.authorize_url);
        let redirect_uri = login.redirect_uri.clone();
        let code = match login.wait_for_code(Duration::from_secs(args.timeout)).await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("jira-sync auth login: {e}");
                return ExitCode::from(crate::EXIT_FAILURE);
            }
        };
        let http = http_client();
        let tokens = match exchange(&http, &config.daemon.auth_url, &oauth.client_id, oauth.client_secret.expose(), &code, &redirect_uri).await {
            Ok(t) => t,
            Err(e) => {
                eprintln!("jira-sync auth login: the code exchange failed: {e:?}");
                return ExitCode::from(crate::EXIT_FAILURE);
            }
        };
        let Some(refresh) = tokens.refresh_token.clone() else {
            eprintln!("jira-sync auth login: no refresh token came back; the consent must include offline_access");
            return ExitCode::from(crate::EXIT_FAILURE);
        };
        let now = Utc::now();
        // A refresh token also configured for the site is acknowledged: the fresh consent
        // wins over it, until the configuration names another one.
        let seed = match &site.auth {
            Auth::OAuth2(o) => o.initial_refresh_token.as_ref().map(jira_sync_auth::seed_id),
            _ => None,
        };
        let stored = RefreshToken { token: Secret::new(refresh), consented_at: now, issued_at: now, seed };
        let until = (now + chrono::Duration::days(365)).format("%Y-%m-%d");
        match &store {
            Some(store) => {
                let put = match store.vault() {
                    Ok(vault) => vault.put_refresh_token(&site.name, &stored).await,
                    Err(e) => Err(e),
                };
                if let Err(e) = put {
                    eprintln!("jira-sync auth login: the refresh token could not be stored: {e}");
                    return ExitCode::from(crate::EXIT_FAILURE);
                }
                println!("Stored the refresh token of site `{}` (valid until {until} at the latest; log in again before then).", site.name);
            }
            None => {
                if let Err(e) = leave_login(&logins, &site.name, &stored) {
                    eprintln!("jira-sync auth login: the refresh token could not be left for the daemon: {e}");
                    return ExitCode::from(crate::EXIT_FAILURE);
                }
                println!("Left the refresh token of site `{}` for the running daemon in {} (valid until {until} at the latest; log in again before then).", site.name, logins.display());
                println!("Run `systemctl reload jira-sync` (or send the daemon SIGHUP): it takes the token in and the site resumes.");
            }
        }
        let header = match reqwest::header::HeaderValue::from_str(&format!("Bearer {}", tokens.access_token)) {
            Ok(mut h) => {
                h.set_sensitive(true);
                h
            }
            Err(_) => return ExitCode::from(crate::EXIT_FAILURE),
        };
        match accessible_resources(&http, &config.daemon.gateway_url, &header).await {
            Ok(list) => {
                println!("The grant reaches:");
                for r in &list {
                    println!("  {}  {}  (cloud ID {})", r.name, r.url, r.id);
                }
                let reaches = list.iter().any(|r| r.url.trim_end_matches('/') == site.url.as_str().trim_end_matches('/'));
                if !reaches {
                    eprintln!("jira-sync auth login: the grant does not reach {}, the URL of site `{}`; log in as a user of that site", site.url, site.name);
                    return ExitCode::from(crate::EXIT_FAILURE);
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("jira-sync auth login: stored the token, but accessible-resources failed: {e}");
                ExitCode::from(crate::EXIT_FAILURE)
            }
        }
    })
}
