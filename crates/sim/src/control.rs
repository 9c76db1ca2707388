//! The control API: set up sites and act on them as a person would. Tests call [`Control`]
//! directly; `/_sim/...` (see `control_http`) and `--seed` files use the same specs.

use std::collections::BTreeSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::JiraError;
use crate::faults::{FaultSpec, SiteFaults};
use crate::limits::{LimitsSpec, RateLimitStats, SiteLimits};
use crate::model::{Account, Credential, CredentialKind, Project, Site, WorkflowSpec, World, lock};
use crate::render::{self, FieldSelection};
use crate::write;

mod comments; // Comments as people write them, roles and groups.
mod fields; // Custom fields and their options.
mod media; // Attachments.
mod oauth; // The OAuth part of the control API.
mod webhooks; // Webhooks: registered, delivered, faults.
pub use webhooks::{AdminWebhookSpec, WebhookView};

pub use comments::{AudienceSpec, CommentOptions};
pub use fields::FieldSpec;
pub use media::AttachmentInfo;

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("no site named `{0}`")]
    UnknownSite(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error("Jira refused the change: {}", .0.body())]
    Jira(JiraError),
}

impl From<JiraError> for ControlError {
    fn from(e: JiraError) -> Self {
        ControlError::Jira(e)
    }
}

/// A site and, optionally, everything in it (the seed file's `[[site]]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteSpec {
    pub name: String,
    /// Default: derived from the name (stable across runs).
    pub cloud_id: Option<String>,
    #[serde(default)]
    pub accounts: Vec<AccountSpec>,
    #[serde(default)]
    pub workflows: Vec<WorkflowSpec>,
    #[serde(default)]
    pub fields: Vec<FieldSpec>,
    #[serde(default)]
    pub projects: Vec<ProjectSpec>,
    #[serde(default)]
    pub credentials: Vec<CredentialSpec>,
    /// Rate limits; default Atlassian's burst rates and per-issue write limits.
    pub limits: Option<LimitsSpec>,
    /// Faults in front of the site; default none.
    pub faults: Option<FaultSpec>,
    /// How long writes take to reach search; default 0.
    pub search_lag_seconds: Option<f64>,
    /// Faults of webhook deliveries (delay, drops, duplicates); default none.
    pub webhook_faults: Option<crate::webhooks::WebhookFaults>,
    /// The site's default user time zone (IANA), in which date-time fields read; default
    /// `UTC`.
    pub time_zone: Option<String>,
    /// Project roles (modelled site-wide) with their members, for comment visibility.
    #[serde(default)]
    pub roles: Vec<AudienceSpec>,
    /// Groups with their members, for comment visibility.
    #[serde(default)]
    pub groups: Vec<AudienceSpec>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountSpec {
    /// Default: derived from the display name.
    pub account_id: Option<String>,
    pub display_name: String,
    pub email: Option<String>,
    /// Whether other users see the email. Default true.
    pub email_visible: Option<bool>,
    /// IANA zone, e.g. `Europe/Berlin`. Default `UTC`.
    pub time_zone: Option<String>,
    /// `atlassian` (default) or `app` (service accounts).
    pub account_type: Option<String>,
    /// Whether issues may be assigned to it. Default true.
    pub assignable: Option<bool>,
    /// Whether it may read workflow definitions (`readWorkflows`: *Administer Jira*, or
    /// *Administer projects* / *View (read-only) workflow*). Default false, as for most
    /// integration accounts.
    pub view_workflows: Option<bool>,
    /// Whether it has the *Administer Jira* global permission (admin webhooks, section
    /// 9.2). Default false.
    pub administer_jira: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialSpec {
    pub kind: CredentialKind,
    /// The account, by account id or email.
    pub account: String,
    /// Default: a generated fake token.
    pub token: Option<String>,
    /// `YYYY-MM-DD` or RFC 3339; default: never.
    pub expires_at: Option<String>,
    /// Granted scopes (scoped and service-account tokens).
    #[serde(default)]
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectSpec {
    pub key: String,
    pub name: Option<String>,
    /// A workflow of the site; default `default` (To Do, In Progress, Done).
    pub workflow: Option<String>,
    /// Issue type names; default Task, Bug, Story, Epic.
    pub issue_types: Option<Vec<String>>,
    /// Issues to generate at once.
    pub seed_issues: Option<usize>,
    /// Seed of the generator. Default 1.
    pub seed: Option<u64>,
    /// Reporter of generated issues (account id or email); default the first account.
    pub seed_as: Option<String>,
    /// The priority names the project's priority scheme offers (default: all five); any
    /// other priority is refused per field ("The priority selected is invalid.").
    pub priorities: Option<Vec<String>>,
    /// A team-managed project: its issue types (`issue_types`, default Task, Bug, Story,
    /// Epic, Sub-task) are its own, with ids of their own and `scope` naming the project,
    /// so a create that names the type (resolved across the site) is refused; by id works.
    pub team_managed: Option<bool>,
    /// Field ids the project's create and edit screens leave out (`priority`,
    /// `customfield_10042`, ...): a create or edit that sets one is refused for it ("Field
    /// 'x' cannot be set. It is not on the appropriate screen, or unknown."), and create
    /// metadata does not list it.
    pub hidden_fields: Option<Vec<String>>,
    /// A Jira Service Management project: its comments read with `jsdPublic` (false for
    /// internal notes). Default false.
    pub service_desk: Option<bool>,
    /// The project's components, by name (each gets an id of this site).
    #[serde(default)]
    pub components: Vec<String>,
    /// The project's versions, by name (each gets an id of this site).
    #[serde(default)]
    pub versions: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SiteInfo {
    pub name: String,
    #[serde(rename = "cloudId")]
    pub cloud_id: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CredentialInfo {
    pub id: String,
    pub account_id: String,
    /// The token itself: test infrastructure hands it to the test that asked for it.
    pub token: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Counter {
    pub site: String,
    pub route: String,
    pub method: String,
    pub status: u16,
    pub count: u64,
}

fn stable_hash(s: &str) -> u64 {
    let mut h = DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

/// A UUID-shaped id derived from `seed`, stable across runs.
pub fn derived_uuid(seed: &str) -> String {
    let a = stable_hash(seed);
    let b = stable_hash(&format!("{seed}#2"));
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    )
}

/// Parses `YYYY-MM-DD` (start of day, UTC) or RFC 3339.
pub fn parse_instant(s: &str) -> Result<DateTime<Utc>, ControlError> {
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight").and_utc());
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            ControlError::Invalid(format!("`{s}` is not a date (YYYY-MM-DD) or RFC 3339 time"))
        })
}

/// The in-process control handle.
#[derive(Debug, Clone)]
pub struct Control {
    world: Arc<World>,
}

impl Control {
    pub fn new(world: Arc<World>) -> Self {
        Control { world }
    }

    pub fn world(&self) -> &Arc<World> {
        &self.world
    }

    fn with_site<T>(
        &self,
        site: &str,
        f: impl FnOnce(&mut Site) -> Result<T, ControlError>,
    ) -> Result<T, ControlError> {
        let s = self
            .world
            .site(site)
            .ok_or_else(|| ControlError::UnknownSite(site.to_owned()))?;
        let mut guard = lock(&s);
        f(&mut guard)
    }

    /// Creates a site with everything its spec lists.
    pub fn create_site(&self, spec: SiteSpec) -> Result<SiteInfo, ControlError> {
        if spec.name.is_empty()
            || !spec
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(ControlError::Invalid(format!(
                "site name `{}` must be letters, digits, `-` or `_`",
                spec.name
            )));
        }
        let cloud_id = spec
            .cloud_id
            .clone()
            .unwrap_or_else(|| derived_uuid(&format!("cloud:{}", spec.name)));
        if !self.world.insert_site(Site::new(&spec.name, &cloud_id)) {
            return Err(ControlError::Conflict(format!(
                "site `{}` or cloud ID {cloud_id} exists already",
                spec.name
            )));
        }
        for a in spec.accounts {
            self.create_account(&spec.name, a)?;
        }
        self.create_audiences(&spec.name, &spec.roles, &spec.groups)?;
        if let Some(tz) = &spec.time_zone {
            let tz: chrono_tz::Tz = tz.parse().map_err(|_| {
                ControlError::Invalid(format!("time zone `{tz}` is not an IANA zone"))
            })?;
            self.with_site(&spec.name, |s| {
                s.default_time_zone = tz;
                Ok(())
            })?;
        }
        for w in spec.workflows {
            self.create_workflow(&spec.name, w)?;
        }
        for f in spec.fields {
            self.create_field(&spec.name, f)?;
        }
        for c in spec.credentials {
            self.create_credential(&spec.name, c)?;
        }
        for p in spec.projects {
            self.create_project(&spec.name, p)?;
        }
        // Limits and faults apply once seeding is done: they stand in front of the API, not
        // of the seed.
        if let Some(limits) = spec.limits {
            self.set_limits(&spec.name, limits)?;
        }
        if let Some(faults) = spec.faults {
            self.set_faults(&spec.name, faults)?;
        }
        // The seeded issues are old and indexed; the lag applies to what is written next.
        if let Some(f) = spec.webhook_faults {
            self.set_webhook_faults(&spec.name, f)?;
        }
        if let Some(lag) = spec.search_lag_seconds {
            self.set_search_lag(&spec.name, lag)?;
        }
        Ok(SiteInfo {
            name: spec.name,
            cloud_id,
        })
    }

    pub fn sites(&self) -> Vec<SiteInfo> {
        self.world
            .site_names()
            .into_iter()
            .filter_map(|n| {
                let s = self.world.site(&n)?;
                let cloud_id = lock(&s).cloud_id.clone();
                Some(SiteInfo { name: n, cloud_id })
            })
            .collect()
    }

    /// The account id of the account with this email (or id) on `site`.
    pub fn account_id(&self, site: &str, email: &str) -> Result<String, ControlError> {
        self.with_site(site, |s| account_ref(s, email))
    }

    pub fn create_account(&self, site: &str, spec: AccountSpec) -> Result<String, ControlError> {
        let tz_name = spec.time_zone.as_deref().unwrap_or("UTC");
        let time_zone = tz_name
            .parse()
            .map_err(|_| ControlError::Invalid(format!("`{tz_name}` is not an IANA time zone")))?;
        let account_id = spec.account_id.unwrap_or_else(|| {
            format!(
                "712020:{}",
                derived_uuid(&format!("{site}:{}", spec.display_name))
            )
        });
        self.with_site(site, |s| {
            if s.accounts.contains_key(&account_id) {
                return Err(ControlError::Conflict(format!(
                    "account {account_id} exists already"
                )));
            }
            s.accounts.insert(
                account_id.clone(),
                Account {
                    account_id: account_id.clone(),
                    display_name: spec.display_name,
                    email: spec.email,
                    email_visible: spec.email_visible.unwrap_or(true),
                    time_zone,
                    account_type: spec.account_type.unwrap_or_else(|| "atlassian".into()),
                    assignable: spec.assignable.unwrap_or(true),
                    view_workflows: spec.view_workflows.unwrap_or(false),
                    administer_jira: spec.administer_jira.unwrap_or(false),
                    captcha_after: None,
                },
            );
            Ok(account_id.clone())
        })
    }

    pub fn create_credential(
        &self,
        site: &str,
        spec: CredentialSpec,
    ) -> Result<CredentialInfo, ControlError> {
        let expires_at = spec.expires_at.as_deref().map(parse_instant).transpose()?;
        self.with_site(site, |s| {
            let account_id = account_ref(s, &spec.account)?;
            let n = s.credentials.len() + 1;
            let token = spec.token.unwrap_or_else(|| {
                format!(
                    "FAKE-sim-token-{}-{n}-{:016x}",
                    s.name,
                    stable_hash(&format!("{}{n}", s.cloud_id))
                )
            });
            if s.credentials.iter().any(|c| c.token == token) {
                return Err(ControlError::Conflict("that token is taken".into()));
            }
            let id = format!("cred-{n}");
            s.credentials.push(Credential {
                id: id.clone(),
                kind: spec.kind,
                account_id: account_id.clone(),
                token: token.clone(),
                expires_at,
                revoked: false,
                scopes: spec.scopes.into_iter().collect::<BTreeSet<_>>(),
                uses_left: None,
            });
            Ok(CredentialInfo {
                id,
                account_id,
                token,
            })
        })
    }

    pub fn revoke_credential(&self, site: &str, id: &str) -> Result<(), ControlError> {
        self.set_revoked(site, id, true)
    }

    /// Revokes a credential after it has authenticated `uses` more requests: a revocation
    /// that lands in the middle of a cycle, at a request the test chooses.
    pub fn revoke_credential_after(
        &self,
        site: &str,
        id: &str,
        uses: u64,
    ) -> Result<(), ControlError> {
        self.with_site(site, |s| {
            credential(s, id)?.uses_left = Some(Arc::new(AtomicU64::new(uses)));
            Ok(())
        })
    }

    /// Jira demands a CAPTCHA of `account` (an id or email) after it has authenticated
    /// `requests` more basic-auth requests (0: at once): from then on every basic-auth request
    /// of the account is answered `403` with `X-Authentication-Denied-Reason:
    /// CAPTCHA_CHALLENGE; login-url=...`, whatever its token, until [`Control::clear_captcha`].
    pub fn require_captcha(
        &self,
        site: &str,
        account: &str,
        requests: u64,
    ) -> Result<(), ControlError> {
        self.with_site(site, |s| {
            let id = account_ref(s, account)?;
            let a = s.accounts.get_mut(&id).expect("account_ref finds accounts");
            a.captcha_after = Some(Arc::new(AtomicU64::new(requests)));
            Ok(())
        })
    }

    /// A person signed in once through the web UI as `account`: the CAPTCHA is cleared.
    pub fn clear_captcha(&self, site: &str, account: &str) -> Result<(), ControlError> {
        self.with_site(site, |s| {
            let id = account_ref(s, account)?;
            s.accounts
                .get_mut(&id)
                .expect("account_ref finds accounts")
                .captcha_after = None;
            Ok(())
        })
    }

    /// Makes a revoked credential work again (an admin re-enabled the account).
    pub fn restore_credential(&self, site: &str, id: &str) -> Result<(), ControlError> {
        self.set_revoked(site, id, false)
    }

    fn set_revoked(&self, site: &str, id: &str, revoked: bool) -> Result<(), ControlError> {
        self.with_site(site, |s| {
            let c = credential(s, id)?;
            c.revoked = revoked;
            c.uses_left = None;
            Ok(())
        })
    }

    /// Makes a credential expire now.
    pub fn expire_credential(&self, site: &str, id: &str) -> Result<(), ControlError> {
        let now = self.world.clock().now();
        self.with_site(site, |s| {
            credential(s, id)?.expires_at = Some(now);
            Ok(())
        })
    }

    pub fn create_workflow(&self, site: &str, spec: WorkflowSpec) -> Result<(), ControlError> {
        self.with_site(site, |s| {
            s.add_workflow(&spec).map_err(ControlError::Invalid)
        })
    }

    /// Takes `reporter` off (or puts it back on) the site's screens: API writes that set it
    /// are then refused, as Jira does.
    /// Edits leave `assignee` as it was while answering 204 (`ignored`), as some Cloud sites
    /// do; `PUT /issue/{key}/assignee` still assigns.
    pub fn set_assignee_edit_ignored(&self, site: &str, ignored: bool) -> Result<(), ControlError> {
        self.with_site(site, |s| {
            s.assignee_edit_ignored = ignored;
            Ok(())
        })
    }

    pub fn set_reporter_on_screens(&self, site: &str, on: bool) -> Result<(), ControlError> {
        self.with_site(site, |s| {
            s.reporter_on_screens = on;
            Ok(())
        })
    }

    pub fn create_project(&self, site: &str, spec: ProjectSpec) -> Result<u64, ControlError> {
        let key = spec.key.clone();
        let id = self.with_site(site, |s| {
            if !key.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                || !key
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            {
                return Err(ControlError::Invalid(format!(
                    "project key `{key}` must be upper-case letters and digits"
                )));
            }
            if s.project_by_ref(&key).is_some() {
                return Err(ControlError::Conflict(format!(
                    "project {key} exists already"
                )));
            }
            let workflow = spec.workflow.clone().unwrap_or_else(|| "default".into());
            if !s.workflows.contains_key(&workflow) {
                return Err(ControlError::NotFound(format!("no workflow `{workflow}`")));
            }
            let id = 10000 + s.projects.len() as u64;
            let issue_types = match &spec.issue_types {
                _ if spec.team_managed == Some(true) => {
                    let defaults = ["Task", "Bug", "Story", "Epic", "Sub-task"];
                    let names: Vec<String> = spec
                        .issue_types
                        .clone()
                        .unwrap_or_else(|| defaults.iter().map(|n| (*n).to_owned()).collect());
                    let mut ids = Vec::new();
                    for name in names {
                        let level = match name.to_ascii_lowercase().as_str() {
                            "epic" => 1,
                            "sub-task" | "subtask" => -1,
                            _ => 0,
                        };
                        let tid = (20000 + s.issue_types.len()).to_string();
                        s.issue_types.push(crate::model::IssueType {
                            id: tid.clone(),
                            name,
                            hierarchy_level: level,
                            scope_project: Some(id),
                        });
                        ids.push(tid);
                    }
                    ids
                }
                None => s
                    .issue_types
                    .iter()
                    .filter(|t| t.scope_project.is_none())
                    .map(|t| t.id.clone())
                    .collect(),
                Some(names) => names
                    .iter()
                    .map(|n| {
                        s.issue_types
                            .iter()
                            .filter(|t| t.scope_project.is_none())
                            .find(|t| t.name.eq_ignore_ascii_case(n))
                            .map(|t| t.id.clone())
                            .ok_or_else(|| ControlError::NotFound(format!("no issue type `{n}`")))
                    })
                    .collect::<Result<_, _>>()?,
            };
            s.projects.push(Project {
                id,
                key: key.clone(),
                name: spec.name.clone().unwrap_or_else(|| key.clone()),
                workflow,
                issue_types,
                next_number: 1,
                priorities: spec.priorities.clone(),
                hidden_fields: spec.hidden_fields.clone().unwrap_or_default(),
                service_desk: spec.service_desk.unwrap_or(false),
                components: fields::named_ids(&s.name, &key, "component", &spec.components),
                versions: fields::named_ids(&s.name, &key, "version", &spec.versions),
            });
            Ok(id)
        })?;
        if let Some(n) = spec.seed_issues.filter(|n| *n > 0) {
            self.seed_issues(
                site,
                &key,
                n,
                spec.seed.unwrap_or(1),
                spec.seed_as.as_deref(),
            )?;
        }
        Ok(id)
    }

    /// Generates `count` realistic issues in `project`, deterministically from `seed`.
    pub fn seed_issues(
        &self,
        site: &str,
        project: &str,
        count: usize,
        seed: u64,
        as_account: Option<&str>,
    ) -> Result<Vec<String>, ControlError> {
        let now = self.world.clock().now();
        self.with_site(site, |s| {
            crate::seed::generate(s, project, count, seed, as_account, now)
        })
    }

    /// Creates an issue now, as `as_account` would in the UI; `body` as `POST /issue` takes it.
    pub fn create_issue(
        &self,
        site: &str,
        as_account: &str,
        body: &Value,
    ) -> Result<String, ControlError> {
        let now = self.world.clock().now();
        self.with_site(site, |s| {
            let who = account_ref(s, as_account)?;
            let id = write::create(s, now, &who, body)?;
            Ok(s.issues()[&id].key.clone())
        })
    }

    /// Edits an issue as `as_account` would through the UI: `fields` and `update` as in the API.
    pub fn edit_issue(
        &self,
        site: &str,
        issue: &str,
        as_account: &str,
        body: &Value,
    ) -> Result<(), ControlError> {
        let now = self.world.clock().now();
        self.with_site(site, |s| {
            let who = account_ref(s, as_account)?;
            let id = issue_ref(s, issue)?;
            write::edit(s, now, &who, id, body)?;
            Ok(())
        })
    }

    /// Moves an issue to the status named `to`, through a transition valid from its status.
    pub fn transition_issue(
        &self,
        site: &str,
        issue: &str,
        as_account: &str,
        to: &str,
    ) -> Result<(), ControlError> {
        let now = self.world.clock().now();
        self.with_site(site, |s| {
            let who = account_ref(s, as_account)?;
            let id = issue_ref(s, issue)?;
            let current = &s.issues()[&id];
            let project = s.project(current.project_id).expect("issue's project");
            let target = s
                .status_by_name(to)
                .ok_or_else(|| ControlError::NotFound(format!("no status `{to}`")))?
                .id
                .clone();
            let t = s
                .workflow_of(project)
                .from_status(&current.status)
                .find(|t| t.to == target)
                .ok_or_else(|| {
                    ControlError::Invalid(format!(
                        "no transition to `{to}` from the issue's status"
                    ))
                })?;
            // A person picks "Done" where the transition screen asks for a resolution.
            let body = if t.screen.iter().any(|f| f == "resolution") {
                serde_json::json!({ "transition": { "id": t.id }, "fields": { "resolution": { "name": "Done" } } })
            } else {
                serde_json::json!({ "transition": { "id": t.id } })
            };
            write::transition(s, now, &who, id, &body)?;
            Ok(())
        })
    }

    pub fn delete_issue(&self, site: &str, issue: &str) -> Result<(), ControlError> {
        let now = self.world.clock().now();
        self.with_site(site, |s| {
            let id = issue_ref(s, issue)?;
            s.remove_issue(id, now);
            Ok(())
        })
    }

    /// An issue with every field and property, as `GET /issue?expand=properties` would give.
    pub fn issue(&self, site: &str, issue: &str) -> Result<Value, ControlError> {
        self.with_site(site, |s| {
            let id = issue_ref(s, issue)?;
            let i = &s.issues()[&id];
            let props: Vec<String> = i.properties.keys().cloned().collect();
            Ok(render::issue(s, i, &FieldSelection::all(), &props, ""))
        })
    }

    pub fn issue_count(&self, site: &str) -> Result<usize, ControlError> {
        self.with_site(site, |s| Ok(s.issues().len()))
    }

    /// Requests served, per route template, method and status; all sites when `site` is None.
    pub fn counters(&self, site: Option<&str>) -> Result<Vec<Counter>, ControlError> {
        let names = match site {
            Some(n) => vec![n.to_owned()],
            None => self.world.site_names(),
        };
        let mut out = Vec::new();
        for n in names {
            self.with_site(&n, |s| {
                out.extend(
                    s.counters
                        .iter()
                        .map(|((route, method, status), count)| Counter {
                            site: n.clone(),
                            route: route.clone(),
                            method: method.clone(),
                            status: *status,
                            count: *count,
                        }),
                );
                Ok(())
            })?;
        }
        Ok(out)
    }

    /// Replaces the site's rate limits (and forgets its rate-limit state).
    /// Replaces the site's limits. What clients were told (when they may come back) and what
    /// they did (429s, early retries) carry over: new limits forgive nothing.
    pub fn set_limits(&self, site: &str, spec: LimitsSpec) -> Result<(), ControlError> {
        self.with_site(site, |s| {
            s.limits = SiteLimits::new(spec).carrying_over(&mut s.limits);
            Ok(())
        })
    }

    /// Replaces the site's faults.
    pub fn set_faults(&self, site: &str, spec: FaultSpec) -> Result<(), ControlError> {
        let bad = |r: f64| !(0.0..=1.0).contains(&r);
        if bad(spec.error_rate) || bad(spec.html_rate) || bad(spec.close_rate) {
            return Err(ControlError::Invalid(
                "fault rates are shares from 0 to 1".into(),
            ));
        }
        if let Some(code) = spec
            .error_statuses
            .iter()
            .find(|c| !(500..=599).contains(*c))
        {
            return Err(ControlError::Invalid(format!(
                "error status {code} is not a 5xx"
            )));
        }
        self.with_site(site, |s| {
            s.faults = SiteFaults::new(spec);
            Ok(())
        })
    }

    /// Sets how long a write takes to become visible to search.
    pub fn set_search_lag(&self, site: &str, seconds: f64) -> Result<(), ControlError> {
        if !(0.0..=3600.0).contains(&seconds) {
            return Err(ControlError::Invalid(
                "search lag must be 0 to 3600 seconds".into(),
            ));
        }
        self.with_site(site, |s| {
            s.search_lag = chrono::Duration::milliseconds((seconds * 1000.0) as i64);
            Ok(())
        })
    }

    /// 429s sent per reason, and retries that came before `Retry-After` had elapsed.
    pub fn rate_limit_stats(&self, site: &str) -> Result<RateLimitStats, ControlError> {
        self.with_site(site, |s| Ok(s.limits.stats.clone()))
    }

    pub fn reset_counters(&self) {
        for n in self.world.site_names() {
            let _ = self.with_site(&n, |s| {
                s.counters.clear();
                Ok(())
            });
        }
    }
}

fn credential<'a>(s: &'a mut Site, id: &str) -> Result<&'a mut Credential, ControlError> {
    s.credentials
        .iter_mut()
        .find(|c| c.id == id)
        .ok_or_else(|| ControlError::NotFound(format!("no credential `{id}`")))
}

/// An account by id or email.
pub fn account_ref(s: &Site, r: &str) -> Result<String, ControlError> {
    s.accounts
        .values()
        .find(|a| {
            a.account_id == r
                || a.email
                    .as_deref()
                    .is_some_and(|e| e.eq_ignore_ascii_case(r))
        })
        .map(|a| a.account_id.clone())
        .ok_or_else(|| ControlError::NotFound(format!("no account `{r}` on site {}", s.name)))
}

pub(crate) fn issue_ref(s: &Site, r: &str) -> Result<u64, ControlError> {
    s.issue_id(r)
        .ok_or_else(|| ControlError::NotFound(format!("no issue `{r}` on site {}", s.name)))
}
