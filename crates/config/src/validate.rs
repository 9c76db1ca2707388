//! Raw -> checked: every rule, every problem of a file collected before giving up on it.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::num::{NonZeroU32, NonZeroUsize};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use url::{Host, Url};

use crate::error::Problems;
use crate::load::InlineRule;
use crate::model::*;
use crate::raw::{RawAuth, RawConnector, RawDaemon, RawLimits, RawSite, Whole, defaults};
use crate::secret::{Resolver, Secret, SecretRef};

mod across; // Checks across files: site names, mirror references.
mod webhooks; // A site's webhook secret.
pub(crate) use across::{Outline, across_sites};

/// What validation of one file needs besides the raw struct.
#[derive(Debug)]
pub(crate) struct Context<'a> {
    resolver: Resolver<'a>,
    inline: InlineRule,
}

impl<'a> Context<'a> {
    pub(crate) fn new(
        config_dir: &'a Path,
        env: &'a BTreeMap<String, String>,
        inline: InlineRule,
    ) -> Self {
        Context {
            resolver: Resolver { config_dir, env },
            inline,
        }
    }
}

/// Site and connector names: lower case (environment overrides are lower-cased), and safe
/// in metric labels, file names and `site/connector` references.
pub(crate) fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.len() <= 63
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

const NAME_RULE: &str = "lower-case letters, digits, `-` and `_`, starting with a letter or digit, at most 63 characters";

pub(crate) fn daemon(
    raw: RawDaemon,
    dir: &Path,
    env: &BTreeMap<String, String>,
    cx: &Context<'_>,
    p: &mut Problems<'_>,
) -> Option<Daemon> {
    let state_dir = match raw.state_dir {
        Some(d) if d.as_os_str().is_empty() => {
            p.push(
                "state_dir",
                "is empty; give a directory for the state database",
            );
            None
        }
        Some(d) => Some(dir.join(d)),
        None => Some(
            env.get("STATE_DIRECTORY")
                // systemd may list several directories separated by `:`; ours is the first.
                .and_then(|s| s.split(':').next())
                .map_or_else(|| PathBuf::from(defaults::STATE_DIR), PathBuf::from),
        ),
    };
    let listen_str = raw.listen.as_deref().unwrap_or(defaults::LISTEN);
    let listen = listen_str
        .parse::<SocketAddr>()
        .map_err(|_| {
            p.push(
                "listen",
                format!(
                    "`{listen_str}` is not an address; expected IP:PORT, e.g. \"127.0.0.1:9464\""
                ),
            )
        })
        .ok();
    let log_format = one_of(
        raw.log_format.as_deref(),
        defaults::LOG_FORMAT,
        "log_format",
        &[("json", LogFormat::Json), ("pretty", LogFormat::Pretty)],
        p,
    );
    let gateway_url = url_or_default(
        raw.gateway_url.as_deref(),
        defaults::GATEWAY_URL,
        "gateway_url",
        p,
    );
    let auth_url = url_or_default(raw.auth_url.as_deref(), defaults::AUTH_URL, "auth_url", p);
    let api_token = secret(raw.api_token.as_ref(), "api_token", cx, p);
    let mut duration = |value: Option<&str>, default: &str, key: &str| {
        let v = value.unwrap_or(default);
        humantime::parse_duration(v)
            .ok()
            .filter(|d| !d.is_zero())
            .or_else(|| {
                p.push(
                    key,
                    format!("`{v}` is not a duration; expected e.g. \"{default}\""),
                );
                None
            })
    };
    let shutdown_grace = duration(
        raw.shutdown_grace.as_deref(),
        defaults::SHUTDOWN_GRACE,
        "shutdown_grace",
    );
    let run_timeout = duration(
        raw.run_timeout.as_deref(),
        defaults::RUN_TIMEOUT,
        "run_timeout",
    );
    let mut schedule = |value: Option<&str>, default: &str, key: &str| {
        Schedule::parse(value.unwrap_or(default))
            .map_err(|e| p.push(key, e))
            .ok()
    };
    let health_schedule = schedule(
        raw.health_schedule.as_deref(),
        defaults::HEALTH_SCHEDULE,
        "health_schedule",
    );
    let census_schedule = schedule(
        raw.census_schedule.as_deref(),
        defaults::CENSUS_SCHEDULE,
        "census_schedule",
    );
    let max_runs_in_flight = positive(
        raw.max_runs_in_flight,
        defaults::MAX_RUNS_IN_FLIGHT,
        "max_runs_in_flight",
        p,
    );
    let webhook_listen = match raw.webhook_listen.as_deref() {
        None => Some(None),
        Some(s) => s
            .parse::<SocketAddr>()
            .map(Some)
            .map_err(|_| {
                p.push(
                    "webhook_listen",
                    format!("`{s}` is not an address; expected IP:PORT, e.g. \"127.0.0.1:9465\""),
                )
            })
            .ok(),
    };
    let webhook_url = match raw.webhook_url.as_deref() {
        None => Some(None),
        Some(u) => check_url(u, "webhook_url", p).map(Some),
    };
    // The same port on the same address, or on any address where one of them is the
    // wildcard (0.0.0.0 or ::), cannot be bound twice; port 0 is any free port.
    if let (Some(Some(a)), Some(l)) = (webhook_listen, listen)
        && a.port() == l.port()
        && a.port() != 0
        && (a.ip() == l.ip() || a.ip().is_unspecified() || l.ip().is_unspecified())
    {
        p.push(
            "webhook_listen",
            format!("`{a}` takes the port `listen` ({l}) binds; deliveries need their own port"),
        );
    }
    Some(Daemon {
        webhook_listen: webhook_listen?,
        webhook_url: webhook_url?,
        max_runs_in_flight: NonZeroUsize::new(max_runs_in_flight? as usize)?,
        shutdown_grace: shutdown_grace?,
        run_timeout: run_timeout?,
        health_schedule: health_schedule?,
        census_schedule: census_schedule?,
        state_dir: state_dir?,
        listen: listen?,
        log_format: log_format?,
        gateway_url: gateway_url?,
        auth_url: auth_url?,
        api_token: match (raw.api_token, api_token) {
            (None, _) => None,
            (Some(_), resolved) => Some(resolved?),
        },
    })
}

pub(crate) fn site(
    raw: RawSite,
    name: String,
    state_dir: Option<&Path>,
    cx: &Context<'_>,
    p: &mut Problems<'_>,
) -> Option<Site> {
    let name_ok = is_name(&name);
    if !name_ok {
        let key = if raw.name.is_some() { "name" } else { "" };
        p.push(
            key,
            format!(
                "site name `{name}` is not allowed ({NAME_RULE}); rename the file or set `name`"
            ),
        );
    }
    let url = match raw.url.as_deref() {
        None => {
            p.push(
                "url",
                "is missing; expected the site URL, e.g. \"https://acme.atlassian.net\"",
            );
            None
        }
        Some(u) => check_url(u, "url", p),
    };
    let cloud_id = match raw.cloud_id {
        Some(id) if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') => {
            p.push(
                "cloud_id",
                format!("`{id}` is not a cloud ID; expected the UUID from https://SITE.atlassian.net/_edge/tenant_info, or leave it out to have it resolved"),
            );
            None
        }
        other => Some(other),
    };
    let auth = match raw.auth {
        None => {
            p.push(
                "auth",
                "is missing; add an [auth] table with `method` = api_token, service_account, oauth2 or client_credentials",
            );
            None
        }
        Some(a) => auth(a, state_dir, cx, p),
    };
    let limits = limits(raw.limits.unwrap_or_default(), p);
    let webhooks = raw.webhooks.unwrap_or(false);
    let webhook_secret =
        webhooks::secret_of_site(raw.webhook_secret.as_ref(), webhooks, auth.as_ref(), cx, p);
    let mut seen = BTreeSet::new();
    let mut connectors = Some(Vec::new());
    for (i, c) in raw.connector.unwrap_or_default().into_iter().enumerate() {
        let key = match &c.name {
            Some(n) if is_name(n) => format!("connector.{n}"),
            _ => format!("connector[{i}]"),
        };
        if let Some(n) = &c.name
            && !seen.insert(n.clone())
        {
            p.push(
                format!("{key}.name"),
                format!("connector `{n}` is defined twice in this site; connector names must be unique within a site"),
            );
        }
        let checked = connector(c, &key, p);
        connectors = connectors.zip(checked).map(|(mut v, c)| {
            v.push(c);
            v
        });
    }
    if !name_ok {
        return None;
    }
    Some(Site {
        name,
        file: p.file.to_path_buf(),
        url: url?,
        cloud_id: cloud_id?,
        auth: auth?,
        limits: limits?,
        connectors: connectors?,
        webhooks,
        webhook_secret: webhook_secret?,
    })
}

fn auth(
    raw: RawAuth,
    state_dir: Option<&Path>,
    cx: &Context<'_>,
    p: &mut Problems<'_>,
) -> Option<Auth> {
    let Some(method) = raw.method.as_deref() else {
        p.push(
            "auth.method",
            "is missing; expected one of api_token, service_account, oauth2, client_credentials",
        );
        return None;
    };
    let Some(method) = AuthMethod::ALL.into_iter().find(|m| m.as_str() == method) else {
        p.push(
            "auth.method",
            format!("`{method}` is not a method; expected one of api_token, service_account, oauth2, client_credentials"),
        );
        return None;
    };
    let (needs, allowed): (&[&str], &[&str]) = match method {
        AuthMethod::ApiToken | AuthMethod::ServiceAccount => {
            (&["email", "token"], &["email", "token", "expires_at"])
        }
        AuthMethod::OAuth2 => (
            &["client_id", "client_secret"],
            &["client_id", "client_secret", "refresh_token"],
        ),
        AuthMethod::ClientCredentials => (
            &["client_id", "client_secret"],
            &["client_id", "client_secret"],
        ),
    };
    let present = [
        ("email", raw.email.is_some()),
        ("token", raw.token.is_some()),
        ("expires_at", raw.expires_at.is_some()),
        ("client_id", raw.client_id.is_some()),
        ("client_secret", raw.client_secret.is_some()),
        ("refresh_token", raw.refresh_token.is_some()),
    ];
    let mut complete = true;
    for (key, is_set) in present {
        if needs.contains(&key) && !is_set {
            complete = false;
            p.push(
                format!("auth.{key}"),
                format!("is missing; method {method} needs {}", needs.join(" and ")),
            );
        } else if is_set && !allowed.contains(&key) {
            complete = false;
            p.push(
                format!("auth.{key}"),
                format!(
                    "is not used by method {method}, which takes {}",
                    allowed.join(", ")
                ),
            );
        }
    }
    let expires_at = raw.expires_at.as_deref().and_then(|s| {
        parse_date(s)
            .map_err(|()| {
                p.push(
                    "auth.expires_at",
                    format!("`{s}` is not a date; expected YYYY-MM-DD (e.g. \"2027-10-01\") or an RFC 3339 time"),
                )
            })
            .ok()
    });
    let email = raw.email.as_deref().and_then(|e| {
        if e.contains('@') && !e.chars().any(char::is_whitespace) {
            Some(e.to_owned())
        } else {
            p.push("auth.email", format!("`{e}` is not an email address"));
            None
        }
    });
    let client_id = raw.client_id.as_deref().and_then(|id| {
        if !id.is_empty() && !id.chars().any(char::is_whitespace) {
            Some(id.to_owned())
        } else {
            p.push(
                "auth.client_id",
                "must be the OAuth client ID, non-empty and without spaces",
            );
            None
        }
    });
    let token = secret(raw.token.as_ref(), "auth.token", cx, p);
    let client_secret = secret(raw.client_secret.as_ref(), "auth.client_secret", cx, p);
    let refresh_token = secret(raw.refresh_token.as_ref(), "auth.refresh_token", cx, p);
    if method == AuthMethod::OAuth2
        && let Some(dir) = state_dir
        && !can_hold_files(dir)
    {
        complete = false;
        p.push(
            "auth.method",
            format!(
                "oauth2 keeps its rotating refresh token in the token vault under state_dir, but {} is neither a directory nor creatable (its parent is missing); fix state_dir in jira-sync.toml",
                dir.display()
            ),
        );
    }
    if !complete || (raw.expires_at.is_some() && expires_at.is_none()) {
        return None;
    }
    Some(match method {
        AuthMethod::ApiToken | AuthMethod::ServiceAccount => {
            let t = ApiToken {
                email: email?,
                token: token?,
                expires_at,
            };
            if method == AuthMethod::ApiToken {
                Auth::ApiToken(t)
            } else {
                Auth::ServiceAccount(t)
            }
        }
        AuthMethod::OAuth2 => Auth::OAuth2(OAuth2 {
            client_id: client_id?,
            client_secret: client_secret?,
            initial_refresh_token: match raw.refresh_token {
                None => None,
                Some(_) => Some(refresh_token?),
            },
        }),
        AuthMethod::ClientCredentials => Auth::ClientCredentials(ClientCredentials {
            client_id: client_id?,
            client_secret: client_secret?,
        }),
    })
}

fn can_hold_files(dir: &Path) -> bool {
    if dir.exists() {
        return dir.is_dir();
    }
    dir.ancestors()
        .skip(1)
        .find(|a| a.exists())
        .is_some_and(Path::is_dir)
}

fn parse_date(s: &str) -> Result<DateTime<Utc>, ()> {
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        // The token stops working on that day; count from its first second, UTC.
        return Ok(d.and_hms_opt(0, 0, 0).ok_or(())?.and_utc());
    }
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|_| ())
}

fn limits(raw: RawLimits, p: &mut Problems<'_>) -> Option<Limits> {
    let rps = positive(
        raw.requests_per_second,
        defaults::REQUESTS_PER_SECOND,
        "limits.requests_per_second",
        p,
    );
    let burst = positive(raw.burst, defaults::BURST, "limits.burst", p);
    let conc = positive(
        raw.max_concurrency,
        defaults::MAX_CONCURRENCY,
        "limits.max_concurrency",
        p,
    );
    Some(Limits {
        requests_per_second: NonZeroU32::new(rps?)?,
        burst: NonZeroU32::new(burst?)?,
        max_concurrency: NonZeroUsize::new(conc? as usize)?,
    })
}

fn positive(v: Option<Whole>, default: i64, key: &str, p: &mut Problems<'_>) -> Option<u32> {
    let v = v.map_or(default, |w| w.0);
    match u32::try_from(v) {
        Ok(n) if n > 0 && n <= 100_000 => Some(n),
        _ => {
            p.push(
                key,
                format!("is {v}; expected a whole number from 1 to 100000"),
            );
            None
        }
    }
}

fn connector(raw: RawConnector, key: &str, p: &mut Problems<'_>) -> Option<Connector> {
    let name = match raw.name {
        None => {
            p.push(
                format!("{key}.name"),
                format!("is missing; every [[connector]] needs a name ({NAME_RULE})"),
            );
            None
        }
        Some(n) if !is_name(&n) => {
            p.push(
                format!("{key}.name"),
                format!("`{n}` is not allowed ({NAME_RULE})"),
            );
            None
        }
        Some(n) => Some(n),
    };
    let project = match raw.project {
        None => {
            p.push(
                format!("{key}.project"),
                "is missing; expected a Jira project key, e.g. \"SEC\"",
            );
            None
        }
        Some(k) if !is_project_key(&k) => {
            p.push(
                format!("{key}.project"),
                format!("`{k}` is not a Jira project key; expected an upper-case letter followed by upper-case letters, digits or `_`, e.g. \"SEC\""),
            );
            None
        }
        Some(k) => Some(k),
    };
    let jql = match raw.jql {
        Some(q) if q.trim().is_empty() => {
            p.push(
                format!("{key}.jql"),
                "is empty; leave it out or give a JQL filter, e.g. \"labels = security\"",
            );
            None
        }
        other => Some(other),
    };
    let expr = raw.schedule.as_deref().unwrap_or(defaults::SCHEDULE);
    let schedule = Schedule::parse(expr)
        .map_err(|e| p.push(format!("{key}.schedule"), e))
        .ok();
    let direction = one_of(
        raw.direction.as_deref(),
        defaults::DIRECTION,
        &format!("{key}.direction"),
        &[
            ("pull", Direction::Pull),
            ("push", Direction::Push),
            ("both", Direction::Both),
        ],
        p,
    );
    let conflict = one_of(
        raw.conflict.as_deref(),
        defaults::CONFLICT,
        &format!("{key}.conflict"),
        &[
            ("newest", ConflictPolicy::Newest),
            ("jira", ConflictPolicy::Jira),
            ("hub", ConflictPolicy::Hub),
        ],
        p,
    );
    let comments = one_of(
        raw.comments.as_deref(),
        "public",
        &format!("{key}.comments"),
        &[
            ("public", CommentAudience::Public),
            ("all", CommentAudience::All),
        ],
        p,
    );
    let max_attachment_size = match &raw.max_attachment_size {
        None => Some(defaults::MAX_ATTACHMENT_SIZE),
        Some(s) => match s.bytes() {
            Some(n) if n > 0 => Some(n),
            _ => {
                p.push(
                    format!("{key}.max_attachment_size"),
                    "expected a whole number of bytes above 0, or a number with a unit: B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024), e.g. \"10MiB\"",
                );
                None
            }
        },
    };
    let overlap_str = raw.overlap.as_deref().unwrap_or(defaults::OVERLAP);
    let overlap = match humantime::parse_duration(overlap_str) {
        Ok(d) if d >= Duration::from_secs(60) && d <= Duration::from_secs(24 * 3600) => Some(d),
        _ => {
            p.push(
                format!("{key}.overlap"),
                format!("`{overlap_str}` is not allowed; expected a duration from 1m to 24h, e.g. \"5m\" (JQL dates have minute granularity)"),
            );
            None
        }
    };
    let mut issuetypes = Some(BTreeMap::new());
    for (hub, name) in raw.issuetypes.unwrap_or_default() {
        if hub.trim().is_empty() || name.trim().is_empty() || name.chars().count() > 255 {
            p.push(
                format!("{key}.issuetypes.{hub}"),
                "expected `hub type = \"issue type name of this project\"`, e.g. `bug = \"Defect\"`".to_owned(),
            );
            issuetypes = None;
        } else if let Some(m) = issuetypes.as_mut() {
            m.insert(hub, name.trim().to_owned());
        }
    }
    let resolution = match raw.resolution.as_deref().map(str::trim) {
        None => Some(None),
        Some(r) if !r.is_empty() && r.chars().count() <= 255 => Some(Some(r.to_owned())),
        Some(_) => {
            p.push(
                format!("{key}.resolution"),
                "expected a resolution name of this project, e.g. \"Done\"".to_owned(),
            );
            None
        }
    };
    let mut mirror = Some(Vec::new());
    for m in raw.mirror.unwrap_or_default() {
        let r = m
            .parse::<ConnectorRef>()
            .map_err(|e| p.push(format!("{key}.mirror"), e))
            .ok();
        mirror = mirror.zip(r).map(|(mut v, r)| {
            v.push(r);
            v
        });
    }
    let fields = raw.fields.unwrap_or_default();
    let mut fields_ok = true;
    for (hub, jira) in &fields {
        if !is_field_id(jira) {
            fields_ok = false;
            p.push(
                format!("{key}.fields.{hub}"),
                format!("`{jira}` is not a Jira field id; expected `customfield_NNNNN` or a system field id such as \"duedate\""),
            );
        }
    }
    let statuses = raw.statuses.unwrap_or_default();
    let mut statuses_ok = true;
    if let Some(d) = direction
        && d.pushes()
    {
        let mut by_hub: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (jira, hub) in &statuses {
            by_hub.entry(hub).or_default().push(jira);
        }
        for (hub, jiras) in by_hub.iter().filter(|(_, j)| j.len() > 1) {
            statuses_ok = false;
            p.push(
                format!("{key}.statuses"),
                format!(
                    "Jira statuses {} all map to hub status `{hub}`, so a push of `{hub}` is ambiguous; with direction `{}` each hub status may come from one Jira status only",
                    jiras.iter().map(|j| format!("`{j}`")).collect::<Vec<_>>().join(", "),
                    d.as_str()
                ),
            );
        }
    }
    Some(Connector {
        name: name?,
        project: project?,
        jql: jql?,
        schedule: schedule?,
        direction: direction?,
        mirror: mirror?,
        conflict: conflict?,
        overlap: overlap?,
        propagate_deletes: raw.propagate_deletes.unwrap_or(false),
        resolution: resolution?,
        issuetypes: issuetypes?,
        comments: comments?,
        attachments: raw.attachments.unwrap_or(false),
        max_attachment_size: max_attachment_size?,
        fields: fields_ok.then_some(fields)?,
        statuses: statuses_ok.then_some(statuses)?,
    })
}

fn is_project_key(k: &str) -> bool {
    let mut chars = k.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_uppercase())
        && k.len() <= 255
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

fn is_field_id(f: &str) -> bool {
    match f.strip_prefix("customfield_") {
        Some(n) => !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()),
        None => {
            let mut chars = f.chars();
            matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
                && chars.all(|c| c.is_ascii_alphanumeric())
        }
    }
}

fn one_of<T: Copy>(
    v: Option<&str>,
    default: &str,
    key: &str,
    allowed: &[(&str, T)],
    p: &mut Problems<'_>,
) -> Option<T> {
    let v = v.unwrap_or(default);
    let found = allowed.iter().find(|(name, _)| *name == v).map(|(_, t)| *t);
    if found.is_none() {
        let names: Vec<_> = allowed.iter().map(|(n, _)| *n).collect();
        p.push(
            key,
            format!("`{v}` is not allowed; expected one of {}", names.join(", ")),
        );
    }
    found
}

fn url_or_default(v: Option<&str>, default: &str, key: &str, p: &mut Problems<'_>) -> Option<Url> {
    check_url(v.unwrap_or(default), key, p)
}

/// A URL the daemon may send credentials to: `https://`, or `http://` on loopback only.
fn check_url(s: &str, key: &str, p: &mut Problems<'_>) -> Option<Url> {
    let mut url = match Url::parse(s) {
        Ok(u) => u,
        Err(e) => {
            p.push(
                key,
                format!(
                    "`{s}` is not a URL ({e}); expected e.g. \"{}\"",
                    if key == "webhook_url" {
                        "https://hooks.example.com/jira"
                    } else {
                        "https://acme.atlassian.net"
                    }
                ),
            );
            return None;
        }
    };
    let loopback = match url.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    let problem = match url.scheme() {
        "https" if url.host().is_some() => None,
        "http" if loopback => None,
        "http" => Some("uses http:// on a non-loopback host; use https:// (http:// is allowed only for 127.0.0.1, ::1 and localhost)"),
        _ => Some("must be an https:// URL (or http:// on loopback)"),
    }
    .or_else(|| {
        (!url.username().is_empty() || url.password().is_some())
            .then_some("must not carry a user name or password; credentials belong in [auth]")
    })
    .or_else(|| (url.query().is_some() || url.fragment().is_some()).then_some("must not have a query or fragment"));
    if let Some(why) = problem {
        // The URL is echoed only when it carries no credentials.
        let shown = if url.password().is_some() {
            "the URL".to_owned()
        } else {
            format!("`{s}`")
        };
        p.push(key, format!("{shown} {why}"));
        return None;
    }
    let trimmed = url.path().trim_end_matches('/').to_owned();
    url.set_path(&trimmed);
    Some(url)
}

fn secret(
    r: Option<&SecretRef>,
    key: &str,
    cx: &Context<'_>,
    p: &mut Problems<'_>,
) -> Option<Secret> {
    let r = r?;
    if matches!(r, SecretRef::Inline(_)) && !cx.inline.allows(key) {
        p.push(
            key,
            crate::secret::exposed(
                "is a secret written inline in a file that group or others can read",
                "move the value to a token file, { file = \"secrets/NAME.token\" } owned root:jira-sync 0640, or { env = \"VAR\" }; or chown this file to the user the service runs as and chmod it 0600",
            ),
        );
        return None;
    }
    cx.resolver.resolve(r).map_err(|e| p.push(key, e)).ok()
}
