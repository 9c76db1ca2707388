//! `jira-sync check` (online), `jira-sync scopes` and `jira-sync auth login` against the
//! simulator, as an operator runs them.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::harness::*;
use jira_sim::oauth::{Consent, OAuthClientSpec};

fn row<'a>(out: &'a str, site: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(&format!("{site} ")))
        .unwrap_or_else(|| panic!("no row for {site}:\n{out}"))
}

/// `jira-sync check --config CFG`, off the runtime's threads.
async fn check(cfg: &str) -> std::process::Output {
    let cfg = cfg.to_owned();
    tokio::task::spawn_blocking(move || jira_sync(&["check", "--config", &cfg]))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_probes_every_site_and_one_failure_hides_no_other() {
    let (sim, dir) = demo().await;
    let cfg = dir.path().to_str().unwrap().to_owned();
    let out = check(&cfg).await;
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let acme = row(&t, "acme");
    assert!(
        acme.contains("service_account")
            && acme.contains("/ex/jira/a1c3e000-0000-4000-8000-00000000acme")
            && acme.contains(" valid "),
        "{acme}"
    );
    assert!(acme.contains("2027-10-01"), "declared expiry: {acme}");
    let globex = row(&t, "globex");
    assert!(
        globex.contains("api_token") && globex.contains("/site/globex") && globex.contains("valid"),
        "{globex}"
    );
    assert_no_secrets(&t);

    // Revoke globex's token: globex is reported revoked, acme still valid, exit 1.
    let control = sim.control();
    control.revoke_credential("globex", "cred-1").unwrap();
    let out = check(&cfg).await;
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(row(&t, "globex").contains("revoked"), "{t}");
    assert!(row(&t, "acme").contains(" valid "), "{t}");
    assert!(t.contains("globex: 401"), "the reason is printed: {t}");
    assert_no_secrets(&t);
}

/// Issue 18: a mapped field jira-sync cannot mirror (a sprint) or that the site does not
/// have is refused by `check`, with the field, its type and why (exit 1); the other site's
/// row is unaffected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_refuses_a_field_it_cannot_mirror_and_says_why() {
    let (sim, dir) = demo().await;
    sim.control()
        .create_field(
            "acme",
            jira_sim::control::FieldSpec {
                id: Some("customfield_10099".into()),
                name: "Sprint".into(),
                kind: "sprint".into(),
                options: vec![],
            },
        )
        .unwrap();
    sim.control()
        .create_field(
            "acme",
            jira_sim::control::FieldSpec {
                id: Some("customfield_10098".into()),
                name: "Risk score".into(),
                kind: "app".into(),
                options: vec![],
            },
        )
        .unwrap();
    edit(
        dir.path(),
        "sites.d/acme.toml",
        "[connector.fields]\n",
        "[connector.fields]\nsprint = \"customfield_10099\"\nteam = \"customfield_19999\"\nscore = \"customfield_10098\"\n",
    );
    let out = check(dir.path().to_str().unwrap()).await;
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("field sprint = \"customfield_10099\" (Sprint, type array/json, com.pyxis.greenhopper.jira:gh-sprint) cannot be mirrored: sprint ids belong to one site's boards"),
        "{t}"
    );
    assert!(
        t.contains("field team = \"customfield_19999\" does not exist on this site"),
        "{t}"
    );
    assert!(
        t.contains("field score = \"customfield_10098\" (Risk score, type any, com.example.jira-app:risk-score) cannot be mirrored: jira-sync does not know this field type"),
        "{t}"
    );
    assert!(row(&t, "globex").contains(" valid "), "{t}");
}

/// Issue 17: a probe answered `429` with `Retry-After` is throttled, not unreachable: `check`
/// waits it out, asks again and reports the site `valid` (exit 0). A CAPTCHA lock is
/// reported as `revoked` with what to do (exit 1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_waits_out_a_throttled_probe_and_names_a_captcha_lock() {
    let (sim, dir) = demo().await;
    let cfg = dir.path().to_str().unwrap().to_owned();
    let control = sim.control();
    control
        .set_faults(
            "globex",
            jira_sim::faults::FaultSpec {
                throttle_first: 1,
                throttle_retry_after: 2,
                ..Default::default()
            },
        )
        .unwrap();
    control.reset_counters();
    let out = check(&cfg).await;
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(row(&t, "globex").contains(" valid "), "{t}");
    let throttled: u64 = control
        .counters(Some("globex"))
        .unwrap()
        .iter()
        .filter(|c| c.status == 429)
        .map(|c| c.count)
        .sum();
    assert_eq!(
        throttled, 1,
        "the first request was throttled, then asked again"
    );
    let stats = control.rate_limit_stats("globex").unwrap();
    assert_eq!(
        stats.early_retries, 0,
        "no retry before Retry-After: {stats:?}"
    );

    control
        .set_faults("globex", jira_sim::faults::FaultSpec::default())
        .unwrap();
    control
        .require_captcha("globex", "integration@globex.example", 0)
        .unwrap();
    let out = check(&cfg).await;
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(row(&t, "globex").contains("revoked"), "{t}");
    assert!(t.contains("CAPTCHA_CHALLENGE"), "{t}");
    assert!(t.contains("sign in once in a browser"), "{t}");
    assert!(row(&t, "acme").contains(" valid "), "{t}");
    assert_no_secrets(&t);
}

#[test]
fn scopes_are_minimal_per_direction() {
    let config = private_repo_config();
    let out = jira_sync(&["scopes", "--config", config.path().to_str().unwrap()]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(
        t.contains("acme (service_account; connectors: sec (both))"),
        "{t}"
    );
    let classic = t
        .lines()
        .find(|l| l.trim_start().starts_with("classic:"))
        .unwrap();
    assert_eq!(
        classic.trim(),
        "classic:  read:jira-user read:jira-work write:jira-work"
    );
    let out = jira_sync(&[
        "scopes",
        "--config",
        config.path().to_str().unwrap(),
        "nope",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

/// The demo with acme turned into an `oauth2` site of an app that Alice consents to at
/// once: (simulator, config dir, the app's client secret, the callback port of `auth login`).
async fn oauth_acme() -> (jira_sim::Simulator, tempfile::TempDir, String, u16) {
    let (sim, dir) = demo().await;
    let port = free_port();
    let callback = format!("http://127.0.0.1:{port}/callback");
    let (client_id, secret) = sim
        .control()
        .create_oauth_client(OAuthClientSpec {
            redirect_uris: vec![callback.clone()],
            auto_consent: Some(Consent {
                account: "alice@acme.example".into(),
                sites: vec!["acme".into()],
            }),
            ..Default::default()
        })
        .unwrap();
    write_secret(dir.path().join("secrets/acme-oauth.secret"), &secret);
    let site = std::fs::read_to_string(dir.path().join("sites.d/acme.toml")).unwrap();
    let start = site.find("[auth]").unwrap();
    let end = site.find("[limits]").unwrap();
    let site = format!(
        "{}[auth]\nmethod = \"oauth2\"\nclient_id = \"{client_id}\"\nclient_secret = {{ file = \"secrets/acme-oauth.secret\" }}\n\n{}",
        &site[..start],
        &site[end..]
    );
    std::fs::write(dir.path().join("sites.d/acme.toml"), site).unwrap();
    (sim, dir, secret, port)
}

/// `jira-sync auth login acme`, with this test as the browser: (exit status, what it printed
/// after the authorize URL).
async fn login(cfg: &str, port: u16) -> (std::process::ExitStatus, String) {
    let listen = format!("127.0.0.1:{port}");
    let mut child = Command::new(binary())
        .args([
            "auth",
            "login",
            "acme",
            "--config",
            cfg,
            "--listen",
            &listen,
            "--timeout",
            "30",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (url, rest) = tokio::task::spawn_blocking(move || {
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            let l = lines
                .next()
                .expect("the command prints the authorize URL")
                .unwrap();
            if l.starts_with("http") && l.contains("/authorize?") {
                break l;
            }
        };
        (url, lines)
    })
    .await
    .unwrap();
    assert!(
        url.contains("offline_access")
            && url.contains("audience=api.atlassian.com")
            && url.contains("state="),
        "{url}"
    );
    // The browser: follow the redirect to the command's callback.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let page = reqwest::get(&url).await.unwrap();
    assert_eq!(page.status(), 200);
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    let printed: Vec<String> =
        tokio::task::spawn_blocking(move || rest.map_while(Result::ok).collect())
            .await
            .unwrap();
    (status, printed.join("\n"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_login_stores_a_refresh_token_that_check_then_uses() {
    let (_sim, dir, secret, port) = oauth_acme().await;
    let cfg = dir.path().to_str().unwrap().to_owned();
    let (status, printed) = login(&cfg, port).await;
    assert!(status.success(), "{printed}");
    assert!(
        printed.contains("Stored the refresh token of site `acme`"),
        "{printed}"
    );
    assert!(
        printed.contains("The grant reaches") && printed.contains("/site/acme"),
        "{printed}"
    );
    assert!(!printed.contains(&secret));

    let out = check(&cfg).await;
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(
        row(&t, "acme").contains("oauth2") && row(&t, "acme").contains(" valid "),
        "{t}"
    );
    assert!(!t.contains(&secret));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_login_while_the_daemon_runs_hands_it_the_token_and_a_reload_resumes_the_site() {
    let (_sim, dir, secret, port) = oauth_acme().await;
    schedule_all(dir.path(), "*/1 * * * * *");
    let cfg = dir.path().to_str().unwrap().to_owned();
    let daemon = Daemon::start(dir.path());
    // No consent yet: acme cannot run, globex goes on.
    let up = |site: &'static str, v: f64| {
        move |m: &str| value(m, "jira_sync_credential_up", &[("site", site)]) == Some(v)
    };
    daemon.until("acme down", up("acme", 0.0)).await;

    // The daemon holds the database: the token is left for it, and the operator told how.
    let (status, printed) = login(&cfg, port).await;
    assert!(status.success(), "{printed}");
    assert!(
        printed.contains("Left the refresh token of site `acme` for the running daemon")
            && printed.contains("systemctl reload jira-sync"),
        "{printed}"
    );
    assert!(!printed.contains(&secret));
    let left = dir.path().join("state/logins/acme.json");
    assert!(left.exists());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&left).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "owner-only: {mode:o}");

    // The reload takes it in (and deletes the file); acme probes at once and syncs again.
    daemon.signal("-HUP");
    daemon.until("acme up", up("acme", 1.0)).await;
    daemon
        .until("a successful acme run", |m| {
            value(
                m,
                "jira_sync_sync_runs_total",
                &[("site", "acme"), ("outcome", "success")],
            )
            .is_some_and(|n| n >= 1.0)
        })
        .await;
    assert!(!left.exists(), "the token file is deleted once taken in");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_runs_one_cycle_and_says_what_it_did() {
    let (sim, dir) = demo().await;
    // The demo's search lag would hide this test's own writes from the next cycle.
    for s in ["acme", "globex"] {
        sim.control().set_search_lag(s, 0.0).unwrap();
    }
    let cfg = dir.path().to_str().unwrap().to_owned();
    let run = |target: &'static str| {
        let cfg = cfg.clone();
        tokio::task::spawn_blocking(move || jira_sync(&["sync", "--config", &cfg, target]))
    };
    let out = run("acme/sec").await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).starts_with("acme/sec: pulled 25, created 0"),
        "{}",
        text(&out)
    );
    let out = run("globex/ops").await.unwrap();
    assert!(
        text(&out).starts_with("globex/ops: pulled 10, created 25"),
        "{}",
        text(&out)
    );
    let out = run("acme/sec").await.unwrap();
    assert!(
        text(&out).contains("created 10"),
        "the 10 issues of globex reach acme: {}",
        text(&out)
    );
    assert_eq!(sim.control().issue_count("acme").unwrap(), 35);
    assert_eq!(sim.control().issue_count("globex").unwrap(), 35);
    assert_no_secrets(&text(&out));
    let out = run("acme/nope").await.unwrap();
    assert_eq!(out.status.code(), Some(2));

    // The state database is lost: `store rebuild` re-derives it from the sites, and the
    // next cycles create nothing again.
    std::fs::remove_dir_all(dir.path().join("state")).unwrap();
    let rebuild = |cfg: String| {
        tokio::task::spawn_blocking(move || jira_sync(&["store", "rebuild", "--config", &cfg]))
    };
    let out = rebuild(cfg.clone()).await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).starts_with("rebuilt 35 records with 70 links"),
        "{}",
        text(&out)
    );
    let out = rebuild(cfg.clone()).await.unwrap();
    assert_eq!(out.status.code(), Some(1), "a second rebuild is refused");
    assert!(
        text(&out).contains("already holds records"),
        "{}",
        text(&out)
    );
    for target in ["acme/sec", "globex/ops"] {
        let out = run(target).await.unwrap();
        assert!(text(&out).contains("created 0,"), "{}", text(&out));
    }
    assert_eq!(sim.control().issue_count("acme").unwrap(), 35);
    assert_eq!(sim.control().issue_count("globex").unwrap(), 35);
}
