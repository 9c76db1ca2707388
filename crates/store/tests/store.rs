//! The vault and the cache survive reopening; a second open is refused as locked.

use chrono::Utc;
use jira_sync_config::Secret;
use jira_sync_store::{RefreshToken, Store, StoreError};

#[tokio::test]
async fn vault_and_cache_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        let t = RefreshToken {
            token: Secret::new("FAKE-rt-1"),
            consented_at: Utc::now(),
            issued_at: Utc::now(),
            seed: None,
        };
        store
            .vault()
            .unwrap()
            .put_refresh_token("acme", &t)
            .await
            .unwrap();
        store
            .cache()
            .unwrap()
            .put("acme", "cloud_id", &"c-1".to_owned())
            .unwrap();
        store
            .cache()
            .unwrap()
            .put("acme-2", "cloud_id", &"c-2".to_owned())
            .unwrap();
        assert!(
            matches!(Store::open(dir.path()), Err(StoreError::Locked(_))),
            "one open per process"
        );
    }
    let store = Store::open(dir.path()).unwrap();
    let t = store
        .vault()
        .unwrap()
        .refresh_token("acme")
        .unwrap()
        .unwrap();
    assert_eq!(t.token.expose(), "FAKE-rt-1");
    assert!(!format!("{t:?}").contains("FAKE-rt-1"));
    let cache = store.cache().unwrap();
    assert_eq!(
        cache.get::<String>("acme", "cloud_id").unwrap().as_deref(),
        Some("c-1")
    );
    cache.forget_site("acme").unwrap();
    assert_eq!(cache.get::<String>("acme", "cloud_id").unwrap(), None);
    assert_eq!(
        cache
            .get::<String>("acme-2", "cloud_id")
            .unwrap()
            .as_deref(),
        Some("c-2"),
        "prefix is exact"
    );
    assert!(
        store
            .vault()
            .unwrap()
            .refresh_token("globex")
            .unwrap()
            .is_none()
    );
}
