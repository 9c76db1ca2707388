//! Issues per second of a full scan through the client, against a minimal raw loop of the
//! same HTTP requests with reqwest, in the same run on the same simulator.
//!
//!   cargo run --release -p jira-sync-client --example scan_throughput -- [ISSUES] [ROUNDS]
//!
//! Pages of 100 issues with 8 fields, sequential as a connector's pull is. The simulator's
//! rate limits are off and the client's limiter is generous: this measures overhead.

use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;
use std::time::Instant;

use jira_sim::Simulator;
use jira_sim::control::{AccountSpec, CredentialSpec, ProjectSpec, SiteSpec};
use jira_sim::limits::LimitsSpec;
use jira_sim::model::CredentialKind;
use jira_sync_auth::Provider;
use jira_sync_client::{Client, NoObserver, SearchQuery};
use jira_sync_config::{ApiToken, Auth, Limits, Secret, Site};
use jira_sync_ratelimit::SiteLimiter;
use serde_json::Value;
use url::Url;

const FIELDS: [&str; 8] = [
    "summary",
    "status",
    "updated",
    "labels",
    "priority",
    "assignee",
    "description",
    "created",
];
const JQL: &str = "project = SEC ORDER BY updated ASC";

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let issues = args.first().copied().unwrap_or(100_000);
    let rounds = args.get(1).copied().unwrap_or(3);
    let http = jira_sync_auth::http_client();
    let sim = Simulator::start().await.unwrap();
    let c = sim.control();
    c.create_site(SiteSpec {
        name: "acme".into(),
        accounts: vec![AccountSpec {
            display_name: "Bot".into(),
            email: Some("bot@example.invalid".into()),
            ..Default::default()
        }],
        projects: vec![ProjectSpec {
            key: "SEC".into(),
            ..Default::default()
        }],
        ..Default::default()
    })
    .unwrap();
    c.set_limits(
        "acme",
        LimitsSpec {
            burst: Default::default(),
            per_issue_writes: false,
            tenant_quota: None,
            quota_window_seconds: None,
        },
    )
    .unwrap();
    let t = Instant::now();
    c.seed_issues("acme", "SEC", issues, 1, None).unwrap();
    println!("seeded {issues} issues in {:.1?}", t.elapsed());
    let token = c
        .create_credential(
            "acme",
            CredentialSpec {
                kind: CredentialKind::ClassicToken,
                account: "bot@example.invalid".into(),
                token: None,
                expires_at: None,
                scopes: vec![],
            },
        )
        .unwrap()
        .token;
    let base = Url::parse(&sim.site_url("acme")).unwrap();
    let limits = Limits {
        requests_per_second: NonZeroU32::new(100_000).unwrap(),
        burst: NonZeroU32::new(100_000).unwrap(),
        max_concurrency: NonZeroUsize::new(4).unwrap(),
    };
    let site = Site {
        name: "acme".into(),
        file: "acme.toml".into(),
        url: base.clone(),
        cloud_id: None,
        auth: Auth::ApiToken(ApiToken {
            email: "bot@example.invalid".into(),
            token: Secret::new(token.clone()),
            expires_at: None,
        }),
        limits,
        connectors: vec![],
        webhooks: false,
        webhook_secret: None,
    };
    let provider = Arc::new(Provider::new(&site, &base, http.clone(), None));
    let client = Client::new(
        "acme",
        base.clone(),
        provider,
        Arc::new(SiteLimiter::new("acme", limits)),
        http.clone(),
        Arc::new(NoObserver),
    );

    for round in 1..=rounds {
        let t = Instant::now();
        let mut n = 0usize;
        let mut pages = client
            .search(SearchQuery {
                jql: JQL.into(),
                fields: FIELDS.iter().map(|s| s.to_string()).collect(),
                page_size: 100,
                ..Default::default()
            })
            .unwrap();
        while let Some(p) = pages.next().await.unwrap() {
            n += p.issues.len();
        }
        let client_rate = n as f64 / t.elapsed().as_secs_f64();
        assert_eq!(n, issues);

        let t = Instant::now();
        let mut n = 0usize;
        let mut next: Option<String> = None;
        let url = format!("{base}/rest/api/3/search/jql");
        loop {
            let mut q = vec![
                ("jql", JQL.to_owned()),
                ("maxResults", "100".to_owned()),
                ("fields", FIELDS.join(",")),
            ];
            if let Some(t) = &next {
                q.push(("nextPageToken", t.clone()));
            }
            let v: Value = http
                .get(&url)
                .basic_auth("bot@example.invalid", Some(&token))
                .query(&q)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            n += v["issues"].as_array().map_or(0, Vec::len);
            match v["nextPageToken"].as_str() {
                Some(t) => next = Some(t.to_owned()),
                None => break,
            }
        }
        let raw_rate = n as f64 / t.elapsed().as_secs_f64();
        println!(
            "round {round}: client {client_rate:.0} issues/s, raw loop {raw_rate:.0} issues/s, client/raw {:.1} %",
            100.0 * client_rate / raw_rate
        );
    }
}
