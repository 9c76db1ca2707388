//! Rate limits: burst buckets, per-issue writes, points quotas, their headers, and the
//! record of clients that retry before `Retry-After`.

use std::collections::BTreeMap;

use chrono::Duration;
use jira_sim::limits::LimitsSpec;
use jira_sim::oauth::{Consent, OAuthClientSpec};
use jira_sync_harness::acme::*;
use reqwest::{Method, Response, StatusCode};
use serde_json::json;

async fn frozen() -> Fixture {
    let f = Fixture::new().await;
    f.sim.control().world().clock().freeze();
    f
}

fn advance(f: &Fixture, ms: i64) {
    f.sim
        .control()
        .world()
        .clock()
        .advance(Duration::milliseconds(ms));
}

async fn raw(
    f: &Fixture,
    who: &As,
    method: Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> Response {
    let mut r = f
        .http
        .request(method, format!("{}/rest/api/3{path}", who.base))
        .basic_auth(&who.email, Some(&who.token));
    if let Some(b) = body {
        r = r.json(&b);
    }
    r.send().await.unwrap()
}

fn header<'a>(r: &'a Response, name: &str) -> Option<&'a str> {
    r.headers().get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn burst_limit_answers_429_with_jiras_headers_per_endpoint_and_method() {
    let f = frozen().await;
    f.sim
        .control()
        .set_limits(
            "acme",
            LimitsSpec {
                burst: BTreeMap::from([("GET".into(), 5)]),
                ..Default::default()
            },
        )
        .unwrap();
    let site = f.site();
    for i in 0..5 {
        let r = raw(&f, &site, Method::GET, "/myself", None).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(header(&r, "x-ratelimit-limit"), Some("5"));
        assert_eq!(
            header(&r, "x-ratelimit-remaining"),
            Some((4 - i).to_string().as_str())
        );
        assert_eq!(
            header(&r, "x-ratelimit-nearlimit"),
            (4 - i == 0).then_some("true"),
            "under 20 % left"
        );
    }
    let r = raw(&f, &site, Method::GET, "/myself", None).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&r, "retry-after"), Some("1"));
    assert_eq!(header(&r, "ratelimit-reason"), Some("jira-burst-based"));
    assert_eq!(header(&r, "x-ratelimit-limit"), Some("5"));
    assert_eq!(header(&r, "x-ratelimit-remaining"), Some("0"));
    let reset = header(&r, "x-ratelimit-reset").unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(reset).is_ok(),
        "ISO-8601 reset: {reset}"
    );

    // Another endpoint, and another method, have buckets of their own.
    assert_eq!(
        raw(&f, &site, Method::GET, "/serverInfo", None)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        raw(
            &f,
            &site,
            Method::POST,
            "/search/jql",
            Some(json!({ "jql": "project = SEC" }))
        )
        .await
        .status(),
        StatusCode::OK
    );
    advance(&f, 200);
    assert_eq!(
        raw(&f, &site, Method::GET, "/myself", None).await.status(),
        StatusCode::OK,
        "refilled at 5 per second"
    );
    let stats = f.sim.control().rate_limit_stats("acme").unwrap();
    assert_eq!(stats.throttled["jira-burst-based"], 1);
}

#[tokio::test]
async fn a_retry_before_retry_after_is_recorded_as_a_violation() {
    let f = frozen().await;
    f.sim
        .control()
        .set_limits(
            "acme",
            LimitsSpec {
                burst: BTreeMap::from([("GET".into(), 1)]),
                ..Default::default()
            },
        )
        .unwrap();
    let site = f.site();
    assert_eq!(
        raw(&f, &site, Method::GET, "/myself", None).await.status(),
        StatusCode::OK
    );
    let r = raw(&f, &site, Method::GET, "/myself", None).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&r, "retry-after"), Some("1"));
    advance(&f, 400);
    // Too early: 0.4 s of the 1 s it was told to wait.
    raw(&f, &site, Method::GET, "/myself", None).await;
    assert_eq!(
        f.sim
            .control()
            .rate_limit_stats("acme")
            .unwrap()
            .early_retries,
        1
    );
    advance(&f, 1000);
    assert_eq!(
        raw(&f, &site, Method::GET, "/myself", None).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        f.sim
            .control()
            .rate_limit_stats("acme")
            .unwrap()
            .early_retries,
        1,
        "a patient retry is no violation"
    );

    // A well-behaved client: waits the full Retry-After every time, never counted.
    let f = frozen().await;
    f.sim
        .control()
        .set_limits(
            "acme",
            LimitsSpec {
                burst: BTreeMap::from([("GET".into(), 1)]),
                ..Default::default()
            },
        )
        .unwrap();
    for _ in 0..10 {
        let r = raw(&f, &f.site(), Method::GET, "/myself", None).await;
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            let secs: i64 = header(&r, "retry-after").unwrap().parse().unwrap();
            advance(&f, secs * 1000);
        }
    }
    assert_eq!(
        f.sim
            .control()
            .rate_limit_stats("acme")
            .unwrap()
            .early_retries,
        0
    );
}

#[tokio::test]
async fn per_issue_writes_are_limited_to_20_in_2_seconds() {
    let f = frozen().await;
    let key = f.create("SEC", "hot").await;
    let other = f.create("SEC", "cold").await;
    for i in 0..20 {
        let (s, v) = f
            .put(
                &format!("/issue/{key}"),
                json!({ "fields": { "summary": format!("v{i}") } }),
            )
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT, "write {i}: {v}");
    }
    let r = raw(
        &f,
        &f.site(),
        Method::PUT,
        &format!("/issue/{key}"),
        Some(json!({ "fields": { "summary": "v20" } })),
    )
    .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        header(&r, "ratelimit-reason"),
        Some("jira-per-issue-on-write")
    );
    assert_eq!(header(&r, "retry-after"), Some("2"));
    let (_, v) = f.get(&format!("/issue/{key}?fields=summary")).await;
    assert_eq!(
        v["fields"]["summary"], "v19",
        "the refused write did not happen"
    );
    assert_eq!(
        f.put(
            &format!("/issue/{other}"),
            json!({ "fields": { "summary": "fine" } })
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        f.get(&format!("/issue/{key}")).await.0,
        StatusCode::OK,
        "reads are not writes"
    );
    let (s, _) = f
        .post(
            &format!("/issue/{key}/comment"),
            json!({ "body": adf("also a write") }),
        )
        .await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    advance(&f, 2000);
    assert_eq!(
        f.put(
            &format!("/issue/{key}"),
            json!({ "fields": { "summary": "later" } })
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn oauth_points_quota_pauses_the_app_until_the_hour_turns() {
    let f = frozen().await;
    let control = f.sim.control();
    let (id, secret) = control
        .create_oauth_client(OAuthClientSpec {
            kind: Some("service_account".into()),
            scopes: vec!["read:jira-work".into(), "read:jira-user".into()],
            service_account: Some(Consent {
                account: BOT.into(),
                sites: vec!["acme".into()],
            }),
            points_quota: Some(10),
            ..Default::default()
        })
        .unwrap();
    control
        .seed_issues("acme", "SEC", 20, 1, Some(ALICE))
        .unwrap();
    let t: serde_json::Value = f
        .http
        .post(format!("{}/oauth/token", f.sim.base_url()))
        .json(&json!({ "grant_type": "client_credentials", "client_id": id, "client_secret": secret }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = t["access_token"].as_str().unwrap().to_owned();
    let search = |n: u32| {
        let f = &f;
        let access = access.clone();
        async move {
            f.http
                .post(format!(
                    "{}/rest/api/3/search/jql",
                    f.sim.gateway_site_url(&f.cloud_id)
                ))
                .bearer_auth(access)
                .json(&json!({ "jql": "project = SEC", "maxResults": n }))
                .send()
                .await
                .unwrap()
        }
    };
    // 1 + 8 issues = 9 points, then 1 + 1 = 2: the quota of 10 is spent.
    assert_eq!(search(8).await.status(), StatusCode::OK);
    assert_eq!(search(1).await.status(), StatusCode::OK);
    let r = search(1).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        header(&r, "ratelimit-reason"),
        Some("jira-quota-global-based")
    );
    let wait: i64 = header(&r, "retry-after").unwrap().parse().unwrap();
    assert!(
        (1..=3600).contains(&wait),
        "until the top of the hour: {wait}"
    );
    // API-token traffic is not subject to the app's points.
    assert_eq!(f.get("/myself").await.0, StatusCode::OK);
    advance(&f, wait * 1000);
    assert_eq!(
        search(1).await.status(),
        StatusCode::OK,
        "a new hour, a new quota"
    );

    // A test may shorten the window (soaks): the refusal then lasts at most that long.
    control.set_points_quota(&id, Some(2), Some(5)).unwrap();
    let mut refused = search(1).await;
    while refused.status() == StatusCode::OK {
        refused = search(1).await;
    }
    let wait: i64 = header(&refused, "retry-after").unwrap().parse().unwrap();
    assert!((1..=5).contains(&wait), "within the 5 s window: {wait}");
    advance(&f, wait * 1000);
    assert_eq!(search(1).await.status(), StatusCode::OK);
    control.set_points_quota(&id, None, None).unwrap();

    // A per-site quota says so in its reason.
    control
        .set_limits(
            "acme",
            LimitsSpec {
                tenant_quota: Some(1),
                ..Default::default()
            },
        )
        .unwrap();
    search(1).await;
    let r = search(1).await;
    assert_eq!(
        header(&r, "ratelimit-reason"),
        Some("jira-quota-tenant-based")
    );
}
