//! Faults in front of a site, and search's eventual consistency.

use chrono::Duration;
use jira_sim::faults::FaultSpec;
use jira_sync_harness::acme::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn error_faults_answer_5xx_and_503_says_when_to_come_back() {
    let f = Fixture::new().await;
    f.sim
        .control()
        .set_faults(
            "acme",
            FaultSpec {
                error_rate: 1.0,
                error_statuses: vec![503],
                ..Default::default()
            },
        )
        .unwrap();
    let r = f
        .http
        .get(format!("{}/rest/api/3/myself", f.sim.site_url("acme")))
        .basic_auth(ALICE, Some(&f.classic))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers()["retry-after"], "5");
    let n = f
        .sim
        .control()
        .counters(Some("acme"))
        .unwrap()
        .iter()
        .filter(|c| c.status == 503)
        .map(|c| c.count)
        .sum::<u64>();
    assert_eq!(n, 1, "faults are counted like any response");
    assert!(
        f.sim
            .control()
            .set_faults(
                "acme",
                FaultSpec {
                    error_rate: 2.0,
                    ..Default::default()
                }
            )
            .is_err()
    );
    assert!(
        f.sim
            .control()
            .set_faults(
                "acme",
                FaultSpec {
                    error_rate: 0.5,
                    error_statuses: vec![404],
                    ..Default::default()
                }
            )
            .is_err()
    );
}

#[tokio::test]
async fn html_faults_look_like_a_proxys_error_page() {
    let f = Fixture::new().await;
    f.sim
        .control()
        .set_faults(
            "acme",
            FaultSpec {
                html_rate: 1.0,
                ..Default::default()
            },
        )
        .unwrap();
    let r = f
        .http
        .get(format!("{}/rest/api/3/myself", f.sim.site_url("acme")))
        .basic_auth(ALICE, Some(&f.classic))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(r.headers()["content-type"], "text/html");
    assert!(
        serde_json::from_str::<Value>(&r.text().await.unwrap()).is_err(),
        "not JSON"
    );
}

#[tokio::test]
async fn a_connection_closed_mid_response_still_applied_the_write() {
    let f = Fixture::new().await;
    let key = f.create("SEC", "before").await;
    f.sim
        .control()
        .set_faults(
            "acme",
            FaultSpec {
                close_rate: 1.0,
                ..Default::default()
            },
        )
        .unwrap();
    let r = f
        .http
        .put(format!(
            "{}/rest/api/3/issue/{key}?returnIssue=true",
            f.sim.site_url("acme")
        ))
        .basic_auth(ALICE, Some(&f.classic))
        .json(&json!({ "fields": { "summary": "after" } }))
        .send()
        .await;
    let broken = match r {
        Err(_) => true,
        Ok(resp) => resp.bytes().await.is_err(),
    };
    assert!(broken, "the client sees a broken response");
    let issue = f.sim.control().issue("acme", &key).unwrap();
    assert_eq!(
        issue["fields"]["summary"], "after",
        "but the write happened: the client cannot tell"
    );
}

#[tokio::test]
async fn latency_is_added_and_fault_dice_repeat_for_a_seed() {
    let f = Fixture::new().await;
    f.sim
        .control()
        .set_faults(
            "acme",
            FaultSpec {
                latency_ms: Some([150, 150]),
                ..Default::default()
            },
        )
        .unwrap();
    let t0 = std::time::Instant::now();
    assert_eq!(f.get("/myself").await.0, StatusCode::OK);
    assert!(
        t0.elapsed() >= std::time::Duration::from_millis(150),
        "at least the added latency"
    );

    let statuses = |seed: u64| async move {
        let f = Fixture::new().await;
        f.sim
            .control()
            .set_faults(
                "acme",
                FaultSpec {
                    error_rate: 0.5,
                    seed,
                    ..Default::default()
                },
            )
            .unwrap();
        let mut out = Vec::new();
        for _ in 0..24 {
            out.push(f.get("/myself").await.0.as_u16());
        }
        out
    };
    let a = statuses(7).await;
    assert_eq!(a, statuses(7).await, "same seed, same faults");
    assert!(
        a.contains(&200) && a.iter().any(|s| *s >= 500),
        "about half fail: {a:?}"
    );
}

#[tokio::test]
async fn writes_reach_search_only_after_the_lag_unless_reconciled() {
    let f = Fixture::new().await;
    let clock = f.sim.control().world().clock();
    clock.freeze();
    f.sim.control().set_search_lag("acme", 5.0).unwrap();
    let key = f.create("SEC", "new").await;
    let (_, created) = f.get(&format!("/issue/{key}")).await;
    let id: u64 = created["id"].as_str().unwrap().parse().unwrap();
    let keys = |v: &Value| -> Vec<String> {
        v["issues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["key"].as_str().unwrap().to_owned())
            .collect()
    };
    let q = json!({ "jql": "project = SEC", "fields": ["summary"] });

    let (_, v) = f.search(q.clone()).await;
    assert!(keys(&v).is_empty(), "not indexed yet");
    let (_, v) = f
        .search(json!({ "jql": "project = SEC", "fields": ["summary"], "reconcileIssues": [id] }))
        .await;
    assert_eq!(
        keys(&v),
        [key.as_str()],
        "read-after-write with reconcileIssues"
    );
    assert_eq!(
        f.get(&format!("/issue/{key}")).await.0,
        StatusCode::OK,
        "GET is always current"
    );
    let (_, v) = f
        .post("/issue/bulkfetch", json!({ "issueIdsOrKeys": [key] }))
        .await;
    assert_eq!(
        v["issues"].as_array().unwrap().len(),
        1,
        "bulkfetch is always current"
    );
    let (_, c) = f
        .post(
            "/search/approximate-count",
            json!({ "jql": "project = SEC" }),
        )
        .await;
    assert_eq!(c["count"], 0);

    clock.advance(Duration::seconds(5));
    let (_, v) = f.search(q.clone()).await;
    assert_eq!(keys(&v), [key.as_str()]);

    // An edit: search keeps serving the old summary (and old `updated`) during the lag.
    f.put(
        &format!("/issue/{key}"),
        json!({ "fields": { "summary": "edited" } }),
    )
    .await;
    let (_, v) = f.search(q.clone()).await;
    assert_eq!(v["issues"][0]["fields"]["summary"], "new");
    let (_, v) = f.search(json!({ "jql": "project = SEC AND updated >= \"2000-01-01\"", "fields": ["summary"], "reconcileIssues": [id] })).await;
    assert_eq!(v["issues"][0]["fields"]["summary"], "edited");
    clock.advance(Duration::seconds(5));
    let (_, v) = f.search(q.clone()).await;
    assert_eq!(v["issues"][0]["fields"]["summary"], "edited");

    // A deletion: the issue lingers in search until the lag passes.
    f.sim.control().delete_issue("acme", &key).unwrap();
    let (_, v) = f.search(q.clone()).await;
    assert_eq!(keys(&v), [key.as_str()]);
    clock.advance(Duration::seconds(5));
    let (_, v) = f.search(q).await;
    assert!(keys(&v).is_empty());
}
