//! Two simulator sites mirroring each other through the engine: accounts in
//! America/Los_Angeles and Asia/Kolkata, different workflows, a select field on each.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use jira_sim::Simulator;
use jira_sim::control::{AccountSpec, CredentialSpec, FieldSpec, ProjectSpec, SiteSpec};
use jira_sim::model::{Category, CredentialKind, TransitionSpec, WorkflowSpec};
use jira_sync_client::{Client, NoObserver};
use jira_sync_config::{ConnectorRef, Loader};
use jira_sync_engine::{Engine, Report, SiteCtx};
use jira_sync_store::Store;
use serde_json::{Value, json};
use url::Url;

const ACME_BOT: &str = "bot@acme.example";
const GLOBEX_BOT: &str = "bot@globex.example";

struct Pair {
    sim: Simulator,
    engine: Engine,
    hub: jira_sync_store::Hub,
    globex: Client,
    _dir: tempfile::TempDir,
    _store: Store,
}

fn sec() -> ConnectorRef {
    ConnectorRef {
        site: "acme".into(),
        connector: "sec".into(),
    }
}

fn ops() -> ConnectorRef {
    ConnectorRef {
        site: "globex".into(),
        connector: "ops".into(),
    }
}

async fn pair(seed: usize) -> Pair {
    pair_with(seed, "").await
}

/// A pair whose globex connector has `ops_extra` (TOML lines) in its section.
async fn pair_with(seed: usize, ops_extra: &str) -> Pair {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sim = Simulator::start().await.unwrap();
    let c = sim.control();
    let severity = |id: &str| FieldSpec {
        id: Some(id.into()),
        name: "Severity".into(),
        kind: "select".into(),
        options: vec!["Low".into(), "High".into()],
    };
    let person = |name: &str, email: &str, tz: &str| AccountSpec {
        display_name: name.into(),
        email: Some(email.into()),
        time_zone: Some(tz.into()),
        ..Default::default()
    };
    c.create_site(SiteSpec {
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
    })
    .unwrap();
    c.create_site(SiteSpec {
        name: "globex".into(),
        accounts: vec![
            person("Globex Bot", GLOBEX_BOT, "Asia/Kolkata"),
            person("Bob", "bob@globex.example", "Asia/Kolkata"),
        ],
        fields: vec![severity("customfield_10077")],
        workflows: vec![WorkflowSpec {
            name: "ops".into(),
            statuses: vec![
                ("Open".into(), Category::New),
                ("Working".into(), Category::Indeterminate),
                ("Closed".into(), Category::Done),
            ],
            transitions: vec![
                TransitionSpec {
                    name: "Start".into(),
                    from: vec!["Open".into()],
                    to: "Working".into(),
                },
                TransitionSpec {
                    name: "Close".into(),
                    from: vec![],
                    to: "Closed".into(),
                },
                TransitionSpec {
                    name: "Reopen".into(),
                    from: vec!["Closed".into()],
                    to: "Open".into(),
                },
            ],
        }],
        projects: vec![ProjectSpec {
            key: "OPS".into(),
            workflow: Some("ops".into()),
            ..Default::default()
        }],
        ..Default::default()
    })
    .unwrap();
    let token = |site: &str, email: &str| {
        c.create_credential(
            site,
            CredentialSpec {
                kind: CredentialKind::ClassicToken,
                account: email.into(),
                token: None,
                expires_at: None,
                scopes: vec![],
            },
        )
        .unwrap()
        .token
    };
    let (acme_token, globex_token) = (token("acme", ACME_BOT), token("globex", GLOBEX_BOT));

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
        format!(
            "url = \"{url}\"\n[auth]\nmethod = \"api_token\"\nemail = \"{email}\"\ntoken = {{ env = \"{var}\" }}\n[[connector]]\nname = \"{conn}\"\nproject = \"{project}\"\nmirror = [\"{mirror}\"]\nconflict = \"newest\"\n{extra}[connector.fields]\nseverity = \"{field}\"\n[connector.statuses]\n{statuses}"
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
        let client = Client::new(
            &site.name,
            site.url.clone(),
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
            .filter_map(|f| Some((f.id, f.schema?.kind)))
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
    let world = sim.control().world().clone();
    let engine =
        Engine::new(config, hub.clone(), sites).with_clock(Arc::new(move || world.clock().now()));
    Pair {
        sim,
        engine,
        hub,
        globex,
        _dir: dir,
        _store: store,
    }
}

impl Pair {
    async fn run(&self, c: ConnectorRef) -> Report {
        self.engine.run(&c).await.unwrap()
    }

    /// Runs both sides until a full round neither pulls a change nor writes (at most 6 rounds):
    /// a round that only merged can still leave the other side something to push.
    async fn converge(&self) {
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

    fn issues(&self, site: &str) -> Vec<Value> {
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
    fn only_one(&self, site: &str, s: &str) -> Value {
        let all: Vec<Value> = self
            .issues(site)
            .into_iter()
            .filter(|i| summary(i) == s)
            .collect();
        assert_eq!(all.len(), 1, "{s} exactly once on {site}");
        all[0].clone()
    }

    /// Writes the simulator served (create, edit, transition, comment, property) so far.
    fn write_requests(&self) -> u64 {
        self.sim
            .control()
            .counters(None)
            .unwrap()
            .iter()
            .filter(|c| {
                c.method != "GET" && !c.route.contains("search") && !c.route.contains("bulkfetch")
            })
            .map(|c| c.count)
            .sum()
    }
}

fn writes(r: &Report) -> usize {
    r.created + r.updated + r.transitioned + r.commented
}

fn summary(i: &Value) -> &str {
    i["fields"]["summary"].as_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issues_mirror_both_ways_and_a_converged_pair_makes_zero_writes() {
    let p = pair(12).await;
    p.sim
        .control()
        .world()
        .clock()
        .advance(chrono::Duration::seconds(4));
    let first = p.run(sec()).await;
    assert_eq!(first.pulled, 12);
    let second = p.run(ops()).await;
    assert_eq!(second.created, 12, "{second:?}");
    assert!(
        second.parked.is_empty() && second.unreachable.is_empty(),
        "{second:?}"
    );
    p.converge().await;

    let mut acme: Vec<Value> = p.issues("acme");
    let mut globex: Vec<Value> = p.issues("globex");
    assert_eq!((acme.len(), globex.len()), (12, 12), "no duplicates");
    acme.sort_by_key(|i| summary(i).to_owned());
    globex.sort_by_key(|i| summary(i).to_owned());
    for (a, g) in acme.iter().zip(&globex) {
        assert_eq!(summary(a), summary(g));
        assert_eq!(a["fields"]["description"], g["fields"]["description"]);
        let set = |v: &Value| -> Vec<String> {
            let mut l: Vec<String> = v
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap().to_owned())
                .collect();
            l.sort();
            l
        };
        assert_eq!(
            set(&a["fields"]["labels"]),
            set(&g["fields"]["labels"]),
            "labels are a set"
        );
        assert_eq!(
            a["fields"]["priority"]["name"],
            g["fields"]["priority"]["name"]
        );
        assert_eq!(
            a["fields"]["customfield_10042"]["value"], g["fields"]["customfield_10077"]["value"],
            "select fields by value"
        );
        assert_eq!(
            a["fields"]["comment"]["total"], g["fields"]["comment"]["total"],
            "comments mirrored once"
        );
        assert!(
            g["properties"]["jira-sync"]["record"].as_u64().is_some(),
            "the link is on the issue too"
        );
    }

    let before = p.write_requests();
    let (a, b) = (p.run(sec()).await, p.run(ops()).await);
    assert_eq!(writes(&a) + writes(&b), 0, "{a:?} {b:?}");
    assert_eq!(
        p.write_requests(),
        before,
        "a converged pair makes zero writes"
    );
    // An idle connector costs exactly one search call per cycle.
    p.sim.control().reset_counters();
    p.run(sec()).await;
    p.run(ops()).await;
    for site in ["acme", "globex"] {
        let calls: Vec<_> = p.sim.control().counters(Some(site)).unwrap();
        let total: u64 = calls.iter().map(|c| c.count).sum();
        assert_eq!(total, 1, "{site}: {calls:?}");
        assert_eq!(calls[0].route, "/rest/api/3/search/jql");
    }

    // A person creates on globex (in the same minute as the watermark): it appears on acme once.
    let c = p.sim.control();
    let fields = json!({ "fields": { "project": { "key": "OPS" }, "issuetype": { "name": "Bug" }, "summary": "made by bob", "customfield_10077": { "value": "High" } } });
    let key = c
        .create_issue("globex", "bob@globex.example", &fields)
        .unwrap();
    p.converge().await;
    let on_acme: Vec<Value> = p
        .issues("acme")
        .into_iter()
        .filter(|i| summary(i) == "made by bob")
        .collect();
    assert_eq!(on_acme.len(), 1, "exactly once");
    assert_eq!(on_acme[0]["fields"]["customfield_10042"]["value"], "High");
    assert_eq!(on_acme[0]["fields"]["issuetype"]["name"], "Bug");
    assert!(
        c.issue("globex", &key).unwrap()["properties"]
            .get("jira-sync")
            .is_none(),
        "a person's issue carries no marker until needed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_comments_and_concurrent_edits_flow_across() {
    let p = pair(2).await;
    p.converge().await;
    let c = p.sim.control();
    let globex_key = |acme_key: &str| -> String {
        let s = summary(&c.issue("acme", acme_key).unwrap()).to_owned();
        let g = p.issues("globex");
        g.iter().find(|i| summary(i) == s).unwrap()["key"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let g1 = globex_key("SEC-1");

    // Status on globex flows to acme through the right transition.
    c.transition_issue("globex", &g1, "bob@globex.example", "Working")
        .unwrap();
    // A comment on each side.
    c.comment_issue("globex", &g1, "bob@globex.example", &json!("from bob"))
        .unwrap();
    c.comment_issue("acme", "SEC-1", "ann@acme.example", &json!("from ann"))
        .unwrap();
    // Different fields edited on both sides: both survive.
    c.edit_issue(
        "acme",
        "SEC-1",
        "ann@acme.example",
        &json!({ "fields": { "summary": "renamed by ann" } }),
    )
    .unwrap();
    c.edit_issue(
        "globex",
        &g1,
        "bob@globex.example",
        &json!({ "fields": { "labels": ["from-bob"] } }),
    )
    .unwrap();
    p.converge().await;

    let a = c.issue("acme", "SEC-1").unwrap();
    let g = c.issue("globex", &g1).unwrap();
    assert_eq!(a["fields"]["status"]["name"], "In Progress");
    assert_eq!(g["fields"]["status"]["name"], "Working");
    assert_eq!(summary(&a), "renamed by ann");
    assert_eq!(summary(&g), "renamed by ann");
    assert_eq!(a["fields"]["labels"], json!(["from-bob"]));
    let texts = |i: &Value| -> Vec<String> {
        i["fields"]["comment"]["comments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| jira_sync_client::adf::to_text(&c["body"]))
            .collect()
    };
    for t in ["from bob", "from ann"] {
        assert_eq!(
            texts(&a).iter().filter(|x| *x == t).count(),
            1,
            "{t} once on acme: {:?}",
            texts(&a)
        );
        assert_eq!(
            texts(&g).iter().filter(|x| *x == t).count(),
            1,
            "{t} once on globex: {:?}",
            texts(&g)
        );
    }

    // The same field on both sides: the newer edit wins (conflict policy `newest`).
    c.edit_issue(
        "acme",
        "SEC-1",
        "ann@acme.example",
        &json!({ "fields": { "summary": "ann's title" } }),
    )
    .unwrap();
    c.world().clock().advance(chrono::Duration::seconds(2));
    c.edit_issue(
        "globex",
        &g1,
        "bob@globex.example",
        &json!({ "fields": { "summary": "bob's title" } }),
    )
    .unwrap();
    p.converge().await;
    assert_eq!(summary(&c.issue("acme", "SEC-1").unwrap()), "bob's title");
    assert_eq!(summary(&c.issue("globex", &g1).unwrap()), "bob's title");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_interrupted_before_its_commit_is_linked_not_repeated() {
    let p = pair(3).await;
    p.converge().await;
    let c = p.sim.control();
    let key = c.create_issue("acme", "ann@acme.example", &json!({ "fields": { "project": { "key": "SEC" }, "issuetype": { "name": "Task" }, "summary": "created before a crash" } })).unwrap();
    p.sim
        .control()
        .world()
        .clock()
        .advance(chrono::Duration::seconds(4));
    p.run(sec()).await;
    let issue_id = c.issue("acme", &key).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let record = p
        .hub
        .link("acme", "sec", &issue_id)
        .unwrap()
        .unwrap()
        .record;

    // What a globex run does before it dies: the intent is stored, the create is sent and
    // lands, and the process is killed before the commit.
    let nonce = "interrupted-nonce-1";
    p.hub
        .record_intent(
            "globex",
            "ops",
            record,
            jira_sync_store::hub::IntentKind::Create {
                nonce: nonce.into(),
            },
            c.world().clock().now(),
        )
        .await
        .unwrap();
    p.globex
        .create(json!({ "fields": { "project": { "key": "OPS" }, "issuetype": { "name": "Task" }, "summary": "created before a crash" },
                        "properties": [{ "key": "jira-sync", "value": { "record": record, "nonce": nonce } }] }))
        .await
        .unwrap();
    let before = c.issue_count("globex").unwrap();

    // Right after the crash, search may not show the create yet: nothing is repeated.
    let r = p.run(ops()).await;
    assert_eq!((r.created, r.deferred), (0, 1), "{r:?}");
    assert_eq!(
        p.hub.pending_intents("globex", "ops").unwrap().len(),
        1,
        "still pending"
    );
    // Once the overlap has passed, search is trusted: the issue is found and linked.
    c.world().clock().advance(chrono::Duration::minutes(6));
    let r = p.run(ops()).await;
    assert_eq!(
        (r.created, r.deferred),
        (0, 0),
        "the interrupted create is found, not repeated: {r:?}"
    );
    assert_eq!(c.issue_count("globex").unwrap(), before);
    assert!(
        p.hub.pending_intents("globex", "ops").unwrap().is_empty(),
        "the intent is settled"
    );
    p.converge().await;
    assert_eq!(
        p.issues("globex")
            .iter()
            .filter(|i| summary(i) == "created before a crash")
            .count(),
        1,
        "no duplicate"
    );
    assert_eq!(
        c.issue_count("acme").unwrap(),
        c.issue_count("globex").unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_faults_ends_converged_with_nothing_lost_or_duplicated() {
    let p = pair(20).await;
    let c = p.sim.control();
    let storm = jira_sim::faults::FaultSpec {
        error_rate: 0.15,
        error_statuses: vec![500, 502, 504],
        html_rate: 0.03,
        close_rate: 0.05,
        seed: std::env::var("STORM_SEED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(7),
        ..Default::default()
    };
    for site in ["acme", "globex"] {
        c.set_faults(site, storm.clone()).unwrap();
        // And 429 storms: Jira's burst limits far below what the cycles send.
        let burst = BTreeMap::from([
            ("GET".to_owned(), 3),
            ("POST".to_owned(), 3),
            ("PUT".to_owned(), 3),
        ]);
        c.set_limits(
            site,
            jira_sim::limits::LimitsSpec {
                burst,
                per_issue_writes: true,
                tenant_quota: None,
            },
        )
        .unwrap();
    }
    let mut failed_runs = 0;
    for round in 0..12 {
        // Cycles far enough apart for interrupted creates to be settled by search.
        c.world().clock().advance(chrono::Duration::minutes(6));
        if round == 4 {
            // People keep working during the storm.
            let _ = c.edit_issue(
                "acme",
                "SEC-2",
                "ann@acme.example",
                &json!({ "fields": { "summary": "edited in the storm" } }),
            );
            let _ = c.comment_issue(
                "acme",
                "SEC-3",
                "ann@acme.example",
                &json!("said in the storm"),
            );
        }
        for t in [sec(), ops()] {
            let r = p.engine.run(&t).await;
            if std::env::var_os("ENGINE_DEBUG").is_some() {
                let a = c
                    .issue("acme", "SEC-2")
                    .map(|i| summary(&i).to_owned())
                    .unwrap_or_default();
                let g: Vec<String> = p
                    .issues("globex")
                    .iter()
                    .map(|i| format!("{}={}", i["key"].as_str().unwrap(), summary(i)))
                    .filter(|x| x.contains("storm"))
                    .collect();
                eprintln!(
                    "round {round} {t}: {:?} | acme SEC-2: {a} | globex: {g:?}",
                    r.as_ref()
                        .map(|r| (r.pulled, r.created, r.updated, r.conflicts, r.deferred))
                        .map_err(|e| e.to_string())
                );
            }
            // A failed write is noted and the run goes on; a failed pull fails the run.
            failed_runs += r.as_ref().map_or(1, |r| r.failed.len());
        }
    }
    eprintln!("storm: {failed_runs} failed runs and writes in 24 runs");
    assert!(failed_runs > 0, "the storm did hit");
    let throttled: u64 = ["acme", "globex"]
        .iter()
        .map(|s| {
            c.rate_limit_stats(s)
                .unwrap()
                .throttled
                .values()
                .sum::<u64>()
        })
        .sum();
    let early: u64 = ["acme", "globex"]
        .iter()
        .map(|s| c.rate_limit_stats(s).unwrap().early_retries)
        .sum();
    eprintln!(
        "storm: {throttled} 429s, {early} early retries {:?} {:?}",
        c.rate_limit_stats("acme").unwrap().early,
        c.rate_limit_stats("globex").unwrap().early
    );
    assert!(throttled > 0, "the 429 storm did hit");
    assert_eq!(early, 0, "never a retry before Retry-After");
    for site in ["acme", "globex"] {
        c.set_faults(site, Default::default()).unwrap();
        c.set_limits(site, Default::default()).unwrap();
    }
    c.world().clock().advance(chrono::Duration::minutes(6));
    p.converge().await;

    let acme = p.issues("acme");
    let globex = p.issues("globex");
    assert_eq!(acme.len(), 20, "nothing duplicated on acme");
    assert_eq!(globex.len(), 20, "nothing duplicated on globex");
    let mut a: Vec<&str> = acme.iter().map(summary).collect();
    let mut g: Vec<&str> = globex.iter().map(summary).collect();
    a.sort();
    g.sort();
    assert_eq!(a, g, "every issue mirrored");
    assert!(
        g.contains(&"edited in the storm"),
        "the storm's edit is not lost"
    );
    let said: usize = globex
        .iter()
        .flat_map(|i| {
            i["fields"]["comment"]["comments"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|c| jira_sync_client::adf::to_text(&c["body"]) == "said in the storm")
        .count();
    assert_eq!(said, 1, "the storm's comment arrives exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_comment_added_by_an_interrupted_run_is_adopted_not_repeated() {
    let p = pair(2).await;
    p.converge().await;
    let c = p.sim.control();
    let acme_comment = c
        .comment_issue(
            "acme",
            "SEC-1",
            "ann@acme.example",
            &json!("only once please"),
        )
        .unwrap();
    p.sim
        .control()
        .world()
        .clock()
        .advance(chrono::Duration::seconds(4));
    p.run(sec()).await;
    let issue_id = c.issue("acme", "SEC-1").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let record = p
        .hub
        .link("acme", "sec", &issue_id)
        .unwrap()
        .unwrap()
        .record;
    let globex_key = p
        .hub
        .links_of(record)
        .unwrap()
        .into_iter()
        .find(|l| l.site == "globex")
        .unwrap()
        .issue_key;
    // What the globex run did before it died: the intent (flushed), then the comment with its
    // marker; no commit.
    let hub_comment = format!("acme/sec/{acme_comment}");
    p.hub
        .record_intent(
            "globex",
            "ops",
            record,
            jira_sync_store::hub::IntentKind::Comment {
                hub_comment: hub_comment.clone(),
            },
            c.world().clock().now(),
        )
        .await
        .unwrap();
    p.globex
        .add_comment(
            &globex_key,
            jira_sync_client::adf::from_text("only once please"),
            vec![(
                "jira-sync".into(),
                json!({ "record": record, "comment": hub_comment }),
            )],
        )
        .await
        .unwrap();
    let r = p.run(ops()).await;
    assert_eq!(r.commented, 0, "{r:?}");
    p.converge().await;
    let texts: Vec<String> =
        c.issue("globex", &globex_key).unwrap()["fields"]["comment"]["comments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| jira_sync_client::adf::to_text(&x["body"]))
            .collect();
    assert_eq!(
        texts.iter().filter(|t| *t == "only once please").count(),
        1,
        "{texts:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_write_is_parked_until_the_record_changes() {
    let p = pair(2).await;
    p.converge().await;
    let c = p.sim.control();
    // globex's administrator drops the option "High".
    c.set_field_options("globex", "customfield_10077", vec!["Low".into()])
        .unwrap();
    let key = c
        .create_issue("acme", "ann@acme.example", &json!({ "fields": { "project": { "key": "SEC" }, "issuetype": { "name": "Task" }, "summary": "high severity", "customfield_10042": { "value": "High" } } }))
        .unwrap();
    c.world().clock().advance(chrono::Duration::seconds(4));
    p.run(sec()).await;
    let refused = p.run(ops()).await;
    assert_eq!(refused.parked.len(), 1, "{refused:?}");
    assert!(
        refused.parked[0].1.contains("High"),
        "the reason names the value: {refused:?}"
    );

    // Nothing changed: no create is even attempted.
    c.reset_counters();
    for _ in 0..3 {
        c.world().clock().advance(chrono::Duration::seconds(4));
        p.run(sec()).await;
        let r = p.run(ops()).await;
        assert_eq!((r.created, r.waiting, r.parked.len()), (0, 1, 0), "{r:?}");
    }
    let creates: u64 = c
        .counters(Some("globex"))
        .unwrap()
        .iter()
        .filter(|x| x.route == "/rest/api/3/issue/bulk")
        .map(|x| x.count)
        .sum();
    assert_eq!(creates, 0, "a parked write waits for a change");

    // The record changes: it is tried again, and goes through.
    c.edit_issue(
        "acme",
        &key,
        "ann@acme.example",
        &json!({ "fields": { "customfield_10042": { "value": "Low" } } }),
    )
    .unwrap();
    p.converge().await;
    assert_eq!(
        p.issues("globex")
            .iter()
            .filter(|i| summary(i) == "high severity")
            .count(),
        1
    );
}

#[tokio::test]
async fn people_map_by_visible_email_across_sites_and_the_rest_are_left_unset_and_counted() {
    let p = pair(0).await;
    let c = p.sim.control();
    let account = |site: &str, name: &str, email: &str, visible: bool| {
        c.create_account(
            site,
            AccountSpec {
                display_name: name.into(),
                email: Some(email.into()),
                email_visible: Some(visible),
                ..Default::default()
            },
        )
        .unwrap()
    };
    let cara_acme = account("acme", "Cara", "cara@shared.example", true);
    // The same person on globex, her email typed with other capitals; a user whose email
    // merely starts with hers must not be taken for her.
    let cara_globex = account("globex", "Cara", "Cara@Shared.example", true);
    // (Its account id sorts first, so a search lists it before her.)
    c.create_account(
        "globex",
        AccountSpec {
            account_id: Some("000000:decoy".into()),
            display_name: "Cara Decoy".into(),
            email: Some("cara@shared.example.org".into()),
            ..Default::default()
        },
    )
    .unwrap();
    // Dan hides his email on both sites: nothing says the two accounts are one person.
    let dan_acme = account("acme", "Dan", "dan@shared.example", false);
    account("globex", "Dan", "dan@shared.example", false);
    let create = |summary: &str, assignee: &str| {
        c.create_issue(
            "acme",
            "ann@acme.example",
            &json!({ "fields": { "project": { "key": "SEC" }, "issuetype": { "name": "Task" },
                     "summary": summary, "assignee": { "accountId": assignee } } }),
        )
        .unwrap()
    };
    let for_cara = create("for cara", &cara_acme);
    let for_dan = create("for dan", &dan_acme);
    p.converge().await;

    let on_globex = |s: &str| p.only_one("globex", s);
    let g_cara = on_globex("for cara");
    assert_eq!(
        g_cara["fields"]["assignee"]["accountId"],
        json!(cara_globex)
    );
    // Dan cannot be matched, and Ann has no account on globex: left unset (the reporter is
    // the integration's account, as Jira sets it).
    let g_dan = on_globex("for dan");
    assert!(g_dan["fields"]["assignee"].is_null(), "{g_dan}");
    assert_eq!(
        g_dan["fields"]["reporter"]["emailAddress"],
        json!(GLOBEX_BOT)
    );
    // acme keeps its own people.
    let acme = |k: &str| c.issue("acme", k).unwrap();
    assert_eq!(
        acme(&for_dan)["fields"]["assignee"]["accountId"],
        json!(dan_acme)
    );
    assert_eq!(
        acme(&for_cara)["fields"]["reporter"]["emailAddress"],
        json!("ann@acme.example")
    );

    // Converged: an idle round writes nothing and asks no site again who an email is, but
    // says what it left unset (Dan's assignment and Ann as reporter, twice).
    let lookups = || -> u64 {
        c.counters(None)
            .unwrap()
            .iter()
            .filter(|x| x.route.contains("user/search"))
            .map(|x| x.count)
            .sum()
    };
    let (writes_before, lookups_before) = (p.write_requests(), lookups());
    assert!(lookups_before > 0);
    c.world().clock().advance(chrono::Duration::seconds(4));
    let a = p.run(sec()).await;
    let b = p.run(ops()).await;
    assert_eq!(writes(&a) + writes(&b), 0, "{a:?} {b:?}");
    assert_eq!(p.write_requests(), writes_before);
    assert_eq!(lookups(), lookups_before);
    assert_eq!((a.unmapped_people, b.unmapped_people), (0, 3));

    // Changes on globex flow back: Cara takes Dan's issue, and her own is unassigned.
    let g_key = |i: &Value| i["key"].as_str().unwrap().to_owned();
    c.edit_issue(
        "globex",
        &g_key(&g_dan),
        "bob@globex.example",
        &json!({ "fields": { "assignee": { "accountId": cara_globex } } }),
    )
    .unwrap();
    c.edit_issue(
        "globex",
        &g_key(&g_cara),
        "bob@globex.example",
        &json!({ "fields": { "assignee": null } }),
    )
    .unwrap();
    p.converge().await;
    assert_eq!(
        acme(&for_dan)["fields"]["assignee"]["accountId"],
        json!(cara_acme)
    );
    assert!(acme(&for_cara)["fields"]["assignee"].is_null());
    // Reporters never move: acme keeps Ann, globex its own account.
    assert_eq!(
        acme(&for_dan)["fields"]["reporter"]["emailAddress"],
        json!("ann@acme.example")
    );
    assert_eq!(
        on_globex("for cara")["fields"]["reporter"]["emailAddress"],
        json!(GLOBEX_BOT)
    );
}

#[tokio::test]
async fn the_census_marks_deleted_issues_gone_and_deletes_nothing_elsewhere() {
    let p = pair(4).await;
    p.converge().await;
    let c = p.sim.control();
    let doomed = summary(&c.issue("acme", "SEC-1").unwrap()).to_owned();
    let mirror = p
        .issues("globex")
        .into_iter()
        .find(|i| summary(i) == doomed)
        .unwrap();
    let mirror_key = mirror["key"].as_str().unwrap().to_owned();
    c.delete_issue("acme", "SEC-1").unwrap();

    // An incremental pull cannot see a deletion, and the census waits for its hour.
    c.world().clock().advance(chrono::Duration::seconds(4));
    assert!(p.run(sec()).await.gone.is_empty());

    let globex_count = c.issue_count("globex").unwrap();
    c.world().clock().advance(chrono::Duration::minutes(61));
    let a = p.run(sec()).await;
    assert_eq!(a.gone.len(), 1, "{a:?}");
    assert_eq!(a.gone[0].0, "SEC-1");
    assert!(a.gone[0].1.contains("deleted"), "{a:?}");
    // Its mirror on globex stays (propagate_deletes = false), and is neither deleted nor
    // re-created on acme when someone edits it later.
    c.edit_issue(
        "globex",
        &mirror_key,
        "bob@globex.example",
        &json!({ "fields": { "summary": "edited after the deletion" } }),
    )
    .unwrap();
    p.converge().await;
    assert_eq!(c.issue_count("globex").unwrap(), globex_count);
    assert_eq!(
        summary(&c.issue("globex", &mirror_key).unwrap()),
        "edited after the deletion"
    );
    assert!(
        p.issues("acme")
            .iter()
            .all(|i| summary(i) != "edited after the deletion" && summary(i) != doomed),
        "nothing re-created on acme"
    );
    // Nothing tries to write the deleted issue either.
    c.world().clock().advance(chrono::Duration::seconds(4));
    let quiet = p.run(sec()).await;
    assert!(quiet.failed.is_empty() && writes(&quiet) == 0, "{quiet:?}");
    // The other issues are untouched by the census, and it is counted once.
    c.world().clock().advance(chrono::Duration::minutes(61));
    let again = p.run(sec()).await;
    assert!(again.gone.is_empty(), "{again:?}");
}

#[tokio::test]
async fn with_propagate_deletes_a_deleted_source_deletes_its_mirror_but_a_mass_loss_does_not() {
    let p = pair_with(12, "propagate_deletes = true\n").await;
    p.converge().await;
    let c = p.sim.control();
    let mirror_of = |acme_key: &str| -> String {
        let s = summary(&c.issue("acme", acme_key).unwrap()).to_owned();
        p.issues("globex")
            .into_iter()
            .find(|i| summary(i) == s)
            .unwrap()["key"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let m1 = mirror_of("SEC-1");
    let globex_count = c.issue_count("globex").unwrap();
    c.delete_issue("acme", "SEC-1").unwrap();
    c.world().clock().advance(chrono::Duration::minutes(61));
    assert_eq!(p.run(sec()).await.gone.len(), 1);
    let b = p.run(ops()).await;
    assert_eq!(b.deleted, vec![m1.clone()], "{b:?}");
    assert!(c.issue("globex", &m1).is_err(), "the mirror is deleted");
    assert_eq!(c.issue_count("globex").unwrap(), globex_count - 1);
    // Once: the next cycles neither delete again nor fail.
    p.converge().await;
    let again = p.run(ops()).await;
    assert!(
        again.deleted.is_empty() && again.failed.is_empty(),
        "{again:?}"
    );

    // Six of the remaining eleven vanish at once: more likely lost access than deletions.
    let doomed: Vec<String> = (2..=7).map(|i| format!("SEC-{i}")).collect();
    let mirrors: Vec<String> = doomed.iter().map(|k| mirror_of(k)).collect();
    for k in &doomed {
        c.delete_issue("acme", k).unwrap();
    }
    c.world().clock().advance(chrono::Duration::minutes(61));
    let a = p.run(sec()).await;
    assert_eq!(a.gone.len(), 6, "{a:?}");
    assert!(
        a.gone.iter().all(|(_, why)| why.contains("not propagated")),
        "{a:?}"
    );
    let b = p.run(ops()).await;
    assert!(b.deleted.is_empty(), "{b:?}");
    for m in &mirrors {
        assert!(c.issue("globex", m).is_ok(), "{m} kept");
    }
}

#[tokio::test]
async fn a_reporter_jira_will_not_take_is_left_unset_and_the_rest_is_written() {
    let p = pair(0).await;
    let c = p.sim.control();
    let both = |name: &str, email: &str| -> (String, String) {
        let spec = || AccountSpec {
            display_name: name.into(),
            email: Some(email.into()),
            ..Default::default()
        };
        (
            c.create_account("acme", spec()).unwrap(),
            c.create_account("globex", spec()).unwrap(),
        )
    };
    let (_, cara_g) = both("Cara", "cara@shared.example");
    let (dan_a, dan_g) = both("Dan", "dan@shared.example");
    let create = |summary: &str| {
        c.create_issue(
            "acme",
            "cara@shared.example",
            &json!({ "fields": { "project": { "key": "SEC" }, "issuetype": { "name": "Task" },
                     "summary": summary, "assignee": { "accountId": dan_a } } }),
        )
        .unwrap()
    };
    let on_globex = |s: &str| p.only_one("globex", s);
    // Before: Cara, the reporter, is written on globex too.
    let early = create("before the screen change");
    p.converge().await;
    let g = on_globex("before the screen change");
    assert_eq!(g["fields"]["reporter"]["accountId"], json!(cara_g));

    // globex's administrator takes `reporter` off the screens: Jira refuses writes that set it.
    c.set_reporter_on_screens("globex", false).unwrap();
    create("after the screen change");
    c.edit_issue(
        "acme",
        &early,
        "cara@shared.example",
        &json!({ "fields": { "summary": "renamed", "reporter": { "accountId": dan_a } } }),
    )
    .unwrap();
    c.world().clock().advance(chrono::Duration::seconds(4));
    p.run(sec()).await;
    let b = p.run(ops()).await;
    assert!(b.parked.is_empty() && b.failed.is_empty(), "{b:?}");
    assert!(b.unmapped_people >= 2, "{b:?}");
    p.converge().await;
    // The create went through without its reporter (Jira sets the caller), assignee kept.
    let made = on_globex("after the screen change");
    assert_eq!(
        made["fields"]["reporter"]["emailAddress"],
        json!(GLOBEX_BOT)
    );
    assert_eq!(made["fields"]["assignee"]["accountId"], json!(dan_g));
    // The edit went through without the reporter.
    let renamed = on_globex("renamed");
    assert_eq!(renamed["fields"]["reporter"]["accountId"], json!(cara_g));
}
