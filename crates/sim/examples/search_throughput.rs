//! Pages per second the simulator serves from `search/jql`, under concurrent load on
//! loopback. Not a test: run it and read the numbers.
//!
//!   cargo run --release -p jira-sim --example search_throughput -- [ISSUES] [CONCURRENCY] [SECONDS]
//!
//! Two scenarios walk the whole result set page by page, over and over, from CONCURRENCY
//! workers: pages of 100 issues with 8 fields, and id-only pages of 5000.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use jira_sim::Simulator;
use jira_sim::control::{AccountSpec, CredentialSpec, FieldSpec, ProjectSpec, SiteSpec};
use jira_sim::model::CredentialKind;
use serde_json::{Value, json};

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let issues = args.first().copied().unwrap_or(10_000);
    let concurrency = args.get(1).copied().unwrap_or(16);
    let seconds = args.get(2).copied().unwrap_or(10) as u64;

    // The workspace builds reqwest with rustls and no default crypto provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sim = Simulator::start().await.expect("start");
    let c = sim.control();
    c.create_site(SiteSpec {
        name: "bench".into(),
        accounts: vec![AccountSpec {
            display_name: "Bench".into(),
            email: Some("bench@example.invalid".into()),
            ..Default::default()
        }],
        fields: vec![
            FieldSpec {
                id: Some("customfield_10042".into()),
                name: "Severity".into(),
                kind: "select".into(),
                options: vec!["Low".into(), "High".into()],
            },
            FieldSpec {
                id: Some("customfield_10050".into()),
                name: "Team".into(),
                kind: "text".into(),
                options: vec![],
            },
        ],
        projects: vec![ProjectSpec {
            key: "BEN".into(),
            ..Default::default()
        }],
        ..Default::default()
    })
    .unwrap();
    // Measure the simulator, not its (default-on) burst limits.
    c.set_limits(
        "bench",
        jira_sim::limits::LimitsSpec {
            burst: Default::default(),
            per_issue_writes: false,
            tenant_quota: None,
            quota_window_seconds: None,
        },
    )
    .unwrap();
    let started = Instant::now();
    c.seed_issues("bench", "BEN", issues, 1, None).unwrap();
    println!("seeded {issues} issues in {:.1?}", started.elapsed());
    let token = c
        .create_credential(
            "bench",
            CredentialSpec {
                kind: CredentialKind::ClassicToken,
                account: "bench@example.invalid".into(),
                token: None,
                expires_at: None,
                scopes: vec![],
            },
        )
        .unwrap()
        .token;
    let url = format!("{}/rest/api/3/search/jql", sim.site_url("bench"));
    let fields = json!([
        "summary",
        "status",
        "updated",
        "labels",
        "priority",
        "assignee",
        "description",
        "customfield_10042"
    ]);

    for (name, body) in [
        (
            "100 issues x 8 fields",
            json!({ "jql": "project = BEN ORDER BY updated ASC", "maxResults": 100, "fields": fields }),
        ),
        (
            "5000 ids only",
            json!({ "jql": "project = BEN ORDER BY updated ASC", "maxResults": 5000, "fields": ["id"] }),
        ),
    ] {
        let pages = Arc::new(AtomicU64::new(0));
        let returned = Arc::new(AtomicU64::new(0));
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let mut workers = Vec::new();
        for _ in 0..concurrency {
            let (url, token, body, pages, returned) = (
                url.clone(),
                token.clone(),
                body.clone(),
                pages.clone(),
                returned.clone(),
            );
            workers.push(tokio::spawn(async move {
                let http = reqwest::Client::new();
                let mut latencies = Vec::new();
                let mut next: Option<String> = None;
                while Instant::now() < deadline {
                    let mut b = body.clone();
                    if let Some(t) = &next {
                        b["nextPageToken"] = json!(t);
                    }
                    let t0 = Instant::now();
                    let v: Value = http
                        .post(&url)
                        .basic_auth("bench@example.invalid", Some(&token))
                        .json(&b)
                        .send()
                        .await
                        .unwrap()
                        .json()
                        .await
                        .unwrap();
                    latencies.push(t0.elapsed());
                    pages.fetch_add(1, Ordering::Relaxed);
                    returned.fetch_add(
                        v["issues"].as_array().map_or(0, Vec::len) as u64,
                        Ordering::Relaxed,
                    );
                    next = v
                        .get("nextPageToken")
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                }
                latencies
            }));
        }
        let mut lat: Vec<Duration> = Vec::new();
        for w in workers {
            lat.extend(w.await.unwrap());
        }
        lat.sort();
        let p = |q: f64| lat[((lat.len() as f64 - 1.0) * q) as usize];
        let secs = seconds as f64;
        println!(
            "{name}: {:.0} pages/s, {:.0} issues/s, latency p50 {:.1?} p99 {:.1?} ({} pages, {concurrency} workers, {seconds} s)",
            pages.load(Ordering::Relaxed) as f64 / secs,
            returned.load(Ordering::Relaxed) as f64 / secs,
            p(0.5),
            p(0.99),
            pages.load(Ordering::Relaxed)
        );
    }
}
