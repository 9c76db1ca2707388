//! `jira-sync run` as a child process against the simulator, as systemd runs it: every metric
//! family of DESIGN.md on /metrics, the endpoints, `status`, SIGHUP with a bad configuration,
//! and SIGTERM in the middle of a cycle.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::harness::*;
use jira_sim::faults::FaultSpec;

fn successes(text: &str, site: &str) -> f64 {
    value(
        text,
        "jira_sync_sync_runs_total",
        &[("site", site), ("outcome", "success")],
    )
    .unwrap_or(0.0)
}

/// (name, label names) of every row of DESIGN.md's metrics table.
fn design_table() -> Vec<(String, BTreeSet<String>)> {
    let design = std::fs::read_to_string(repo_root().join("../shared/DESIGN.md")).unwrap();
    let rows: Vec<_> = design
        .lines()
        .filter(|l| l.starts_with("| `jira_sync_"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let name = cells[1].trim_matches('`').to_owned();
            let labels = cells[3]
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            (name, labels)
        })
        .collect();
    assert_eq!(rows.len(), 24, "DESIGN.md's table has 24 families");
    rows
}

/// Families DESIGN.md names for features of open issues, with the issue, and families
/// exported only where a feature is on (with the test that checks them). The change that
/// builds the feature exports the family and removes it from here: the test fails for a
/// family that is missing and not listed, and for one listed that is exported already.
const PENDING: &[(&str, &str)] = &[
    (
        "jira_sync_webhook_deliveries_total",
        "after the first delivery: tests/e2e/webhooks.rs",
    ),
    (
        "jira_sync_webhook_last_delivery_timestamp_seconds",
        "after the first delivery: tests/e2e/webhooks.rs",
    ),
    (
        "jira_sync_webhook_expiry_timestamp_seconds",
        "oauth2 sites with webhooks only: tests/e2e/webhooks.rs",
    ),
];

/// Label names of each exposed series of `name` (histograms through `_count`).
fn label_sets(text: &str, name: &str) -> Vec<BTreeSet<String>> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let series = l.rsplit_once(' ')?.0;
            let (n, rest) = series.split_once('{').unwrap_or((series, "}"));
            (n == name || n == format!("{name}_count")).then(|| {
                rest.trim_end_matches('}')
                    .split(',')
                    .filter(|p| !p.is_empty())
                    .filter_map(|p| Some(p.split_once('=')?.0.to_owned()))
                    .collect()
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_exports_every_metric_of_the_design_and_they_move_with_real_runs() {
    let (sim, dir) = demo_with("*/1 * * * * *").await;
    for s in ["acme", "globex"] {
        sim.control().set_search_lag(s, 0.0).unwrap();
    }
    listen_on_free_port(dir.path());
    let d = Daemon::start(dir.path());
    assert_eq!(d.get("/healthz").await.0, 200);
    let text = d
        .until("a successful run of both connectors", |t| {
            successes(t, "acme") >= 1.0 && successes(t, "globex") >= 1.0
        })
        .await;
    for (name, labels) in design_table() {
        let sets = label_sets(&text, &name);
        if let Some((_, issue)) = PENDING.iter().find(|(n, _)| *n == name) {
            assert!(
                sets.is_empty(),
                "{name} is exported: remove it from PENDING ({issue})"
            );
            continue;
        }
        assert!(!sets.is_empty(), "{name} is not exported:\n{text}");
        assert!(
            sets.iter().all(|s| *s == labels),
            "{name}: label sets {sets:?}, the design says {labels:?}"
        );
    }
    assert_eq!(
        value(
            &text,
            "jira_sync_credential_state",
            &[("site", "acme"), ("state", "valid")]
        ),
        Some(1.0)
    );
    let pushed = |t: &str| {
        value(
            t,
            "jira_sync_issues_pushed_total",
            &[("site", "globex"), ("op", "create")],
        )
        .unwrap_or(0.0)
    };
    // The 25 issues of acme reach globex, and runs keep coming.
    let before = successes(&text, "acme");
    let later = d
        .until("more runs and acme's 25 issues created on globex", |t| {
            successes(t, "acme") > before && pushed(t) >= 25.0
        })
        .await;
    assert!(
        value(
            &later,
            "jira_sync_http_requests_total",
            &[("site", "globex"), ("endpoint", "/rest/api/3/issue/bulk")]
        )
        .unwrap_or(0.0)
            >= 1.0,
        "HTTP requests by route template"
    );
    assert_eq!(d.get("/readyz").await.0, 200);
    let (code, status) = d.get("/status").await;
    assert_eq!(code, 200);
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["sites"].as_array().unwrap().len(), 2);
    assert_eq!(status["connectors"][0]["outcome"], "success");
    assert_no_secrets(&later);
    assert_no_secrets(&status.to_string());
    // `jira-sync status` asks the running daemon.
    let cfg = dir.path().to_str().unwrap().to_owned();
    let out = tokio::task::spawn_blocking(move || jira_sync(&["status", "--config", &cfg]))
        .await
        .unwrap();
    let out = crate::harness::text(&out);
    assert!(out.starts_with("from the running daemon"), "{out}");
    assert!(
        out.contains("site acme: service_account credential valid"),
        "{out}"
    );
    assert!(out.contains("group acme, shard 0/1"), "{out}");
    assert!(out.contains("connector globex/ops: last run"), "{out}");
    assert_no_secrets(&out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sighup_with_a_bad_configuration_keeps_the_old_one_running_and_says_so() {
    let (_sim, dir) = demo_with("*/1 * * * * *").await;
    let d = Daemon::start(dir.path());
    d.until("a run", |t| successes(t, "globex") >= 1.0).await;
    let good = std::fs::read_to_string(dir.path().join("sites.d/globex.toml")).unwrap();
    std::fs::write(
        dir.path().join("sites.d/globex.toml"),
        good.replace("project = \"OPS\"", "project = 42"),
    )
    .unwrap();
    d.signal("-HUP");
    let text = d
        .until("the failed reload", |t| {
            value(t, "jira_sync_config_last_reload_success", &[]) == Some(0.0)
        })
        .await;
    let before = successes(&text, "globex");
    d.until("runs of the old configuration", |t| {
        successes(t, "globex") > before
    })
    .await;
    // Fixed: the next reload takes.
    std::fs::write(dir.path().join("sites.d/globex.toml"), good).unwrap();
    d.signal("-HUP");
    d.until("the good reload", |t| {
        value(t, "jira_sync_config_last_reload_success", &[]) == Some(1.0)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_cycle_exits_0_with_the_cycle_committed() {
    let (sim, dir) = demo_with("*/1 * * * * *").await;
    // systemd's side of Type=notify and WatchdogSec=2s.
    let socket_path = dir.path().join("notify.sock");
    let notify = std::os::unix::net::UnixDatagram::bind(&socket_path).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let d = Daemon::start_with(
        dir.path(),
        &[
            ("NOTIFY_SOCKET", socket_path.to_str().unwrap()),
            ("WATCHDOG_USEC", "2000000"),
        ],
    );
    let mut heard = Vec::new();
    let mut hear = |until: &str| {
        let mut buf = [0u8; 512];
        while !heard.iter().any(|m: &String| m.contains(until)) {
            let n = notify.recv(&mut buf).expect("a notify message");
            heard.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    };
    hear("READY=1");
    hear("WATCHDOG=1");
    d.until("the sites ready", |t| {
        value(t, "jira_sync_credential_up", &[("site", "acme")]) == Some(1.0)
    })
    .await;
    // Slow pages: the first cycle of acme/sec is still going when SIGTERM comes.
    sim.control()
        .set_faults(
            "acme",
            FaultSpec {
                latency_ms: Some([800, 800]),
                ..Default::default()
            },
        )
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, s) = d.get("/status").await;
        let s: serde_json::Value = serde_json::from_str(&s).unwrap();
        if s["connectors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["site"] == "acme" && c["running"] == true)
        {
            break;
        }
        assert!(Instant::now() < deadline, "acme/sec never ran");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    d.signal("-TERM");
    let exit = tokio::task::spawn_blocking(move || d.wait()).await.unwrap();
    assert_eq!(exit.code(), Some(0));
    hear("STOPPING=1");
    // The store opens (the daemon let go of it) and holds the cycle's commit.
    let config = jira_sync_config::load(dir.path()).unwrap();
    let store = jira_sync_store::Store::open(&config.daemon.state_dir).unwrap();
    let w = store.hub().unwrap().watermark("acme", "sec").unwrap();
    assert!(
        w.updated.is_some(),
        "the interrupted cycle committed what it read"
    );
    let run = store.status().unwrap().run("acme", "sec").unwrap().unwrap();
    assert_eq!(run.outcome.as_deref(), Some("interrupted"));
    drop(store);
    // With the daemon down, `status` reads the store.
    let cfg = dir.path().to_str().unwrap().to_owned();
    let out = tokio::task::spawn_blocking(move || jira_sync(&["status", "--config", &cfg]))
        .await
        .unwrap();
    let out = text(&out);
    assert!(out.starts_with("from the state database"), "{out}");
    assert!(
        out.contains("connector acme/sec: last run") && out.contains("interrupted"),
        "{out}"
    );
}

/// Under systemd (stderr is the journal, as `JOURNAL_STREAM` says) each line starts with its
/// journald priority, and `JIRA_SYNC_LOG` takes per-crate filter directives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_carry_their_journald_priority_and_take_filter_directives() {
    use std::os::unix::fs::MetadataExt;
    let (_sim, dir) = demo_with("*/1 * * * * *").await;
    let log = dir.path().join("journal.log");
    std::fs::write(&log, "").unwrap();
    let meta = std::fs::metadata(&log).unwrap();
    let stream = format!("{}:{}", meta.dev(), meta.ino());
    let d = Daemon::start_logged(
        dir.path(),
        &[
            ("JOURNAL_STREAM", &stream),
            ("JIRA_SYNC_LOG", "warn,jira_sync_jobs=debug"),
        ],
        &log,
    );
    d.until("a run", |m| successes(m, "acme") >= 1.0).await;
    d.signal("-TERM");
    assert!(d.wait().success());
    let journal = std::fs::read_to_string(&log).unwrap();
    let mut debug_lines = 0;
    for line in journal.lines() {
        let (prio, json) = line
            .strip_prefix('<')
            .and_then(|l| l.split_once('>'))
            .unwrap_or_else(|| panic!("no priority prefix: {line}"));
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        let (level, target) = (v["level"].as_str().unwrap(), v["target"].as_str().unwrap());
        let want = match level {
            "ERROR" => "3",
            "WARN" => "4",
            "INFO" => "6",
            _ => "7",
        };
        assert_eq!(prio, want, "{line}");
        if !matches!(level, "ERROR" | "WARN") {
            assert!(target.starts_with("jira_sync_jobs"), "filtered out: {line}");
        }
        debug_lines += usize::from(level == "DEBUG");
    }
    assert!(
        debug_lines > 0,
        "jira_sync_jobs=debug shows its debug lines:\n{journal}"
    );

    // Not the journal (a plain file): no prefix.
    let plain = dir.path().join("plain.log");
    let d = Daemon::start_logged(dir.path(), &[("JOURNAL_STREAM", &stream)], &plain);
    d.signal("-TERM");
    assert!(d.wait().success());
    let lines = std::fs::read_to_string(&plain).unwrap();
    assert!(
        lines.lines().count() > 0 && lines.lines().all(|l| l.starts_with('{')),
        "{lines}"
    );

    // `jira-sync check` (ExecStartPre=) refusing a configuration: each problem at error.
    let bad = tempfile::tempdir().unwrap();
    std::fs::write(bad.path().join("jira-sync.toml"), "listen = \"nowhere\"\n").unwrap();
    std::fs::create_dir(bad.path().join("sites.d")).unwrap();
    let refused = dir.path().join("refused.log");
    let file = std::fs::File::create(&refused).unwrap();
    let meta = file.metadata().unwrap();
    let status = command(&[
        "check",
        "--offline",
        "--config",
        bad.path().to_str().unwrap(),
    ])
    .env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()))
    .stderr(file)
    .status()
    .unwrap();
    assert_eq!(status.code(), Some(2));
    let lines = std::fs::read_to_string(&refused).unwrap();
    assert!(lines.contains("listen"), "{lines}");
    assert!(lines.lines().all(|l| l.starts_with("<3>")), "{lines}");

    // A filter that does not parse stops the daemon before it starts, exit 2.
    let out = command(&["run", "--config", dir.path().to_str().unwrap()])
        .env("JIRA_SYNC_LOG", "info,jira_sync_engine=loud")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("JIRA_SYNC_LOG"), "{}", text(&out));
}
