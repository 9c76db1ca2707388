//! `jira-sync check` online: resolve every site and probe every credential, one row each.

use std::fmt::Write as _;
use std::sync::Arc;

use chrono::Utc;
use jira_sync_auth::{CredentialState, Provider, http_client};
use jira_sync_config::{AuthMethod, Config, Site};
use jira_sync_jobs::probe_site;
use jira_sync_resolver::Resolver;
use jira_sync_store::{Store, Vault};
use url::Url;

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
    /// The credential's expiry, declared or reported (`expires` is its date, or `-`).
    pub expires_at: Option<chrono::DateTime<Utc>>,
    /// Scopes the connectors need that the credential lacks (`missing` joins them, or `-`).
    pub missing_scopes: Vec<String>,
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
        expires_at: None,
        missing_scopes: Vec::new(),
    };
    if method == AuthMethod::OAuth2 && vault.is_none() {
        row.message = format!(
            "the token vault cannot be opened: {}",
            store_note.unwrap_or_default()
        );
        return row;
    }
    let provider = Provider::new(site, auth_url, http.clone(), vault.clone());
    let v = probe_site(site, &provider, resolver, http, vault.as_ref(), Utc::now()).await;
    if let Some(id) = v.cloud_id {
        row.cloud_id = id;
    }
    if let Some(base) = &v.api_base {
        row.api_base = base.to_string();
    }
    row.state = v.state.as_str().into();
    row.usable = v.state.usable();
    row.message = v.message;
    // An unreachable API token still has the expiry the operator declared.
    let expires_at = v.expires_at.or(site.auth.declared_expiry());
    row.expires = expires_at.map_or("-".into(), |e| e.format("%Y-%m-%d").to_string());
    row.expires_at = expires_at;
    if !v.missing_scopes.is_empty() {
        row.missing = v.missing_scopes.join(" ");
    }
    row.missing_scopes = v.missing_scopes.clone();
    if let (true, Some(base)) = (row.usable, v.api_base) {
        let client = jira_sync_client::Client::new(
            &site.name,
            base,
            Arc::new(provider),
            Arc::new(jira_sync_ratelimit::SiteLimiter::new(
                &site.name,
                site.limits,
            )),
            http.clone(),
            Arc::new(jira_sync_client::NoObserver),
        );
        let problems = match client.fields().await {
            Ok(fields) => field_problems(site, &fields),
            Err(e) => vec![format!("the site's fields could not be read: {e}")],
        };
        if !problems.is_empty() {
            row.usable = false;
            let said = problems.join("; ");
            row.message = if row.message.is_empty() {
                said
            } else {
                format!("{}; {said}", row.message)
            };
        }
    }
    row
}

/// What each connector's `[connector.fields]` map asks that this site cannot give: a field
/// id the site does not have, or a type jira-sync cannot mirror (with why).
fn field_problems(site: &Site, fields: &[jira_sync_client::Field]) -> Vec<String> {
    let mut out = Vec::new();
    for c in &site.connectors {
        for (hub, id) in &c.fields {
            let Some(f) = fields.iter().find(|f| f.id == *id) else {
                out.push(format!(
                    "connector {}: field {hub} = \"{id}\" does not exist on this site",
                    c.name
                ));
                continue;
            };
            let Some(schema) = &f.schema else { continue };
            let shape = schema.shape();
            if let Some(why) =
                jira_sync_engine::mapping::unmappable(&shape, schema.custom.as_deref())
            {
                out.push(format!(
                    "connector {}: field {hub} = \"{id}\" ({}, type {shape}{}) cannot be mirrored: {why}",
                    c.name,
                    f.name,
                    schema
                        .custom
                        .as_deref()
                        .map_or(String::new(), |k| format!(", {k}"))
                ));
            }
        }
    }
    out
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
