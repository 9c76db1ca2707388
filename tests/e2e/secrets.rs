//! Secrets stay secret: full sync cycles with every auth method (API token, service account,
//! OAuth 2.0 with rotating refresh tokens, client credentials) at TRACE log level, then a
//! refused credential, and no secret value appears in the logs, the metrics, `/status`, the
//! `status` command's output, or the store outside the token vault. The store's files are
//! owner-only. Every secret here (and every token the simulator issues) starts with `FAKE-`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::harness::*;
use jira_sim::oauth::{Consent, OAuthClientSpec};

const SCOPES: &str = "read:jira-work write:jira-work read:jira-user offline_access";

fn site_file(dir: &Path, name: &str, sim: &str, auth: &str, project: &str, mirror: &str) {
    std::fs::write(
        dir.join(format!("sites.d/{name}.toml")),
        format!(
            "url = \"http://{sim}/site/{name}\"\n{auth}\n[[connector]]\nname = \"c\"\nproject = \"{project}\"\nschedule = \"*/1 * * * * *\"\nmirror = [\"{mirror}/c\"]\n"
        ),
    )
    .unwrap();
}

/// Every key and value of every tree but the token vault.
fn store_outside_vault(state_dir: &Path) -> String {
    let store = jira_sync_store::Store::open(state_dir).unwrap();
    let mut out = String::new();
    for name in store.tree_names_for_tests() {
        if name == "vault" {
            continue;
        }
        for kv in store.raw_tree_for_tests(&name).unwrap().iter() {
            let (k, v) = kv.unwrap();
            out.push_str(&String::from_utf8_lossy(&k));
            out.push_str(&String::from_utf8_lossy(&v));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_of_any_auth_method_reaches_logs_metrics_status_or_the_store() {
    let (sim, dir) = demo_with("*/1 * * * * *").await;
    listen_on_free_port(dir.path());
    let addr = sim.addr().to_string();
    bot_site(&sim, "oco", "OCO", 5);
    bot_site(&sim, "cco", "CCO", 5);
    // oco: OAuth 2.0 (3LO), consented once; its refresh token rotates on every refresh.
    let (oauth_id, oauth_secret, refresh) = consented_app(
        &sim,
        "oco",
        OAuthClientSpec {
            access_ttl_seconds: Some(2),
            ..Default::default()
        },
    )
    .await;
    // cco: a service account's client credentials.
    let (cc_id, cc_secret) = sim
        .control()
        .create_oauth_client(OAuthClientSpec {
            kind: Some("service_account".into()),
            scopes: SCOPES.split(' ').map(str::to_owned).collect(),
            service_account: Some(Consent {
                account: "bot@cco.example".into(),
                sites: vec!["cco".into()],
            }),
            access_ttl_seconds: Some(2),
            ..Default::default()
        })
        .unwrap();
    for (file, value) in [
        ("oco-secret", &oauth_secret),
        ("oco-refresh", &refresh),
        ("cco-secret", &cc_secret),
    ] {
        assert!(value.starts_with("FAKE-"), "{file}: {value}");
        write_secret(dir.path().join("secrets").join(file), value);
    }
    site_file(
        dir.path(),
        "oco",
        &addr,
        &format!(
            "[auth]\nmethod = \"oauth2\"\nclient_id = \"{oauth_id}\"\nclient_secret = {{ file = \"secrets/oco-secret\" }}\nrefresh_token = {{ file = \"secrets/oco-refresh\" }}"
        ),
        "OCO",
        "cco",
    );
    site_file(
        dir.path(),
        "cco",
        &addr,
        &format!(
            "[auth]\nmethod = \"client_credentials\"\nclient_id = \"{cc_id}\"\nclient_secret = {{ file = \"secrets/cco-secret\" }}"
        ),
        "CCO",
        "oco",
    );

    let log = dir.path().join("daemon.log");
    let d = Daemon::start_logged(dir.path(), &[("JIRA_SYNC_LOG", "trace")], &log);
    // Every pair mirrors (writes included), and the OAuth tokens expire and refresh meanwhile.
    d.until("every connector mirroring", |t| {
        ["acme", "globex", "oco", "cco"].iter().all(|s| {
            value(
                t,
                "jira_sync_sync_runs_total",
                &[("site", s), ("outcome", "success")],
            )
            .unwrap_or(0.0)
                >= 3.0
        }) && value(
            t,
            "jira_sync_issues_pushed_total",
            &[("site", "oco"), ("op", "create")],
        )
        .unwrap_or(0.0)
            >= 5.0
    })
    .await;
    // A refused credential: errors and probes say why without the token.
    sim.control().revoke_credential("globex", "cred-1").unwrap();
    d.until("globex refused", |t| {
        value(
            t,
            "jira_sync_credential_state",
            &[("site", "globex"), ("state", "revoked")],
        ) == Some(1.0)
    })
    .await;
    let (_, metrics) = d.get("/metrics").await;
    let (_, status) = d.get("/status").await;
    let cfg = dir.path().to_str().unwrap().to_owned();
    let out = tokio::task::spawn_blocking(move || jira_sync(&["status", "--config", &cfg]))
        .await
        .unwrap();
    let status_cmd = text(&out);
    d.signal("-TERM");
    assert_eq!(d.wait().code(), Some(0));
    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(
        logs.lines().count() > 100 && logs.contains("TRACE"),
        "TRACE logs were written"
    );
    for (what, text) in [
        ("logs", &logs),
        ("metrics", &metrics),
        ("/status", &status),
        ("jira-sync status", &status_cmd),
    ] {
        assert!(
            !text.contains("FAKE-"),
            "a secret in {what}: {}",
            text.lines()
                .find(|l| l.contains("FAKE-"))
                .unwrap_or_default()
        );
    }
    assert!(status.contains("revoked"), "{status}");

    let config = jira_sync_config::load(dir.path()).unwrap();
    let state = &config.daemon.state_dir;
    // Owner-only, every directory and file the daemon made (checked before this test opens
    // the store itself: the test process does not run with the binary's umask).
    let mut stack = vec![state.join("db")];
    while let Some(p) = stack.pop() {
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{} is {mode:o}", p.display());
        if p.is_dir() {
            stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        }
    }
    let stored = store_outside_vault(state);
    assert!(stored.len() > 1000, "the store holds records");
    assert!(
        !stored.contains("FAKE-"),
        "a secret in the store outside the vault"
    );
    // The vault does hold oco's rotated refresh token, which is no longer the first one.
    let vault = jira_sync_store::Store::open(state)
        .unwrap()
        .vault()
        .unwrap();
    let current = vault.refresh_token("oco").unwrap().unwrap();
    assert!(current.token.expose().starts_with("FAKE-"));
    assert_ne!(current.token.expose(), refresh, "the refresh token rotated");
}
