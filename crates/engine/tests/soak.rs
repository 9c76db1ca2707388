//! The fault soak: site pairs mirroring while the simulator answers 10 % of requests with
//! 5xx, closes connections mid-response, returns HTML error pages, adds latency spikes and
//! throws 429 storms (burst and per-issue limits), and a person keeps editing both sides.
//! When the faults stop and a few cycles run, every pair must be converged field by field,
//! with no issue twice, every person's last edit kept, and no request retried before the
//! simulator's `Retry-After`. CI runs 3 pairs for 20 s; `scripts/reliability soak` runs 20
//! pairs for 10 minutes (`SOAK_PAIRS`, `SOAK_SECONDS`).

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::*;
use jira_sim::faults::FaultSpec;
use jira_sim::limits::LimitsSpec;
use jira_sim::seed::Rng;
use jira_sim::testkit::{env_or, issue_line};

/// A site's issues as comparable lines (hub statuses, select values, comment counts).
fn state(p: &Pair, site: &str) -> Vec<String> {
    let (severity, statuses): (_, &[(&str, &str)]) = if site == "acme" {
        (
            "customfield_10042",
            &[
                ("To Do", "open"),
                ("In Progress", "in_progress"),
                ("Done", "closed"),
            ],
        )
    } else {
        (
            "customfield_10077",
            &[
                ("Open", "open"),
                ("Working", "in_progress"),
                ("Closed", "closed"),
            ],
        )
    };
    let mut lines: Vec<String> = p
        .issues(site)
        .iter()
        .map(|i| issue_line(i, severity, statuses))
        .collect();
    lines.sort();
    lines
}

/// The storm on one site; `spike` adds a latency spike.
fn storm(p: &Pair, site: &str, seed: u64, spike: bool) {
    let c = p.sim.control();
    c.set_faults(
        site,
        FaultSpec {
            error_rate: 0.10,
            error_statuses: vec![500, 502, 503, 504],
            html_rate: 0.02,
            close_rate: 0.03,
            latency_ms: Some(if spike { [200, 800] } else { [0, 20] }),
            seed,
        },
    )
    .unwrap();
}

/// Soaks one pair for `for_how_long`; returns (runs, failed runs or writes, edits kept).
async fn soak(n: u64, for_how_long: Duration) -> (u64, u64, usize) {
    let p = pair(15).await;
    let c = p.sim.control().clone();
    let mut dice = Rng(0x9e37_79b9 ^ (n << 20));
    let mut last: BTreeMap<(String, String), String> = BTreeMap::new();
    let (mut runs, mut failures) = (0u64, 0u64);
    let started = Instant::now();
    let mut round = 0u64;
    while started.elapsed() < for_how_long {
        round += 1;
        for site in ["acme", "globex"] {
            storm(&p, site, n * 1000 + round, round.is_multiple_of(7));
            // A 429 storm every few rounds: burst limits far below what a cycle sends.
            let burst = if round.is_multiple_of(4) {
                BTreeMap::from([
                    ("GET".to_owned(), 2),
                    ("POST".to_owned(), 2),
                    ("PUT".to_owned(), 2),
                ])
            } else {
                jira_sim::limits::default_burst()
            };
            c.set_limits(
                site,
                LimitsSpec {
                    burst,
                    per_issue_writes: true,
                    tenant_quota: None,
                },
            )
            .unwrap();
        }
        // A person at work on both sides: summaries on acme, priorities on globex.
        let acme = c.issue_count("acme").unwrap() as u64;
        let key = format!("SEC-{}", 1 + dice.below(acme));
        let v = format!("edited on acme, pair {n} round {round}");
        if c.edit_issue(
            "acme",
            &key,
            "ann@acme.example",
            &json!({ "fields": { "summary": v } }),
        )
        .is_ok()
        {
            last.insert(("acme".into(), key), v);
        }
        let globex = c.issue_count("globex").unwrap() as u64;
        if globex > 0 {
            let key = format!("OPS-{}", 1 + dice.below(globex));
            let v = ["High", "Low", "Medium"][dice.below(3) as usize].to_owned();
            if c.edit_issue(
                "globex",
                &key,
                "bob@globex.example",
                &json!({ "fields": { "priority": { "name": v } } }),
            )
            .is_ok()
            {
                last.insert(("globex".into(), key), v);
            }
        }
        if round.is_multiple_of(3) {
            let _ = c.comment_issue("acme", "SEC-1", "ann@acme.example", &json!("busy day"));
        }
        // Simulated time runs faster than the wall clock: creates a fault interrupted settle.
        c.world().clock().advance(chrono::Duration::seconds(40));
        for t in [sec(), ops()] {
            runs += 1;
            match p.engine.run(&t).await {
                Ok(r) => failures += r.failed.len() as u64,
                Err(_) => failures += 1,
            }
        }
    }
    // The faults stop; a few cycles settle everything.
    for site in ["acme", "globex"] {
        c.set_faults(site, FaultSpec::default()).unwrap();
        c.set_limits(site, LimitsSpec::default()).unwrap();
    }
    c.world().clock().advance(chrono::Duration::minutes(6));
    p.converge().await;
    let (a, g) = (state(&p, "acme"), state(&p, "globex"));
    assert_eq!(a.len(), g.len(), "pair {n}: no issue twice");
    if a != g && std::env::var_os("SOAK_DEBUG").is_some() {
        for l in a.iter().filter(|l| !g.contains(l)) {
            let s = l.split(" | ").next().unwrap();
            for site in ["acme", "globex"] {
                for i in p.issues(site).iter().filter(|i| summary(i) == s) {
                    eprintln!("{site} {}:", i["key"]);
                    for c in i["fields"]["comment"]["comments"].as_array().unwrap() {
                        eprintln!(
                            "   {} {} {}",
                            c["id"],
                            c["author"]["displayName"],
                            c["body"].to_string().chars().take(120).collect::<String>()
                        );
                    }
                }
            }
        }
    }
    let only = |x: &[String], y: &[String]| -> Vec<String> {
        x.iter().filter(|l| !y.contains(l)).cloned().collect()
    };
    assert!(
        a == g,
        "pair {n}: not converged field by field;\nonly on acme: {:#?}\nonly on globex: {:#?}",
        only(&a, &g),
        only(&g, &a)
    );
    for ((site, key), v) in &last {
        let i = c.issue(site, key).unwrap();
        let now = if site == "acme" {
            summary(&i).to_owned()
        } else {
            i["fields"]["priority"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(&now, v, "pair {n}: {site} {key}: the last edit was lost");
    }
    for site in ["acme", "globex"] {
        let stats = c.rate_limit_stats(site).unwrap();
        assert_eq!(
            stats.early_retries, 0,
            "pair {n} {site}: retried before Retry-After: {:?}",
            stats.early
        );
    }
    (runs, failures, last.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirroring_pairs_survive_a_storm_of_faults_and_converge_exactly() {
    let pairs = env_or("SOAK_PAIRS", 3);
    let seconds = env_or("SOAK_SECONDS", 20);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..pairs {
        tasks.spawn(soak(n, Duration::from_secs(seconds)));
    }
    let (mut runs, mut failures, mut edits) = (0, 0, 0);
    while let Some(r) = tasks.join_next().await {
        let (r, f, e) = r.unwrap();
        runs += r;
        failures += f;
        edits += e;
    }
    eprintln!(
        "soak: {pairs} pairs, {seconds} s of faults, {runs} runs ({failures} failed runs or writes), {edits} edits kept, all converged, 0 early retries; {:.0} s in all",
        started.elapsed().as_secs_f64()
    );
    assert!(failures > 0, "the storm did hit");
}
