//! One site's credential is revoked; the daemon's other sites keep their pace.
//!
//! Two identical worlds run side by side in this process, so both see the same machine: a
//! simulator, N mirrored site pairs (`p0a` <-> `p0b`, ...), a person editing issues on every
//! site, and the daemon's jobs on real schedules (every 2 s). After a warm-up, site `p0a`'s
//! token is revoked in one world. Over the measured window:
//! - `p0a` stops within one cycle: at most one successful run after the revocation, and no
//!   request but the refused one and its probes;
//! - every other site's runs succeed, in both worlds;
//! - the mean run duration of the other sites in the faulted world is printed next to the
//!   fault-free world's. It is a figure for docs/RELIABILITY.md, not an assertion: these
//!   machines are shared and noisy.
//!
//! `ISOLATION_PAIRS`, `ISOLATION_ISSUES` and `ISOLATION_SECONDS` size the long version
//! (`scripts/reliability isolation`).

use std::time::Duration;

use crate::harness::*;
use jira_sim::Simulator;
use jira_sim::control::CredentialSpec;
use jira_sim::model::CredentialKind;
use jira_sim::seed::Rng;
use jira_sync_harness::compare::env_or;
use serde_json::json;

const SCHEDULE: &str = "*/2 * * * * *";

struct World {
    sim: Simulator,
    dir: tempfile::TempDir,
    running: Option<Running>,
    sites: Vec<String>,
}

fn site_name(pair: u64, side: char) -> String {
    format!("p{pair}{side}")
}

async fn world(pairs: u64, issues: usize) -> World {
    let sim = Simulator::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let addr = sim.addr();
    for sub in ["sites.d", "secrets"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
    }
    std::fs::write(
        dir.path().join("jira-sync.toml"),
        format!(
            "state_dir = \"state\"\nlisten = \"127.0.0.1:0\"\ngateway_url = \"http://{addr}\"\nauth_url = \"http://{addr}\"\n"
        ),
    )
    .unwrap();
    let mut sites = Vec::new();
    for pair in 0..pairs {
        for (side, other) in [('a', 'b'), ('b', 'a')] {
            let name = site_name(pair, side);
            let token = format!("FAKE-{name}-token");
            bot_site(&sim, &name, &name.to_uppercase(), issues);
            sim.control()
                .create_credential(
                    &name,
                    CredentialSpec {
                        kind: CredentialKind::ClassicToken,
                        account: format!("bot@{name}.example"),
                        token: Some(token.clone()),
                        expires_at: None,
                        scopes: vec![],
                    },
                )
                .unwrap();
            write_secret(dir.path().join(format!("secrets/{name}.token")), token);
            std::fs::write(
                dir.path().join(format!("sites.d/{name}.toml")),
                format!(
                    "url = \"http://{addr}/site/{name}\"\n[auth]\nmethod = \"api_token\"\nemail = \"bot@{name}.example\"\ntoken = {{ file = \"secrets/{name}.token\" }}\n[[connector]]\nname = \"c\"\nproject = \"{}\"\nschedule = \"{SCHEDULE}\"\nmirror = [\"{}/c\"]\n",
                    name.to_uppercase(),
                    site_name(pair, other)
                ),
            )
            .unwrap();
            sites.push(name);
        }
    }
    World {
        sim,
        dir,
        running: None,
        sites,
    }
}

impl World {
    fn metric(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let text = self.running.as_ref().unwrap().metrics.encode();
        value(&text, name, labels).unwrap_or(0.0)
    }

    /// (runs, seconds spent in them, successful runs) of `site`'s connector so far, all read
    /// from one scrape `text`. Runs are counted by outcome (each run adds to exactly one), so
    /// a run that ends between two reads cannot pass for a failed one; the seconds come from
    /// the duration histogram (a figure, not an assertion).
    fn runs(text: &str, site: &str) -> (f64, f64, f64) {
        let outcome = |o: &str| {
            value(
                text,
                "jira_sync_sync_runs_total",
                &[("site", site), ("outcome", o)],
            )
            .unwrap_or(0.0)
        };
        let runs: f64 = ["success", "error", "credential", "timeout", "interrupted"]
            .into_iter()
            .map(outcome)
            .sum();
        let l = [("site", site)];
        let count = value(text, "jira_sync_sync_run_duration_seconds_count", &l).unwrap_or(0.0);
        let sum = value(text, "jira_sync_sync_run_duration_seconds_sum", &l).unwrap_or(0.0);
        // Seconds scaled to the runs counted, should the histogram lag a run behind.
        let secs = if count > 0.0 { sum / count * runs } else { 0.0 };
        (runs, secs, outcome("success"))
    }

    fn snapshot(&self) -> Vec<(f64, f64, f64)> {
        let text = self.running.as_ref().unwrap().metrics.encode();
        self.sites.iter().map(|s| Self::runs(&text, s)).collect()
    }
}

/// A person who edits one issue on one site of each world every 250 ms: the same sequence
/// in both.
struct Person {
    dice: [Rng; 2],
    round: u64,
    issues: usize,
}

impl Person {
    async fn edit_for(&mut self, worlds: &[World; 2], how_long: Duration) {
        let until = tokio::time::Instant::now() + how_long;
        while tokio::time::Instant::now() < until {
            self.round += 1;
            for (w, dice) in worlds.iter().zip(&mut self.dice) {
                let site = &w.sites[dice.below(w.sites.len() as u64) as usize];
                let key = format!(
                    "{}-{}",
                    site.to_uppercase(),
                    1 + dice.below(self.issues as u64)
                );
                let _ = w.sim.control().edit_issue(
                    site,
                    &key,
                    &format!("bot@{site}.example"),
                    &json!({ "fields": { "summary": format!("edited in round {}", self.round) } }),
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// Per site: (runs, mean seconds per run, successful runs) between two snapshots.
fn window(before: &[(f64, f64, f64)], after: &[(f64, f64, f64)]) -> Vec<(f64, f64, f64)> {
    before
        .iter()
        .zip(after)
        .map(|(b, a)| {
            let runs = a.0 - b.0;
            (runs, (a.1 - b.1) / runs.max(1.0), a.2 - b.2)
        })
        .collect()
}

/// Mean seconds per run over the sites `pick` keeps.
fn mean(w: &[(f64, f64, f64)], sites: &[String], pick: impl Fn(&str) -> bool) -> (f64, f64) {
    let (mut runs, mut secs) = (0.0, 0.0);
    for (i, (r, m, _)) in w.iter().enumerate() {
        if pick(&sites[i]) {
            runs += r;
            secs += r * m;
        }
    }
    (runs, secs / runs.max(1.0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_site_stops_and_the_other_sites_keep_their_pace() {
    let pairs = env_or("ISOLATION_PAIRS", 3);
    let issues = env_or("ISOLATION_ISSUES", 20) as usize;
    let seconds = env_or("ISOLATION_SECONDS", 16);
    let warmup = Duration::from_secs(env_or("ISOLATION_WARMUP", 8));
    let mut worlds = [world(pairs, issues).await, world(pairs, issues).await];
    for w in &mut worlds {
        w.running = Some(start(w.dir.path(), jira_sync_jobs::Options::default()).await);
    }
    let [baseline, faulted] = &worlds;
    let sites = baseline.sites.clone();
    let (victim, partner) = (site_name(0, 'a'), site_name(0, 'b'));

    // Warm-up: the initial mirror of every pair, a person already at work.
    let mut person = Person {
        dice: [Rng(7), Rng(7)],
        round: 0,
        issues,
    };
    person.edit_for(&worlds, warmup).await;

    // The measured window: p0a's token is revoked in one world.
    let before = [baseline.snapshot(), faulted.snapshot()];
    faulted.sim.control().reset_counters();
    faulted
        .sim
        .control()
        .revoke_credential(&victim, "cred-1")
        .unwrap();
    person.edit_for(&worlds, Duration::from_secs(seconds)).await;
    let after = [baseline.snapshot(), faulted.snapshot()];
    let victim_requests = requests(&faulted.sim, Some(&victim));
    let victim_refused = faulted.metric(
        "jira_sync_sync_runs_total",
        &[("site", &victim), ("outcome", "credential")],
    );
    let state = faulted.metric(
        "jira_sync_credential_state",
        &[("site", &victim), ("state", "revoked")],
    );
    // What each world's connectors last said, for a failure message.
    let mut last: [Vec<String>; 2] = [vec![], vec![]];
    for (i, w) in worlds.iter_mut().enumerate() {
        let running = w.running.take().unwrap();
        last[i] = running
            .daemon
            .status()
            .connectors
            .iter()
            .map(|c| {
                format!(
                    "{}/{}: {:?} {:?}",
                    c.site, c.connector, c.last.outcome, c.last.message
                )
            })
            .collect();
        running.daemon.shutdown().await;
    }

    let w = [window(&before[0], &after[0]), window(&before[1], &after[1])];
    let v = sites.iter().position(|s| *s == victim).unwrap();
    let others = |s: &str| s != victim && s != partner;
    let (base_runs, base_mean) = mean(&w[0], &sites, others);
    let (fault_runs, fault_mean) = mean(&w[1], &sites, others);
    let (_, base_partner) = mean(&w[0], &sites, |s| s == partner);
    let (_, fault_partner) = mean(&w[1], &sites, |s| s == partner);
    println!(
        "isolation: {pairs} pairs, {issues} issues per site, {seconds} s window\n\
         other sites: {base_runs} runs, mean {:.1} ms fault-free; {fault_runs} runs, mean {:.1} ms with {victim} revoked: ratio {:.3}\n\
         {partner} (mirror of {victim}): mean {:.1} ms fault-free, {:.1} ms faulted\n\
         {victim}: {} successful runs after the revocation, {victim_refused} runs refused, {victim_requests} requests to its site",
        base_mean * 1e3,
        fault_mean * 1e3,
        fault_mean / base_mean,
        base_partner * 1e3,
        fault_partner * 1e3,
        w[1][v].2,
    );

    // The faulted site stopped within one cycle, said why, and went quiet.
    assert!(w[1][v].2 <= 1.0, "{victim} kept syncing: {:?}", w[1][v]);
    assert!(victim_refused >= 1.0);
    assert_eq!(state, 1.0, "{victim} reads revoked");
    // The refused request of the run that met the revocation (a refusal ends the run), then
    // one probe per backoff step (1, 2, 4, ... minutes), each /myself on both URL forms.
    let probes = 1
        + (1..)
            .take_while(|k| 60 * ((1u64 << k) - 1) <= seconds)
            .count() as u64;
    assert!(
        victim_requests <= 1 + 2 * probes,
        "{victim_requests} requests to a revoked site, {probes} probes allowed"
    );
    // Every other site synced in the window, every run successful, in both worlds.
    for (world, w) in w.iter().enumerate() {
        for (i, (runs, _, ok)) in w.iter().enumerate() {
            if world == 1 && i == v {
                continue;
            }
            assert!(*runs >= 1.0, "{} ran no cycle in world {world}", sites[i]);
            assert_eq!(
                runs, ok,
                "{} had failed runs in world {world}; last runs: {:#?}",
                sites[i], last[world]
            );
        }
    }
}
