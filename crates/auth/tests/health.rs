//! Every credential state the probe can report, against wiremock.

use chrono::{Duration, Utc};
use jira_sync_auth::scopes::Scopes;
use jira_sync_auth::{CredentialState, Provider, Target, http_client, probe};
use jira_sync_harness::sites::*;
use url::Url;
use wiremock::matchers::{header_exists, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CLOUD: &str = "/ex/jira/cloud-1";

struct Setup {
    server: MockServer,
    site_url: Url,
    gateway: Url,
}

async fn setup() -> Setup {
    let server = MockServer::start().await;
    let site_url = Url::parse(&format!("{}/site", server.uri())).unwrap();
    let gateway = Url::parse(&format!("{}{CLOUD}", server.uri())).unwrap();
    Setup {
        server,
        site_url,
        gateway,
    }
}

async fn myself(s: &Setup, prefix: &str, status: u16, body: &str) {
    Mock::given(method("GET"))
        .and(path(format!("{prefix}/rest/api/3/myself")))
        .and(header_exists("authorization"))
        .respond_with(ResponseTemplate::new(status).set_body_string(body))
        .mount(&s.server)
        .await;
}

async fn run(
    s: &Setup,
    auth: jira_sync_config::Auth,
    expires_at: Option<chrono::DateTime<Utc>>,
) -> jira_sync_auth::Health {
    let p = Provider::new(
        &site(s.site_url.as_str(), auth),
        &Url::parse(&s.server.uri()).unwrap(),
        http_client(),
        None,
    );
    let required = Scopes::default();
    let t = Target {
        site_url: &s.site_url,
        gateway_base: Some(&s.gateway),
        required: &required,
        project: Some("SEC"),
        expires_at,
        window: Duration::days(28),
    };
    let h = probe(&p, &http_client(), &t, Utc::now()).await;
    assert!(
        !h.message.contains(TOKEN) && !h.message.contains(CLIENT_SECRET),
        "no secret in: {}",
        h.message
    );
    h
}

#[tokio::test]
async fn valid_and_expiring() {
    let s = setup().await;
    myself(&s, "/site", 200, "{}").await;
    let far = Utc::now() + Duration::days(200);
    let h = run(&s, api_token(Some(far)), Some(far)).await;
    assert_eq!((h.state, h.expires_at), (CredentialState::Valid, Some(far)));
    let soon = Utc::now() + Duration::days(10);
    let h = run(&s, api_token(Some(soon)), Some(soon)).await;
    assert_eq!(h.state, CredentialState::Expiring);
    assert!(
        h.message.contains("expires in 9 days") || h.message.contains("expires in 10 days"),
        "{}",
        h.message
    );
}

#[tokio::test]
async fn expired_and_revoked() {
    let s = setup().await;
    myself(
        &s,
        "/site",
        401,
        "Client must be authenticated to access this resource.",
    )
    .await;
    myself(&s, CLOUD, 401, r#"{"code":401,"message":"Unauthorized"}"#).await;
    let past = Utc::now() - Duration::days(1);
    assert_eq!(
        run(&s, api_token(Some(past)), Some(past)).await.state,
        CredentialState::Expired
    );
    assert_eq!(
        run(&s, api_token(None), None).await.state,
        CredentialState::Revoked
    );
}

#[tokio::test]
async fn a_token_on_the_wrong_url_form_says_which_to_configure() {
    let s = setup().await;
    myself(
        &s,
        "/site",
        401,
        "Client must be authenticated to access this resource.",
    )
    .await;
    myself(&s, CLOUD, 200, "{}").await;
    let h = run(&s, api_token(None), None).await;
    assert_eq!(h.state, CredentialState::Revoked);
    assert!(
        h.message.contains("gateway") && h.message.contains("service_account"),
        "{}",
        h.message
    );

    let s = setup().await;
    myself(&s, CLOUD, 401, r#"{"code":401,"message":"Unauthorized"}"#).await;
    myself(&s, "/site", 200, "{}").await;
    let h = run(&s, service_account(None), None).await;
    assert!(h.message.contains("api_token"), "{}", h.message);
}

#[tokio::test]
async fn insufficient_scope() {
    let s = setup().await;
    myself(
        &s,
        CLOUD,
        401,
        r#"{"code":401,"message":"Unauthorized; scope does not match"}"#,
    )
    .await;
    let h = run(&s, service_account(None), None).await;
    assert_eq!(h.state, CredentialState::InsufficientScope);
    assert_eq!(h.missing_scopes, ["read:jira-user"]);

    // /myself works, but a search in the connector's project lacks its scope.
    let s = setup().await;
    myself(&s, CLOUD, 200, "{}").await;
    Mock::given(method("POST"))
        .and(path(format!("{CLOUD}/rest/api/3/search/jql")))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_string(r#"{"code":401,"message":"Unauthorized; scope does not match"}"#),
        )
        .mount(&s.server)
        .await;
    let h = run(&s, service_account(None), None).await;
    assert_eq!(h.state, CredentialState::InsufficientScope);
    assert_eq!(h.missing_scopes, ["read:jira-work"]);
}

#[tokio::test]
async fn unreachable() {
    let s = setup().await;
    myself(&s, "/site", 503, "").await;
    assert_eq!(
        run(&s, api_token(None), None).await.state,
        CredentialState::Unreachable
    );
    // Nothing listens here.
    let dead = Url::parse("http://127.0.0.1:9/site").unwrap();
    let p = Provider::new(
        &site(dead.as_str(), api_token(None)),
        &dead,
        http_client(),
        None,
    );
    let required = Scopes::default();
    let t = Target {
        site_url: &dead,
        gateway_base: None,
        required: &required,
        project: None,
        expires_at: None,
        window: Duration::days(28),
    };
    assert_eq!(
        probe(&p, &http_client(), &t, Utc::now()).await.state,
        CredentialState::Unreachable
    );
    // An OAuth site whose token endpoint is down.
    let s = setup().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(502))
        .mount(&s.server)
        .await;
    assert_eq!(
        run(&s, client_credentials(), None).await.state,
        CredentialState::Unreachable
    );
}

#[tokio::test]
async fn oauth_scopes_granted_are_checked_against_the_required_ones() {
    let s = setup().await;
    myself(&s, CLOUD, 200, "{}").await;
    Mock::given(method("POST")).and(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({ "access_token": "FAKE-cc", "expires_in": 3600, "scope": "read:jira-work read:jira-user" })))
        .mount(&s.server)
        .await;
    let p = Provider::new(
        &site(s.site_url.as_str(), client_credentials()),
        &Url::parse(&s.server.uri()).unwrap(),
        http_client(),
        None,
    );
    let mut required = Scopes::default();
    required
        .classic
        .extend(["read:jira-work".to_owned(), "write:jira-work".to_owned()]);
    let t = Target {
        site_url: &s.site_url,
        gateway_base: Some(&s.gateway),
        required: &required,
        project: None,
        expires_at: None,
        window: Duration::days(28),
    };
    let h = probe(&p, &http_client(), &t, Utc::now()).await;
    assert_eq!(
        (h.state, h.missing_scopes),
        (
            CredentialState::InsufficientScope,
            vec!["write:jira-work".to_owned()]
        )
    );
    // A terminal token error is `revoked`.
    let s = setup().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(serde_json::json!({ "error": "access_denied" })),
        )
        .mount(&s.server)
        .await;
    assert_eq!(
        run(&s, client_credentials(), None).await.state,
        CredentialState::Revoked
    );
}

/// Issue 17: a probe answered `429` is throttled, not unreachable. It waits `Retry-After`
/// (the retry recipe), asks again, and then decides.
#[tokio::test]
async fn a_throttled_probe_waits_out_retry_after_and_asks_again() {
    let s = setup().await;
    Mock::given(method("GET"))
        .and(path("/site/rest/api/3/myself"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .insert_header("ratelimit-reason", "jira-burst-based"),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&s.server)
        .await;
    myself(&s, "/site", 200, "{}").await;
    let started = std::time::Instant::now();
    let h = run(&s, api_token(None), None).await;
    assert_eq!(h.state, CredentialState::Valid, "{}", h.message);
    let asked: Vec<_> = s
        .server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path().ends_with("/myself"))
        .collect();
    assert_eq!(asked.len(), 2, "asked once more after the 429");
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(1),
        "not before Retry-After"
    );
}

/// Issue 17: a `403` with `X-Authentication-Denied-Reason: CAPTCHA_CHALLENGE` is a credential
/// Jira will not accept until a person signs in: `revoked`, with what to do, and nothing of
/// the header but its reason code (the login URL stays out).
#[tokio::test]
async fn a_captcha_lock_reads_revoked_with_what_to_do() {
    let s = setup().await;
    Mock::given(method("GET"))
        .and(path("/site/rest/api/3/myself"))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header(
                    "x-authentication-denied-reason",
                    "CAPTCHA_CHALLENGE; login-url=https://acme.atlassian.net/login.jsp",
                )
                .insert_header("x-seraph-loginreason", "AUTHENTICATION_DENIED")
                .set_body_string("<html>CAPTCHA required</html>"),
        )
        .mount(&s.server)
        .await;
    let h = run(&s, api_token(None), None).await;
    assert_eq!(h.state, CredentialState::Revoked, "{}", h.message);
    assert!(h.message.contains("CAPTCHA_CHALLENGE"), "{}", h.message);
    assert!(
        h.message.contains("sign in once in a browser"),
        "{}",
        h.message
    );
    assert!(!h.message.contains("login.jsp"), "{}", h.message);
}
