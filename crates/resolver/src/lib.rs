//! Where a site's API lives and what it looks like: the cloud ID (from `_edge/tenant_info`,
//! cached; a configured one is verified), the API base of its credential's URL form, the
//! OAuth grant's reach (accessible-resources), and site facts (`/myself`, fields, project
//! statuses) cached per site and refreshed when older than a TTL or on demand.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{DateTime, Utc};
use jira_sync_auth::login::{Resource, accessible_resources};
use jira_sync_auth::{AuthError, Form, Provider, without_url};
use jira_sync_config::{AuthMethod, Site};
use jira_sync_store::{Cache, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Mutex;
use url::Url;

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("site `{site}`: {url}/_edge/tenant_info cannot be read: {reason}")]
    TenantInfo {
        site: String,
        url: String,
        reason: String,
    },
    #[error(
        "site `{site}`: cloud_id is configured as {configured}, but {url} has cloud ID {actual}; fix cloud_id in the site file or remove it"
    )]
    CloudIdMismatch {
        site: String,
        url: String,
        configured: String,
        actual: String,
    },
    #[error("site `{site}`: the OAuth grant does not reach {url}; it reaches {}. Run `jira-sync auth login {site}` as a user of that site", reaches_text(.reaches))]
    NotInGrant {
        site: String,
        url: String,
        reaches: Vec<String>,
    },
    #[error("site `{site}`: {source}")]
    Auth { site: String, source: AuthError },
    #[error("site `{site}`: {what}: {reason}")]
    Http {
        site: String,
        what: String,
        reason: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn reaches_text(r: &[String]) -> String {
    if r.is_empty() {
        "no site".into()
    } else {
        r.join(", ")
    }
}

/// What jira-sync needs to know about a site, fetched once and cached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteFacts {
    /// The integration's own account: the echo filter.
    pub account_id: String,
    /// Its time zone: the zone JQL reads dates in.
    pub time_zone: String,
    /// Field name -> field id.
    pub fields: BTreeMap<String, String>,
    /// Project key -> its facts.
    pub projects: BTreeMap<String, ProjectFacts>,
    pub fetched_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectFacts {
    pub id: String,
    /// Status name -> (id, category key), across the project's issue types.
    pub statuses: BTreeMap<String, (String, String)>,
}

/// How long site facts are used before they are fetched again.
pub const FACTS_TTL: Duration = Duration::from_secs(3600);

/// Resolves sites; one per daemon.
#[derive(Debug)]
pub struct Resolver {
    http: reqwest::Client,
    gateway_url: Url,
    cache: Option<Cache>,
    facts_ttl: Duration,
    memo: Mutex<HashMap<String, (tokio::time::Instant, SiteFacts)>>,
}

fn join(base: &Url, path: &str) -> Url {
    let mut u = base.clone();
    let p = format!("{}{path}", u.path().trim_end_matches('/'));
    u.set_path(&p);
    u
}

/// URLs compare by scheme, host, port and path, ignoring a trailing slash.
fn same_site(a: &str, b: &Url) -> bool {
    Url::parse(a).is_ok_and(|a| {
        a.scheme() == b.scheme()
            && a.host_str().map(str::to_ascii_lowercase)
                == b.host_str().map(str::to_ascii_lowercase)
            && a.port_or_known_default() == b.port_or_known_default()
            && a.path().trim_end_matches('/') == b.path().trim_end_matches('/')
    })
}

impl Resolver {
    pub fn new(http: reqwest::Client, gateway_url: Url, cache: Option<Cache>) -> Self {
        Resolver {
            http,
            gateway_url,
            cache,
            facts_ttl: FACTS_TTL,
            memo: Mutex::new(HashMap::new()),
        }
    }

    pub fn with_facts_ttl(mut self, ttl: Duration) -> Self {
        self.facts_ttl = ttl;
        self
    }

    async fn tenant_info(&self, site: &Site) -> Result<String, ResolveError> {
        let err = |reason: String| ResolveError::TenantInfo {
            site: site.name.clone(),
            url: site.url.to_string(),
            reason,
        };
        let resp = self
            .http
            .get(join(&site.url, "/_edge/tenant_info"))
            .send()
            .await
            .map_err(|e| err(without_url(&e)))?;
        if !resp.status().is_success() {
            return Err(err(format!("HTTP {}", resp.status().as_u16())));
        }
        let v: Value = resp.json().await.map_err(|e| err(without_url(&e)))?;
        v["cloudId"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| err("no cloudId in the answer".into()))
    }

    /// The site's cloud ID: the cached one, else from `tenant_info` (then cached). A
    /// configured `cloud_id` is verified against `tenant_info` once.
    pub async fn cloud_id(&self, site: &Site) -> Result<String, ResolveError> {
        let cached: Option<String> = match &self.cache {
            Some(c) => c.get(&site.name, "cloud_id")?,
            None => None,
        };
        if let Some(id) = &cached
            && site.cloud_id.as_ref().is_none_or(|c| c == id)
        {
            return Ok(id.clone());
        }
        let actual = self.tenant_info(site).await?;
        if let Some(configured) = &site.cloud_id
            && *configured != actual
        {
            return Err(ResolveError::CloudIdMismatch {
                site: site.name.clone(),
                url: site.url.to_string(),
                configured: configured.clone(),
                actual,
            });
        }
        if let Some(c) = &self.cache {
            c.put(&site.name, "cloud_id", &actual)?;
        }
        Ok(actual)
    }

    /// `{gateway}/ex/jira/{cloudId}`.
    pub fn gateway_base(&self, cloud_id: &str) -> Url {
        join(&self.gateway_url, &format!("/ex/jira/{cloud_id}"))
    }

    /// Where the site's credential sends its requests (`/rest/api/3` goes after it).
    pub async fn api_base(&self, site: &Site, form: Form) -> Result<Url, ResolveError> {
        match form {
            Form::Site => Ok(site.url.clone()),
            Form::Gateway => Ok(self.gateway_base(&self.cloud_id(site).await?)),
        }
    }

    /// For OAuth methods: the site must be among the sites the grant reaches.
    pub async fn check_grant(
        &self,
        site: &Site,
        provider: &Provider,
    ) -> Result<Resource, ResolveError> {
        let auth = provider
            .authorization()
            .await
            .map_err(|source| ResolveError::Auth {
                site: site.name.clone(),
                source,
            })?;
        let list = accessible_resources(&self.http, &self.gateway_url, auth.header())
            .await
            .map_err(|reason| ResolveError::Http {
                site: site.name.clone(),
                what: "accessible-resources".into(),
                reason,
            })?;
        list.iter()
            .find(|r| same_site(&r.url, &site.url))
            .cloned()
            .ok_or_else(|| ResolveError::NotInGrant {
                site: site.name.clone(),
                url: site.url.to_string(),
                reaches: list.iter().map(|r| r.url.clone()).collect(),
            })
    }

    async fn get_json(
        &self,
        site: &Site,
        provider: &Provider,
        url: Url,
    ) -> Result<Value, ResolveError> {
        let auth_err = |source| ResolveError::Auth {
            site: site.name.clone(),
            source,
        };
        let http_err = |reason: String| ResolveError::Http {
            site: site.name.clone(),
            what: url.path().to_owned(),
            reason,
        };
        let mut auth = provider.authorization().await.map_err(auth_err)?;
        for attempt in 0..2 {
            let resp = self
                .http
                .get(url.clone())
                .header(reqwest::header::AUTHORIZATION, auth.header().clone())
                .send()
                .await
                .map_err(|e| http_err(without_url(&e)))?;
            if resp.status() == reqwest::StatusCode::UNAUTHORIZED
                && attempt == 0
                && provider.method() != AuthMethod::ApiToken
                && provider.method() != AuthMethod::ServiceAccount
            {
                auth = provider.after_unauthorized(&auth).await.map_err(auth_err)?;
                continue;
            }
            if !resp.status().is_success() {
                return Err(http_err(format!("HTTP {}", resp.status().as_u16())));
            }
            return resp.json().await.map_err(|e| http_err(without_url(&e)));
        }
        Err(http_err("HTTP 401 after a fresh token".into()))
    }

    /// Fetches the facts now (and caches them).
    pub async fn refresh_facts(
        &self,
        site: &Site,
        provider: &Provider,
        base: &Url,
    ) -> Result<SiteFacts, ResolveError> {
        let me = self
            .get_json(site, provider, join(base, "/rest/api/3/myself"))
            .await?;
        let fields = self
            .get_json(site, provider, join(base, "/rest/api/3/field"))
            .await?;
        let mut projects = BTreeMap::new();
        let keys: std::collections::BTreeSet<&str> =
            site.connectors.iter().map(|c| c.project.as_str()).collect();
        for key in keys {
            let p = self
                .get_json(
                    site,
                    provider,
                    join(base, &format!("/rest/api/3/project/{key}")),
                )
                .await?;
            let types = self
                .get_json(
                    site,
                    provider,
                    join(base, &format!("/rest/api/3/project/{key}/statuses")),
                )
                .await?;
            let mut statuses = BTreeMap::new();
            for s in types
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|t| t["statuses"].as_array().into_iter().flatten())
            {
                if let (Some(name), Some(id)) = (s["name"].as_str(), s["id"].as_str()) {
                    let category = s["statusCategory"]["key"].as_str().unwrap_or("undefined");
                    statuses.insert(name.to_owned(), (id.to_owned(), category.to_owned()));
                }
            }
            projects.insert(
                key.to_owned(),
                ProjectFacts {
                    id: p["id"].as_str().unwrap_or_default().to_owned(),
                    statuses,
                },
            );
        }
        let facts = SiteFacts {
            account_id: me["accountId"].as_str().unwrap_or_default().to_owned(),
            time_zone: me["timeZone"].as_str().unwrap_or("UTC").to_owned(),
            fields: fields
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| {
                    Some((f["name"].as_str()?.to_owned(), f["id"].as_str()?.to_owned()))
                })
                .collect(),
            projects,
            fetched_at: Utc::now(),
        };
        if let Some(c) = &self.cache {
            c.put(&site.name, "facts", &facts)?;
        }
        self.memo.lock().await.insert(
            site.name.clone(),
            (tokio::time::Instant::now(), facts.clone()),
        );
        Ok(facts)
    }

    /// The facts, fetched again when older than the TTL.
    pub async fn facts(
        &self,
        site: &Site,
        provider: &Provider,
        base: &Url,
    ) -> Result<SiteFacts, ResolveError> {
        if let Some((at, f)) = self.memo.lock().await.get(&site.name)
            && at.elapsed() < self.facts_ttl
        {
            return Ok(f.clone());
        }
        self.refresh_facts(site, provider, base).await
    }

    /// The facts last cached in the store (for a restart while a site is unreachable).
    pub fn cached_facts(&self, site: &str) -> Result<Option<SiteFacts>, ResolveError> {
        match &self.cache {
            Some(c) => Ok(c.get(site, "facts")?),
            None => Ok(None),
        }
    }
}
