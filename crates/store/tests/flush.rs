//! Durable writes from many tasks at once all finish. sled 0.34's `flush_async` runs the
//! flush on sled's own IO thread pool, where it waits for log writes queued on that same
//! pool: with seven flushes at once every pool thread waits and nothing writes (the daemon
//! hung this way with 40 connectors on a 2-second schedule). The store flushes from tokio's
//! blocking threads instead, one flush for all the writes that wait at once.

use std::time::Duration;

use chrono::Utc;
use jira_sync_config::Secret;
use jira_sync_store::{RefreshToken, Store};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_concurrent_durable_writes_all_finish() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let vault = store.vault().unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..64 {
        let vault = vault.clone();
        tasks.spawn(async move {
            for i in 0..20 {
                let now = Utc::now();
                let token = RefreshToken {
                    token: Secret::new(format!("FAKE-refresh-{t}-{i}")),
                    consented_at: now,
                    issued_at: now,
                    seed: None,
                };
                vault
                    .put_refresh_token(&format!("site-{t}"), &token)
                    .await
                    .unwrap();
            }
        });
    }
    // Not a speed limit but a hang detector (the writes take well under a second). With
    // sled's flush_async the runtime's threads block too, so the hang shows as the test
    // runner's timeout rather than this one.
    tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(r) = tasks.join_next().await {
            r.unwrap();
        }
    })
    .await
    .expect("durable writes hung");
    let last = vault.refresh_token("site-63").unwrap().unwrap();
    assert_eq!(last.token.expose(), "FAKE-refresh-63-19");
}
