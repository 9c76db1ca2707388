//! The initial mirror of N issues from one simulator site to another: wall time, issues per
//! second, and API calls per issue against the fewest possible.
//!
//!   cargo run --release -p jira-sync-engine --example initial_mirror -- [ISSUES]
//!
//! The simulator's rate limits are off and both sites' limiters generous: this measures the
//! engine and its calls, not Jira's limits.

use std::collections::{BTreeMap, HashMap};
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;
use std::time::Instant;

use jira_sim::Simulator;
use jira_sim::control::{AccountSpec, CredentialSpec, ProjectSpec, SiteSpec};
use jira_sim::limits::LimitsSpec;
use jira_sim::model::CredentialKind;
use jira_sync_client::{Client, NoObserver};
use jira_sync_config::{ConnectorRef, Limits, Loader};
use jira_sync_engine::{Engine, SiteCtx};
use jira_sync_store::Store;
use url::Url;

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let http = jira_sync_auth::http_client();
    let sim = Simulator::start().await.unwrap();
    let c = sim.control();
    for (site, key, seed) in [("acme", "SEC", n), ("globex", "OPS", 0)] {
        let email = format!("bot@{site}.example");
        c.create_site(SiteSpec {
            name: site.into(),
            accounts: vec![AccountSpec {
                display_name: "Bot".into(),
                email: Some(email.clone()),
                ..Default::default()
            }],
            projects: vec![ProjectSpec {
                key: key.into(),
                seed_issues: Some(seed),
                ..Default::default()
            }],
            ..Default::default()
        })
        .unwrap();
        c.set_limits(
            site,
            LimitsSpec {
                burst: BTreeMap::new(),
                per_issue_writes: false,
                tenant_quota: None,
                quota_window_seconds: None,
            },
        )
        .unwrap();
        let token = c
            .create_credential(
                site,
                CredentialSpec {
                    kind: CredentialKind::ClassicToken,
                    account: email,
                    token: None,
                    expires_at: None,
                    scopes: vec![],
                },
            )
            .unwrap()
            .token;
        // The fake tokens go to temporary files the site files name.
        std::fs::create_dir_all(std::env::temp_dir().join("jira-sync-bench")).unwrap();
        std::fs::write(
            std::env::temp_dir().join(format!("jira-sync-bench/{site}.token")),
            token,
        )
        .unwrap();
    }
    let comments: usize = (1..=n)
        .filter_map(|i| c.issue("acme", &format!("SEC-{i}")).ok())
        .map(|i| i["fields"]["comment"]["total"].as_u64().unwrap_or(0) as usize)
        .sum();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("sites.d")).unwrap();
    std::fs::write(dir.path().join("jira-sync.toml"), "state_dir = \"state\"\n").unwrap();
    for (site, conn, key, peer) in [
        ("acme", "sec", "SEC", "globex/ops"),
        ("globex", "ops", "OPS", "acme/sec"),
    ] {
        let token = std::env::temp_dir().join(format!("jira-sync-bench/{site}.token"));
        std::fs::write(
            dir.path().join(format!("sites.d/{site}.toml")),
            format!("url = \"{}\"\n[auth]\nmethod = \"api_token\"\nemail = \"bot@{site}.example\"\ntoken = {{ file = \"{}\" }}\n[limits]\nrequests_per_second = 100000\nburst = 100000\nmax_concurrency = 8\n[[connector]]\nname = \"{conn}\"\nproject = \"{key}\"\nmirror = [\"{peer}\"]\n", sim.site_url(site), token.display()),
        )
        .unwrap();
    }
    let config = Arc::new(
        Loader::with_env(Default::default())
            .load(dir.path())
            .unwrap(),
    );
    let store = Store::open(&config.daemon.state_dir).unwrap();
    let mut sites = HashMap::new();
    for site in &config.sites {
        let provider = Arc::new(jira_sync_auth::Provider::new(
            site,
            &Url::parse(&sim.base_url()).unwrap(),
            http.clone(),
            None,
        ));
        let limits = Limits {
            requests_per_second: NonZeroU32::new(100_000).unwrap(),
            burst: NonZeroU32::new(100_000).unwrap(),
            max_concurrency: NonZeroUsize::new(8).unwrap(),
        };
        let limiter = Arc::new(jira_sync_ratelimit::SiteLimiter::new(&site.name, limits));
        let client = Client::new(
            &site.name,
            site.url.clone(),
            provider,
            limiter,
            http.clone(),
            Arc::new(NoObserver),
        );
        sites.insert(
            site.name.clone(),
            SiteCtx {
                client,
                time_zone: chrono_tz::UTC,
                field_types: BTreeMap::new(),
            },
        );
    }
    let engine = Engine::new(config, store.hub().unwrap(), sites);
    c.reset_counters();
    let start = Instant::now();
    let pull = engine
        .run(&ConnectorRef {
            site: "acme".into(),
            connector: "sec".into(),
        })
        .await
        .unwrap();
    let pulled_in = start.elapsed();
    let push = engine
        .run(&ConnectorRef {
            site: "globex".into(),
            connector: "ops".into(),
        })
        .await
        .unwrap();
    let total = start.elapsed();
    let calls: u64 = c.counters(None).unwrap().iter().map(|x| x.count).sum();
    let minimum = n.div_ceil(100) + n.div_ceil(50) + comments;
    println!("{n} issues ({comments} comments) mirrored acme -> globex");
    println!(
        "  pull: {} issues in {pulled_in:.1?}; push: {} created, {} comments in {:.1?}",
        pull.pulled,
        push.created,
        push.commented,
        total - pulled_in
    );
    println!(
        "  total {total:.1?}: {:.0} issues/s",
        n as f64 / total.as_secs_f64()
    );
    println!(
        "  API calls {calls} = {:.3} per issue; the fewest possible {minimum} (pages of 100, bulk creates of 50, one per comment) = {:.3} per issue",
        calls as f64 / n as f64,
        minimum as f64 / n as f64
    );
    assert_eq!(c.issue_count("globex").unwrap(), n);

    // The next cycle of each side: the pulls re-read what lies within their overlap (and
    // merge nothing), and each push still scans every linked record (no dirty index yet).
    c.reset_counters();
    let next = Instant::now();
    let mut writes = 0;
    let mut each = Vec::new();
    for (site, connector) in [("acme", "sec"), ("globex", "ops")] {
        let one = Instant::now();
        let r = engine
            .run(&ConnectorRef {
                site: site.into(),
                connector: connector.into(),
            })
            .await
            .unwrap();
        writes += r.created + r.updated + r.transitioned + r.commented;
        each.push(format!(
            "{site}/{connector} {:.1?} ({} pulled)",
            one.elapsed(),
            r.pulled
        ));
    }
    let calls: u64 = c.counters(None).unwrap().iter().map(|x| x.count).sum();
    println!(
        "  next cycle of both connectors: {:.1?} ({}), {calls} API calls, {writes} writes",
        next.elapsed(),
        each.join(", ")
    );
    let _ = std::fs::remove_dir_all(std::env::temp_dir().join("jira-sync-bench"));
}
