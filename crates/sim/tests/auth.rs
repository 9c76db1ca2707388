//! Routing by site and URL form, credentials (kinds, expiry, revocation, scopes), and what
//! a user sees of other users.

use jira_sync_harness::acme::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn tenant_info_gives_the_cloud_id_without_auth_and_unknown_sites_are_404() {
    let f = Fixture::new().await;
    let v: serde_json::Value = f
        .http
        .get(format!("{}/_edge/tenant_info", f.sim.site_url("acme")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["cloudId"], json!(f.cloud_id));
    let r = f
        .http
        .get(format!("{}/_edge/tenant_info", f.sim.site_url("nope")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    let mut who = f.site();
    who.base = f.sim.site_url("nope");
    assert_eq!(
        f.call(&who, Method::GET, "/myself", None).await.0,
        StatusCode::NOT_FOUND
    );
    let mut who = f.gateway();
    who.base = f
        .sim
        .gateway_site_url("00000000-0000-0000-0000-000000000000");
    assert_eq!(
        f.call(&who, Method::GET, "/myself", None).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn classic_token_works_on_the_site_url_only() {
    let f = Fixture::new().await;
    let (s, me) = f.call(&f.site(), Method::GET, "/myself", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me["accountId"], "acc-alice");
    assert_eq!(me["timeZone"], "Europe/Berlin");
    assert_eq!(me["emailAddress"], ALICE);

    let mut who = f.gateway();
    who.token = f.classic.clone();
    let (s, body) = f.call(&who, Method::GET, "/myself", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{body}");
}

#[tokio::test]
async fn scoped_and_service_account_tokens_work_on_the_gateway_only() {
    let f = Fixture::new().await;
    assert_eq!(
        f.call(&f.gateway(), Method::GET, "/myself", None).await.0,
        StatusCode::OK
    );

    // The same scoped token on the site URL: 401 with Jira's basic-auth failure, meaning
    // "wrong URL", not "revoked".
    let mut who = f.site();
    who.token = f.scoped.clone();
    let resp = f
        .http
        .get(format!("{}/rest/api/3/myself", who.base))
        .basic_auth(&who.email, Some(&who.token))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        resp.headers()["x-seraph-loginreason"],
        "AUTHENTICATED_FAILED"
    );
    assert!(resp.headers().contains_key("www-authenticate"));
    assert_eq!(
        resp.text().await.unwrap(),
        "Client must be authenticated to access this resource."
    );

    let sa = As {
        base: f.sim.gateway_site_url(&f.cloud_id),
        email: BOT.into(),
        token: f.service.clone(),
    };
    let (s, v) = f
        .call(&sa, Method::GET, "/search/jql?jql=project%3DSEC", None)
        .await;
    assert_eq!(s, StatusCode::OK, "granular scopes grant search: {v}");
    let site_sa = As {
        base: f.sim.site_url("acme"),
        ..sa
    };
    assert_eq!(
        f.call(&site_sa, Method::GET, "/search/jql?jql=project%3DSEC", None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn missing_scope_is_401_scope_does_not_match() {
    let f = Fixture::new().await;
    let ro = As {
        token: f.read_only.clone(),
        ..f.gateway()
    };
    let (s, _) = f
        .call(&ro, Method::GET, "/search/jql?jql=project%3DSEC", None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let body = json!({ "fields": { "project": { "key": "SEC" }, "issuetype": { "name": "Task" }, "summary": "x" } });
    let (s, v) = f.call(&ro, Method::POST, "/issue", Some(body)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(
        v,
        json!({ "code": 401, "message": "Unauthorized; scope does not match" })
    );
    assert_eq!(
        f.sim.control().issue_count("acme").unwrap(),
        0,
        "nothing was created"
    );

    // The service account holds read scopes only (granular): /myself needs read:jira-user.
    let sa = As {
        base: f.sim.gateway_site_url(&f.cloud_id),
        email: BOT.into(),
        token: f.service.clone(),
    };
    let (s, v) = f.call(&sa, Method::GET, "/myself", None).await;
    assert_eq!(
        (s, v["message"].as_str()),
        (
            StatusCode::UNAUTHORIZED,
            Some("Unauthorized; scope does not match")
        )
    );
}

#[tokio::test]
async fn revoked_expired_and_wrong_credentials_are_401() {
    let f = Fixture::new().await;
    let c = f.sim.control();
    let mut wrong_email = f.site();
    wrong_email.email = "mallory@acme.example".into();
    assert_eq!(
        f.call(&wrong_email, Method::GET, "/myself", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let mut wrong_token = f.site();
    wrong_token.token = "FAKE-wrong".into();
    assert_eq!(
        f.call(&wrong_token, Method::GET, "/myself", None).await.0,
        StatusCode::UNAUTHORIZED
    );

    c.revoke_credential("acme", &f.classic_id).unwrap();
    assert_eq!(
        f.call(&f.site(), Method::GET, "/myself", None).await.0,
        StatusCode::UNAUTHORIZED
    );

    // Expiry follows the simulator's clock.
    assert_eq!(
        f.call(&f.gateway(), Method::GET, "/myself", None).await.0,
        StatusCode::OK
    );
    c.world().clock().advance(chrono::Duration::days(365 * 80));
    assert_eq!(
        f.call(&f.gateway(), Method::GET, "/myself", None).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn anonymous_calls_get_401_except_server_info() {
    let f = Fixture::new().await;
    let r = f
        .http
        .get(format!("{}/rest/api/3/myself", f.sim.site_url("acme")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = f
        .http
        .get(format!("{}/rest/api/3/serverInfo", f.sim.site_url("acme")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["deploymentType"], "Cloud");
    assert!(v["versionNumbers"].as_array().is_some_and(|a| a.len() == 3));
}

#[tokio::test]
async fn requests_are_counted_per_site_route_and_status() {
    let f = Fixture::new().await;
    f.get("/myself").await;
    f.get("/myself").await;
    f.get("/issue/SEC-404").await;
    let counters = f.sim.control().counters(Some("acme")).unwrap();
    let n = |route: &str, status: u16| {
        counters
            .iter()
            .filter(|c| c.route == route && c.status == status)
            .map(|c| c.count)
            .sum::<u64>()
    };
    assert_eq!(n("/rest/api/3/myself", 200), 2);
    assert_eq!(n("/rest/api/3/issue/{issueIdOrKey}", 404), 1);
    f.sim.control().reset_counters();
    assert!(f.sim.control().counters(Some("acme")).unwrap().is_empty());
}

#[tokio::test]
async fn user_search_matches_names_and_shown_emails_never_hidden_ones() {
    let f = Fixture::new().await;
    let who = f.site();
    let ids = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|u| u["accountId"].as_str().unwrap().to_owned())
            .collect()
    };
    let (s, v) = f
        .call(&who, Method::GET, "/user/search?query=ALICE@acme", None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ids(&v), ["acc-alice"]);
    assert_eq!(v[0]["emailAddress"], ALICE);
    // Bob hides his email: searching for it finds no one, and his name finds him without it.
    let (_, v) = f
        .call(
            &who,
            Method::GET,
            "/user/search?query=bob@acme.example",
            None,
        )
        .await;
    assert_eq!(v, json!([]));
    let (_, v) = f
        .call(&who, Method::GET, "/user/search?query=Bob", None)
        .await;
    assert_eq!(ids(&v), ["acc-bob"]);
    assert!(v[0].get("emailAddress").is_none(), "{v}");
    let (s, v) = f.call(&who, Method::GET, "/user/search", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
}
