//! What one scrape of `/metrics` costs at a given number of connectors: fills every
//! per-connector family as the daemon does after one run of each, then encodes, and prints
//! the exposition's size, the time it took and how far the process's peak resident memory
//! rose (from `/proc/self/status`).
//!
//! ```text
//! cargo run --release -p jira-sync-metrics --example scrape -- 10000
//! ```
//!
//! The second line gathers every family before encoding any (how `prometheus::Registry`
//! gathers one registry), for comparison with `Metrics::encode`, which gathers one family
//! at a time (README "Measured", issue 19).

use std::time::Instant;

use jira_sync_metrics::Metrics;
use prometheus::{Encoder, TextEncoder};

fn peak_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

fn main() {
    let connectors: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let m = Metrics::new();
    for i in 0..connectors {
        let (site, connector) = (format!("s{:04}", i / 10), format!("c{}", i % 10));
        let labels = [site.as_str(), connector.as_str()];
        labels_of_a_run(&m, &labels);
    }
    let base = peak_mb();
    println!("{connectors} connectors filled; peak RSS {base:.0} MB");
    let started = Instant::now();
    let text = m.encode();
    println!(
        "Metrics::encode (one family at a time): {:.1} MB of text in {:.2} s, peak RSS +{:.0} MB",
        text.len() as f64 / 1048576.0,
        started.elapsed().as_secs_f64(),
        peak_mb() - base
    );
    drop(text);
    let base = peak_mb();
    let started = Instant::now();
    let mut all = Vec::new();
    for family in m.families() {
        all.extend(family.gather());
    }
    let mut out = Vec::new();
    TextEncoder::new().encode(&all, &mut out).expect("encodes");
    println!(
        "every family gathered first:          {:.1} MB of text in {:.2} s, peak RSS +{:.0} MB beyond",
        out.len() as f64 / 1048576.0,
        started.elapsed().as_secs_f64(),
        peak_mb() - base
    );
}

/// The series one run of a connector leaves (`jira_sync_jobs::Daemon::tick`).
fn labels_of_a_run(m: &Metrics, labels: &[&str; 2]) {
    let [site, connector] = *labels;
    m.sync_runs_total
        .with_label_values(&[site, connector, "success"])
        .inc();
    m.sync_run_duration_seconds
        .with_label_values(labels)
        .observe(0.2);
    m.run_start_lateness_seconds
        .with_label_values(labels)
        .observe(0.001);
    m.runs_skipped_total.with_label_values(labels).inc_by(0);
    m.issues_pulled_total.with_label_values(labels).inc_by(0);
    for op in ["create", "update", "transition", "comment", "delete"] {
        m.issues_pushed_total
            .with_label_values(&[site, connector, op])
            .inc_by(0);
    }
    m.conflicts_total.with_label_values(labels).inc_by(0);
    m.reconcile_repairs_total
        .with_label_values(labels)
        .inc_by(0);
    m.push_backlog.with_label_values(labels).set(0);
    // As many reasons as `jira_sync_engine::plan::Refusal::ALL` has.
    for reason in 0..9 {
        m.parked_writes
            .with_label_values(&[site, connector, &format!("reason{reason}")])
            .set(0);
    }
    m.last_success_timestamp_seconds
        .with_label_values(labels)
        .set(1.0);
}
