//! Webhooks as Jira sends them (reference jira-cloud-api.md section 9): dynamic webhooks
//! for OAuth 2.0 apps only (limit, JQL subset, 30-day expiry and refresh), admin webhooks
//! for administrators, deliveries signed both ways, retried with the retry header, and the
//! per-site faults (delay, drop, duplicate).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode as AxStatus};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jira_sim::control::AdminWebhookSpec;
use jira_sim::oauth::{Consent, OAuthClientSpec};
use jira_sim::webhooks::WebhookFaults;
use jira_sync_harness::acme::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const CALLBACK: &str = "http://127.0.0.1:1/callback";

/// What a receiver got: headers and body of each request, in order.
type Got = Arc<Mutex<Vec<(HeaderMap, Value)>>>;

/// A receiver on a free loopback port that answers the statuses of `answers` in turn (then
/// 200).
async fn receiver(answers: Vec<u16>) -> (String, Got) {
    let got: Got = Arc::default();
    let answers = Arc::new(Mutex::new(answers));
    let app = {
        let got = got.clone();
        axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
                let (got, answers) = (got.clone(), answers.clone());
                async move {
                    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    got.lock().unwrap().push((headers, v));
                    let mut a = answers.lock().unwrap();
                    let code = if a.is_empty() { 200 } else { a.remove(0) };
                    AxStatus::from_u16(code).unwrap()
                }
            }),
        )
    };
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (url, got)
}

async fn wait_for(got: &Got, n: usize) -> Vec<(HeaderMap, Value)> {
    for _ in 0..200 {
        if got.lock().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    got.lock().unwrap().clone()
}

/// An OAuth 2.0 app consented by Alice: (client id, client secret, access token).
async fn app(f: &Fixture, scope: &str) -> (String, String, String) {
    let (id, secret) = f
        .sim
        .control()
        .create_oauth_client(OAuthClientSpec {
            redirect_uris: vec![CALLBACK.into()],
            // Tests move the clock by weeks.
            access_ttl_seconds: Some(90 * 24 * 3600),
            ..Default::default()
        })
        .unwrap();
    let consent = Consent {
        account: ALICE.into(),
        sites: vec!["acme".into()],
    };
    let code = f
        .sim
        .control()
        .oauth_consent(&id, CALLBACK, &consent, scope)
        .unwrap();
    let r: Value = f
        .http
        .post(format!("{}/oauth/token", f.sim.base_url()))
        .json(&json!({ "grant_type": "authorization_code", "client_id": id, "client_secret": secret, "code": code, "redirect_uri": CALLBACK }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = r["access_token"].as_str().unwrap().to_owned();
    (id, secret, token)
}

async fn as_app(
    f: &Fixture,
    token: &str,
    method: Method,
    path: &str,
    body: Value,
) -> (StatusCode, Value) {
    let r = f
        .http
        .request(
            method,
            format!("{}/rest/api/3{path}", f.sim.gateway_site_url(&f.cloud_id)),
        )
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

fn hmac_hex(secret: &[u8], body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    ring::hmac::sign(&key, body)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

const SCOPE: &str = "read:jira-work write:jira-work manage:jira-webhook";

#[tokio::test]
async fn a_dynamic_webhook_delivers_signed_events_of_its_filter_only() {
    let f = Fixture::new().await;
    let (url, got) = receiver(vec![]).await;
    let (_, secret, token) = app(&f, SCOPE).await;
    let (s, v) = as_app(&f, &token, Method::POST, "/webhook", json!({
        "url": url,
        "webhooks": [{ "events": ["jira:issue_created", "jira:issue_updated", "comment_created"], "jqlFilter": "project = SEC" }],
    }))
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(
        v["webhookRegistrationResult"][0]["createdWebhookId"].is_u64(),
        "{v}"
    );

    let key = f.create("SEC", "watched").await;
    f.create("OPS", "not in the filter").await;
    f.sim
        .control()
        .comment_issue("acme", &key, ALICE, &json!("a comment"))
        .unwrap();
    let got = wait_for(&got, 3).await;
    // Deliveries travel on their own, as Jira's do: they may arrive in any order.
    let event = |e: &str| {
        got.iter()
            .find(|(_, v)| v["webhookEvent"] == e)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {e}: {got:?}"))
    };
    let mut events: Vec<&str> = got
        .iter()
        .map(|(_, v)| v["webhookEvent"].as_str().unwrap())
        .collect();
    events.sort_unstable();
    assert_eq!(
        events,
        [
            "comment_created",
            "jira:issue_created",
            "jira:issue_updated"
        ],
        "one delivery per event, OPS filtered out"
    );
    assert!(got.iter().all(|(_, v)| v["issue"]["key"] == key.as_str()));
    assert_eq!(
        event("jira:issue_updated")["issue_event_type_name"],
        "issue_commented"
    );
    assert_eq!(
        event("comment_created")["comment"]["author"]["emailAddress"],
        ALICE
    );
    // Each delivery: its own identifier and a bearer JWT signed (HS256) with the secret.
    let ids: std::collections::BTreeSet<_> = got
        .iter()
        .map(|(h, _)| {
            h["x-atlassian-webhook-identifier"]
                .to_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 3);
    for (h, _) in &got {
        let auth = h["authorization"].to_str().unwrap();
        let jwt = auth.strip_prefix("Bearer ").unwrap();
        let (signed, sig) = jwt.rsplit_once('.').unwrap();
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
        ring::hmac::verify(
            &key,
            signed.as_bytes(),
            &URL_SAFE_NO_PAD.decode(sig).unwrap(),
        )
        .expect("signed with the app's client secret");
        assert!(h.get("x-atlassian-webhook-retry").is_none());
    }
}

#[tokio::test]
async fn only_apps_register_within_their_limit_and_the_jql_subset() {
    let f = Fixture::new().await;
    let (url, _) = receiver(vec![]).await;
    // A classic token is not an app: 403.
    let (s, _) = f
        .call(
            &f.site(),
            Method::POST,
            "/webhook",
            Some(json!({ "url": url, "webhooks": [] })),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Without manage:jira-webhook the gateway refuses the scope.
    let (_, _, weak) = app(&f, "read:jira-work").await;
    let (s, _) = as_app(
        &f,
        &weak,
        Method::POST,
        "/webhook",
        json!({ "url": url, "webhooks": [] }),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    let (_, _, token) = app(&f, SCOPE).await;
    let hook = |jql: &str| json!({ "events": ["jira:issue_updated"], "jqlFilter": jql });
    let (s, v) = as_app(
        &f,
        &token,
        Method::POST,
        "/webhook",
        json!({
            "url": url,
            "webhooks": [
                hook("project = SEC"),
                hook("labels = x"),
                hook("project = SEC ORDER BY updated"),
                hook("project IN (SEC, OPS) AND status != Done"),
                { "events": ["jira:issue_updated"] },
                { "events": ["sprint_started"], "jqlFilter": "project = SEC" },
                hook("project = OPS"),
                hook("status = Done"),
                hook("project = SEC"),
                hook("project = OPS"),
            ],
        }),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let r = v["webhookRegistrationResult"].as_array().unwrap();
    let created: Vec<bool> = r.iter().map(|x| x["createdWebhookId"].is_u64()).collect();
    assert_eq!(
        created,
        [
            true, false, false, true, false, false, true, true, true, false
        ],
        "{v}"
    );
    assert!(
        r[9]["errors"][0].as_str().unwrap().contains("at most 5"),
        "{v}"
    );
    // One URL per app.
    let (s, _) = as_app(
        &f,
        &token,
        Method::POST,
        "/webhook",
        json!({ "url": "https://elsewhere.example/hook", "webhooks": [hook("project = SEC")] }),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn dynamic_webhooks_expire_after_30_days_unless_refreshed() {
    let f = Fixture::new().await;
    let (url, got) = receiver(vec![]).await;
    let (_, _, token) = app(&f, SCOPE).await;
    let register = |jql: &'static str| json!({ "url": url, "webhooks": [{ "events": ["jira:issue_created"], "jqlFilter": jql }] });
    let (_, v) = as_app(
        &f,
        &token,
        Method::POST,
        "/webhook",
        register("project = SEC"),
    )
    .await;
    let kept = v["webhookRegistrationResult"][0]["createdWebhookId"]
        .as_u64()
        .unwrap();
    let (_, v) = as_app(
        &f,
        &token,
        Method::POST,
        "/webhook",
        register("project = OPS"),
    )
    .await;
    assert!(v["webhookRegistrationResult"][0]["createdWebhookId"].is_u64());

    f.sim
        .control()
        .world()
        .clock()
        .advance(chrono::Duration::days(29));
    let (s, v) = as_app(
        &f,
        &token,
        Method::PUT,
        "/webhook/refresh",
        json!({ "webhookIds": [kept] }),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let until = v["expirationDate"].as_i64().unwrap();
    let now = f.sim.control().world().clock().now().timestamp_millis();
    let month = 30 * 24 * 3600 * 1000;
    assert!(
        (month - 5000..=month).contains(&(until - now)),
        "{until} {now}"
    );
    f.sim
        .control()
        .world()
        .clock()
        .advance(chrono::Duration::days(2));

    f.create("SEC", "refreshed: delivered").await;
    f.create("OPS", "expired: not delivered").await;
    let got = wait_for(&got, 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].1["issue"]["fields"]["summary"],
        "refreshed: delivered"
    );
    let (_, list) = as_app(&f, &token, Method::GET, "/webhook", json!({})).await;
    let listed: Vec<u64> = list["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_u64().unwrap())
        .collect();
    assert!(listed.contains(&kept));
}

#[tokio::test]
async fn failed_deliveries_are_retried_with_the_retry_header_and_faults_apply() {
    let f = Fixture::new().await;
    let (url, got) = receiver(vec![503, 429]).await;
    let c = f.sim.control();
    c.create_account(
        "acme",
        jira_sim::control::AccountSpec {
            display_name: "Admin".into(),
            email: Some("admin@acme.example".into()),
            administer_jira: Some(true),
            ..Default::default()
        },
    )
    .unwrap();
    c.register_admin_webhook(
        "acme",
        AdminWebhookSpec {
            name: "sync".into(),
            url,
            jql: Some("project = SEC".into()),
            secret: Some("FAKE-webhook-secret".into()),
            ..Default::default()
        },
    )
    .unwrap();
    f.create("SEC", "retried").await;
    let got_now = wait_for(&got, 3).await;
    let retries: Vec<Option<&str>> = got_now
        .iter()
        .map(|(h, _)| {
            h.get("x-atlassian-webhook-retry")
                .map(|v| v.to_str().unwrap())
        })
        .collect();
    assert_eq!(retries, [None, Some("1"), Some("2")]);
    let ids: Vec<_> = got_now
        .iter()
        .map(|(h, _)| h["x-atlassian-webhook-identifier"].clone())
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] == w[1]),
        "a retry keeps its identifier"
    );
    // X-Hub-Signature over the exact body.
    let (h, v) = &got_now[2];
    let expected = format!(
        "sha256={}",
        hmac_hex(b"FAKE-webhook-secret", v.to_string().as_bytes())
    );
    assert_eq!(h["x-hub-signature"].to_str().unwrap(), expected);

    // Dropped, then duplicated.
    c.set_webhook_faults(
        "acme",
        WebhookFaults {
            drop_next: 1,
            ..Default::default()
        },
    )
    .unwrap();
    f.create("SEC", "dropped").await;
    c.set_webhook_faults(
        "acme",
        WebhookFaults {
            duplicate: true,
            ..Default::default()
        },
    )
    .unwrap();
    f.create("SEC", "twice").await;
    let all = wait_for(&got, 5).await;
    let summaries: Vec<&str> = all[3..]
        .iter()
        .map(|(_, v)| v["issue"]["fields"]["summary"].as_str().unwrap())
        .collect();
    assert_eq!(summaries, ["twice", "twice"]);
    assert_eq!(
        all[3].0["x-atlassian-webhook-identifier"],
        all[4].0["x-atlassian-webhook-identifier"]
    );
    let log = c.deliveries("acme").unwrap();
    assert!(
        log.iter()
            .any(|d| d.dropped && d.issue_key.starts_with("SEC"))
    );
}

#[tokio::test]
async fn admin_webhooks_need_an_administrator() {
    let f = Fixture::new().await;
    let url = format!("{}/rest/webhooks/1.0/webhook", f.sim.site_url("acme"));
    let body =
        json!({ "name": "x", "url": "https://hooks.example/x", "events": ["jira:issue_updated"] });
    let r = f
        .http
        .post(&url)
        .basic_auth(ALICE, Some(&f.classic))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "Alice does not administer Jira"
    );
    let r = f.http.post(&url).json(&body).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}
