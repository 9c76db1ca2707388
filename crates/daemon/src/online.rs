//! `jira-sync check` online: resolve every site and probe every credential, one row each.

use std::fmt::Write as _;
use std::sync::Arc;

use chrono::{Duration, Utc};
use jira_sync_auth::health::EXPIRING_WINDOW_DAYS;
use jira_sync_auth::scopes::required;
use jira_sync_auth::{CredentialState, Provider, Target, http_client, probe};
use jira_sync_config::{AuthMethod, Config, Site};
use jira_sync_resolver::{ResolveError, Resolver};
use jira_sync_store::{Store, Vault};
use url::Url;

/// How long an OAuth refresh-token family lives from consent.
const REFRESH_FAMILY_DAYS: i64 = 365;

/// One site's verdict.
#[derive(Debug, Clone)]
pub struct Row {
    pub site: String,
    pub method: AuthMethod,
    pub api_base: String,
    pub cloud_id: String,
    pub state: String,
    pub expires: String,
    pub missing: String,
    pub message: String,
    pub usable: bool,
}

/// Checks every site concurrently; one site's failure never hides another's row.
pub async fn check(config: &Config) -> Vec<Row> {
    let (vault, cache, store_note) = match Store::open(&config.daemon.state_dir) {
        Ok(s) => (s.vault().ok(), s.cache().ok(), None),
        Err(e) => (None, None, Some(e.to_string())),
    };
    let http = http_client();
    let resolver = Arc::new(Resolver::new(
        http.clone(),
        config.daemon.gateway_url.clone(),
        cache,
    ));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, site) in config.sites.iter().cloned().enumerate() {
        let (resolver, http, vault, note) = (
            resolver.clone(),
            http.clone(),
            vault.clone(),
            store_note.clone(),
        );
        let auth_url = config.daemon.auth_url.clone();
        tasks.spawn(async move {
            (
                i,
                check_site(&site, &resolver, &http, &auth_url, vault, note).await,
            )
        });
    }
    let mut rows: Vec<(usize, Row)> = tasks.join_all().await;
    rows.sort_by_key(|(i, _)| *i);
    rows.into_iter().map(|(_, r)| r).collect()
}

async fn check_site(
    site: &Site,
    resolver: &Resolver,
    http: &reqwest::Client,
    auth_url: &Url,
    vault: Option<Vault>,
    store_note: Option<String>,
) -> Row {
    let method = site.auth.method();
    let mut row = Row {
        site: site.name.clone(),
        method,
        api_base: "-".into(),
        cloud_id: "-".into(),
        state: CredentialState::Unreachable.as_str().into(),
        expires: "-".into(),
        missing: "-".into(),
        message: String::new(),
        usable: false,
    };
    let cloud_id = match resolver.cloud_id(site).await {
        Ok(id) => id,
        Err(e) => {
            row.message = e.to_string();
            return row;
        }
    };
    row.cloud_id = cloud_id.clone();
    let gateway = resolver.gateway_base(&cloud_id);
    row.api_base = if method.uses_gateway() {
        gateway.to_string()
    } else {
        site.url.to_string()
    };
    if method == AuthMethod::OAuth2 && vault.is_none() {
        row.message = format!(
            "the token vault cannot be opened: {}",
            store_note.unwrap_or_default()
        );
        return row;
    }
    let family_end = match (method, &vault) {
        (AuthMethod::OAuth2, Some(v)) => v
            .refresh_token(&site.name)
            .ok()
            .flatten()
            .map(|t| t.consented_at + Duration::days(REFRESH_FAMILY_DAYS)),
        _ => None,
    };
    let provider = Provider::new(site, auth_url, http.clone(), vault);
    let mut grant_problem = None;
    if matches!(method, AuthMethod::OAuth2 | AuthMethod::ClientCredentials)
        && let Err(e @ ResolveError::NotInGrant { .. }) =
            resolver.check_grant(site, &provider).await
    {
        grant_problem = Some(e.to_string());
    }
    let req = required(&site.connectors);
    let target = Target {
        site_url: &site.url,
        gateway_base: Some(&gateway),
        required: &req,
        project: site.connectors.first().map(|c| c.project.as_str()),
        expires_at: site.auth.declared_expiry().or(family_end),
        window: Duration::days(EXPIRING_WINDOW_DAYS),
    };
    let health = probe(&provider, http, &target, Utc::now()).await;
    row.state = health.state.as_str().into();
    row.usable = health.state.usable() && grant_problem.is_none();
    if let Some(g) = grant_problem {
        row.state = CredentialState::Revoked.as_str().into();
        row.message = g;
    } else if health.message != "ok" {
        row.message = health.message;
    }
    row.expires = health
        .expires_at
        .map_or("-".into(), |e| e.format("%Y-%m-%d").to_string());
    if !health.missing_scopes.is_empty() {
        row.missing = health.missing_scopes.join(" ");
    }
    row
}

/// The rows as an aligned table, then one line per site with something to say.
pub fn table(rows: &[Row]) -> String {
    let header = [
        "SITE",
        "METHOD",
        "API BASE",
        "CLOUD ID",
        "STATE",
        "EXPIRES",
        "MISSING SCOPES",
    ];
    let cells: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            [
                r.site.clone(),
                r.method.to_string(),
                r.api_base.clone(),
                r.cloud_id.clone(),
                r.state.clone(),
                r.expires.clone(),
                r.missing.clone(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for c in &cells {
        for (w, v) in widths.iter_mut().zip(c) {
            *w = (*w).max(v.len());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, vals: &[&str]| {
        let parts: Vec<String> = vals
            .iter()
            .zip(widths)
            .map(|(v, w)| format!("{v:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", parts.join("  ").trim_end());
    };
    line(&mut out, &header);
    for c in &cells {
        line(&mut out, &c.iter().map(String::as_str).collect::<Vec<_>>());
    }
    for r in rows.iter().filter(|r| !r.message.is_empty()) {
        let _ = writeln!(out, "  {}: {}", r.site, r.message);
    }
    out
}
