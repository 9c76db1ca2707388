//! The OAuth 2.0 authorization server: consent, codes, rotating refresh tokens, client
//! credentials, accessible resources, bearer tokens on the gateway only, revocation.

use jira_sim::oauth::{Consent, OAuthClientSpec};
use jira_sync_harness::acme::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

const CALLBACK: &str = "http://127.0.0.1:1/callback";

fn client(f: &Fixture, auto: bool) -> (String, String) {
    f.sim
        .control()
        .create_oauth_client(OAuthClientSpec {
            redirect_uris: vec![CALLBACK.into()],
            auto_consent: auto.then(|| Consent {
                account: ALICE.into(),
                sites: vec!["acme".into()],
            }),
            ..Default::default()
        })
        .unwrap()
}

async fn token(f: &Fixture, body: Value) -> (StatusCode, Value) {
    let r = f
        .http
        .post(format!("{}/oauth/token", f.sim.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap_or(Value::Null))
}

/// Consents through `/authorize` (auto-consent) and exchanges the code.
async fn login(f: &Fixture, id: &str, secret: &str, scope: &str) -> Value {
    let no_redirect = {
        install_crypto();
        reqwest::Client::builder()
    }
    .redirect(reqwest::redirect::Policy::none())
    .build()
    .unwrap();
    let r = no_redirect
        .get(format!("{}/authorize", f.sim.base_url()))
        .query(&[
            ("audience", "api.atlassian.com"),
            ("client_id", id),
            ("scope", scope),
            ("redirect_uri", CALLBACK),
            ("state", "xyz 1"),
            ("response_type", "code"),
            ("prompt", "consent"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let location = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    assert!(location.as_str().starts_with(CALLBACK));
    let q: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(q["state"], "xyz 1", "state comes back as sent");
    let (s, v) = token(f, json!({ "grant_type": "authorization_code", "client_id": id, "client_secret": secret, "code": q["code"], "redirect_uri": CALLBACK })).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

fn bearer(f: &Fixture, token: &str) -> reqwest::RequestBuilder {
    f.http
        .get(format!(
            "{}/rest/api/3/myself",
            f.sim.gateway_site_url(&f.cloud_id)
        ))
        .bearer_auth(token)
}

#[tokio::test]
async fn authorization_code_flow_gives_tokens_that_work_on_the_gateway_only() {
    let f = Fixture::new().await;
    let (id, secret) = client(&f, true);
    let t = login(
        &f,
        &id,
        &secret,
        "read:jira-work read:jira-user offline_access",
    )
    .await;
    assert_eq!(t["expires_in"], 3600);
    assert_eq!(t["token_type"], "Bearer");
    assert!(
        t["refresh_token"].is_string(),
        "offline_access yields a refresh token"
    );
    let access = t["access_token"].as_str().unwrap();

    let me: Value = bearer(&f, access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["accountId"], "acc-alice");
    let r = f
        .http
        .get(format!("{}/rest/api/3/myself", f.sim.site_url("acme")))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "bearer tokens are for the gateway"
    );

    // Scopes are enforced: no write:jira-work was granted.
    let r = f
        .http
        .post(format!("{}/rest/api/3/issue", f.sim.gateway_site_url(&f.cloud_id)))
        .bearer_auth(access)
        .json(&json!({ "fields": { "project": { "key": "SEC" }, "issuetype": { "name": "Task" }, "summary": "x" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.json::<Value>().await.unwrap()["message"],
        "Unauthorized; scope does not match"
    );

    let sites: Value = f
        .http
        .get(format!(
            "{}/oauth/token/accessible-resources",
            f.sim.base_url()
        ))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sites[0]["id"], json!(f.cloud_id));
    assert_eq!(sites[0]["name"], "acme");
    assert!(sites[0]["url"].as_str().unwrap().ends_with("/site/acme"));
    assert!(sites[0]["avatarUrl"].is_string());
    assert_eq!(
        sites[0]["scopes"],
        json!(["read:jira-user", "read:jira-work"])
    );

    // Without offline_access there is no refresh token.
    let t = login(&f, &id, &secret, "read:jira-work").await;
    assert!(t.get("refresh_token").is_none());
}

#[tokio::test]
async fn access_tokens_expire_with_the_clock() {
    let f = Fixture::new().await;
    let (id, secret) = f
        .sim
        .control()
        .create_oauth_client(OAuthClientSpec {
            redirect_uris: vec![CALLBACK.into()],
            auto_consent: Some(Consent {
                account: ALICE.into(),
                sites: vec!["acme".into()],
            }),
            access_ttl_seconds: Some(60),
            ..Default::default()
        })
        .unwrap();
    let t = login(&f, &id, &secret, "read:jira-user").await;
    assert_eq!(t["expires_in"], 60);
    let access = t["access_token"].as_str().unwrap();
    assert_eq!(
        bearer(&f, access).send().await.unwrap().status(),
        StatusCode::OK
    );
    f.sim
        .control()
        .world()
        .clock()
        .advance(chrono::Duration::seconds(61));
    assert_eq!(
        bearer(&f, access).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn refresh_tokens_rotate_and_reuse_after_the_leeway_kills_the_family() {
    let f = Fixture::new().await;
    let (id, secret) = client(&f, true);
    let t = login(&f, &id, &secret, "read:jira-user offline_access").await;
    let rt1 = t["refresh_token"].as_str().unwrap().to_owned();
    let refresh = |rt: String| {
        let f = &f;
        let (id, secret) = (id.clone(), secret.clone());
        async move {
            token(f, json!({ "grant_type": "refresh_token", "client_id": id, "client_secret": secret, "refresh_token": rt })).await
        }
    };
    let (s, t2) = refresh(rt1.clone()).await;
    assert_eq!(s, StatusCode::OK);
    let rt2 = t2["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rt1, rt2);
    let clock = f.sim.control().world().clock();
    clock.advance(chrono::Duration::minutes(5));
    assert_eq!(
        refresh(rt1.clone()).await.0,
        StatusCode::OK,
        "reuse inside the 10-minute leeway"
    );
    clock.advance(chrono::Duration::minutes(6));
    let (s, e) = refresh(rt1).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(
        e,
        json!({ "error": "invalid_grant", "error_description": "Unknown or invalid refresh token." })
    );
    assert_eq!(
        refresh(rt2).await.0,
        StatusCode::FORBIDDEN,
        "the whole family is dead"
    );
    assert!(f.sim.control().grants()[0].family_killed);
}

#[tokio::test]
async fn client_credentials_belong_to_a_service_account_and_have_no_refresh_token() {
    let f = Fixture::new().await;
    let (id, secret) = f
        .sim
        .control()
        .create_oauth_client(OAuthClientSpec {
            kind: Some("service_account".into()),
            scopes: vec!["read:jira-work".into(), "read:jira-user".into()],
            service_account: Some(Consent {
                account: BOT.into(),
                sites: vec!["acme".into()],
            }),
            ..Default::default()
        })
        .unwrap();
    let (s, t) = token(&f, json!({ "grant_type": "client_credentials", "client_id": id, "client_secret": secret, "audience": "api.atlassian.com" })).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(t["expires_in"], 3600);
    assert!(t.get("refresh_token").is_none());
    let me: Value = bearer(&f, t["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["accountId"], "acc-bot");

    // A rotated secret stops the old one at once.
    let new = f.sim.control().rotate_client_secret(&id).unwrap();
    let (s, e) = token(
        &f,
        json!({ "grant_type": "client_credentials", "client_id": id, "client_secret": secret }),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{e}");
    assert_eq!(
        token(
            &f,
            json!({ "grant_type": "client_credentials", "client_id": id, "client_secret": new })
        )
        .await
        .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn revoking_a_grant_or_a_client_stops_its_tokens() {
    let f = Fixture::new().await;
    let (id, secret) = client(&f, true);
    let t = login(&f, &id, &secret, "read:jira-user offline_access").await;
    let access = t["access_token"].as_str().unwrap();
    let grant = f.sim.control().grants()[0].id.clone();
    f.sim.control().revoke_grant(&grant).unwrap();
    assert_eq!(
        bearer(&f, access).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let (s, _) = token(&f, json!({ "grant_type": "refresh_token", "client_id": id, "client_secret": secret, "refresh_token": t["refresh_token"] })).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    let t = login(&f, &id, &secret, "read:jira-user offline_access").await;
    f.sim.control().revoke_oauth_client(&id).unwrap();
    assert_eq!(
        bearer(&f, t["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let (s, e) = token(&f, json!({ "grant_type": "refresh_token", "client_id": id, "client_secret": secret, "refresh_token": t["refresh_token"] })).await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("unauthorized_client"))
    );
}

#[tokio::test]
async fn authorize_refuses_bad_requests_and_shows_a_consent_page() {
    let f = Fixture::new().await;
    let (id, secret) = client(&f, false);
    let get = |q: Vec<(&'static str, String)>| {
        let f = &f;
        async move {
            f.http
                .get(format!("{}/authorize", f.sim.base_url()))
                .query(&q)
                .send()
                .await
                .unwrap()
        }
    };
    let base = |redirect: &str| {
        vec![
            ("audience", "api.atlassian.com".to_owned()),
            ("client_id", id.clone()),
            ("scope", "read:jira-work".to_owned()),
            ("redirect_uri", redirect.to_owned()),
            ("state", "s".to_owned()),
            ("response_type", "code".to_owned()),
        ]
    };
    assert_eq!(
        get(base("http://evil.example/cb")).await.status(),
        StatusCode::BAD_REQUEST
    );
    let mut no_state = base(CALLBACK);
    no_state.retain(|(k, _)| *k != "state");
    assert_eq!(get(no_state).await.status(), StatusCode::BAD_REQUEST);
    let page = get(base(CALLBACK)).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("form") && html.contains("acme"), "{html}");

    // The consent form's Accept, as a person would press it.
    let no_redirect = {
        install_crypto();
        reqwest::Client::builder()
    }
    .redirect(reqwest::redirect::Policy::none())
    .build()
    .unwrap();
    let r = no_redirect
        .post(format!("{}/authorize", f.sim.base_url()))
        .form(&[
            ("client_id", id.as_str()),
            ("redirect_uri", CALLBACK),
            ("scope", "read:jira-user"),
            ("state", "s"),
            ("account", ALICE),
            ("site", "acme"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let location = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let (s, _) = token(&f, json!({ "grant_type": "authorization_code", "client_id": id, "client_secret": secret, "code": code, "redirect_uri": CALLBACK })).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = token(&f, json!({ "grant_type": "authorization_code", "client_id": id, "client_secret": secret, "code": code, "redirect_uri": CALLBACK })).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a code works once");

    let r = f
        .http
        .post(format!("{}/oauth/token", f.sim.base_url()))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::BAD_REQUEST,
        "the token endpoint takes JSON"
    );
}
