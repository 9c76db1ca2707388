//! Exact request shapes of each method, rotation, single-flight refresh, terminal errors.

use std::sync::Arc;

use chrono::Utc;
use jira_sync_auth::{AuthError, Form, Provider, http_client};
use jira_sync_config::Secret;
use jira_sync_harness::sites::*;
use jira_sync_store::{RefreshToken, Store};
use serde_json::json;
use url::Url;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn tokens(access: &str, refresh: Option<&str>) -> ResponseTemplate {
    let mut body = json!({ "access_token": access, "expires_in": 3600, "scope": "read:jira-work read:jira-user offline_access", "token_type": "Bearer" });
    if let Some(r) = refresh {
        body["refresh_token"] = json!(r);
    }
    ResponseTemplate::new(200).set_body_json(body)
}

async fn seeded_vault(dir: &tempfile::TempDir, token: &str) -> (Store, jira_sync_store::Vault) {
    let store = Store::open(dir.path()).unwrap();
    let vault = store.vault().unwrap();
    let now = Utc::now();
    vault
        .put_refresh_token(
            "acme",
            &RefreshToken {
                token: Secret::new(token),
                consented_at: now,
                issued_at: now,
                seed: None,
            },
        )
        .await
        .unwrap();
    (store, vault)
}

#[tokio::test]
async fn api_token_and_service_account_send_basic_auth_on_their_url_forms() {
    let url = Url::parse("https://auth.example.invalid").unwrap();
    let p = Provider::new(
        &site("https://acme.atlassian.net", api_token(None)),
        &url,
        http_client(),
        None,
    );
    let a = p.authorization().await.unwrap();
    // base64("bot@acme.example:FAKE-api-token-7f3a")
    assert_eq!(
        a.header().to_str().unwrap(),
        "Basic Ym90QGFjbWUuZXhhbXBsZTpGQUtFLWFwaS10b2tlbi03ZjNh"
    );
    assert!(a.header().is_sensitive());
    assert_eq!(p.form(), Form::Site);
    assert!(!format!("{a:?} {p:?}").contains(TOKEN));
    assert!(
        matches!(p.after_unauthorized(&a).await, Err(AuthError::Refused)),
        "nothing to refresh"
    );

    let p = Provider::new(
        &site("https://acme.atlassian.net", service_account(None)),
        &url,
        http_client(),
        None,
    );
    assert_eq!(p.form(), Form::Gateway);
    assert!(
        p.authorization()
            .await
            .unwrap()
            .header()
            .to_str()
            .unwrap()
            .starts_with("Basic ")
    );
}

#[tokio::test]
async fn oauth2_refresh_rotates_and_stores_the_new_refresh_token_before_use() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({ "grant_type": "refresh_token", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "refresh_token": "FAKE-rt-1" })))
        .respond_with(tokens("FAKE-at-1", Some("FAKE-rt-2")))
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let (store, vault) = seeded_vault(&dir, "FAKE-rt-1").await;
    let p = Provider::new(
        &site("https://acme.atlassian.net", oauth2()),
        &Url::parse(&server.uri()).unwrap(),
        http_client(),
        Some(vault.clone()),
    );
    let a = p.authorization().await.unwrap();
    assert_eq!(a.header().to_str().unwrap(), "Bearer FAKE-at-1");
    assert_eq!(
        vault.refresh_token("acme").unwrap().unwrap().token.expose(),
        "FAKE-rt-2",
        "rotated token stored"
    );
    // Cached: no second token request (the mock expects exactly one).
    assert_eq!(p.authorization().await.unwrap().header(), a.header());
    assert!(p.granted_scopes().unwrap().contains("read:jira-work"));
    drop(store);
}

#[tokio::test]
async fn concurrent_callers_share_one_refresh() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(
            tokens("FAKE-at-1", Some("FAKE-rt-2")).set_delay(std::time::Duration::from_millis(200)),
        )
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let (_store, vault) = seeded_vault(&dir, "FAKE-rt-1").await;
    let p = Arc::new(Provider::new(
        &site("https://acme.atlassian.net", oauth2()),
        &Url::parse(&server.uri()).unwrap(),
        http_client(),
        Some(vault),
    ));
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let p = p.clone();
            tokio::spawn(async move { p.authorization().await.unwrap().header().clone() })
        })
        .collect();
    for c in calls {
        assert_eq!(c.await.unwrap().to_str().unwrap(), "Bearer FAKE-at-1");
    }
}

#[tokio::test]
async fn a_401_forces_one_refresh_however_many_callers_saw_it() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path("/oauth/token")).and(body_json(json!({ "grant_type": "refresh_token", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "refresh_token": "FAKE-rt-1" })))
        .respond_with(tokens("FAKE-at-1", Some("FAKE-rt-2"))).expect(1).mount(&server).await;
    Mock::given(method("POST")).and(path("/oauth/token")).and(body_json(json!({ "grant_type": "refresh_token", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "refresh_token": "FAKE-rt-2" })))
        .respond_with(tokens("FAKE-at-2", Some("FAKE-rt-3")).set_delay(std::time::Duration::from_millis(100))).expect(1).mount(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let (_store, vault) = seeded_vault(&dir, "FAKE-rt-1").await;
    let p = Arc::new(Provider::new(
        &site("https://acme.atlassian.net", oauth2()),
        &Url::parse(&server.uri()).unwrap(),
        http_client(),
        Some(vault),
    ));
    let used = p.authorization().await.unwrap();
    let retries: Vec<_> = (0..5)
        .map(|_| {
            let (p, used) = (p.clone(), used.clone());
            tokio::spawn(async move { p.after_unauthorized(&used).await.unwrap().header().clone() })
        })
        .collect();
    for r in retries {
        assert_eq!(r.await.unwrap().to_str().unwrap(), "Bearer FAKE-at-2");
    }
}

/// Log lines written while a test runs.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn invalid_grant_is_terminal_until_the_operator_stores_a_new_token() {
    let logs = Captured::default();
    let writer = logs.clone();
    let _guard = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .finish(),
    );
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path("/oauth/token")).and(body_json(json!({ "grant_type": "refresh_token", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "refresh_token": "FAKE-rt-dead" })))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({ "error": "invalid_grant", "error_description": "Unknown or invalid refresh token." })))
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let (_store, vault) = seeded_vault(&dir, "FAKE-rt-dead").await;
    let p = Provider::new(
        &site("https://acme.atlassian.net", oauth2()),
        &Url::parse(&server.uri()).unwrap(),
        http_client(),
        Some(vault.clone()),
    );
    for _ in 0..3 {
        match p.authorization().await {
            Err(AuthError::Terminal(msg)) => {
                assert!(
                    msg.contains("invalid_grant") && msg.contains("jira-sync auth login acme"),
                    "{msg}"
                );
                assert!(!msg.contains("FAKE-rt-dead"));
            }
            other => panic!("{other:?}"),
        }
    }
    // `auth login` stores a new refresh token: the provider tries again by itself.
    Mock::given(method("POST")).and(path("/oauth/token")).and(body_json(json!({ "grant_type": "refresh_token", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "refresh_token": "FAKE-rt-new" })))
        .respond_with(tokens("FAKE-at-9", Some("FAKE-rt-newer"))).expect(1).mount(&server).await;
    let later = Utc::now() + chrono::Duration::seconds(1);
    vault
        .put_refresh_token(
            "acme",
            &RefreshToken {
                token: Secret::new("FAKE-rt-new"),
                consented_at: later,
                issued_at: later,
                seed: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        p.authorization().await.unwrap().header().to_str().unwrap(),
        "Bearer FAKE-at-9"
    );
}

#[tokio::test]
async fn client_credentials_ask_for_a_token_and_a_rotated_secret_is_terminal() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path("/oauth/token"))
        .and(body_json(json!({ "grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "audience": "api.atlassian.com" })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "access_token": "FAKE-cc-1", "expires_in": 3600, "token_type": "Bearer", "scope": "read:jira-work" })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({ "error": "access_denied", "error_description": "Unauthorized" }),
        ))
        .mount(&server)
        .await;
    let p = Provider::new(
        &site("https://acme.atlassian.net", client_credentials()),
        &Url::parse(&server.uri()).unwrap(),
        http_client(),
        None,
    );
    let a = p.authorization().await.unwrap();
    assert_eq!(a.header().to_str().unwrap(), "Bearer FAKE-cc-1");
    match p.after_unauthorized(&a).await {
        Err(AuthError::Terminal(msg)) => assert!(
            msg.contains("client_secret") && !msg.contains(CLIENT_SECRET),
            "{msg}"
        ),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn token_endpoint_outages_are_not_terminal() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(tokens("FAKE-at-1", Some("FAKE-rt-2")))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let (_store, vault) = seeded_vault(&dir, "FAKE-rt-1").await;
    let p = Provider::new(
        &site("https://acme.atlassian.net", oauth2()),
        &Url::parse(&server.uri()).unwrap(),
        http_client(),
        Some(vault),
    );
    assert!(matches!(
        p.authorization().await,
        Err(AuthError::Unreachable(_))
    ));
    assert!(p.authorization().await.is_ok(), "the next call tries again");
}

#[tokio::test]
async fn oauth2_without_a_stored_token_says_to_log_in() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let p = Provider::new(
        &site("https://acme.atlassian.net", oauth2()),
        &Url::parse("http://127.0.0.1:9").unwrap(),
        http_client(),
        Some(store.vault().unwrap()),
    );
    let e = p.authorization().await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "no OAuth refresh token is stored for site `acme`: run `jira-sync auth login acme`"
    );
}
