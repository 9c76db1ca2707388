//! Slots of runs in flight (`max_runs_in_flight`) and what a reload does to runs under way:
//! a run waits for a slot rather than being skipped, and a site or connector removed while
//! its run goes on or waits leaves no series behind. Schedules never fire; tests tick by hand.

use crate::harness::*;
use crate::jobs::{add_initech, conn, metric, quiet_demo};
use jira_sim::Simulator;
use jira_sim::faults::FaultSpec;
use jira_sync_config::ConnectorRef;
use jira_sync_jobs::Options;

/// Every request to `site` takes `ms` milliseconds.
fn slow(sim: &Simulator, site: &str, ms: u64) {
    sim.control()
        .set_faults(
            site,
            FaultSpec {
                latency_ms: Some([ms, ms]),
                ..Default::default()
            },
        )
        .unwrap();
}

/// The quiet demo's jobs with a single slot for runs.
async fn one_slot() -> (Simulator, tempfile::TempDir, Running) {
    let (sim, dir) = quiet_demo().await;
    let r = start(
        dir.path(),
        Options {
            max_runs_in_flight: 1,
            ..Options::default()
        },
    )
    .await;
    (sim, dir, r)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_beyond_max_runs_in_flight_wait_for_a_slot() {
    let (sim, _dir, r) = one_slot().await;
    let (ops, sec) = (conn("globex/ops"), conn("acme/sec"));
    assert_eq!(r.daemon.tick(&ops).await, Some("success"));
    assert_eq!(r.daemon.tick(&sec).await, Some("success"));
    slow(&sim, "globex", 200);
    let finish = |c: ConnectorRef| {
        let d = r.daemon.clone();
        tokio::spawn(async move {
            let outcome = d.tick(&c).await;
            (outcome, tokio::time::Instant::now())
        })
    };
    let slow = finish(ops);
    while !r.daemon.status().connectors.iter().any(|c| c.running) {
        tokio::task::yield_now().await;
    }
    // acme answers at once, but its run must wait until globex's slow run lets go.
    let quick = finish(sec);
    let (slow, quick) = (slow.await.unwrap(), quick.await.unwrap());
    assert_eq!((slow.0, quick.0), (Some("success"), Some("success")));
    assert!(
        quick.1 >= slow.1,
        "acme's run finished while globex's held the only slot"
    );
    assert_eq!(
        metric(
            &r.metrics,
            "jira_sync_runs_skipped_total",
            &[("site", "acme"), ("connector", "sec")]
        ),
        Some(0.0),
        "a run waiting for a slot is late, not skipped"
    );
}

/// Series of `site` in the registry's text.
fn series_of(r: &Running, site: &str) -> Vec<String> {
    let needle = format!("site=\"{site}\"");
    r.metrics
        .encode()
        .lines()
        .filter(|l| l.contains(&needle))
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_removed_while_its_run_goes_on_or_waits_for_a_slot_leaves_no_series() {
    let (sim, dir, r) = one_slot().await;
    add_initech(&sim, dir.path());
    let reload = || async {
        r.daemon
            .reload(jira_sync_config::load(dir.path()).unwrap())
            .await
            .unwrap()
    };
    reload().await;
    let tps = conn("initech/tps");
    assert_eq!(r.daemon.tick(&tps).await, Some("success"));
    let file = dir.path().join("sites.d/initech.toml");
    let site_file = std::fs::read_to_string(&file).unwrap();
    let running = |c: &str| {
        r.daemon
            .status()
            .connectors
            .iter()
            .any(|s| s.running && format!("{}/{}", s.site, s.connector) == c)
    };

    // Removed while its run goes on: the run ends, and writes no series afterwards.
    slow(&sim, "initech", 300);
    let run = {
        let (d, tps) = (r.daemon.clone(), tps.clone());
        tokio::spawn(async move { d.tick(&tps).await })
    };
    while !running("initech/tps") {
        tokio::task::yield_now().await;
    }
    std::fs::remove_file(&file).unwrap();
    reload().await;
    assert!(run.await.unwrap().is_some());
    assert_eq!(series_of(&r, "initech"), Vec::<String>::new());

    // Removed while it waits for globex's run to free the only slot: it never runs.
    sim.control()
        .set_faults("initech", FaultSpec::default())
        .unwrap();
    std::fs::write(&file, &site_file).unwrap();
    reload().await;
    slow(&sim, "globex", 300);
    let holder = {
        let d = r.daemon.clone();
        tokio::spawn(async move { d.tick(&conn("globex/ops")).await })
    };
    while !running("globex/ops") {
        tokio::task::yield_now().await;
    }
    let waiting = {
        let (d, tps) = (r.daemon.clone(), tps.clone());
        tokio::spawn(async move { d.tick(&tps).await })
    };
    while !running("initech/tps") {
        tokio::task::yield_now().await;
    }
    std::fs::remove_file(&file).unwrap();
    reload().await;
    assert_eq!(holder.await.unwrap(), Some("success"));
    assert_eq!(
        waiting.await.unwrap(),
        None,
        "a removed connector does not run"
    );
    assert_eq!(series_of(&r, "initech"), Vec::<String>::new());
}
