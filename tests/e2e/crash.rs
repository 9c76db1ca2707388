//! The crash loop: the daemon is killed with SIGKILL at random moments while it mirrors two
//! sites and a person keeps editing both, and restarted each time. The store opens every
//! time, and in the end both sites hold the same issues field by field, none twice, with
//! every person's last edit. CI runs a short loop; `scripts/reliability` the long one
//! (`CRASH_KILLS=20 CRASH_ISSUES=2000`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::harness::*;
use jira_sim::Simulator;
use jira_sim::seed::Rng;
use jira_sync_harness::compare::{env_or, issue_line};
use serde_json::json;

/// The issues of a site as comparable lines: every synced field, statuses as hub statuses.
fn state(sim: &Simulator, site: &str) -> Vec<String> {
    let (project, severity, statuses): (_, _, &[(&str, &str)]) = if site == "acme" {
        (
            "SEC",
            "customfield_10042",
            &[
                ("To Do", "open"),
                ("In Progress", "in_progress"),
                ("Done", "closed"),
            ],
        )
    } else {
        (
            "OPS",
            "customfield_10077",
            &[
                ("Open", "open"),
                ("Working", "in_progress"),
                ("Closed", "closed"),
            ],
        )
    };
    let mut lines: Vec<String> = all_issues(sim, site, project)
        .iter()
        .map(|i| issue_line(i, severity, statuses))
        .collect();
    lines.sort();
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_random_moments_the_daemon_loses_nothing_and_duplicates_nothing() {
    let kills = env_or("CRASH_KILLS", 5);
    let acme = env_or("CRASH_ISSUES", 150) as usize;
    let globex = acme / 5;
    let (sim, dir) = demo_sized(Some((acme, globex))).await;
    schedule_all(dir.path(), "*/1 * * * * *");
    // A create a kill interrupted is retried only once search must show it if it landed:
    // after the overlap. The shortest (1m) keeps the test short.
    edit(
        dir.path(),
        "sites.d/acme.toml",
        "overlap = \"5m\"",
        "overlap = \"1m\"",
    );
    // The simulator's own limits stand; the daemon's rate is what a large site would allow.
    edit(
        dir.path(),
        "sites.d/acme.toml",
        "requests_per_second = 10\nburst = 20",
        "requests_per_second = 40\nburst = 60",
    );
    edit(
        dir.path(),
        "sites.d/globex.toml",
        "schedule = \"*/1 * * * * *\"",
        "schedule = \"*/1 * * * * *\"\noverlap = \"1m\"",
    );
    for s in ["acme", "globex"] {
        // Search lags writes by a second: the recovery of interrupted creates must wait for it.
        sim.control().set_search_lag(s, 1.0).unwrap();
    }
    // A person edits acme's summaries and globex's priorities throughout; the last edit of
    // each issue must survive.
    let last: Arc<Mutex<BTreeMap<(String, String), String>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let person = {
        let (c, last, stop) = (sim.control().clone(), last.clone(), stop.clone());
        tokio::spawn(async move {
            let mut dice = Rng(0x5eed_1234_abcd_9876);
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(400)).await;
                n += 1;
                let (site, key, field, value, body) = if n % 2 == 0 {
                    let key = format!("SEC-{}", 1 + dice.below(acme as u64));
                    let v = format!("edited by alice #{n}");
                    let body = json!({ "fields": { "summary": v } });
                    ("acme", key, "summary", v, body)
                } else {
                    let key = format!("OPS-{}", 1 + dice.below(globex as u64));
                    let v = ["High", "Low", "Medium"][dice.below(3) as usize].to_owned();
                    let body = json!({ "fields": { "priority": { "name": v } } });
                    ("globex", key, "priority", v, body)
                };
                let who = if site == "acme" {
                    "alice@acme.example"
                } else {
                    "bob@globex.example"
                };
                if c.edit_issue(site, &key, who, &body).is_ok() {
                    last.lock()
                        .unwrap()
                        .insert((site.to_owned(), format!("{key}/{field}")), value);
                }
            }
        })
    };

    let mut dice = Rng(0x0dd_c0ffee ^ env_or("CRASH_SEED", 0));
    for k in 0..kills {
        // Starting proves the store opens: a daemon that cannot open it exits at once.
        let path = dir.path().to_owned();
        let mut d = tokio::task::spawn_blocking(move || Daemon::start(&path))
            .await
            .unwrap();
        let alive = Duration::from_millis(300 + dice.below(2700));
        tokio::time::sleep(alive).await;
        assert!(
            d.child.try_wait().unwrap().is_none(),
            "the daemon died by itself before kill {k}"
        );
        d.child.kill().unwrap(); // SIGKILL
        d.child.wait().unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    person.await.unwrap();

    // Restarted once more, it converges.
    let path = dir.path().to_owned();
    let d = tokio::task::spawn_blocking(move || Daemon::start(&path))
        .await
        .unwrap();
    let total = acme + globex;
    let deadline = Instant::now() + Duration::from_secs(env_or("CRASH_DEADLINE", 170));
    let (a, g) = loop {
        let (a, g) = (state(&sim, "acme"), state(&sim, "globex"));
        if a.len() >= total && a == g {
            break (a, g);
        }
        assert!(
            Instant::now() < deadline,
            "no convergence: acme {} issues, globex {}; first difference: {:?}",
            a.len(),
            g.len(),
            a.iter().zip(&g).find(|(x, y)| x != y)
        );
        if std::env::var_os("CRASH_DEBUG").is_some() {
            let differ = a.iter().zip(&g).filter(|(x, y)| x != y).count();
            eprintln!("acme {} globex {} differing {differ}", a.len(), g.len());
            if let Some((x, y)) = a.iter().zip(&g).find(|(x, y)| x != y) {
                eprintln!("  {x}\n  {y}");
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    assert_eq!(a.len(), total, "no issue twice on acme");
    assert_eq!(g.len(), total, "no issue twice on globex");
    for ((site, key_field), value) in last.lock().unwrap().iter() {
        let (key, field) = key_field.split_once('/').unwrap();
        let issue = sim.control().issue(site, key).unwrap();
        let now = match field {
            "summary" => issue["fields"]["summary"].as_str().unwrap_or_default(),
            _ => issue["fields"]["priority"]["name"]
                .as_str()
                .unwrap_or_default(),
        };
        assert_eq!(now, value, "{site} {key}: the last {field} edit was lost");
    }
    d.signal("-TERM");
    assert_eq!(d.wait().code(), Some(0));
    eprintln!(
        "{kills} kills, {total} issues each side, {} edits kept",
        last.lock().unwrap().len()
    );
}
