//! The simulated Jira Cloud: sites with their accounts, credentials, workflows, projects
//! and issues. Plain data; the rules live in `write`, `auth` and `jql`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde_json::Value;

mod fields; // Custom fields: their types and per-site option ids.
pub use fields::{CustomField, FieldKind};

/// Every site the simulator serves, and its clock.
#[derive(Debug, Default)]
pub struct World {
    sites: RwLock<BTreeMap<String, Arc<Mutex<Site>>>>,
    clock: Clock,
    /// The authorization server's clients, grants and tokens.
    pub oauth: Mutex<crate::oauth::OAuthState>,
    /// Sends webhook deliveries of every site.
    pub dispatcher: crate::webhooks::Dispatcher,
}

impl World {
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub fn site(&self, name: &str) -> Option<Arc<Mutex<Site>>> {
        self.sites.read().expect("sites lock").get(name).cloned()
    }

    pub fn site_by_cloud_id(&self, cloud_id: &str) -> Option<Arc<Mutex<Site>>> {
        let sites = self.sites.read().expect("sites lock");
        sites
            .values()
            .find(|s| lock(s).cloud_id == cloud_id)
            .cloned()
    }

    pub fn site_names(&self) -> Vec<String> {
        self.sites
            .read()
            .expect("sites lock")
            .keys()
            .cloned()
            .collect()
    }

    /// Adds a site; false if the name or cloud ID is taken.
    pub fn insert_site(&self, site: Site) -> bool {
        let mut sites = self.sites.write().expect("sites lock");
        if sites.contains_key(&site.name)
            || sites.values().any(|s| lock(s).cloud_id == site.cloud_id)
        {
            return false;
        }
        sites.insert(site.name.clone(), Arc::new(Mutex::new(site)));
        true
    }
}

/// Locks a site; a panic while holding it is a simulator bug, so poisoning is not recovered.
pub fn lock(site: &Mutex<Site>) -> MutexGuard<'_, Site> {
    site.lock().expect("site lock")
}

/// The simulator's "now": wall-clock time at start, moved on by tokio's clock (so a test on
/// paused tokio time drives it) plus an offset tests can advance; millisecond precision.
#[derive(Debug)]
pub struct Clock {
    start_utc: DateTime<Utc>,
    start: tokio::time::Instant,
    offset_ms: AtomicI64,
    /// When set, time stands still here (plus the offset) until unfrozen.
    frozen: Mutex<Option<DateTime<Utc>>>,
}

impl Default for Clock {
    fn default() -> Self {
        Clock {
            start_utc: Utc::now(),
            start: tokio::time::Instant::now(),
            offset_ms: AtomicI64::new(0),
            frozen: Mutex::new(None),
        }
    }
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        let offset = Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed));
        if let Some(t) = *self.frozen.lock().expect("clock lock") {
            return t + offset;
        }
        let elapsed = Duration::from_std(self.start.elapsed()).unwrap_or_else(|_| Duration::zero());
        let t = self.start_utc
            + elapsed
            + Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed));
        DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
    }

    /// Stops time where it is: from now on it moves only by `advance` (deterministic tests of
    /// rate limits and lags).
    pub fn freeze(&self) {
        let now = self.now() - Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed));
        *self.frozen.lock().expect("clock lock") = Some(now);
    }

    /// Moves simulated time forward (tests of watermarks and expiry).
    pub fn advance(&self, by: Duration) {
        self.offset_ms
            .fetch_add(by.num_milliseconds(), Ordering::Relaxed);
    }
}

/// A write not yet visible to search: when, and the issue as it was before (None: created).
type PendingWrite = (DateTime<Utc>, Option<Issue>);

/// (JQL, caller) -> (issue version it was computed at, matching ids in result order).
type SearchCache = HashMap<(String, String), (u64, Arc<[u64]>)>;

/// One Jira Cloud site.
#[derive(Debug)]
pub struct Site {
    pub name: String,
    pub cloud_id: String,
    pub accounts: BTreeMap<String, Account>,
    pub credentials: Vec<Credential>,
    pub statuses: Vec<Status>,
    pub issue_types: Vec<IssueType>,
    pub fields: Vec<CustomField>,
    pub workflows: BTreeMap<String, Workflow>,
    pub projects: Vec<Project>,
    /// Private so that every change goes through `put_issue`, `write_issue` or
    /// `remove_issue`, which invalidate cached searches and feed the search lag.
    issues: BTreeMap<u64, Issue>,
    /// How long a write takes to reach search (Jira's index is eventually consistent).
    pub search_lag: Duration,
    /// Whether `reporter` is on the create and edit screens (and the accounts may modify
    /// it). When it is not, Jira refuses any write that sets it.
    pub reporter_on_screens: bool,
    /// The site's default user time zone: timestamps of date-time fields read in it.
    pub default_time_zone: Tz,
    /// Project roles by name -> member account ids (modelled site-wide).
    pub roles: BTreeMap<String, BTreeSet<String>>,
    /// Groups by name -> (group id, member account ids).
    pub groups: BTreeMap<String, (String, BTreeSet<String>)>,
    /// Edits (`PUT /issue`) answer 204 but leave `assignee` as it was, as some Cloud sites do
    /// (reference jira-cloud-api.md section 11.5); only `PUT /issue/{key}/assignee` assigns.
    pub assignee_edit_ignored: bool,
    /// Per issue, writes still inside the lag: (when, the issue as it was before; None if
    /// it did not exist). Search serves the state before the oldest such write.
    pending: HashMap<u64, Vec<PendingWrite>>,
    /// Bumped on every change to issues; cached search results carry the version they saw.
    version: u64,
    /// Results of recent searches, for paging without re-sorting.
    search_cache: SearchCache,
    /// Issue key -> id.
    pub keys: HashMap<String, u64>,
    pub next_issue_id: u64,
    pub next_comment_id: u64,
    pub next_attachment_id: u64,
    /// (route template, method, status) -> requests served.
    pub counters: BTreeMap<(String, String, u16), u64>,
    /// Rate limits and what clients did when limited.
    pub limits: crate::limits::SiteLimits,
    /// Faults injected in front of the site.
    pub faults: crate::faults::SiteFaults,
    /// The largest file an upload may carry, in bytes (`GET /attachment/meta`
    /// `uploadLimit`); larger uploads are refused with 413.
    pub upload_limit: u64,
    /// Registered webhooks and the changes they have yet to deliver.
    pub webhooks: crate::webhooks::SiteWebhooks,
}

impl Site {
    /// A site with Jira's standard issue types and the default workflow.
    pub fn new(name: &str, cloud_id: &str) -> Self {
        let mut site = Site {
            name: name.to_owned(),
            cloud_id: cloud_id.to_owned(),
            accounts: BTreeMap::new(),
            credentials: Vec::new(),
            statuses: Vec::new(),
            issue_types: vec![
                IssueType::new("10000", "Epic", 1),
                IssueType::new("10001", "Task", 0),
                IssueType::new("10002", "Bug", 0),
                IssueType::new("10003", "Story", 0),
                IssueType::new("10004", "Sub-task", -1),
            ],
            fields: Vec::new(),
            workflows: BTreeMap::new(),
            projects: Vec::new(),
            issues: BTreeMap::new(),
            search_lag: Duration::zero(),
            reporter_on_screens: true,
            assignee_edit_ignored: false,
            default_time_zone: chrono_tz::UTC,
            roles: BTreeMap::new(),
            groups: BTreeMap::new(),
            pending: HashMap::new(),
            version: 0,
            search_cache: HashMap::new(),
            keys: HashMap::new(),
            next_issue_id: 10000,
            next_comment_id: 10000,
            next_attachment_id: 10000,
            counters: BTreeMap::new(),
            limits: Default::default(),
            faults: Default::default(),
            upload_limit: 100 << 20,
            webhooks: Default::default(),
        };
        let default = WorkflowSpec::default_spec();
        site.add_workflow(&default)
            .expect("the default workflow is valid");
        site
    }

    /// Every issue, by id.
    pub fn issues(&self) -> &BTreeMap<u64, Issue> {
        &self.issues
    }

    /// Records the issue's state before a write at `now`, while a search lag is set, and
    /// notes the change for webhooks.
    fn record(&mut self, id: u64, now: DateTime<Utc>) {
        self.version += 1;
        self.webhooks.touch(id, self.issues.get(&id), now);
        if self.search_lag > Duration::zero() {
            let before = self.issues.get(&id).cloned();
            self.pending.entry(id).or_default().push((now, before));
        }
    }

    /// Stores a new or replaced issue.
    pub fn put_issue(&mut self, mut issue: Issue, now: DateTime<Utc>) {
        self.record(issue.id, now);
        if let Some(old) = self.issues.get(&issue.id) {
            crate::media::drop_unreferenced(&crate::media::refs(old), &mut issue);
        }
        self.issues.insert(issue.id, issue);
    }

    /// Changes an issue in place; `None` if there is no such issue.
    pub fn write_issue<T>(
        &mut self,
        id: u64,
        now: DateTime<Utc>,
        f: impl FnOnce(&mut Issue) -> T,
    ) -> Option<T> {
        if !self.issues.contains_key(&id) {
            return None;
        }
        self.record(id, now);
        let issue = self.issues.get_mut(&id)?;
        let before = crate::media::refs(issue);
        let out = f(issue);
        crate::media::drop_unreferenced(&before, issue);
        Some(out)
    }

    /// Deletes an issue.
    pub fn remove_issue(&mut self, id: u64, now: DateTime<Utc>) -> Option<Issue> {
        if !self.issues.contains_key(&id) {
            return None;
        }
        self.record(id, now);
        self.keys.retain(|_, v| *v != id);
        self.issues.remove(&id)
    }

    /// Forgets writes that search sees already.
    fn prune_pending(&mut self, now: DateTime<Utc>) {
        let cutoff = now - self.search_lag;
        self.pending.retain(|_, writes| {
            writes.retain(|(t, _)| *t > cutoff);
            !writes.is_empty()
        });
    }

    /// The issues search sees at `now`: each as it was before any write younger than the
    /// search lag, except the `fresh` ids (`reconcileIssues`), which are current.
    pub fn searchable(&mut self, now: DateTime<Utc>, fresh: &[u64]) -> Vec<&Issue> {
        self.prune_pending(now);
        let mut out = Vec::with_capacity(self.issues.len());
        for (id, issue) in &self.issues {
            match self.pending.get(id).filter(|_| !fresh.contains(id)) {
                None => out.push(issue),
                Some(writes) => out.extend(writes[0].1.as_ref()),
            }
        }
        for (id, writes) in &self.pending {
            if !self.issues.contains_key(id) && !fresh.contains(id) {
                out.extend(writes[0].1.as_ref());
            }
        }
        out
    }

    /// True when search sees every issue as it is (no write is inside the lag).
    pub fn search_is_current(&mut self, now: DateTime<Utc>) -> bool {
        self.prune_pending(now);
        self.pending.is_empty()
    }

    /// The cached result of `(jql, caller)` if no issue changed since it was computed, else
    /// computes it with `run` and caches it.
    pub fn cached_search(
        &mut self,
        jql: &str,
        caller: &str,
        run: impl FnOnce(&Self) -> Vec<u64>,
    ) -> Arc<[u64]> {
        /// Distinct queries kept; past this the cache starts over.
        const MAX_CACHED_QUERIES: usize = 256;
        let key = (jql.to_owned(), caller.to_owned());
        if let Some((v, ids)) = self.search_cache.get(&key)
            && *v == self.version
        {
            return ids.clone();
        }
        let ids: Arc<[u64]> = run(self).into();
        if self.search_cache.len() >= MAX_CACHED_QUERIES {
            self.search_cache.clear();
        }
        self.search_cache.insert(key, (self.version, ids.clone()));
        ids
    }

    pub fn status(&self, id: &str) -> Option<&Status> {
        self.statuses.iter().find(|s| s.id == id)
    }

    pub fn status_by_name(&self, name: &str) -> Option<&Status> {
        self.statuses
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name))
    }

    pub fn issue_type(&self, id: &str) -> Option<&IssueType> {
        self.issue_types.iter().find(|t| t.id == id)
    }

    pub fn project(&self, id: u64) -> Option<&Project> {
        self.projects.iter().find(|p| p.id == id)
    }

    /// A project by key (case-insensitive) or numeric id.
    pub fn project_by_ref(&self, key_or_id: &str) -> Option<&Project> {
        self.projects
            .iter()
            .find(|p| p.key.eq_ignore_ascii_case(key_or_id) || p.id.to_string() == key_or_id)
    }

    pub fn field(&self, id: &str) -> Option<&CustomField> {
        self.fields.iter().find(|f| f.id == id)
    }

    /// An issue by key (case-insensitive) or numeric id.
    pub fn issue_id(&self, key_or_id: &str) -> Option<u64> {
        if let Ok(id) = key_or_id.parse::<u64>() {
            return self.issues.contains_key(&id).then_some(id);
        }
        self.keys.get(&key_or_id.to_ascii_uppercase()).copied()
    }

    /// Whether `account` may read comment `c`: everyone may read a comment without
    /// visibility; a restricted one only the role's or group's members (reference
    /// jira-cloud-api.md section 11.9: restricted comments are left out for others).
    pub fn can_see(&self, account: &str, c: &Comment) -> bool {
        match &c.visibility {
            None => true,
            Some(a) if a.kind == "role" => {
                self.roles.get(&a.name).is_some_and(|m| m.contains(account))
            }
            Some(a) => self
                .groups
                .get(&a.name)
                .is_some_and(|(_, m)| m.contains(account)),
        }
    }

    /// Registers a workflow, creating its statuses site-wide (shared by name).
    pub fn add_workflow(&mut self, spec: &WorkflowSpec) -> Result<(), String> {
        if spec.statuses.is_empty() {
            return Err("a workflow needs at least one status".into());
        }
        let mut ids = Vec::new();
        for (name, category) in &spec.statuses {
            let id = match self.status_by_name(name) {
                Some(s) => s.id.clone(),
                None => {
                    let id = (10000 + self.statuses.len()).to_string();
                    self.statuses.push(Status {
                        id: id.clone(),
                        name: name.clone(),
                        category: *category,
                    });
                    id
                }
            };
            ids.push(id);
        }
        let id_of = |name: &str| -> Result<String, String> {
            spec.statuses
                .iter()
                .position(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|i| ids[i].clone())
                .ok_or_else(|| {
                    format!("transition names status `{name}`, which the workflow does not have")
                })
        };
        let mut transitions = Vec::new();
        for (i, t) in spec.transitions.iter().enumerate() {
            if let Some(r) = t.required.iter().find(|r| !t.screen.contains(r)) {
                return Err(format!(
                    "transition `{}` requires `{r}`, which is not on its screen",
                    t.name
                ));
            }
            if let Some(f) = t.screen.iter().find(|f| f.as_str() != "resolution") {
                return Err(format!(
                    "transition `{}` has `{f}` on its screen; the simulator's transition screens hold `resolution` only",
                    t.name
                ));
            }
            transitions.push(Transition {
                id: ((i + 1) * 10 + 1).to_string(),
                name: t.name.clone(),
                from: t.from.iter().map(|f| id_of(f)).collect::<Result<_, _>>()?,
                to: id_of(&t.to)?,
                screen: t.screen.clone(),
                required: t.required.clone(),
            });
        }
        let locked = spec
            .locked
            .iter()
            .map(|n| id_of(n))
            .collect::<Result<_, _>>()?;
        self.workflows.insert(
            spec.name.clone(),
            Workflow {
                name: spec.name.clone(),
                initial: ids[0].clone(),
                statuses: ids,
                transitions,
                locked,
            },
        );
        Ok(())
    }

    pub fn workflow_of(&self, project: &Project) -> &Workflow {
        self.workflows
            .get(&project.workflow)
            .expect("projects only name registered workflows")
    }
}

/// A user or app account of a site.
#[derive(Debug, Clone)]
pub struct Account {
    pub account_id: String,
    pub display_name: String,
    pub email: Option<String>,
    /// Whether the email is shown to others (profile visibility).
    pub email_visible: bool,
    pub time_zone: Tz,
    /// `atlassian` for people, `app` for service accounts.
    pub account_type: String,
    /// Whether issues may be assigned to the account (the *Assignable user* permission).
    pub assignable: bool,
    /// Whether it may read workflow definitions (`readWorkflows`; reference
    /// jira-cloud-api.md section 11.1).
    pub view_workflows: bool,
    /// The *Administer Jira* global permission: admin webhooks (section 9.2).
    pub administer_jira: bool,
    /// Basic-auth requests this account still passes before Jira demands a CAPTCHA (after
    /// failed logins; reference jira-cloud-api.md section 11.6); `Some(0)`: locked now,
    /// every basic-auth request of the account is answered 403 `CAPTCHA_CHALLENGE` until a
    /// person signs in through the web UI. `None`: not locked.
    pub captcha_after: Option<Arc<AtomicU64>>,
}

/// The kinds of credential of part 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// Classic (unscoped) user API token: basic auth on the site URL.
    ClassicToken,
    /// Scoped user API token: basic auth on the gateway only.
    ScopedToken,
    /// Service-account API token (always scoped): basic auth on the gateway only.
    ServiceAccountToken,
}

#[derive(Debug, Clone)]
pub struct Credential {
    pub id: String,
    pub kind: CredentialKind,
    pub account_id: String,
    pub token: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked: bool,
    /// Granted OAuth scopes (classic or granular); unused for classic tokens.
    pub scopes: BTreeSet<String>,
    /// Requests it still authenticates before it counts as revoked (a revocation that lands
    /// mid-cycle, at a known request); `None`: no such limit.
    pub uses_left: Option<Arc<AtomicU64>>,
}

/// Jira's three status categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    New,
    Indeterminate,
    Done,
}

#[derive(Debug, Clone)]
pub struct Status {
    pub id: String,
    pub name: String,
    pub category: Category,
}

#[derive(Debug, Clone)]
pub struct Workflow {
    pub name: String,
    pub statuses: Vec<String>,
    pub initial: String,
    pub transitions: Vec<Transition>,
    /// Status ids whose issues cannot be edited (the status property
    /// `jira.issue.editable = false`; reference jira-cloud-api.md section 11.2).
    pub locked: BTreeSet<String>,
}

impl Workflow {
    /// Transitions that may be taken from `status`.
    pub fn from_status<'a>(&'a self, status: &'a str) -> impl Iterator<Item = &'a Transition> + 'a {
        self.transitions.iter().filter(move |t| {
            if t.from.is_empty() {
                t.to != status
            } else {
                t.from.iter().any(|f| f == status)
            }
        })
    }
}

#[derive(Debug, Clone)]
pub struct Transition {
    pub id: String,
    pub name: String,
    /// Status ids it starts from; empty for a global transition.
    pub from: Vec<String>,
    pub to: String,
    /// Field ids on its transition screen (`resolution`): only these may be sent with it.
    pub screen: Vec<String>,
    /// Field ids a validator requires ("Resolution is required.").
    pub required: Vec<String>,
}

/// A workflow as the control API and seed files describe it.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowSpec {
    pub name: String,
    /// (name, category); the first is the initial status.
    pub statuses: Vec<(String, Category)>,
    pub transitions: Vec<TransitionSpec>,
    /// Names of statuses whose issues cannot be edited (`jira.issue.editable = false`): an
    /// edit there is refused field by field as "not on the appropriate screen".
    #[serde(default)]
    pub locked: Vec<String>,
}

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitionSpec {
    pub name: String,
    /// Status names; empty or absent for a global transition.
    #[serde(default)]
    pub from: Vec<String>,
    pub to: String,
    /// Field ids on the transition's screen: `resolution` (the only one modelled).
    #[serde(default)]
    pub screen: Vec<String>,
    /// Field ids its validator requires; each must be on the screen.
    #[serde(default)]
    pub required: Vec<String>,
}

impl WorkflowSpec {
    /// Jira's simplified workflow: To Do -> In Progress -> Done.
    pub fn default_spec() -> Self {
        let t = |name: &str, from: &[&str], to: &str| TransitionSpec {
            name: name.into(),
            from: from.iter().map(|s| s.to_string()).collect(),
            to: to.into(),
            screen: vec![],
            required: vec![],
        };
        WorkflowSpec {
            name: "default".into(),
            statuses: vec![
                ("To Do".into(), Category::New),
                ("In Progress".into(), Category::Indeterminate),
                ("Done".into(), Category::Done),
            ],
            transitions: vec![
                t("Start progress", &["To Do"], "In Progress"),
                t("Stop progress", &["In Progress"], "To Do"),
                t("Done", &["To Do", "In Progress"], "Done"),
                t("Reopen", &["Done"], "To Do"),
            ],
            locked: vec![],
        }
    }
}

#[derive(Debug, Clone)]
pub struct IssueType {
    pub id: String,
    pub name: String,
    pub hierarchy_level: i32,
    /// The project of a team-managed project's own type; `None` for the site's shared types.
    pub scope_project: Option<u64>,
}

impl IssueType {
    fn new(id: &str, name: &str, hierarchy_level: i32) -> Self {
        IssueType {
            id: id.into(),
            name: name.into(),
            hierarchy_level,
            scope_project: None,
        }
    }
}

/// Jira's default resolutions: (id, name).
pub const RESOLUTIONS: [(&str, &str); 4] = [
    ("10000", "Done"),
    ("10001", "Won't Do"),
    ("10002", "Duplicate"),
    ("10003", "Cannot Reproduce"),
];

/// Jira's default priorities: (id, name).
pub const PRIORITIES: [(&str, &str); 5] = [
    ("1", "Highest"),
    ("2", "High"),
    ("3", "Medium"),
    ("4", "Low"),
    ("5", "Lowest"),
];

#[derive(Debug, Clone)]
pub struct Project {
    pub id: u64,
    pub key: String,
    pub name: String,
    pub workflow: String,
    pub issue_types: Vec<String>,
    pub next_number: u64,
    /// The priority names its priority scheme offers; `None`: all of [`PRIORITIES`].
    pub priorities: Option<Vec<String>>,
    /// Field ids its create and edit screens leave out: writing them is refused.
    pub hidden_fields: Vec<String>,
    /// A Jira Service Management project: its comments read with `jsdPublic`.
    pub service_desk: bool,
    /// Its components and versions as (id, name): per project, ids per site.
    pub components: Vec<(String, String)>,
    pub versions: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct Issue {
    pub id: u64,
    pub key: String,
    pub project_id: u64,
    pub issue_type: String,
    pub summary: String,
    pub description: Option<Value>,
    pub status: String,
    pub priority: Option<String>,
    /// The resolution's id; set only through a transition whose screen has it, cleared by a
    /// transition to a status that is not done.
    pub resolution: Option<String>,
    /// The parent issue's id: a sub-task's issue (required), or a standard issue's epic.
    pub parent: Option<u64>,
    pub labels: Vec<String>,
    pub duedate: Option<NaiveDate>,
    pub assignee: Option<String>,
    pub reporter: Option<String>,
    pub creator: String,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    pub custom: BTreeMap<String, Value>,
    pub comments: Vec<Comment>,
    pub properties: BTreeMap<String, Value>,
    /// Who changed what, oldest first.
    pub history: Vec<History>,
    /// Files attached to the issue (`crate::media`).
    pub attachments: Vec<crate::media::Attachment>,
}

/// One change of an issue: its author and the fields it touched.
#[derive(Debug, Clone)]
pub struct History {
    pub author: String,
    pub created: DateTime<Utc>,
    /// (field id, old value, new value), values as display strings.
    pub items: Vec<(String, Option<String>, Option<String>)>,
}

#[derive(Debug, Clone)]
pub struct Comment {
    pub id: u64,
    pub author: String,
    pub update_author: String,
    pub body: Value,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    pub properties: BTreeMap<String, Value>,
    /// Who may read it: a role or group of the site (`visibility`); `None` for everyone
    /// who can see the issue.
    pub visibility: Option<Audience>,
}

impl Comment {
    /// A service-desk internal note: created with the property `sd.public.comment` =
    /// `{"internal": true}` (reference jira-cloud-api.md section 11.9); read as
    /// `jsdPublic: false` in a service-desk project.
    pub fn internal(&self) -> bool {
        self.properties
            .get("sd.public.comment")
            .is_some_and(|v| v["internal"] == true)
    }
}

/// A comment's audience (`Visibility`): a project role or a group, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audience {
    /// `role` or `group`.
    pub kind: String,
    pub name: String,
}
