//! The daemon's jobs in process, against the simulator: credential gating and its backoff,
//! reload, overlap, run timeouts, and sharding. Schedules never fire here; tests tick by hand.

use std::time::Duration;

use crate::harness::*;
use jira_sim::Simulator;
use jira_sim::control::CredentialSpec;
use jira_sim::faults::FaultSpec;
use jira_sim::model::CredentialKind;
use jira_sync_config::ConnectorRef;
use jira_sync_jobs::{Daemon, Options, Shard};
use jira_sync_metrics::Metrics;
use jira_sync_store::Store;

use crate::harness::Daemon as DaemonProcess;

pub(crate) fn conn(s: &str) -> ConnectorRef {
    s.parse().unwrap()
}

/// The value of one series of the registry, if present.
pub(crate) fn metric(m: &Metrics, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    value(&m.encode(), name, labels)
}

pub(crate) async fn quiet_demo() -> (Simulator, tempfile::TempDir) {
    let (sim, dir) = demo_with(NEVER).await;
    for s in ["acme", "globex"] {
        sim.control().set_search_lag(s, 0.0).unwrap();
    }
    (sim, dir)
}

/// The quiet demo's jobs with a probe backoff of `backoff` (up to 4 times it), after one
/// successful run of each connector.
async fn synced_with_backoff(backoff: Duration) -> (Simulator, tempfile::TempDir, Running) {
    let (sim, dir) = quiet_demo().await;
    let r = start(
        dir.path(),
        Options {
            probe_backoff: (backoff, backoff * 4),
            ..Options::default()
        },
    )
    .await;
    assert_eq!(r.daemon.tick(&conn("acme/sec")).await, Some("success"));
    assert_eq!(r.daemon.tick(&conn("globex/ops")).await, Some("success"));
    (sim, dir, r)
}

#[tokio::test]
async fn a_revoked_credential_stops_only_its_site_probes_on_a_backoff_and_resumes_by_itself() {
    let backoff = Duration::from_secs(60);
    let (sim, _dir, r) = synced_with_backoff(backoff).await;
    let (sec, ops) = (conn("acme/sec"), conn("globex/ops"));
    let revoked = [("site", "acme"), ("state", "revoked")];
    assert_eq!(
        metric(&r.metrics, "jira_sync_credential_state", &revoked),
        Some(0.0)
    );

    // Revoked mid-life: the next run is refused, the probe classifies it, the site stops.
    sim.control().revoke_credential("acme", "cred-1").unwrap();
    assert_eq!(r.daemon.tick(&sec).await, Some("credential"));
    assert_eq!(
        metric(&r.metrics, "jira_sync_credential_state", &revoked),
        Some(1.0)
    );
    assert_eq!(
        metric(&r.metrics, "jira_sync_credential_up", &[("site", "acme")]),
        Some(0.0)
    );
    assert_eq!(
        metric(
            &r.metrics,
            "jira_sync_sync_runs_total",
            &[("site", "acme"), ("outcome", "credential")]
        ),
        Some(1.0)
    );
    sim.control().reset_counters();
    for _ in 0..3 {
        assert_eq!(r.daemon.tick(&sec).await, Some("credential"));
    }
    assert_eq!(
        requests(&sim, Some("acme")),
        0,
        "no sync traffic and no probe before the backoff passes"
    );
    // The other site is unaffected.
    assert_eq!(r.daemon.tick(&ops).await, Some("success"));
    assert!(requests(&sim, Some("globex")) > 0);

    // An admin re-enables the account; once the backoff passes the probe finds it valid.
    sim.control().restore_credential("acme", "cred-1").unwrap();
    tokio::time::pause();
    tokio::time::advance(backoff + Duration::from_secs(1)).await;
    tokio::time::resume();
    assert_eq!(r.daemon.tick(&sec).await, Some("success"));
    assert_eq!(
        metric(&r.metrics, "jira_sync_credential_state", &revoked),
        Some(0.0)
    );
    assert_eq!(
        metric(
            &r.metrics,
            "jira_sync_credential_state",
            &[("site", "acme"), ("state", "valid")]
        ),
        Some(1.0)
    );
    let status = r.daemon.status();
    let acme = status.sites.iter().find(|s| s.site == "acme").unwrap();
    assert_eq!(acme.health.state.as_deref(), Some("valid"));
    let text = serde_json::to_string(&status).unwrap() + &r.metrics.encode();
    assert_no_secrets(&text);
}

/// Issue 17: Jira demands a CAPTCHA of globex's integration account (`403` with
/// `X-Authentication-Denied-Reason`). The site is gated like a revoked credential, with the
/// reason and what to do in `/status`; a person's edit made meanwhile is neither parked nor
/// lost, and goes out once the lock is cleared and the probe finds the account working.
#[tokio::test]
async fn a_captcha_lock_gates_the_site_as_revoked_and_it_resumes_once_cleared() {
    let backoff = Duration::from_secs(60);
    let (sim, _dir, r) = synced_with_backoff(backoff).await;
    let (sec, ops) = (conn("acme/sec"), conn("globex/ops"));
    let c = sim.control();
    c.edit_issue(
        "acme",
        "SEC-1",
        "alice@acme.example",
        &serde_json::json!({ "fields": { "summary": "edited while globex is locked" } }),
    )
    .unwrap();
    assert_eq!(r.daemon.tick(&sec).await, Some("success"));

    c.require_captcha("globex", "integration@globex.example", 0)
        .unwrap();
    assert_eq!(r.daemon.tick(&ops).await, Some("credential"));
    let state = |state: &str| {
        metric(
            &r.metrics,
            "jira_sync_credential_state",
            &[("site", "globex"), ("state", state)],
        )
    };
    assert_eq!(state("revoked"), Some(1.0));
    let status = r.daemon.status();
    let globex = status.sites.iter().find(|s| s.site == "globex").unwrap();
    let message = globex.health.message.clone().unwrap_or_default();
    assert!(message.contains("CAPTCHA_CHALLENGE"), "{message}");
    assert!(message.contains("sign in once in a browser"), "{message}");
    let ops_status = status
        .connectors
        .iter()
        .find(|x| x.connector == "ops")
        .unwrap();
    assert_eq!(ops_status.last.outcome.as_deref(), Some("credential"));
    // Gated: no request (which would add failed logins) before the probe's backoff.
    c.reset_counters();
    assert_eq!(r.daemon.tick(&ops).await, Some("credential"));
    assert_eq!(requests(&sim, Some("globex")), 0);

    // Someone signs in once in a browser; after the backoff the probe finds it working.
    c.clear_captcha("globex", "integration@globex.example")
        .unwrap();
    tokio::time::pause();
    tokio::time::advance(backoff + Duration::from_secs(1)).await;
    tokio::time::resume();
    assert_eq!(r.daemon.tick(&ops).await, Some("success"));
    assert_eq!(state("valid"), Some(1.0));
    let mirrored = all_issues(&sim, "globex", "OPS")
        .into_iter()
        .filter(|i| i["fields"]["summary"] == "edited while globex is locked")
        .count();
    assert_eq!(
        mirrored, 1,
        "the edit made during the lock reached globex once"
    );
}

/// A third site, with nothing to do with the demo's two.
pub(crate) fn add_initech(sim: &Simulator, dir: &std::path::Path) {
    bot_site(sim, "initech", "TPS", 3);
    sim.control()
        .create_credential(
            "initech",
            CredentialSpec {
                kind: CredentialKind::ClassicToken,
                account: "bot@initech.example".into(),
                token: Some("FAKE-initech-token".into()),
                expires_at: None,
                scopes: vec![],
            },
        )
        .unwrap();
    write_secret(dir.join("secrets/initech.token"), "FAKE-initech-token");
    std::fs::write(
        dir.join("sites.d/initech.toml"),
        format!(
            "url = \"http://{}/site/initech\"\n[auth]\nmethod = \"api_token\"\nemail = \"bot@initech.example\"\ntoken = {{ file = \"secrets/initech.token\" }}\n[[connector]]\nname = \"tps\"\nproject = \"TPS\"\nschedule = \"{NEVER}\"\ndirection = \"pull\"\n",
            sim.addr()
        ),
    )
    .unwrap();
}

#[tokio::test]
async fn a_reload_adds_and_removes_a_site_and_leaves_the_others_running_untouched() {
    let (sim, dir) = quiet_demo().await;
    let r = start(dir.path(), Options::default()).await;
    let sec = conn("acme/sec");
    assert_eq!(r.daemon.tick(&sec).await, Some("success"));
    let runs = |r: &Running| {
        metric(
            &r.metrics,
            "jira_sync_sync_runs_total",
            &[
                ("site", "acme"),
                ("connector", "sec"),
                ("outcome", "success"),
            ],
        )
    };
    assert_eq!(runs(&r), Some(1.0));

    add_initech(&sim, dir.path());
    sim.control().reset_counters();
    r.daemon
        .reload(jira_sync_config::load(dir.path()).unwrap())
        .await
        .unwrap();
    assert!(r.daemon.connectors().contains(&conn("initech/tps")));
    assert_eq!(r.daemon.tick(&conn("initech/tps")).await, Some("success"));
    assert!(requests(&sim, Some("initech")) > 0);
    assert_eq!(
        (requests(&sim, Some("acme")), requests(&sim, Some("globex"))),
        (0, 0),
        "unchanged sites are not restarted (no new probe, no new facts)"
    );

    // A connector renamed in a kept site: the old name's series go, the site's stay.
    let file = dir.path().join("sites.d/initech.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("name = \"tps\"", "name = \"reports\"")).unwrap();
    r.daemon
        .reload(jira_sync_config::load(dir.path()).unwrap())
        .await
        .unwrap();
    let text = r.metrics.encode();
    assert!(!text.contains("connector=\"tps\""), "{text}");
    assert!(text.contains("jira_sync_runs_skipped_total{connector=\"reports\",site=\"initech\"}"));
    assert!(text.contains("jira_sync_credential_up{site=\"initech\"}"));

    std::fs::remove_file(dir.path().join("sites.d/initech.toml")).unwrap();
    r.daemon
        .reload(jira_sync_config::load(dir.path()).unwrap())
        .await
        .unwrap();
    assert!(!r.daemon.connectors().contains(&conn("initech/tps")));
    assert_eq!(r.daemon.tick(&conn("initech/tps")).await, None);
    assert!(
        metric(
            &r.metrics,
            "jira_sync_credential_up",
            &[("site", "initech")]
        )
        .is_none(),
        "a removed site's series go"
    );
    let text = r.metrics.encode();
    let left: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("site=\"initech\""))
        .collect();
    assert!(
        left.is_empty(),
        "every series of the removed site and its connector goes (a stale last success \
         would fire JiraSyncStalled): {left:#?}"
    );
    assert!(text.contains("jira_sync_last_success_timestamp_seconds{connector=\"sec\""));
    assert_eq!(r.daemon.tick(&sec).await, Some("success"));
    assert_eq!(
        runs(&r),
        Some(2.0),
        "the run counter goes on across reloads"
    );

    // A changed token file restarts its site only: it is probed again.
    sim.control().reset_counters();
    let token = std::fs::read_to_string(dir.path().join("secrets/globex.token")).unwrap();
    sim.control()
        .create_credential(
            "globex",
            CredentialSpec {
                kind: CredentialKind::ClassicToken,
                account: "integration@globex.example".into(),
                token: Some("FAKE-globex-rotated-token".into()),
                expires_at: None,
                scopes: vec![],
            },
        )
        .unwrap();
    assert_ne!(token.trim(), "FAKE-globex-rotated-token");
    std::fs::write(
        dir.path().join("secrets/globex.token"),
        "FAKE-globex-rotated-token",
    )
    .unwrap();
    r.daemon
        .reload(jira_sync_config::load(dir.path()).unwrap())
        .await
        .unwrap();
    assert_eq!(r.daemon.tick(&conn("globex/ops")).await, Some("success"));
    assert!(requests(&sim, Some("globex")) > 0);
    assert_eq!(requests(&sim, Some("acme")), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tick_while_the_previous_run_goes_on_is_skipped_and_counted() {
    let (sim, dir) = quiet_demo().await;
    let r = start(dir.path(), Options::default()).await;
    let ops = conn("globex/ops");
    assert_eq!(r.daemon.tick(&ops).await, Some("success"));
    sim.control()
        .set_faults(
            "globex",
            FaultSpec {
                latency_ms: Some([400, 400]),
                ..Default::default()
            },
        )
        .unwrap();
    let first = {
        let d = r.daemon.clone();
        let ops = ops.clone();
        tokio::spawn(async move { d.tick(&ops).await })
    };
    while !r.daemon.status().connectors.iter().any(|c| c.running) {
        tokio::task::yield_now().await;
    }
    assert_eq!(r.daemon.tick(&ops).await, None, "skipped");
    assert_eq!(first.await.unwrap(), Some("success"));
    assert_eq!(
        metric(
            &r.metrics,
            "jira_sync_runs_skipped_total",
            &[("site", "globex"), ("connector", "ops")]
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(
            &r.metrics,
            "jira_sync_runs_skipped_total",
            &[("site", "acme"), ("connector", "sec")]
        ),
        Some(0.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_past_its_timeout_stops_after_its_page_and_commits() {
    let (sim, dir) = quiet_demo().await;
    let r = start(
        dir.path(),
        Options {
            run_timeout: Duration::from_millis(300),
            ..Options::default()
        },
    )
    .await;
    let sec = conn("acme/sec");
    // The site's facts first, without the fault.
    assert!(r.daemon.probe("acme").await.unwrap().usable());
    sim.control()
        .set_faults(
            "acme",
            FaultSpec {
                latency_ms: Some([700, 700]),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(r.daemon.tick(&sec).await, Some("timeout"));
    let s = r.daemon.status();
    let c = s.connectors.iter().find(|c| c.site == "acme").unwrap();
    assert_eq!(c.last.outcome.as_deref(), Some("timeout"));
    assert!(c.last.last_success.is_none());
    // What the run read was committed: the next run (no fault) pulls nothing new of it.
    sim.control()
        .set_faults("acme", FaultSpec::default())
        .unwrap();
    assert_eq!(r.daemon.tick(&sec).await, Some("success"));
}

/// Twelve sites for the shard tests: pairs s0-s1, s2-s3, ..., s6-s7 mirror each other; the
/// rest stand alone. `listen` is the daemon's address.
fn twelve_sites(dir: &std::path::Path, sim: &Simulator, listen: &str) {
    std::fs::create_dir_all(dir.join("sites.d")).unwrap();
    std::fs::write(
        dir.join("jira-sync.toml"),
        format!("state_dir = \"state\"\nlisten = \"{listen}\"\n"),
    )
    .unwrap();
    std::fs::write(dir.join("t.token"), "FAKE-token").unwrap();
    set_mode(&dir.join("t.token"), 0o600);
    for i in 0..12 {
        let mirror = match i {
            i if i < 8 && i % 2 == 0 => format!("mirror = [\"s{}/c\"]\n", i + 1),
            _ => String::new(),
        };
        std::fs::write(
            dir.join(format!("sites.d/s{i}.toml")),
            format!(
                "url = \"http://{}/site/s{i}\"\n[auth]\nmethod = \"api_token\"\nemail = \"bot@example.com\"\ntoken = {{ file = \"t.token\" }}\n[[connector]]\nname = \"c\"\nproject = \"P\"\nschedule = \"{NEVER}\"\n{mirror}",
                sim.addr()
            ),
        )
        .unwrap();
    }
}

/// Each mirror group has one owner among `owner` (site -> shard), every site has one, and
/// the work is spread.
fn assert_sharded(owner: &std::collections::BTreeMap<String, u32>) {
    assert_eq!(owner.len(), 12, "every connector runs: {owner:?}");
    for i in (0..8).step_by(2) {
        assert_eq!(
            owner[&format!("s{i}")],
            owner[&format!("s{}", i + 1)],
            "a mirror group stays on one shard"
        );
    }
    assert!(
        owner
            .values()
            .collect::<std::collections::BTreeSet<_>>()
            .len()
            > 1,
        "the work is spread: {owner:?}"
    );
}

#[tokio::test]
async fn n_shards_together_run_every_connector_exactly_once_and_keep_groups_together() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sim = Simulator::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    twelve_sites(dir.path(), &sim, "127.0.0.1:0");
    let config = jira_sync_config::load(dir.path()).unwrap();
    let store = Store::open(&config.daemon.state_dir).unwrap();
    let n = 3;
    let mut owner = std::collections::BTreeMap::new();
    for index in 0..n {
        let d = Daemon::start(
            config.clone(),
            &store,
            Metrics::new(),
            Options {
                shard: Some(Shard { index, count: n }),
                ..Options::default()
            },
        )
        .await
        .unwrap();
        for c in d.connectors() {
            assert!(owner.insert(c.site.clone(), index).is_none(), "{c} twice");
        }
        d.shutdown().await;
    }
    assert_sharded(&owner);
}

/// As a Kubernetes StatefulSet runs them: one `jira-sync run` process per shard, named by
/// `JIRA_SYNC_SHARD` (the pod's name, ending in its ordinal) and `JIRA_SYNC_SHARDS`; each
/// keeps its own database and listens on `listen`'s port itself.
#[tokio::test]
async fn shards_named_by_the_environment_run_every_connector_exactly_once() {
    let sim = Simulator::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let n = 3u32;
    let mut owner = std::collections::BTreeMap::new();
    for index in 0..n {
        // The same port for every pod: run them one after another on this one host.
        let port = free_port();
        twelve_sites(dir.path(), &sim, &format!("127.0.0.1:{port}"));
        let pod = format!("jira-sync-{index}");
        let d = DaemonProcess::start_with(
            dir.path(),
            &[
                ("JIRA_SYNC_SHARD", &pod),
                ("JIRA_SYNC_SHARDS", &n.to_string()),
            ],
        );
        assert_eq!(
            d.addr,
            format!("127.0.0.1:{port}"),
            "no port offset in a pod"
        );
        let (code, body) = d.get("/status").await;
        assert_eq!(code, 200, "{body}");
        let status: serde_json::Value = serde_json::from_str(&body).unwrap();
        for c in status["connectors"].as_array().unwrap() {
            let site = c["site"].as_str().unwrap().to_owned();
            assert!(owner.insert(site, index).is_none(), "{c} twice");
        }
        // A command run in the pod (`kubectl exec`) opens that shard's database, which the
        // running shard holds: refused, rather than a run on an empty second database.
        let shards = n.to_string();
        let out = command(&["sync", "--config", dir.path().to_str().unwrap(), "s0/c"])
            .env("JIRA_SYNC_SHARD", &pod)
            .env("JIRA_SYNC_SHARDS", &shards)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(text(&out).contains("in use"), "{}", text(&out));
        assert!(!dir.path().join("state/db").exists(), "no second database");
        d.signal("-TERM");
        assert!(d.wait().success());
        assert!(dir.path().join(format!("state/shard-{index}")).is_dir());
    }
    assert_sharded(&owner);
    // Beside shard databases, a command that names no shard is refused: it would open a
    // second, empty database and mirror everything again (as on a jira-sync@I host).
    for args in [
        vec!["sync", "s0/c"],
        vec!["store", "rebuild"],
        vec!["check"],
    ] {
        let mut cmd = command(&args);
        let out = cmd
            .args(["--config", dir.path().to_str().unwrap()])
            .env_remove("JIRA_SYNC_SHARD")
            .env_remove("JIRA_SYNC_SHARDS")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(text(&out).contains("JIRA_SYNC_SHARD=I"), "{}", text(&out));
    }
    assert!(!dir.path().join("state/db").exists(), "no second database");
    // On one host (`--shard I/N`, the systemd template) shard I listens on the port + I.
    let port = free_port();
    twelve_sites(dir.path(), &sim, &format!("127.0.0.1:{port}"));
    let mut cmd = command(&[
        "run",
        "--config",
        dir.path().to_str().unwrap(),
        "--shard",
        "1/3",
    ]);
    let d = DaemonProcess::spawn(&mut cmd);
    assert_eq!(d.addr, format!("127.0.0.1:{}", port + 1));
    // Half a placement is refused before anything runs: that pod would run every group.
    let out = command(&["run", "--config", dir.path().to_str().unwrap()])
        .env("JIRA_SYNC_SHARDS", "3")
        .env_remove("JIRA_SYNC_SHARD")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("JIRA_SYNC_SHARD"), "{}", text(&out));
}

#[tokio::test]
async fn a_restart_restores_the_last_success_so_no_staleness_alert_fires() {
    let (_sim, dir) = quiet_demo().await;
    let sec = conn("acme/sec");
    let last = {
        let r = start(dir.path(), Options::default()).await;
        assert_eq!(r.daemon.tick(&sec).await, Some("success"));
        r.daemon.shutdown().await;
        metric(
            &r.metrics,
            "jira_sync_last_success_timestamp_seconds",
            &[("site", "acme"), ("connector", "sec")],
        )
        .unwrap()
    };
    let r = start(dir.path(), Options::default()).await;
    assert_eq!(
        metric(
            &r.metrics,
            "jira_sync_last_success_timestamp_seconds",
            &[("site", "acme"), ("connector", "sec")],
        ),
        Some(last),
        "restored before any run"
    );
}

#[tokio::test]
async fn ticks_of_connectors_on_one_schedule_are_spread_by_stable_offsets() {
    let (_sim, dir) = quiet_demo().await;
    let r = start(dir.path(), Options::default()).await;
    // The demo's schedule is NEVER here (a year apart): offsets are capped at a minute.
    let (a, b) = (
        r.daemon.offset(&conn("acme/sec")),
        r.daemon.offset(&conn("globex/ops")),
    );
    assert!(a < Duration::from_secs(60) && b < Duration::from_secs(60));
    assert_ne!(a, b, "two connectors, two offsets");
    assert_eq!(a, r.daemon.offset(&conn("acme/sec")), "stable");
}

#[tokio::test]
async fn a_rotated_client_secret_stops_its_site_until_the_new_one_is_installed_and_reloaded() {
    use jira_sim::oauth::{Consent, OAuthClientSpec};
    let (sim, dir) = quiet_demo().await;
    bot_site(&sim, "cco", "CCO", 3);
    let (id, secret) = sim
        .control()
        .create_oauth_client(OAuthClientSpec {
            kind: Some("service_account".into()),
            scopes: vec!["read:jira-work".into(), "read:jira-user".into()],
            service_account: Some(Consent {
                account: "bot@cco.example".into(),
                sites: vec!["cco".into()],
            }),
            ..Default::default()
        })
        .unwrap();
    write_secret(dir.path().join("secrets/cco.secret"), &secret);
    std::fs::write(
        dir.path().join("sites.d/cco.toml"),
        format!(
            "url = \"http://{}/site/cco\"\n[auth]\nmethod = \"client_credentials\"\nclient_id = \"{id}\"\nclient_secret = {{ file = \"secrets/cco.secret\" }}\n[[connector]]\nname = \"c\"\nproject = \"CCO\"\nschedule = \"{NEVER}\"\ndirection = \"pull\"\n",
            sim.addr()
        ),
    )
    .unwrap();
    let r = start(dir.path(), Options::default()).await;
    let cco = conn("cco/c");
    assert_eq!(r.daemon.tick(&cco).await, Some("success"));

    // The secret is rotated, and the access token in hand expires.
    let new_secret = sim.control().rotate_client_secret(&id).unwrap();
    sim.control()
        .world()
        .clock()
        .advance(chrono::Duration::hours(2));
    assert_eq!(
        r.daemon.tick(&cco).await,
        Some("credential"),
        "stops within one cycle"
    );
    assert_eq!(
        metric(&r.metrics, "jira_sync_credential_up", &[("site", "cco")]),
        Some(0.0)
    );
    sim.control().reset_counters();
    assert_eq!(r.daemon.tick(&cco).await, Some("credential"));
    let token_requests: u64 = sim
        .control()
        .counters(None)
        .unwrap()
        .iter()
        .filter(|c| c.site == "cco" || c.route.contains("oauth"))
        .map(|c| c.count)
        .sum();
    assert_eq!(
        token_requests, 0,
        "no traffic and no probe within the backoff"
    );
    assert_eq!(
        r.daemon.tick(&conn("acme/sec")).await,
        Some("success"),
        "others go on"
    );

    // The operator installs the new secret and reloads: the site resumes.
    write_secret(dir.path().join("secrets/cco.secret"), &new_secret);
    r.daemon
        .reload(jira_sync_config::load(dir.path()).unwrap())
        .await
        .unwrap();
    assert_eq!(r.daemon.tick(&cco).await, Some("success"));
    assert_eq!(
        metric(&r.metrics, "jira_sync_credential_up", &[("site", "cco")]),
        Some(1.0)
    );
}

#[tokio::test]
async fn a_killed_refresh_token_family_stops_its_oauth_site_and_a_new_consent_resumes_it() {
    let (sim, dir) = quiet_demo().await;
    bot_site(&sim, "oco", "OCO", 3);
    let (id, secret, refresh) = consented_app(&sim, "oco", Default::default()).await;
    write_secret(dir.path().join("secrets/oco.secret"), &secret);
    write_secret(dir.path().join("secrets/oco.refresh"), &refresh);
    std::fs::write(
        dir.path().join("sites.d/oco.toml"),
        format!(
            "url = \"http://{}/site/oco\"\n[auth]\nmethod = \"oauth2\"\nclient_id = \"{id}\"\nclient_secret = {{ file = \"secrets/oco.secret\" }}\nrefresh_token = {{ file = \"secrets/oco.refresh\" }}\n[[connector]]\nname = \"c\"\nproject = \"OCO\"\nschedule = \"{NEVER}\"\ndirection = \"pull\"\n",
            sim.addr()
        ),
    )
    .unwrap();
    let r = start(dir.path(), Options::default()).await;
    let oco = conn("oco/c");
    assert_eq!(r.daemon.tick(&oco).await, Some("success"));

    // The family dies (a rotated token was replayed elsewhere); the access token runs out.
    let grant = sim.control().grants()[0].id.clone();
    sim.control().revoke_grant(&grant).unwrap();
    sim.control()
        .world()
        .clock()
        .advance(chrono::Duration::hours(2));
    assert_eq!(
        r.daemon.tick(&oco).await,
        Some("credential"),
        "stops within one cycle"
    );
    assert_eq!(
        metric(
            &r.metrics,
            "jira_sync_credential_state",
            &[("site", "oco"), ("state", "revoked")]
        ),
        Some(1.0)
    );
    sim.control().reset_counters();
    assert_eq!(r.daemon.tick(&oco).await, Some("credential"));
    let sent: u64 = sim
        .control()
        .counters(None)
        .unwrap()
        .iter()
        .filter(|c| c.site == "oco" || c.route.contains("oauth"))
        .map(|c| c.count)
        .sum();
    assert_eq!(
        sent, 0,
        "no traffic and no refresh attempt within the backoff"
    );
    assert_eq!(r.daemon.tick(&conn("globex/ops")).await, Some("success"));

    // The user consents again; the operator puts the new refresh token in the site's file
    // and reloads: the site resumes, without a restart.
    let fresh = consent(&sim, &id, &secret, "oco").await;
    write_secret(dir.path().join("secrets/oco.refresh"), &fresh);
    r.daemon
        .reload(jira_sync_config::load(dir.path()).unwrap())
        .await
        .unwrap();
    assert_eq!(r.daemon.tick(&oco).await, Some("success"));
    // An unchanged file never replaces the rotated token in the vault: the next refresh
    // still works (the file's token was rotated away meanwhile).
    sim.control()
        .world()
        .clock()
        .advance(chrono::Duration::hours(2));
    assert_eq!(r.daemon.tick(&oco).await, Some("success"));
}

/// The expiry series follow a reload: a token whose `expires_at` is removed has no expiry
/// timestamp left (its expiry alerts would go on reading the old date) and reads as not
/// declared; declared again, both come back.
#[tokio::test]
async fn a_reload_that_drops_a_declared_expiry_drops_its_series() {
    let (_sim, dir) = quiet_demo().await;
    let r = start(dir.path(), Options::default()).await;
    let globex = [("site", "globex"), ("method", "api_token")];
    let expiry = |r: &Running| {
        metric(
            &r.metrics,
            "jira_sync_credential_expiry_timestamp_seconds",
            &globex,
        )
    };
    let declared =
        |r: &Running| metric(&r.metrics, "jira_sync_credential_expiry_declared", &globex);
    r.daemon.probe("globex").await.unwrap();
    assert!(expiry(&r).is_some());
    assert_eq!(declared(&r), Some(1.0));

    edit(
        dir.path(),
        "sites.d/globex.toml",
        "expires_at = \"2027-03-01\"\n",
        "",
    );
    r.daemon
        .reload(jira_sync_config::load(dir.path()).unwrap())
        .await
        .unwrap();
    r.daemon.probe("globex").await.unwrap();
    assert_eq!(expiry(&r), None, "no stale expiry date");
    assert_eq!(declared(&r), Some(0.0));
    // The other site is untouched.
    assert_eq!(
        metric(
            &r.metrics,
            "jira_sync_credential_expiry_declared",
            &[("site", "acme"), ("method", "service_account")]
        ),
        Some(1.0)
    );
}
