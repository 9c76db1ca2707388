//! Stage two: the checked configuration the rest of the daemon accepts.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroUsize};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use url::Url;

use crate::secret::Secret;

/// A validated configuration directory.
#[derive(Debug, Clone)]
pub struct Config {
    /// The configuration directory.
    pub dir: PathBuf,
    /// Every file that was read, in order.
    pub files: Vec<PathBuf>,
    /// `jira-sync.toml`.
    pub daemon: Daemon,
    /// `sites.d/*.toml`, sorted by file name.
    pub sites: Vec<Site>,
}

impl Config {
    /// The site of this name.
    pub fn site(&self, name: &str) -> Option<&Site> {
        self.sites.iter().find(|s| s.name == name)
    }

    /// The connector `site/connector`.
    pub fn connector(&self, r: &ConnectorRef) -> Option<(&Site, &Connector)> {
        let site = self.site(&r.site)?;
        let connector = site.connectors.iter().find(|c| c.name == r.connector)?;
        Some((site, connector))
    }
}

/// Daemon-wide settings.
#[derive(Debug, Clone)]
pub struct Daemon {
    /// Directory of the sled database and the token vault (absolute).
    pub state_dir: PathBuf,
    /// Address of the HTTP endpoints.
    pub listen: SocketAddr,
    /// Log output format.
    pub log_format: LogFormat,
    /// Atlassian's API gateway (no trailing slash).
    pub gateway_url: Url,
    /// Atlassian's authorization server (no trailing slash).
    pub auth_url: Url,
    /// Bearer token of the `/v1` hub API; `None` turns the API off.
    pub api_token: Option<Secret>,
    /// How long shutdown waits for running cycles.
    pub shutdown_grace: Duration,
    /// How long a sync run may take before it is told to stop.
    pub run_timeout: Duration,
    /// When each site's credential is probed.
    pub health_schedule: Schedule,
    /// When each pulling connector takes its census.
    pub census_schedule: Schedule,
    /// How many sync runs may be in flight at once, all sites together.
    pub max_runs_in_flight: NonZeroUsize,
    /// Address of the webhook listener; `None`: no listener.
    pub webhook_listen: Option<SocketAddr>,
    /// The public URL Jira calls; a site's deliveries go to `webhook_url/SITE` (no trailing
    /// slash).
    pub webhook_url: Option<Url>,
}

impl Daemon {
    /// Where Jira delivers `site`'s webhooks: `webhook_url/SITE`.
    pub fn webhook_url_of(&self, site: &str) -> Option<String> {
        self.webhook_url
            .as_ref()
            .map(|u| format!("{}/{site}", u.as_str().trim_end_matches('/')))
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable, for a terminal.
    Pretty,
}

/// One Jira Cloud site.
#[derive(Debug, Clone)]
pub struct Site {
    /// Name in metrics, logs and mirror references.
    pub name: String,
    /// The file it was read from.
    pub file: PathBuf,
    /// The site URL (no trailing slash).
    pub url: Url,
    /// Cloud ID, when the operator declared it.
    pub cloud_id: Option<String>,
    /// How to authenticate.
    pub auth: Auth,
    /// Request rate and concurrency.
    pub limits: Limits,
    /// Connectors, in file order.
    pub connectors: Vec<Connector>,
    /// Whether webhook deliveries trigger this site's runs.
    pub webhooks: bool,
    /// The admin webhook's secret (`X-Hub-Signature`), for sites that are not `oauth2`.
    pub webhook_secret: Option<Secret>,
}

/// The credential of a site.
#[derive(Debug, Clone)]
pub enum Auth {
    /// Classic user API token, basic auth on the site URL.
    ApiToken(ApiToken),
    /// Service-account scoped API token, basic auth on the gateway URL.
    ServiceAccount(ApiToken),
    /// OAuth 2.0 (3LO) with a rotating refresh token kept in the token vault.
    OAuth2(OAuth2),
    /// OAuth 2.0 client credentials of a service account.
    ClientCredentials(ClientCredentials),
}

impl Auth {
    /// The configured method.
    pub fn method(&self) -> AuthMethod {
        match self {
            Auth::ApiToken(_) => AuthMethod::ApiToken,
            Auth::ServiceAccount(_) => AuthMethod::ServiceAccount,
            Auth::OAuth2(_) => AuthMethod::OAuth2,
            Auth::ClientCredentials(_) => AuthMethod::ClientCredentials,
        }
    }

    /// The declared expiry of an API token; OAuth tokens report their own.
    pub fn declared_expiry(&self) -> Option<DateTime<Utc>> {
        match self {
            Auth::ApiToken(t) | Auth::ServiceAccount(t) => t.expires_at,
            Auth::OAuth2(_) | Auth::ClientCredentials(_) => None,
        }
    }
}

/// An email and API token.
#[derive(Debug, Clone)]
pub struct ApiToken {
    /// Account email (the service account's for `service_account`).
    pub email: String,
    /// The API token.
    pub token: Secret,
    /// Declared expiry.
    pub expires_at: Option<DateTime<Utc>>,
}

/// OAuth 2.0 (3LO) client.
#[derive(Debug, Clone)]
pub struct OAuth2 {
    /// Client ID of the OAuth app.
    pub client_id: String,
    /// Client secret of the OAuth app.
    pub client_secret: Secret,
    /// Refresh token to seed an empty vault with.
    pub initial_refresh_token: Option<Secret>,
}

/// OAuth 2.0 client credentials of a service account.
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    /// Client ID of the service account's OAuth credential.
    pub client_id: String,
    /// Its client secret.
    pub client_secret: Secret,
}

/// How a site authenticates; also the `method` label of credential metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AuthMethod {
    /// `api_token`
    ApiToken,
    /// `service_account`
    ServiceAccount,
    /// `oauth2`
    OAuth2,
    /// `client_credentials`
    ClientCredentials,
}

impl AuthMethod {
    /// Every method, in documentation order.
    pub const ALL: [AuthMethod; 4] = [
        AuthMethod::ApiToken,
        AuthMethod::ServiceAccount,
        AuthMethod::OAuth2,
        AuthMethod::ClientCredentials,
    ];

    /// The name used in config files and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::ApiToken => "api_token",
            AuthMethod::ServiceAccount => "service_account",
            AuthMethod::OAuth2 => "oauth2",
            AuthMethod::ClientCredentials => "client_credentials",
        }
    }

    /// True when requests go through the gateway URL rather than the site URL.
    pub fn uses_gateway(self) -> bool {
        self != AuthMethod::ApiToken
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Request rate and concurrency towards one site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Sustained requests per second.
    pub requests_per_second: NonZeroU32,
    /// Burst size.
    pub burst: NonZeroU32,
    /// Requests in flight at once.
    pub max_concurrency: NonZeroUsize,
}

/// One connector: a project (or JQL scope) of a site kept in sync with the hub.
#[derive(Debug, Clone)]
pub struct Connector {
    /// Unique within the site.
    pub name: String,
    /// Jira project key.
    pub project: String,
    /// Extra JQL, ANDed with the project.
    pub jql: Option<String>,
    /// When sync runs fire (UTC).
    pub schedule: Schedule,
    /// Which way changes flow.
    pub direction: Direction,
    /// Connectors that share records with this one.
    pub mirror: Vec<ConnectorRef>,
    /// Who wins a conflict.
    pub conflict: ConflictPolicy,
    /// How far each pull reaches back behind its watermark.
    pub overlap: Duration,
    /// Delete mirrored issues when their source is deleted.
    pub propagate_deletes: bool,
    /// Hub field name -> Jira field id.
    pub fields: BTreeMap<String, String>,
    /// Jira status name -> hub status.
    pub statuses: BTreeMap<String, String>,
    /// The resolution (by name) a transition that requires one gets when the record has
    /// none this project offers.
    pub resolution: Option<String>,
    /// Hub issue type -> this project's issue type name (default: the same name).
    pub issuetypes: BTreeMap<String, String>,
    /// Which comments are written to this connector's issues.
    pub comments: CommentAudience,
    /// Whether files attached to issues are mirrored both ways (`attachments`).
    pub attachments: bool,
    /// The largest file mirrored, in bytes (`max_attachment_size`, default 10 MiB).
    pub max_attachment_size: u64,
}

/// Which comments a connector writes to its issues (`comments`). Either way a comment is
/// never made readable by more people than on its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CommentAudience {
    /// Only comments everyone who sees the issue may read; restricted comments and internal
    /// notes are counted and reported, not written.
    #[default]
    Public,
    /// Restricted comments too, with the same role or group restriction (by name), and
    /// internal notes as internal notes.
    All,
}

impl CommentAudience {
    /// Config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CommentAudience::Public => "public",
            CommentAudience::All => "all",
        }
    }
}

/// Which way a connector moves changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Jira -> hub only.
    Pull,
    /// Hub -> Jira only.
    Push,
    /// Both ways.
    Both,
}

impl Direction {
    /// Config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Pull => "pull",
            Direction::Push => "push",
            Direction::Both => "both",
        }
    }

    /// True when the connector writes to Jira.
    pub fn pushes(self) -> bool {
        self != Direction::Pull
    }

    /// True when the connector reads from Jira.
    pub fn pulls(self) -> bool {
        self != Direction::Push
    }
}

/// Who wins when Jira and the hub changed the same field differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictPolicy {
    /// The later change wins.
    Newest,
    /// Jira's value wins.
    Jira,
    /// The hub's value wins.
    Hub,
}

impl ConflictPolicy {
    /// Config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ConflictPolicy::Newest => "newest",
            ConflictPolicy::Jira => "jira",
            ConflictPolicy::Hub => "hub",
        }
    }
}

/// `site/connector`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectorRef {
    /// Site name.
    pub site: String,
    /// Connector name within the site.
    pub connector: String,
}

impl fmt::Display for ConnectorRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.site, self.connector)
    }
}

impl FromStr for ConnectorRef {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('/') {
            Some((site, connector))
                if crate::validate::is_name(site) && crate::validate::is_name(connector) =>
            {
                Ok(ConnectorRef {
                    site: site.to_owned(),
                    connector: connector.to_owned(),
                })
            }
            _ => Err(format!(
                "`{s}` is not a connector reference; expected `site/connector`, e.g. \"globex/ops\""
            )),
        }
    }
}

/// A cron schedule with seconds, evaluated in UTC.
#[derive(Clone)]
pub struct Schedule {
    expr: String,
    cron: croner::Cron,
}

impl Schedule {
    /// Parses a 6-field (seconds first) or 7-field (with year) cron expression.
    pub fn parse(expr: &str) -> Result<Self, String> {
        let fields = expr.split_whitespace().count();
        if fields == 5 {
            return Err(format!(
                "`{expr}` has 5 fields, but a seconds field is needed first: 6 fields \
                 (sec min hour day month weekday) or 7 (plus year), e.g. \"0 {expr}\""
            ));
        }
        let parser = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Required)
            .dom_and_dow(true)
            .build();
        let cron = parser.parse(expr).map_err(|e| {
            format!(
                "`{expr}` is not a valid cron expression ({e}); expected 6 fields \
                 (sec min hour day month weekday) or 7 (plus year), in UTC"
            )
        })?;
        Ok(Schedule {
            expr: expr.to_owned(),
            cron,
        })
    }

    /// The expression as written.
    pub fn as_str(&self) -> &str {
        &self.expr
    }

    /// The first firing strictly after `t` (firings fall on whole seconds).
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.find_next_occurrence(&whole_second(t), false).ok()
    }

    /// The latest firing at or before `t` (croner keeps the fraction of a second it is
    /// given; firings fall on whole seconds).
    pub fn latest_at(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_previous_occurrence(&whole_second(t), true)
            .ok()
    }

    /// The firings strictly after `t`, in order.
    pub fn iter_after(&self, t: DateTime<Utc>) -> impl Iterator<Item = DateTime<Utc>> + use<> {
        self.cron.iter_after(whole_second(t))
    }
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Schedule").field(&self.expr).finish()
    }
}

/// `t` without its fraction of a second.
fn whole_second(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}
