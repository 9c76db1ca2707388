//! A process killed right after an OAuth refresh finds the rotated refresh token on restart.
//!
//! The parent runs the simulator and re-runs this test binary as a child that refreshes and
//! then aborts (no destructors, no shutdown, nothing flushed on drop). The parent then moves
//! the simulator past the reuse leeway, so only the newest refresh token can still work, and
//! refreshes with whatever the reopened vault holds.

use std::process::Command;

use chrono::Utc;
use jira_sim::Simulator;
use jira_sim::control::{AccountSpec, SiteSpec};
use jira_sim::oauth::{Consent, OAuthClientSpec};
use jira_sync_auth::login::exchange;
use jira_sync_auth::{Provider, http_client};
use jira_sync_config::{Auth, OAuth2, Secret};
use jira_sync_harness::sites::*;
use jira_sync_store::{RefreshToken, Store};
use url::Url;

const CALLBACK: &str = "http://127.0.0.1:1/callback";

fn oauth(id: &str, secret: &str) -> Auth {
    Auth::OAuth2(OAuth2 {
        client_id: id.into(),
        client_secret: Secret::new(secret),
        initial_refresh_token: None,
    })
}

/// The child: refresh once, then die on the spot.
#[tokio::test]
async fn child_refreshes_then_dies() {
    let Ok(dir) = std::env::var("JIRA_SYNC_CRASH_DIR") else {
        return;
    };
    let auth_url = Url::parse(&std::env::var("JIRA_SYNC_CRASH_AUTH_URL").unwrap()).unwrap();
    let id = std::env::var("JIRA_SYNC_CRASH_CLIENT").unwrap();
    let secret = std::env::var("JIRA_SYNC_CRASH_SECRET").unwrap();
    let store = Store::open(std::path::Path::new(&dir)).unwrap();
    let p = Provider::new(
        &site("http://127.0.0.1:1/site/acme", oauth(&id, &secret)),
        &auth_url,
        http_client(),
        Some(store.vault().unwrap()),
    );
    p.authorization().await.unwrap();
    println!("REFRESHED");
    std::process::abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rotated_refresh_token_survives_a_kill_right_after_the_refresh() {
    let sim = Simulator::start().await.unwrap();
    let c = sim.control();
    c.create_site(SiteSpec {
        name: "acme".into(),
        accounts: vec![AccountSpec {
            display_name: "Alice".into(),
            email: Some("alice@acme.example".into()),
            ..Default::default()
        }],
        ..Default::default()
    })
    .unwrap();
    let (id, secret) = c
        .create_oauth_client(OAuthClientSpec {
            redirect_uris: vec![CALLBACK.into()],
            ..Default::default()
        })
        .unwrap();
    let code = c
        .oauth_consent(
            &id,
            CALLBACK,
            &Consent {
                account: "alice@acme.example".into(),
                sites: vec!["acme".into()],
            },
            "read:jira-user offline_access",
        )
        .unwrap();
    let auth_url = Url::parse(&sim.base_url()).unwrap();
    let first = exchange(
        &http_client(),
        &auth_url,
        &id,
        &secret,
        &code,
        &Url::parse(CALLBACK).unwrap(),
    )
    .await
    .unwrap()
    .refresh_token
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        let now = Utc::now();
        store
            .vault()
            .unwrap()
            .put_refresh_token(
                "acme",
                &RefreshToken {
                    token: Secret::new(first.clone()),
                    consented_at: now,
                    issued_at: now,
                    seed: None,
                },
            )
            .await
            .unwrap();
    }

    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "child_refreshes_then_dies",
            "--exact",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("JIRA_SYNC_CRASH_DIR", dir.path())
        .env("JIRA_SYNC_CRASH_AUTH_URL", auth_url.as_str())
        .env("JIRA_SYNC_CRASH_CLIENT", &id)
        .env("JIRA_SYNC_CRASH_SECRET", &secret)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("REFRESHED"),
        "the child refreshed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "the child was killed, not shut down");

    // Past the leeway, the first refresh token would now kill the whole family.
    c.world().clock().advance(chrono::Duration::minutes(11));
    let store = Store::open(dir.path()).expect("the store opens after the kill");
    let vault = store.vault().unwrap();
    let stored = vault.refresh_token("acme").unwrap().unwrap();
    assert_ne!(
        stored.token.expose(),
        first,
        "the rotated token is what the vault holds"
    );
    let p = Provider::new(
        &site("http://127.0.0.1:1/site/acme", oauth(&id, &secret)),
        &auth_url,
        http_client(),
        Some(vault),
    );
    p.authorization()
        .await
        .expect("the stored token is the live one");
    assert!(!c.grants()[0].family_killed);
}
