//! Two simulator sites mirroring each other through the engine: accounts in
//! America/Los_Angeles and Asia/Kolkata, different workflows, a select field on each.
//! The engine's tests and benchmarks of a mirror pair build on it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

pub use crate::world::person_utc;
use jira_sim::Simulator;
pub use jira_sim::control::{AccountSpec, FieldSpec, ProjectSpec, SiteSpec};
use jira_sync_client::{Client, NoObserver};
use jira_sync_config::{ConnectorRef, Loader};
pub use jira_sync_engine::Report;
use jira_sync_engine::{Engine, SiteCtx};
use jira_sync_store::Store;
pub use serde_json::{Value, json};
use url::Url;

use crate::world::{classic_token, ops_workflow, person, severity, write_requests};

pub const ACME_BOT: &str = "bot@acme.example";
pub const GLOBEX_BOT: &str = "bot@globex.example";

pub struct Pair {
    pub sim: Simulator,
    /// globex's OAuth app, when globex uses client credentials (see [`pair_oauth`]).
    pub globex_app: Option<String>,
    pub engine: Engine,
    pub hub: jira_sync_store::Hub,
    pub globex: Client,
    config: Arc<jira_sync_config::Config>,
    sites: HashMap<String, SiteCtx>,
    _dir: tempfile::TempDir,
    _store: Store,
}

pub fn sec() -> ConnectorRef {
    ConnectorRef {
        site: "acme".into(),
        connector: "sec".into(),
    }
}

pub fn ops() -> ConnectorRef {
    ConnectorRef {
        site: "globex".into(),
        connector: "ops".into(),
    }
}

pub async fn pair(seed: usize) -> Pair {
    pair_with(seed, "").await
}

/// A pair whose globex connector has `ops_extra` (TOML lines) in its section.
pub async fn pair_with(seed: usize, ops_extra: &str) -> Pair {
    pair_built(seed, ops_extra, false, &[], |_, _| {}).await
}

/// A pair whose globex site is shaped by `shape` before it is created (its workflow `ops`,
/// the OPS project's priority scheme, ...), and whose globex connector has `ops_extra`.
pub async fn pair_shaped(seed: usize, ops_extra: &str, shape: impl FnOnce(&mut SiteSpec)) -> Pair {
    pair_built(seed, ops_extra, false, &[], |_, globex| shape(globex)).await
}

/// A custom field mirrored between the pair: its hub name and its field on acme and on
/// globex (each site gives it its own id, and its options their own ids). A field of type
/// `system` is a system field (its `id`, e.g. `components`): mapped, not created.
pub type MirroredField = (String, FieldSpec, FieldSpec);

/// A pair that also mirrors `fields`, with both sites shaped by `shape(acme, globex)`
/// before they are created (their time zones, ...).
pub async fn pair_with_fields(
    seed: usize,
    fields: &[MirroredField],
    shape: impl FnOnce(&mut SiteSpec, &mut SiteSpec),
) -> Pair {
    pair_built(seed, "", false, fields, shape).await
}

/// A pair whose globex side uses OAuth 2.0 client credentials (a service account's app,
/// through the gateway), so the app's and the site's points quotas apply to it.
pub async fn pair_oauth(seed: usize) -> Pair {
    pair_built(seed, "", true, &[], |_, _| {}).await
}

async fn pair_built(
    seed: usize,
    ops_extra: &str,
    globex_oauth: bool,
    mirrored: &[MirroredField],
    shape: impl FnOnce(&mut SiteSpec, &mut SiteSpec),
) -> Pair {
    crate::install_crypto();
    let sim = Simulator::start().await.unwrap();
    let c = sim.control();
    let mut acme = SiteSpec {
        name: "acme".into(),
        accounts: vec![
            person("Acme Bot", ACME_BOT, "America/Los_Angeles"),
            person("Ann", "ann@acme.example", "America/Los_Angeles"),
        ],
        fields: vec![severity("customfield_10042")],
        projects: vec![ProjectSpec {
            key: "SEC".into(),
            seed_issues: Some(seed),
            seed_as: Some("ann@acme.example".into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut globex = SiteSpec {
        name: "globex".into(),
        accounts: vec![
            person("Globex Bot", GLOBEX_BOT, "Asia/Kolkata"),
            person("Bob", "bob@globex.example", "Asia/Kolkata"),
        ],
        fields: vec![severity("customfield_10077")],
        workflows: vec![ops_workflow()],
        projects: vec![ProjectSpec {
            key: "OPS".into(),
            workflow: Some("ops".into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    for (_, a, g) in mirrored {
        for (site, f) in [(&mut acme, a), (&mut globex, g)] {
            if f.kind != "system" {
                site.fields.push(f.clone());
            }
        }
    }
    shape(&mut acme, &mut globex);
    c.create_site(acme).unwrap();
    c.create_site(globex).unwrap();
    let field_lines = |site: usize| -> String {
        mirrored
            .iter()
            .map(|(hub, a, g)| {
                let f = if site == 0 { a } else { g };
                format!(
                    "{hub} = \"{}\"\n",
                    f.id.as_deref().expect("a mirrored field has an id")
                )
            })
            .collect()
    };
    let token = |site: &str, email: &str| classic_token(&sim, site, email);
    let (acme_token, mut globex_token) = (token("acme", ACME_BOT), token("globex", GLOBEX_BOT));
    let mut globex_app = None;
    if globex_oauth {
        let (id, secret) = c
            .create_oauth_client(jira_sim::oauth::OAuthClientSpec {
                kind: Some("service_account".into()),
                scopes: vec![
                    "read:jira-work".into(),
                    "write:jira-work".into(),
                    "read:jira-user".into(),
                ],
                service_account: Some(jira_sim::oauth::Consent {
                    account: GLOBEX_BOT.into(),
                    sites: vec!["globex".into()],
                }),
                ..Default::default()
            })
            .unwrap();
        globex_token = secret;
        globex_app = Some(id);
    }

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("sites.d")).unwrap();
    std::fs::write(dir.path().join("jira-sync.toml"), "state_dir = \"state\"\n").unwrap();
    let site_file = |url: String,
                     email: &str,
                     var: &str,
                     conn: &str,
                     project: &str,
                     mirror: &str,
                     field: &str,
                     statuses: &str,
                     extra: &str| {
        let auth = match (&globex_app, var) {
            (Some(id), "GLOBEX_T") => format!(
                "method = \"client_credentials\"\nclient_id = \"{id}\"\nclient_secret = {{ env = \"{var}\" }}"
            ),
            _ => format!(
                "method = \"api_token\"\nemail = \"{email}\"\ntoken = {{ env = \"{var}\" }}"
            ),
        };
        format!(
            "url = \"{url}\"\n[auth]\n{auth}\n[[connector]]\nname = \"{conn}\"\nproject = \"{project}\"\nmirror = [\"{mirror}\"]\nconflict = \"newest\"\n{extra}[connector.fields]\nseverity = \"{field}\"\n{}[connector.statuses]\n{statuses}",
            field_lines(usize::from(var == "GLOBEX_T"))
        )
    };
    std::fs::write(
        dir.path().join("sites.d/acme.toml"),
        site_file(
            sim.site_url("acme"),
            ACME_BOT,
            "ACME_T",
            "sec",
            "SEC",
            "globex/ops",
            "customfield_10042",
            "\"To Do\" = \"open\"\n\"In Progress\" = \"in_progress\"\n\"Done\" = \"closed\"\n",
            "",
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("sites.d/globex.toml"),
        site_file(
            sim.site_url("globex"),
            GLOBEX_BOT,
            "GLOBEX_T",
            "ops",
            "OPS",
            "acme/sec",
            "customfield_10077",
            "\"Open\" = \"open\"\n\"Working\" = \"in_progress\"\n\"Closed\" = \"closed\"\n",
            ops_extra,
        ),
    )
    .unwrap();
    let env = BTreeMap::from([
        ("ACME_T".to_owned(), acme_token),
        ("GLOBEX_T".to_owned(), globex_token),
    ]);
    let config = Arc::new(Loader::with_env(env).load(dir.path()).unwrap());
    let store = Store::open(&config.daemon.state_dir).unwrap();
    // Jira's search index lags writes: a few seconds here, on both sites.
    c.set_search_lag("acme", 3.0).unwrap();
    c.set_search_lag("globex", 3.0).unwrap();
    let http = jira_sync_auth::http_client();
    let mut sites = HashMap::new();
    for site in &config.sites {
        let provider = Arc::new(jira_sync_auth::Provider::new(
            site,
            &Url::parse(&sim.base_url()).unwrap(),
            http.clone(),
            None,
        ));
        let limiter = Arc::new(jira_sync_ratelimit::SiteLimiter::new(
            &site.name,
            site.limits,
        ));
        // Client credentials go through the gateway, as the resolver would find.
        let base = match provider.form() {
            jira_sync_auth::Form::Site => site.url.clone(),
            jira_sync_auth::Form::Gateway => {
                let cloud = c
                    .sites()
                    .into_iter()
                    .find(|i| i.name == site.name)
                    .unwrap()
                    .cloud_id;
                Url::parse(&sim.gateway_site_url(&cloud)).unwrap()
            }
        };
        let client = Client::new(
            &site.name,
            base,
            provider,
            limiter,
            http.clone(),
            Arc::new(NoObserver),
        )
        // Real-time retries: keep the fault tests fast.
        .with_retry_base(std::time::Duration::from_millis(20));
        let me = client.myself().await.unwrap();
        let field_types = client
            .fields()
            .await
            .unwrap()
            .into_iter()
            .filter_map(|f| Some((f.id, f.schema?.shape())))
            .collect();
        sites.insert(
            site.name.clone(),
            SiteCtx {
                client,
                time_zone: me.time_zone.unwrap().parse().unwrap(),
                field_types,
            },
        );
    }
    let globex = sites["globex"].client.clone();
    let hub = store.hub().unwrap();
    let engine = engine(&sim, &config, &hub, &sites);
    Pair {
        sim,
        globex_app,
        engine,
        hub,
        globex,
        config,
        sites,
        _dir: dir,
        _store: store,
    }
}

fn engine(
    sim: &Simulator,
    config: &Arc<jira_sync_config::Config>,
    hub: &jira_sync_store::Hub,
    sites: &HashMap<String, SiteCtx>,
) -> Engine {
    let world = sim.control().world().clone();
    Engine::new(config.clone(), hub.clone(), sites.clone())
        .with_clock(Arc::new(move || world.clock().now()))
}

impl Pair {
    /// The state database is lost: the engine starts over on an empty one.
    pub fn lose_store(&mut self) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        self.hub = store.hub().unwrap();
        self.engine = engine(&self.sim, &self.config, &self.hub, &self.sites);
        self._store = store;
        self._dir = dir;
    }

    /// The configuration is reloaded with connector `c` changed by `edit`; the store and
    /// the sites stay.
    pub fn reconfigure(
        &mut self,
        c: &ConnectorRef,
        edit: impl FnOnce(&mut jira_sync_config::Connector),
    ) {
        let mut config = (*self.config).clone();
        let connector = config
            .sites
            .iter_mut()
            .filter(|s| s.name == c.site)
            .flat_map(|s| s.connectors.iter_mut())
            .find(|x| x.name == c.connector)
            .expect("the connector is configured");
        edit(connector);
        self.config = Arc::new(config);
        self.engine = engine(&self.sim, &self.config, &self.hub, &self.sites);
    }

    pub async fn run(&self, c: ConnectorRef) -> Report {
        self.engine.run(&c).await.unwrap()
    }

    /// One cycle of `c` whose push looks at every record in scope (a full reconcile).
    pub async fn reconcile(&self, c: ConnectorRef) -> Report {
        self.engine.reconcile(&c).await.unwrap()
    }

    /// Runs both sides until a full round neither pulls a change nor writes (at most 6 rounds):
    /// a round that only merged can still leave the other side something to push.
    pub async fn converge(&self) {
        for _ in 0..6 {
            // Cycles are spaced in time; the search lag passes between them.
            self.sim
                .control()
                .world()
                .clock()
                .advance(chrono::Duration::seconds(4));
            let a = self.run(sec()).await;
            let b = self.run(ops()).await;
            if std::env::var_os("ENGINE_DEBUG").is_some() {
                eprintln!("sec {a:?}\nops {b:?}");
            }
            if writes(&a) + writes(&b) + a.pulled + b.pulled == 0 {
                return;
            }
        }
        panic!("did not converge");
    }

    pub fn issues(&self, site: &str) -> Vec<Value> {
        let n = self.sim.control().issue_count(site).unwrap();
        let project = if site == "acme" { "SEC" } else { "OPS" };
        (1..=n + 5)
            .filter_map(|i| {
                self.sim
                    .control()
                    .issue(site, &format!("{project}-{i}"))
                    .ok()
            })
            .collect()
    }

    /// The one issue of `site` with this summary (fails if there are none or several).
    pub fn only_one(&self, site: &str, s: &str) -> Value {
        let all: Vec<Value> = self
            .issues(site)
            .into_iter()
            .filter(|i| summary(i) == s)
            .collect();
        assert_eq!(all.len(), 1, "{s} exactly once on {site}");
        all[0].clone()
    }

    /// Writes the simulator served (create, edit, transition, comment, property) so far.
    pub fn write_requests(&self) -> u64 {
        write_requests(&self.sim)
    }

    /// Write requests `site` refused with a 4xx so far.
    pub fn refused_writes(&self, site: &str) -> u64 {
        self.sim
            .control()
            .counters(Some(site))
            .unwrap()
            .iter()
            .filter(|c| {
                c.method != "GET"
                    && !c.route.contains("search")
                    && !c.route.contains("bulkfetch")
                    && (400..500).contains(&c.status)
            })
            .map(|c| c.count)
            .sum()
    }

    /// The marks telling connector `c` which records changed are lost (as a crash between
    /// two writes could lose them): only its retry set and full reconciles remain.
    pub fn lose_marks(&self, c: &ConnectorRef) {
        let marks = self._store.raw_tree_for_tests("marks").unwrap();
        let prefix = format!("{}\0{}\0", c.site, c.connector);
        for k in marks.scan_prefix(prefix.as_bytes()).keys() {
            marks.remove(k.unwrap()).unwrap();
        }
    }

    /// Moves the simulator's clock `secs` seconds forward.
    pub fn tick(&self, secs: i64) {
        self.sim
            .control()
            .world()
            .clock()
            .advance(chrono::Duration::seconds(secs));
    }

    /// Converges once more and asserts it wrote nothing (`what` names the situation).
    pub async fn assert_quiet(&self, what: &str) {
        let before = self.write_requests();
        self.converge().await;
        assert_eq!(
            self.write_requests(),
            before,
            "converged pair wrote: {what}"
        );
    }
}

/// Lets `email`'s account of site `g` read workflow definitions (`readWorkflows`).
pub fn view_workflows(g: &mut SiteSpec, email: &str) {
    g.accounts
        .iter_mut()
        .find(|a| a.email.as_deref() == Some(email))
        .expect("the account is in the site spec")
        .view_workflows = Some(true);
}

pub fn writes(r: &Report) -> usize {
    r.created + r.updated + r.transitioned + r.commented + r.files
}

pub fn summary(i: &Value) -> &str {
    i["fields"]["summary"].as_str().unwrap()
}

/// An issue's status name.
pub fn status(issue: &Value) -> &str {
    issue["fields"]["status"]["name"]
        .as_str()
        .unwrap_or_default()
}

/// An issue's key.
pub fn key(issue: &Value) -> String {
    issue["key"].as_str().unwrap_or_default().to_owned()
}

impl Pair {
    /// The link of `site`'s issue `key` to its record.
    ///
    /// # Panics
    /// When the issue is not linked.
    pub fn link_of(&self, site: &str, key: &str) -> jira_sync_store::hub::Link {
        let id = self.sim.control().issue(site, key).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        for rid in 1..=1000 {
            if let Ok(links) = self.hub.links_of(rid)
                && let Some(l) = links
                    .into_iter()
                    .find(|l| l.site == site && l.issue_id == id)
            {
                return l;
            }
        }
        panic!("no link for {site} {key}");
    }

    /// A new Task in acme's SEC made by Ann, with `fields` (a JSON object) beside its
    /// summary: its key.
    pub fn acme_task(&self, summary: &str, fields: Value) -> String {
        let mut f = json!({ "project": { "key": "SEC" }, "issuetype": { "name": "Task" },
                            "summary": summary });
        for (k, v) in fields.as_object().into_iter().flatten() {
            f[k] = v.clone();
        }
        self.sim
            .control()
            .create_issue("acme", "ann@acme.example", &json!({ "fields": f }))
            .unwrap()
    }

    /// Every comment of `site`'s issue `key`, oldest first, as (text, the name of the role or
    /// group it is restricted to or "", `jsdPublic` where the project is a service desk).
    pub fn comment_thread(&self, site: &str, key: &str) -> Vec<(String, String, Option<bool>)> {
        let issue = self.sim.control().issue(site, key).unwrap();
        issue["fields"]["comment"]["comments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    jira_sync_client::adf::to_text(&c["body"]).trim().to_owned(),
                    c["visibility"]["value"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    c["jsdPublic"].as_bool(),
                )
            })
            .collect()
    }

    /// The hub record `site`'s issue `key` is linked to.
    pub fn record_of(&self, site: &str, key: &str) -> jira_sync_store::hub::Record {
        let link = self.link_of(site, key);
        self.hub
            .record(link.record)
            .unwrap()
            .expect("a linked record exists")
    }

    /// Requests `site` answered with `status` for `method` on routes ending in `route_end`.
    pub fn answered(&self, site: &str, method: &str, route_end: &str, status: u16) -> u64 {
        self.sim
            .control()
            .counters(Some(site))
            .unwrap()
            .iter()
            .filter(|c| c.method == method && c.route.ends_with(route_end) && c.status == status)
            .map(|c| c.count)
            .sum()
    }
}
