//! Webhooks trigger runs (issue 21): the `jira-sync run` binary with `webhook_listen`, the
//! demo's two token sites with admin webhooks registered in the simulator. A delivery makes
//! the mirror appear long before any scheduled run; forged and replayed deliveries change
//! nothing; a dropped delivery is caught by the poll.

use std::time::{Duration, Instant};

use crate::harness::*;
use jira_sim::Simulator;
use jira_sim::control::AdminWebhookSpec;
use jira_sim::webhooks::{WebhookFaults, hub_signature};
use serde_json::{Value, json};

const SECRET: &str = "FAKE-webhook-secret-acme";

/// The demo on `schedule` with a search lag of 2 s, webhooks on for acme (an admin webhook
/// with a secret, registered in the simulator as an administrator would), the listener on
/// a free port. Returns the simulator, the configuration and the site's delivery URL.
async fn demo_with_webhooks(schedule: &str) -> (Simulator, tempfile::TempDir, String) {
    let (sim, dir) = demo_with(schedule).await;
    for s in ["acme", "globex"] {
        sim.control().set_search_lag(s, 2.0).unwrap();
    }
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}/jira/hooks");
    let daemon_file = dir.path().join("jira-sync.toml");
    let mut text = std::fs::read_to_string(&daemon_file).unwrap();
    text.push_str(&format!(
        "webhook_listen = \"127.0.0.1:{port}\"\nwebhook_url = \"{base}\"\n"
    ));
    std::fs::write(&daemon_file, text).unwrap();
    write_secret(dir.path().join("secrets/acme.webhook"), SECRET);
    edit(
        dir.path(),
        "sites.d/acme.toml",
        "[auth]",
        "webhooks = true\nwebhook_secret = { file = \"secrets/acme.webhook\" }\n\n[auth]",
    );
    let url = format!("{base}/acme");
    sim.control()
        .register_admin_webhook(
            "acme",
            AdminWebhookSpec {
                name: "jira-sync".into(),
                url: url.clone(),
                jql: Some("project = SEC".into()),
                secret: Some(SECRET.into()),
                ..Default::default()
            },
        )
        .unwrap();
    (sim, dir, url)
}

/// Globex's issue whose summary is `summary`, once it exists (up to `within`); the time it
/// took.
async fn mirror_of(sim: &Simulator, summary: &str, within: Duration) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < within {
        let found = sim
            .control()
            .world()
            .site("globex")
            .unwrap()
            .lock()
            .unwrap()
            .issues()
            .values()
            .any(|i| i.summary == summary);
        if found {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// Every delivery of acme is dropped from now on.
fn drop_all(sim: &Simulator) {
    let faults = WebhookFaults {
        drop_next: 1_000,
        ..Default::default()
    };
    sim.control().set_webhook_faults("acme", faults).unwrap();
}

fn person_creates(sim: &Simulator, summary: &str) -> String {
    sim.control()
        .create_issue(
            "acme",
            "alice@acme.example",
            &json!({ "fields": { "project": { "key": "SEC" }, "issuetype": { "name": "Task" }, "summary": summary } }),
        )
        .unwrap()
}

fn series(text: &str, outcome: &str) -> f64 {
    text.lines()
        .filter(|l| {
            l.starts_with("jira_sync_webhook_deliveries_total{")
                && l.contains(&format!("outcome=\"{outcome}\""))
                && l.contains("site=\"acme\"")
        })
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_makes_the_mirror_appear_before_any_scheduled_run() {
    let (sim, dir, _) = demo_with_webhooks(NEVER).await;
    let d = Daemon::start(dir.path());
    let summary = "Pushed by a webhook";
    person_creates(&sim, summary);
    // No schedule fires: only the delivery can start acme's run (and then globex's push),
    // and the 2 s search lag hides the new issue from search, but not from reconcileIssues.
    let took = mirror_of(&sim, summary, Duration::from_secs(30)).await;
    assert!(took.is_some(), "the mirror did not appear");
    // Both sites' initial sync follows from the first runs (nudged peers), and the daemon's
    // own writes come back as deliveries: the sites still go quiet, no echo loop.
    let mut quiet = false;
    for _ in 0..15 {
        sim.control().reset_counters();
        tokio::time::sleep(Duration::from_secs(3)).await;
        if write_requests(&sim) == 0 {
            quiet = true;
            break;
        }
    }
    assert!(
        quiet,
        "writes never stopped: {:?}",
        sim.control().counters(None).unwrap()
    );
    // Nor do runs bounce between the sites: with no schedule firing, they stop too.
    let runs = |t: &str| -> f64 {
        t.lines()
            .filter(|l| l.starts_with("jira_sync_sync_runs_total{"))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
            .sum()
    };
    let before = runs(&d.get("/metrics").await.1);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        runs(&d.get("/metrics").await.1),
        before,
        "runs kept starting"
    );
    let text = d
        .until("the delivery counted", |t| series(t, "accepted") >= 1.0)
        .await;
    assert!(text.contains("jira_sync_webhook_last_delivery_timestamp_seconds{site=\"acme\"}"));
    assert!(
        text.lines()
            .filter(|l| l.starts_with("jira_sync_webhook_deliveries_total{"))
            .all(|l| l.contains("site=\"acme\"")
                && l.contains("event=\"")
                && l.contains("outcome=\"")),
        "labels site, event, outcome as DESIGN.md's table says"
    );
    let deliveries = sim.control().deliveries("acme").unwrap();
    assert!(
        deliveries.iter().all(|x| x.attempts == [200]),
        "{deliveries:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_larger_than_one_reconcile_reaches_every_mirror() {
    // A bulk edit: 80 new issues at once, more than one `reconcileIssues` (50) names, and a
    // search lag no run outlasts: only the deliveries' hints can bring them, all of them.
    let (sim, dir, _) = demo_with_webhooks(NEVER).await;
    sim.control().set_search_lag("acme", 3_600.0).unwrap();
    let d = Daemon::start(dir.path());
    let summaries: Vec<String> = (0..80).map(|n| format!("Bulk {n:02}")).collect();
    for s in &summaries {
        person_creates(&sim, s);
    }
    // A reload while the burst is read: the issues named and not read yet go on to the
    // reloaded configuration's runs.
    tokio::time::sleep(Duration::from_millis(300)).await;
    d.signal("-HUP");
    let mirrored = |sim: &Simulator| -> usize {
        let site = sim.control().world().site("globex").unwrap();
        let site = site.lock().unwrap();
        summaries
            .iter()
            .filter(|s| site.issues().values().any(|i| &i.summary == *s))
            .count()
    };
    let start = Instant::now();
    while mirrored(&sim) < summaries.len() && start.elapsed() < Duration::from_secs(90) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        mirrored(&sim),
        summaries.len(),
        "issues of the burst were lost"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_replayed_deliveries_change_nothing() {
    let (sim, dir, url) = demo_with_webhooks(NEVER).await;
    // Jira's own deliveries are lost: only the test's reach the listener.
    drop_all(&sim);
    let d = Daemon::start(dir.path());
    let key = person_creates(&sim, "Never announced");
    let id = sim
        .control()
        .world()
        .site("acme")
        .unwrap()
        .lock()
        .unwrap()
        .keys[&key];
    let body = json!({
        "webhookEvent": "jira:issue_created",
        "issue": { "id": id.to_string(), "key": key, "fields": { "project": { "key": "SEC" } } },
    })
    .to_string();
    let post = |sig: Option<String>, ident: &'static str| {
        let (http, url, body) = (d.http.clone(), url.clone(), body.clone());
        async move {
            let mut req = http
                .post(&url)
                .header("content-type", "application/json")
                .header("x-atlassian-webhook-identifier", ident)
                .body(body);
            if let Some(s) = sig {
                req = req.header("x-hub-signature", s);
            }
            req.send().await.unwrap().status().as_u16()
        }
    };
    // Forged: no signature, a signature with another secret, a signature of another body.
    assert_eq!(post(None, "f-1").await, 401);
    let wrong = hub_signature(body.as_bytes(), b"FAKE-guessed-secret");
    assert_eq!(post(Some(wrong), "f-2").await, 401);
    let other = hub_signature(b"{}", SECRET.as_bytes());
    assert_eq!(post(Some(other), "f-3").await, 401);
    let text = d
        .until("refusals counted", |t| series(t, "unauthorized") >= 3.0)
        .await;
    assert_eq!(series(&text, "accepted"), 0.0);
    assert!(
        mirror_of(&sim, "Never announced", Duration::from_secs(4))
            .await
            .is_none(),
        "a refused delivery started a run"
    );
    // An unknown site, or one without webhooks, is not there.
    let globex = url.replace("/acme", "/globex");
    let r = d.http.post(globex).body("{}").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    // A body over the cap is refused before anything is read.
    let big = d
        .http
        .post(&url)
        .body(vec![b' '; 2 << 20])
        .send()
        .await
        .unwrap();
    assert_eq!(big.status().as_u16(), 413);

    // Signed: accepted once; the same identifier again is a duplicate.
    let good = hub_signature(body.as_bytes(), SECRET.as_bytes());
    assert_eq!(post(Some(good.clone()), "g-1").await, 200);
    assert_eq!(post(Some(good), "g-1").await, 200);
    let text = d
        .until("the replay counted", |t| series(t, "duplicate") >= 1.0)
        .await;
    assert_eq!(series(&text, "accepted"), 1.0);
    assert!(
        mirror_of(&sim, "Never announced", Duration::from_secs(30))
            .await
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_that_moves_the_webhook_listener_or_url_is_refused() {
    // The listener is bound once: applied on reload, webhooks would be registered at a URL
    // nobody listens on and the old ones left behind. The reload says to restart instead.
    let (_sim, dir, _) = demo_with_webhooks(NEVER).await;
    let d = Daemon::start(dir.path());
    d.until("running", |t| {
        value(t, "jira_sync_config_last_reload_success", &[]) == Some(1.0)
    })
    .await;
    let file = dir.path().join("jira-sync.toml");
    let good = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, good.replace("/jira/hooks", "/jira/v2/hooks")).unwrap();
    d.signal("-HUP");
    d.until("the refused reload", |t| {
        value(t, "jira_sync_config_last_reload_success", &[]) == Some(0.0)
    })
    .await;
    std::fs::write(&file, good).unwrap();
    d.signal("-HUP");
    d.until("the good reload", |t| {
        value(t, "jira_sync_config_last_reload_success", &[]) == Some(1.0)
    })
    .await;
    // Webhooks turned on by a reload, for a daemon started without a listener: refused too.
    let (_sim, dir) = demo_with(NEVER).await;
    let d = Daemon::start(dir.path());
    d.until("running", |t| {
        value(t, "jira_sync_config_last_reload_success", &[]) == Some(1.0)
    })
    .await;
    let file = dir.path().join("jira-sync.toml");
    let mut text = std::fs::read_to_string(&file).unwrap();
    let port = free_port();
    text.push_str(&format!(
        "webhook_listen = \"127.0.0.1:{port}\"\nwebhook_url = \"http://127.0.0.1:{port}/h\"\n"
    ));
    std::fs::write(&file, text).unwrap();
    d.signal("-HUP");
    d.until("the refused reload", |t| {
        value(t, "jira_sync_config_last_reload_success", &[]) == Some(0.0)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_delivery_is_caught_by_the_poll() {
    let (sim, dir, _) = demo_with_webhooks("*/5 * * * * *").await;
    drop_all(&sim);
    let d = Daemon::start(dir.path());
    person_creates(&sim, "Lost delivery");
    assert!(
        mirror_of(&sim, "Lost delivery", Duration::from_secs(60))
            .await
            .is_some(),
        "the poll did not catch what the webhook missed"
    );
    let (_, text) = d.get("/metrics").await;
    assert_eq!(series(&text, "accepted"), 0.0, "every delivery was dropped");
    let log: Vec<Value> = sim
        .control()
        .deliveries("acme")
        .unwrap()
        .iter()
        .map(|x| json!(x.dropped))
        .collect();
    assert!(!log.is_empty() && log.iter().all(|x| x == true));
}

/// An oauth2 site `oco` (project OCO) with `webhooks = true`, its app consented with
/// `manage:jira-webhook`, in the quiet demo's configuration with a webhook URL.
async fn oauth_site_with_webhooks() -> (Simulator, tempfile::TempDir) {
    let (sim, dir) = crate::jobs::quiet_demo().await;
    bot_site(&sim, "oco", "OCO", 2);
    let (id, secret) = sim
        .control()
        .create_oauth_client(jira_sim::oauth::OAuthClientSpec {
            redirect_uris: vec!["http://127.0.0.1:1/callback".into()],
            ..Default::default()
        })
        .unwrap();
    let scope = format!("{CONSENTED} manage:jira-webhook");
    let refresh = consent_to(&sim, &id, &secret, "oco", &scope).await;
    write_secret(dir.path().join("secrets/oco.secret"), &secret);
    write_secret(dir.path().join("secrets/oco.refresh"), &refresh);
    let daemon_file = dir.path().join("jira-sync.toml");
    let mut text = std::fs::read_to_string(&daemon_file).unwrap();
    text.push_str(
        "webhook_listen = \"127.0.0.1:1\"\nwebhook_url = \"https://hooks.example/jira\"\n",
    );
    std::fs::write(&daemon_file, text).unwrap();
    std::fs::write(
        dir.path().join("sites.d/oco.toml"),
        format!(
            "url = \"http://{}/site/oco\"\nwebhooks = true\n[auth]\nmethod = \"oauth2\"\nclient_id = \"{id}\"\nclient_secret = {{ file = \"secrets/oco.secret\" }}\nrefresh_token = {{ file = \"secrets/oco.refresh\" }}\n[[connector]]\nname = \"c\"\nproject = \"OCO\"\nschedule = \"{NEVER}\"\ndirection = \"pull\"\n",
            sim.addr()
        ),
    )
    .unwrap();
    (sim, dir)
}

/// The simulator's webhooks of `oco` once `f` holds for them (up to a minute of the test's
/// clock).
async fn webhooks_when(
    sim: &Simulator,
    f: impl Fn(&[jira_sim::control::WebhookView]) -> bool,
) -> Vec<jira_sim::control::WebhookView> {
    for _ in 0..600 {
        let hooks = sim.control().webhooks("oco").unwrap();
        if f(&hooks) {
            return hooks;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the webhooks never got there: {:?}",
        sim.control().webhooks("oco")
    );
}

#[tokio::test(start_paused = true)]
async fn an_oauth_sites_webhook_is_registered_refreshed_before_it_expires_and_removed() {
    let (sim, dir) = oauth_site_with_webhooks().await;
    let r = start(dir.path(), jira_sync_jobs::Options::default()).await;
    let hooks = webhooks_when(&sim, |h| h.iter().any(|w| w.expires.is_some())).await;
    assert_eq!(hooks.len(), 1, "one webhook per site: {hooks:?}");
    let first = &hooks[0];
    assert_eq!(first.kind, "dynamic");
    assert_eq!(first.url, "https://hooks.example/jira/oco");
    assert_eq!(first.jql.as_deref(), Some("project IN (\"OCO\")"));
    let registered = first.expires.unwrap();

    // 29 days on (Jira drops it at 30): the daily refresh has moved its expiry.
    tokio::time::advance(Duration::from_secs(29 * 24 * 3600)).await;
    let hooks = webhooks_when(&sim, |h| {
        h.iter().any(|w| w.expires.is_some_and(|e| e > registered))
    })
    .await;
    assert_eq!(hooks.len(), 1, "refreshed, not registered again: {hooks:?}");
    let now = sim.control().world().clock().now().timestamp_millis();
    assert!(hooks[0].expires.unwrap() - now > 29 * 24 * 3600 * 1000);
    let gauge = crate::jobs::metric(
        &r.metrics,
        "jira_sync_webhook_expiry_timestamp_seconds",
        &[("site", "oco")],
    )
    .unwrap();
    assert!(
        gauge * 1000.0 > registered as f64,
        "the gauge follows the refresh"
    );

    // The projects change: the new filter replaces the old webhook.
    edit(
        dir.path(),
        "sites.d/oco.toml",
        "project = \"OCO\"",
        "project = \"OCO2\"",
    );
    sim.control()
        .create_project(
            "oco",
            jira_sim::control::ProjectSpec {
                key: "OCO2".into(),
                ..Default::default()
            },
        )
        .unwrap();
    r.daemon
        .reload(jira_sync_config::load(dir.path()).unwrap())
        .await
        .unwrap();
    let hooks = webhooks_when(&sim, |h| {
        h.len() == 1 && h[0].jql.as_deref() == Some("project IN (\"OCO2\")")
    })
    .await;
    assert_eq!(hooks.len(), 1);

    // Webhooks off: the daemon removes its webhook, and its series go (alerts on them
    // would fire for a site that has no webhook).
    edit(dir.path(), "sites.d/oco.toml", "webhooks = true\n", "");
    r.daemon
        .reload(jira_sync_config::load(dir.path()).unwrap())
        .await
        .unwrap();
    webhooks_when(&sim, |h| h.is_empty()).await;
    for family in [
        "jira_sync_webhook_expiry_timestamp_seconds",
        "jira_sync_webhook_deliveries_total",
    ] {
        assert!(
            !r.metrics.encode().contains(&format!("{family}{{")),
            "{family} kept a series of oco"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_restart_with_a_new_webhook_url_moves_the_webhook() {
    // Jira allows an app one URL: the old URL's webhook must go before the new one can come.
    let (sim, dir) = oauth_site_with_webhooks().await;
    let r = start(dir.path(), jira_sync_jobs::Options::default()).await;
    webhooks_when(&sim, |h| h.iter().any(|w| w.expires.is_some())).await;
    r.daemon.shutdown().await;
    drop(r);
    // sled lets the database go once every handle is dropped.
    tokio::time::sleep(Duration::from_secs(1)).await;
    edit(
        dir.path(),
        "jira-sync.toml",
        "https://hooks.example/jira",
        "https://hooks.example/v2/jira",
    );
    let r = start(dir.path(), jira_sync_jobs::Options::default()).await;
    let hooks = webhooks_when(&sim, |h| {
        h.len() == 1 && h[0].url == "https://hooks.example/v2/jira/oco" && h[0].expires.is_some()
    })
    .await;
    assert_eq!(hooks[0].jql.as_deref(), Some("project IN (\"OCO\")"));
    let (_, state) = r
        .daemon
        .webhook_states()
        .into_iter()
        .find(|(s, _)| s == "oco")
        .unwrap();
    assert_eq!(state.error, None);
    assert_eq!(state.id, Some(hooks[0].id));
}

#[tokio::test]
async fn the_webhooks_command_prints_what_an_administrator_registers() {
    let (_sim, dir, url) = demo_with_webhooks(NEVER).await;
    let out = command(&["webhooks", "--config", dir.path().to_str().unwrap(), "acme"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(&format!("URL:     {url}")), "{text}");
    assert!(text.contains("JQL:     project IN (\"SEC\")"), "{text}");
    assert!(text.contains("comment_deleted"), "{text}");
    assert!(
        text.contains("webhook_secret") && !text.contains(SECRET),
        "{text}"
    );
    let off = command(&[
        "webhooks",
        "--config",
        dir.path().to_str().unwrap(),
        "globex",
    ])
    .output()
    .unwrap();
    assert_eq!(off.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&off.stderr).contains("webhooks off"));
}

/// The demo with webhooks on for both token sites (secrets set, no schedule firing, the
/// listener unreachable: registration only). globex's integration account administers
/// Jira; acme's service account goes through the gateway, which does not serve the admin
/// webhook API.
async fn token_sites_with_webhooks() -> (Simulator, tempfile::TempDir) {
    let (sim, dir) = demo_shaped(None, |site| {
        for a in &mut site.accounts {
            if a.email.as_deref() == Some("integration@globex.example") {
                a.administer_jira = Some(true);
            }
        }
    })
    .await;
    schedule_all(dir.path(), NEVER);
    let daemon_file = dir.path().join("jira-sync.toml");
    let mut text = std::fs::read_to_string(&daemon_file).unwrap();
    text.push_str(
        "webhook_listen = \"127.0.0.1:1\"\nwebhook_url = \"https://hooks.example/jira\"\n",
    );
    std::fs::write(&daemon_file, text).unwrap();
    for site in ["acme", "globex"] {
        write_secret(dir.path().join(format!("secrets/{site}.webhook")), SECRET);
        edit(
            dir.path(),
            &format!("sites.d/{site}.toml"),
            "[auth]",
            &format!(
                "webhooks = true\nwebhook_secret = {{ file = \"secrets/{site}.webhook\" }}\n\n[auth]"
            ),
        );
    }
    (sim, dir)
}

#[tokio::test(start_paused = true)]
async fn a_token_site_whose_jira_failed_registers_its_webhook_minutes_later() {
    // Jira failing (not a lack of permission) is tried again in minutes, not the next day.
    let (sim, dir) = token_sites_with_webhooks().await;
    let failing = jira_sim::faults::FaultSpec {
        error_rate: 1.0,
        error_statuses: vec![500],
        ..Default::default()
    };
    sim.control().set_faults("globex", failing).unwrap();
    let r = start(dir.path(), jira_sync_jobs::Options::default()).await;
    let state = |r: &Running| {
        r.daemon
            .webhook_states()
            .into_iter()
            .find(|(s, _)| s == "globex")
            .map(|(_, w)| w)
            .unwrap()
    };
    // (The client retries a 500 a few times, with backoff, before the pass gives up.)
    let started = tokio::time::Instant::now();
    while state(&r).error.is_none() && started.elapsed() < Duration::from_secs(30 * 60) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(state(&r).error.is_some(), "the first pass failed");
    sim.control()
        .set_faults("globex", jira_sim::faults::FaultSpec::default())
        .unwrap();
    tokio::time::sleep(Duration::from_secs(6 * 60)).await;
    let mut hooks = vec![];
    for _ in 0..600 {
        hooks = sim.control().webhooks("globex").unwrap();
        if !hooks.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(hooks.len(), 1, "registered once Jira answers: {hooks:?}");
    assert_eq!(state(&r).error, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_site_registers_its_admin_webhook_when_its_account_may() {
    let (sim, dir) = token_sites_with_webhooks().await;
    let r = start(dir.path(), jira_sync_jobs::Options::default()).await;
    let mut hooks = vec![];
    for _ in 0..300 {
        hooks = sim.control().webhooks("globex").unwrap();
        if !hooks.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    assert_eq!(hooks[0].kind, "admin");
    assert_eq!(hooks[0].url, "https://hooks.example/jira/globex");
    assert_eq!(hooks[0].jql.as_deref(), Some("project IN (\"OPS\")"));
    // acme's account cannot: its state says who must.
    let mut why = None;
    for _ in 0..300 {
        why = r
            .daemon
            .webhook_states()
            .into_iter()
            .find(|(s, _)| s == "acme")
            .and_then(|(_, w)| w.error);
        if why.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let why = why.expect("acme's webhook state has an error");
    assert!(why.contains("jira-sync webhooks acme"), "{why}");
    assert!(sim.control().webhooks("acme").unwrap().is_empty());
    // A reload that changes the site (a new runtime and keeper) registers nothing twice.
    edit(
        dir.path(),
        "sites.d/globex.toml",
        "2027-03-01",
        "2027-03-02",
    );
    r.daemon
        .reload(jira_sync_config::load(dir.path()).unwrap())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(sim.control().webhooks("globex").unwrap().len(), 1);
    // The secret rotated and a project added in one reload: the daemon's own webhook
    // follows both (Jira would otherwise sign with the old secret, every delivery refused,
    // and send nothing of the new project).
    let rotated = "FAKE-webhook-secret-rotated";
    write_secret(dir.path().join("secrets/globex.webhook"), rotated);
    sim.control()
        .create_project(
            "globex",
            jira_sim::control::ProjectSpec {
                key: "OPT".into(),
                ..Default::default()
            },
        )
        .unwrap();
    let site_file = dir.path().join("sites.d/globex.toml");
    let mut text = std::fs::read_to_string(&site_file).unwrap();
    text.push_str(&format!(
        "\n[[connector]]\nname = \"extra\"\nproject = \"OPT\"\nschedule = \"{NEVER}\"\ndirection = \"pull\"\n"
    ));
    std::fs::write(&site_file, text).unwrap();
    r.daemon
        .reload(jira_sync_config::load(dir.path()).unwrap())
        .await
        .unwrap();
    let mut hooks = vec![];
    for _ in 0..300 {
        hooks = sim.control().webhooks("globex").unwrap();
        if hooks.iter().any(|h| h.secret.as_deref() == Some(rotated)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    assert_eq!(hooks[0].secret.as_deref(), Some(rotated));
    assert_eq!(
        hooks[0].jql.as_deref(),
        Some("project IN (\"OPS\", \"OPT\")")
    );
    let (_, state) = r
        .daemon
        .webhook_states()
        .into_iter()
        .find(|(s, _)| s == "globex")
        .unwrap();
    assert_eq!(state.registered_by.as_deref(), Some("jira-sync"));
    // An administrator's own webhook of the same URL is theirs: the daemon's goes, theirs
    // stays as it is.
    sim.control()
        .register_admin_webhook(
            "globex",
            AdminWebhookSpec {
                name: "set up by hand".into(),
                url: "https://hooks.example/jira/globex".into(),
                jql: Some("project = OPS".into()),
                secret: Some(rotated.into()),
                ..Default::default()
            },
        )
        .unwrap();
    edit(
        dir.path(),
        "sites.d/globex.toml",
        "2027-03-02",
        "2027-03-03",
    );
    r.daemon
        .reload(jira_sync_config::load(dir.path()).unwrap())
        .await
        .unwrap();
    for _ in 0..300 {
        hooks = sim.control().webhooks("globex").unwrap();
        if hooks.len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    assert_eq!(hooks[0].name.as_deref(), Some("set up by hand"));
    assert_eq!(hooks[0].jql.as_deref(), Some("project = OPS"));
}
