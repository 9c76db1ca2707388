//! Stage one: the files as written, deserialized with unknown keys refused.
//!
//! Every field is optional here so that `validate` can report all missing keys of a file at
//! once; defaults live in [`defaults`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use serde::de::{self, Deserializer, Unexpected, Visitor};

use crate::secret::SecretRef;

/// Default values, in one place.
pub mod defaults {
    /// `listen`: loopback only, Prometheus' registered port range.
    pub const LISTEN: &str = "127.0.0.1:9464";
    /// `log_format`.
    pub const LOG_FORMAT: &str = "json";
    /// `state_dir` when neither the key nor `$STATE_DIRECTORY` is set.
    pub const STATE_DIR: &str = "/var/lib/jira-sync";
    /// `gateway_url`: Atlassian's API gateway.
    pub const GATEWAY_URL: &str = "https://api.atlassian.com";
    /// `auth_url`: Atlassian's OAuth 2.0 authorization server.
    pub const AUTH_URL: &str = "https://auth.atlassian.com";
    /// `[limits] requests_per_second`.
    pub const REQUESTS_PER_SECOND: i64 = 10;
    /// `[limits] burst`.
    pub const BURST: i64 = 20;
    /// `[limits] max_concurrency`.
    pub const MAX_CONCURRENCY: i64 = 4;
    /// `[[connector]] schedule`: every five minutes, at second 0 (UTC).
    pub const SCHEDULE: &str = "0 */5 * * * *";
    /// `[[connector]] direction`.
    pub const DIRECTION: &str = "both";
    /// `[[connector]] conflict`.
    pub const CONFLICT: &str = "newest";
    /// `[[connector]] overlap`: covers Jira search's consistency lag.
    pub const OVERLAP: &str = "5m";
    /// `max_attachment_size`: 10 MiB.
    pub const MAX_ATTACHMENT_SIZE: u64 = 10 << 20;
    /// How long shutdown waits for running cycles to commit.
    pub const SHUTDOWN_GRACE: &str = "30s";
    /// How long a sync run may take before it is told to stop.
    pub const RUN_TIMEOUT: &str = "1h";
    /// When every site's credential is probed (and once at start).
    pub const HEALTH_SCHEDULE: &str = "0 0 * * * *";
    /// When every pulling connector takes its census of deleted and moved issues.
    pub const CENSUS_SCHEDULE: &str = "0 30 3 * * *";
    /// How many sync runs may be in flight at once, all sites together.
    pub const MAX_RUNS_IN_FLIGHT: i64 = 32;
}

/// `jira-sync.toml`: daemon-wide settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDaemon {
    /// Directory of the sled database and the OAuth token vault; relative to the config
    /// directory. Default: `$STATE_DIRECTORY` (systemd `StateDirectory=`), else `/var/lib/jira-sync`.
    pub state_dir: Option<PathBuf>,
    /// Address of `/metrics`, `/healthz`, `/readyz`, `/status` and `/v1`. Default `127.0.0.1:9464`.
    pub listen: Option<String>,
    /// `json` (default, for journald and log shippers) or `pretty` (for a terminal).
    pub log_format: Option<String>,
    /// Base URL of Atlassian's API gateway; overridable for the simulator.
    pub gateway_url: Option<String>,
    /// Base URL of Atlassian's authorization server; overridable for the simulator.
    pub auth_url: Option<String>,
    /// Bearer token of the `/v1` hub API; absent means the API is off.
    pub api_token: Option<SecretRef>,
    /// How long `SIGTERM` waits for running cycles to finish their page and commit. Default `30s`.
    pub shutdown_grace: Option<String>,
    /// A sync run longer than this is told to stop and commit. Default `1h`.
    pub run_timeout: Option<String>,
    /// When each site's credential is probed (cron with seconds, UTC). Default hourly.
    pub health_schedule: Option<String>,
    /// When each pulling connector takes its census (cron with seconds, UTC). Default daily.
    pub census_schedule: Option<String>,
    /// How many sync runs may be in flight at once, all sites together; a due run waits
    /// for a free slot (its lateness counts the wait). Bounds the daemon's memory during
    /// initial syncs, when every run holds its project's issues. Default 32.
    pub max_runs_in_flight: Option<Whole>,
    /// Address of the listener for Jira's webhook deliveries, e.g. `127.0.0.1:9465` behind a
    /// reverse proxy; absent means no listener (polling only).
    pub webhook_listen: Option<String>,
    /// The public URL Jira calls (the reverse proxy's); a site's deliveries go to
    /// `webhook_url/SITE`. Needed when a site has `webhooks = true`.
    pub webhook_url: Option<String>,
}

/// `sites.d/NAME.toml`: one Jira Cloud site.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSite {
    /// The site's name in metrics, logs and `mirror`; default: the file stem.
    pub name: Option<String>,
    /// The site URL, `https://NAME.atlassian.net`.
    pub url: Option<String>,
    /// The site's cloud ID; optional, resolved from `/_edge/tenant_info` and cached.
    pub cloud_id: Option<String>,
    /// How the daemon authenticates to this site.
    pub auth: Option<RawAuth>,
    /// Request rate and concurrency towards this site.
    pub limits: Option<RawLimits>,
    /// The connectors of this site (`[[connector]]`).
    pub connector: Option<Vec<RawConnector>>,
    /// Whether Jira's webhook deliveries trigger this site's runs (default false). `oauth2`
    /// sites register a dynamic webhook themselves; other sites need an admin webhook and
    /// `webhook_secret`.
    pub webhooks: Option<bool>,
    /// The secret of the site's admin webhook (`X-Hub-Signature`); sites that are not
    /// `oauth2` need it with `webhooks = true`.
    pub webhook_secret: Option<SecretRef>,
}

/// `[auth]` of a site; which keys are needed depends on `method`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    /// `api_token`, `service_account`, `oauth2` or `client_credentials`.
    pub method: Option<String>,
    /// Account email (`api_token`, `service_account`).
    pub email: Option<String>,
    /// API token (`api_token`, `service_account`).
    pub token: Option<SecretRef>,
    /// Declared expiry of the API token, `YYYY-MM-DD` or RFC 3339 (`api_token`, `service_account`).
    pub expires_at: Option<String>,
    /// OAuth 2.0 client ID (`oauth2`, `client_credentials`).
    pub client_id: Option<String>,
    /// OAuth 2.0 client secret (`oauth2`, `client_credentials`).
    pub client_secret: Option<SecretRef>,
    /// First refresh token for the vault when it holds none (`oauth2`); the vault's copy wins
    /// after the first rotation. Usually `jira-sync auth login` fills the vault instead.
    pub refresh_token: Option<SecretRef>,
}

/// `[limits]` of a site.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    /// Sustained requests per second to this site. Default 10.
    pub requests_per_second: Option<Whole>,
    /// Requests that may go at once after a quiet period. Default 20.
    pub burst: Option<Whole>,
    /// Requests in flight to this site at once. Default 4.
    pub max_concurrency: Option<Whole>,
}

/// `[[connector]]`: one project (or JQL scope) of the site kept in sync with the hub.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConnector {
    /// Unique within the site; used in metrics and in `mirror` as `site/name`.
    pub name: Option<String>,
    /// Jira project key, e.g. `SEC`.
    pub project: Option<String>,
    /// Extra JQL filter, ANDed with the project.
    pub jql: Option<String>,
    /// Cron with seconds (6 or 7 fields), in UTC. Default `0 */5 * * * *`.
    pub schedule: Option<String>,
    /// `pull`, `push` or `both` (default).
    pub direction: Option<String>,
    /// Other connectors (`site/connector`) that share records with this one.
    pub mirror: Option<Vec<String>>,
    /// Who wins when both sides changed a field: `newest` (default), `jira` or `hub`.
    pub conflict: Option<String>,
    /// How far each pull reaches back behind its watermark, e.g. `5m` (default).
    pub overlap: Option<String>,
    /// Delete mirrored issues when their source is deleted. Default false: mark only.
    pub propagate_deletes: Option<bool>,
    /// Hub field name -> Jira field id, e.g. `severity = "customfield_10042"`.
    pub fields: Option<BTreeMap<String, String>>,
    /// Jira status name -> hub status.
    pub statuses: Option<BTreeMap<String, String>>,
    /// Hub issue type -> this project's issue type name, for sites that name types
    /// differently (`bug = "Defect"`). Default: the same name. Unmapped types are reported.
    pub issuetypes: Option<BTreeMap<String, String>>,
    /// The resolution a transition that requires one gets when the source issue has none
    /// (or one this project does not offer), e.g. `"Done"`. Default: none, and such a
    /// transition is parked and reported.
    pub resolution: Option<String>,
    /// Which comments are written to this connector's issues: `public` (default: only
    /// comments without a role or group restriction that are not internal notes) or `all`
    /// (restricted ones with the same restriction).
    pub comments: Option<String>,
    /// Whether files attached to issues are mirrored both ways. Default false.
    pub attachments: Option<bool>,
    /// The largest file mirrored: bytes, or a size with a unit (`"10MiB"`, `"500 KB"`).
    /// Default `"10MiB"`; larger files are reported, not copied.
    pub max_attachment_size: Option<toml_size::Size>,
}

/// A size given as bytes or as a string with a unit.
pub mod toml_size {
    /// `max_attachment_size` as written.
    #[derive(Debug, Clone, serde::Deserialize)]
    #[serde(untagged)]
    pub enum Size {
        Bytes(i64),
        /// A number that is not a whole number of bytes: refused with the key's message.
        Fraction(f64),
        Text(String),
    }

    impl Size {
        /// Bytes of a size: a number, or a number and a unit (`B`, `KB`/`MB`/`GB`/`TB` in powers
        /// of 1000, `KiB`/`MiB`/`GiB`/`TiB` in powers of 1024; case-insensitive, spaces allowed).
        pub fn bytes(&self) -> Option<u64> {
            let text = match self {
                Size::Bytes(n) => return u64::try_from(*n).ok(),
                Size::Fraction(_) => return None,
                Size::Text(t) => t.trim(),
            };
            let split = text
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(text.len());
            let (number, unit) = text.split_at(split);
            let number: f64 = number.parse().ok()?;
            let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
                "" | "b" => 1,
                "kb" => 1_000,
                "mb" => 1_000_000,
                "gb" => 1_000_000_000,
                "tb" => 1_000_000_000_000,
                "kib" => 1 << 10,
                "mib" => 1 << 20,
                "gib" => 1 << 30,
                "tib" => 1 << 40,
                _ => return None,
            };
            let bytes = number * factor as f64;
            (bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
        }
    }
}

/// A whole number as written: `1.5`, `true` or `"1.5"` are refused where the `config` crate
/// would round or convert them (`burst = 1.5` became 2). Digits in a string are read, as an
/// environment override (`JIRA_SYNC__LIMITS__BURST=20`) arrives as one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Whole(pub i64);

impl<'de> Deserialize<'de> for Whole {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Whole, D::Error> {
        struct WholeVisitor;
        impl Visitor<'_> for WholeVisitor {
            type Value = Whole;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a whole number")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Whole, E> {
                Ok(Whole(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Whole, E> {
                i64::try_from(v)
                    .map(Whole)
                    .map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Whole, E> {
                v.parse()
                    .map(Whole)
                    .map_err(|_| E::invalid_value(Unexpected::Str(v), &self))
            }
        }
        d.deserialize_any(WholeVisitor)
    }
}
