//! `search/jql`: the JQL subset, time zones, paging, field selection, limits.

use chrono::Utc;
use jira_sim::control::CredentialSpec;
use jira_sim::model::CredentialKind;
use jira_sync_harness::acme::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn keys(v: &Value) -> Vec<String> {
    v["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["key"].as_str().unwrap_or("").to_owned())
        .collect()
}

async fn fixture_with(n_sec: usize, n_ops: usize) -> Fixture {
    let f = Fixture::new().await;
    for i in 0..n_sec {
        f.create("SEC", &format!("sec {i}")).await;
    }
    for i in 0..n_ops {
        f.create("OPS", &format!("ops {i}")).await;
    }
    f
}

#[tokio::test]
async fn fields_default_to_ids_only() {
    let f = fixture_with(2, 0).await;
    let (s, v) = f.search(json!({ "jql": "project = SEC" })).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    for issue in v["issues"].as_array().unwrap() {
        assert_eq!(
            issue.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["id"],
            "{issue}"
        );
    }
    let (_, v) = f
        .search(json!({ "jql": "project = SEC", "fields": ["summary", "updated"] }))
        .await;
    let fields = v["issues"][0]["fields"].as_object().unwrap();
    assert_eq!(fields.keys().collect::<Vec<_>>(), ["summary", "updated"]);
    let (_, v) = f
        .search(json!({ "jql": "project = SEC", "fields": ["*all", "-comment"] }))
        .await;
    let all = v["issues"][0]["fields"].as_object().unwrap();
    assert!(
        all.contains_key("description")
            && all.contains_key("customfield_10042")
            && !all.contains_key("comment")
    );
}

#[tokio::test]
async fn pages_follow_next_page_token_which_is_absent_on_the_last_page() {
    let f = fixture_with(7, 2).await;
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut body = json!({ "jql": "project = SEC ORDER BY key ASC", "maxResults": 3, "fields": ["summary"] });
        if let Some(t) = &token {
            body["nextPageToken"] = json!(t);
        }
        let (s, v) = f.search(body).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert!(v.get("total").is_none(), "no total in enhanced search");
        seen.extend(keys(&v));
        pages += 1;
        match v.get("nextPageToken") {
            Some(t) => {
                assert_eq!(v["isLast"], false);
                token = Some(t.as_str().unwrap().to_owned());
            }
            None => {
                assert_eq!(v["isLast"], true);
                break;
            }
        }
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = (1..=7).map(|i| format!("SEC-{i}")).collect();
    assert_eq!(seen, expected);

    let (s, _) = f
        .search(json!({ "jql": "project = OPS", "nextPageToken": token.unwrap() }))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "a token belongs to its query");
    let (s, _) = f
        .search(json!({ "jql": "project = SEC", "nextPageToken": "garbage" }))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn max_results_is_capped_by_what_is_requested() {
    let f = Fixture::new().await;
    f.sim
        .control()
        .seed_issues("acme", "SEC", 150, 3, Some(ALICE))
        .unwrap();
    let (_, v) = f
        .search(json!({ "jql": "project = SEC", "maxResults": 1000, "fields": ["summary"] }))
        .await;
    assert_eq!(v["issues"].as_array().unwrap().len(), 100);
    let (_, v) = f
        .search(json!({ "jql": "project = SEC", "maxResults": 1000 }))
        .await;
    assert_eq!(
        v["issues"].as_array().unwrap().len(),
        150,
        "ids only: up to 5000"
    );
    let (_, v) = f.search(json!({ "jql": "project = SEC" })).await;
    assert_eq!(
        v["issues"].as_array().unwrap().len(),
        50,
        "default page size"
    );
    let (s, _) = f
        .search(json!({ "jql": "project = SEC", "maxResults": 0 }))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn jql_clauses_combine() {
    let f = fixture_with(3, 2).await;
    f.put(
        "/issue/SEC-1",
        json!({ "fields": { "labels": ["security", "x"] } }),
    )
    .await;
    f.put("/issue/SEC-2", json!({ "fields": { "labels": ["y"] } }))
        .await;
    f.sim
        .control()
        .transition_issue("acme", "OPS-2", "bob@acme.example", "Closed")
        .unwrap();
    let q = |jql: &'static str| {
        let f = &f;
        async move {
            let (s, v) = f.search(json!({ "jql": jql, "fields": ["summary"] })).await;
            assert_eq!(s, StatusCode::OK, "{jql}: {v}");
            let mut k = keys(&v);
            k.sort();
            k
        }
    };
    assert_eq!(
        q("project in (SEC, OPS) AND labels = security").await,
        ["SEC-1"]
    );
    assert_eq!(
        q("project = SEC AND labels != security").await,
        ["SEC-2"],
        "issues without labels never match !="
    );
    assert_eq!(
        q("project = SEC AND NOT labels = security").await,
        ["SEC-2", "SEC-3"]
    );
    assert_eq!(
        q("key in (SEC-1, OPS-1) OR id = 10002").await,
        ["OPS-1", "SEC-1", "SEC-3"]
    );
    assert_eq!(q("status = Closed").await, ["OPS-2"]);
    assert_eq!(
        q("status in (\"To Do\", Open) AND (project = OPS OR labels = y)").await,
        ["OPS-1", "SEC-2"]
    );
    assert_eq!(
        q("creator = currentUser() AND project = OPS").await,
        ["OPS-1", "OPS-2"]
    );
    let (_, v) = f
        .search(json!({ "jql": "project = SEC ORDER BY key DESC", "fields": ["summary"] }))
        .await;
    assert_eq!(keys(&v), ["SEC-3", "SEC-2", "SEC-1"]);
}

#[tokio::test]
async fn date_literals_are_read_in_the_callers_time_zone_at_minute_granularity() {
    let f = fixture_with(1, 0).await;
    let (_, issue) = f.get("/issue/SEC-1?fields=updated").await;
    let updated = chrono::DateTime::parse_from_str(
        issue["fields"]["updated"].as_str().unwrap(),
        "%Y-%m-%dT%H:%M:%S%.3f%z",
    )
    .unwrap()
    .with_timezone(&Utc);
    let berlin = updated
        .with_timezone(&chrono_tz::Europe::Berlin)
        .format("%Y/%m/%d %H:%M")
        .to_string();
    let tokyo = updated
        .with_timezone(&chrono_tz::Asia::Tokyo)
        .format("%Y-%m-%d %H:%M")
        .to_string();
    let utc = updated.format("%Y-%m-%d %H:%M").to_string();
    let count = |who: As, jql: String| {
        let f = &f;
        async move {
            let (s, v) = f
                .call(
                    &who,
                    Method::POST,
                    "/search/jql",
                    Some(json!({ "jql": jql })),
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{jql}: {v}");
            v["issues"].as_array().unwrap().len()
        }
    };
    // Alice lives in Berlin: her literal is Berlin time.
    assert_eq!(
        count(
            f.site(),
            format!("project = SEC AND updated = \"{berlin}\"")
        )
        .await,
        1
    );
    assert_eq!(
        count(
            f.site(),
            format!("project = SEC AND updated >= \"{berlin}\"")
        )
        .await,
        1
    );
    assert_eq!(
        count(f.site(), format!("project = SEC AND updated = \"{utc}\"")).await,
        0,
        "UTC is not her zone"
    );
    // Minute granularity: the issue's minute is not after itself.
    assert_eq!(
        count(
            f.site(),
            format!("project = SEC AND updated > \"{berlin}\"")
        )
        .await,
        0
    );
    assert_eq!(
        count(
            f.site(),
            format!("project = SEC AND updated <= \"{berlin}\" AND created < \"2100-01-01\"")
        )
        .await,
        1
    );

    // Bob, in Tokyo, must write Tokyo time for the same instant.
    let bob = f
        .sim
        .control()
        .create_credential(
            "acme",
            CredentialSpec {
                kind: CredentialKind::ClassicToken,
                account: "bob@acme.example".into(),
                token: None,
                expires_at: None,
                scopes: vec![],
            },
        )
        .unwrap();
    let bob = As {
        base: f.sim.site_url("acme"),
        email: "bob@acme.example".into(),
        token: bob.token,
    };
    assert_eq!(
        count(
            bob.clone(),
            format!("project = SEC AND updated = \"{tokyo}\"")
        )
        .await,
        1
    );
    assert_eq!(
        count(bob, format!("project = SEC AND updated = \"{berlin}\"")).await,
        0
    );
}

#[tokio::test]
async fn unsupported_empty_and_unbounded_queries_are_400() {
    let f = fixture_with(1, 0).await;
    let err = |v: &Value| {
        v["errorMessages"][0]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let (s, v) = f
        .search(json!({ "jql": "project = SEC AND summary ~ \"disk\"" }))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        err(&v).contains("summary ~ \"disk\""),
        "names the clause: {v}"
    );
    let (s, v) = f.search(json!({ "jql": "" })).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(err(&v).contains("Unbounded"), "{v}");
    let (s, v) = f.search(json!({ "jql": "ORDER BY updated" })).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "no restriction: {v}");
    let (s, v) = f.search(json!({ "jql": "project = NOPE" })).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(err(&v).contains("'NOPE' does not exist"), "{v}");
    let (s, _) = f
        .search(json!({ "jql": "project = SEC AND updated >= -5m" }))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = f
        .search(json!({ "jql": "project = SEC", "unknownKey": 1 }))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = f
        .search(json!({ "jql": "project = SEC", "properties": ["a", "b", "c", "d", "e", "f"] }))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "at most 5 properties");
    let ids: Vec<u64> = (0..51).collect();
    let (s, _) = f
        .search(json!({ "jql": "project = SEC", "reconcileIssues": ids }))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "at most 50 reconciled ids");
}

#[tokio::test]
async fn get_form_properties_inline_and_counts() {
    let f = fixture_with(2, 1).await;
    f.put(
        "/issue/SEC-1/properties/jira-sync",
        json!({ "record": "r-1" }),
    )
    .await;
    let (s, v) = f.get("/search/jql?jql=project%20%3D%20SEC%20ORDER%20BY%20key&fields=summary&fields=status&properties=jira-sync&reconcileIssues=10000,10001").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["issues"][0]["properties"]["jira-sync"]["record"], "r-1");
    assert_eq!(v["issues"][0]["fields"].as_object().unwrap().len(), 2);
    let (_, c) = f
        .post(
            "/search/approximate-count",
            json!({ "jql": "project in (SEC, OPS)" }),
        )
        .await;
    assert_eq!(c, json!({ "count": 3 }));
    assert_eq!(
        f.post("/search/approximate-count", json!({ "jql": "" }))
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn legacy_search_is_gone() {
    let f = Fixture::new().await;
    for method in [Method::GET, Method::POST] {
        let (s, v) = f
            .call(
                &f.site(),
                method,
                "/search?jql=project%3DSEC",
                Some(json!({})),
            )
            .await;
        assert_eq!(s, StatusCode::GONE);
        assert!(
            v["errorMessages"][0]
                .as_str()
                .unwrap()
                .contains("/rest/api/3/search/jql")
        );
    }
}

#[tokio::test]
async fn a_write_between_searches_is_seen_by_the_next_search() {
    let f = fixture_with(3, 0).await;
    let q = json!({ "jql": "project = SEC ORDER BY updated ASC", "fields": ["summary"] });
    let (_, v) = f.search(q.clone()).await;
    assert_eq!(keys(&v), ["SEC-1", "SEC-2", "SEC-3"]);
    f.put(
        "/issue/SEC-1",
        json!({ "fields": { "summary": "touched" } }),
    )
    .await;
    let (_, v) = f.search(q.clone()).await;
    assert_eq!(
        keys(&v),
        ["SEC-2", "SEC-3", "SEC-1"],
        "the edit moved SEC-1 last"
    );
    f.sim.control().delete_issue("acme", "SEC-2").unwrap();
    let (_, v) = f.search(q).await;
    assert_eq!(keys(&v), ["SEC-3", "SEC-1"]);
}

/// Search pages are not a snapshot (reference `jira-cloud-api.md`, "Search"): an issue of
/// an earlier page edited between two pages moves to the end of `ORDER BY updated ASC`, the
/// issues behind it move up, and the one at the page boundary is on neither page.
#[tokio::test]
async fn an_edit_between_pages_moves_an_issue_past_the_page_boundary() {
    let f = fixture_with(6, 0).await;
    let clock = f.sim.control().world().clock();
    let q = |token: Option<&str>| {
        let mut q = json!({ "jql": "project = SEC ORDER BY updated ASC", "maxResults": 3, "fields": ["updated"] });
        if let Some(t) = token {
            q["nextPageToken"] = json!(t);
        }
        q
    };
    let (_, all) = f
        .search(json!({ "jql": "project = SEC ORDER BY updated ASC", "fields": ["updated"] }))
        .await;
    let order = keys(&all);
    let (_, first) = f.search(q(None)).await;
    assert_eq!(keys(&first), order[..3]);
    clock.advance(chrono::Duration::seconds(60));
    f.put(
        &format!("/issue/{}", order[0]),
        json!({ "fields": { "summary": "edited between pages" } }),
    )
    .await;
    let (_, second) = f
        .search(q(Some(first["nextPageToken"].as_str().unwrap())))
        .await;
    assert_eq!(
        keys(&second),
        [order[4].clone(), order[5].clone(), order[0].clone()],
        "{} slipped past the boundary",
        order[3]
    );
}

/// Issue keys are ordered as Jira orders them (project, then number: SEC-10 after SEC-9),
/// so a client can page by key; other fields still refuse `>`.
#[tokio::test]
async fn keys_compare_by_number_and_page_in_key_order() {
    let f = fixture_with(12, 0).await;
    let (s, v) = f
        .search(json!({ "jql": "project = SEC AND key > \"SEC-9\" ORDER BY key ASC", "fields": ["updated"] }))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(keys(&v), ["SEC-10", "SEC-11", "SEC-12"]);
    let (_, v) = f
        .search(json!({ "jql": "project = SEC AND key <= \"SEC-2\" ORDER BY key ASC", "fields": ["updated"] }))
        .await;
    assert_eq!(keys(&v), ["SEC-1", "SEC-2"]);
    let (s, v) = f
        .search(json!({ "jql": "project = SEC AND labels > \"x\"" }))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
}
