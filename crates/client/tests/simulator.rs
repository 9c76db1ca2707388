//! The client against the simulator: every operation, and a 10,000-issue scan under the
//! simulator's rate limits with no retry before Retry-After.

use std::collections::BTreeMap;

use jira_sim::Simulator;
use jira_sim::control::{AccountSpec, CredentialSpec, ProjectSpec, SiteSpec};
use jira_sim::limits::LimitsSpec;
use jira_sim::model::CredentialKind;
use jira_sync_client::{Client, ClientError, SearchQuery, adf};
use jira_sync_harness::sites::*;
use serde_json::json;

async fn sim_with(issues: usize) -> (Simulator, String) {
    let sim = Simulator::start().await.unwrap();
    let c = sim.control();
    c.create_site(SiteSpec {
        name: "acme".into(),
        accounts: vec![AccountSpec {
            display_name: "Bot".into(),
            email: Some("bot@acme.example".into()),
            time_zone: Some("Europe/Berlin".into()),
            ..Default::default()
        }],
        projects: vec![ProjectSpec {
            key: "SEC".into(),
            seed_issues: Some(issues),
            ..Default::default()
        }],
        ..Default::default()
    })
    .unwrap();
    let token = c
        .create_credential(
            "acme",
            CredentialSpec {
                kind: CredentialKind::ClassicToken,
                account: "bot@acme.example".into(),
                token: None,
                expires_at: None,
                scopes: vec![],
            },
        )
        .unwrap()
        .token;
    (sim, token)
}

fn client_of(sim: &Simulator, token: &str, lim: jira_sync_config::Limits) -> Client {
    client_with(
        &sim.site_url("acme"),
        basic("bot@acme.example", token),
        lim,
        http(Some(std::time::Duration::from_secs(30))),
    )
    .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_against_the_simulator() {
    let (sim, token) = sim_with(3).await;
    let c = client_of(&sim, &token, limits(100, 100));
    let me = c.myself().await.unwrap();
    assert_eq!(me.time_zone.as_deref(), Some("Europe/Berlin"));
    let found = c.user_by_email("BOT@acme.example").await.unwrap();
    assert_eq!(found.map(|u| u.account_id), Some(me.account_id.clone()));
    assert_eq!(c.user_by_email("bo@acme.example").await.unwrap(), None);
    let fields = c.fields().await.unwrap();
    assert!(fields.iter().any(|f| f.id == "summary"));
    let project = c.project("SEC").await.unwrap();
    assert!(project.issue_types.iter().any(|t| t.name == "Task"));
    assert!(!c.createmeta_issue_types("SEC").await.unwrap().is_empty());
    assert_eq!(c.approximate_count("project = SEC").await.unwrap(), 3);

    let created = c
        .create(json!({ "fields": { "project": { "key": "SEC" }, "issuetype": { "name": "Task" }, "summary": "from the client", "description": adf::from_text("line one\nline two\n\nsecond paragraph") },
                        "properties": [{ "key": "jira-sync", "value": { "record": "r-1", "nonce": "n-1" } }] }))
        .await
        .unwrap();
    let issue = c
        .get_issue(&created.key, &["description".into()], &["jira-sync".into()])
        .await
        .unwrap();
    assert_eq!(
        adf::to_text(&issue["fields"]["description"]),
        "line one\nline two\n\nsecond paragraph"
    );
    assert_eq!(issue["properties"]["jira-sync"]["nonce"], "n-1");

    c.edit(&created.key, json!({ "fields": { "summary": "edited" } }))
        .await
        .unwrap();
    let t = c.transitions(&created.key).await.unwrap();
    let done = t.iter().find(|t| t.to.name == "Done").unwrap();
    c.transition(&created.key, &done.id, serde_json::json!({}))
        .await
        .unwrap();
    let comment = c
        .add_comment(
            &created.key,
            adf::from_text("mirrored"),
            None,
            vec![("jira-sync".into(), json!({ "from": "globex" }))],
        )
        .await
        .unwrap();
    let comments = c.comments(&created.key).await.unwrap();
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].id, comment.id);
    assert_eq!(comments[0].properties[0]["value"]["from"], "globex");
    assert_eq!(c.get_property(&created.key, "absent").await.unwrap(), None);
    c.set_property(
        &created.key,
        "jira-sync",
        json!({ "record": "r-1", "nonce": "n-2" }),
    )
    .await
    .unwrap();
    assert_eq!(
        c.get_property(&created.key, "jira-sync")
            .await
            .unwrap()
            .unwrap()["nonce"],
        "n-2"
    );
    let fetched = c
        .bulkfetch(
            &[created.key.clone(), "SEC-1".into()],
            &["summary".into(), "status".into()],
            &[],
        )
        .await
        .unwrap();
    assert_eq!(fetched.len(), 2);
    assert_eq!(fetched[1]["fields"]["status"]["name"], "Done");

    // Bulk create: 60 issues in two requests, one refused element reported by its index.
    let mut batch: Vec<_> = (0..60).map(|i| json!({ "fields": { "project": { "key": "SEC" }, "issuetype": { "name": "Task" }, "summary": format!("bulk {i}") } })).collect();
    batch[55] =
        json!({ "fields": { "project": { "key": "SEC" }, "issuetype": { "name": "Task" } } });
    let out = c.bulk_create(&batch).await.unwrap();
    assert_eq!(out.created.len(), 59);
    assert_eq!(out.failed.len(), 1);
    assert_eq!(out.failed[0].index, 55);
    assert!(out.failed[0].errors.iter().any(|(f, _)| f == "summary"));
    let (i, c56) = &out.created[55];
    assert_eq!(*i, 56, "indices skip the refused element");
    let got = c
        .get_issue(&c56.key, &["summary".into()], &[])
        .await
        .unwrap();
    assert_eq!(got["fields"]["summary"], "bulk 56");

    let e = c.get_issue("SEC-99999", &[], &[]).await.unwrap_err();
    assert!(matches!(e, ClientError::NotFound { .. }), "{e:?}");

    c.delete(&c56.key).await.unwrap();
    let e = c.get_issue(&c56.key, &[], &[]).await.unwrap_err();
    assert!(matches!(e, ClientError::NotFound { .. }), "{e:?}");
    // A repeated delete (say, a retry of one that landed) is a NotFound.
    let e = c.delete(&c56.key).await.unwrap_err();
    assert!(matches!(e, ClientError::NotFound { .. }), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_10000_issue_scan_under_rate_limits_never_retries_early() {
    let (sim, token) = sim_with(10_000).await;
    // Jira's limit on this endpoint is lower than the client's own rate: 429s will come.
    sim.control()
        .set_limits(
            "acme",
            LimitsSpec {
                burst: BTreeMap::from([("GET /rest/api/3/search/jql".into(), 15)]),
                per_issue_writes: true,
                tenant_quota: None,
                quota_window_seconds: None,
            },
        )
        .unwrap();
    let c = client_of(&sim, &token, limits(100, 100));
    let mut pages = c
        .search(SearchQuery {
            jql: "project = SEC ORDER BY updated ASC".into(),
            fields: vec![
                "summary".into(),
                "status".into(),
                "updated".into(),
                "labels".into(),
                "priority".into(),
                "assignee".into(),
                "description".into(),
                "created".into(),
            ],
            page_size: 100,
            ..Default::default()
        })
        .unwrap();
    let mut seen = std::collections::HashSet::new();
    while let Some(p) = pages.next().await.unwrap() {
        for i in p.issues {
            assert!(
                seen.insert(i["id"].as_str().unwrap().to_owned()),
                "no issue twice"
            );
        }
    }
    assert_eq!(seen.len(), 10_000);
    let stats = sim.control().rate_limit_stats("acme").unwrap();
    assert!(
        stats
            .throttled
            .get("jira-burst-based")
            .copied()
            .unwrap_or(0)
            > 0,
        "the scan did meet the limit: {stats:?}"
    );
    assert_eq!(
        stats.early_retries, 0,
        "never earlier than Retry-After: {stats:?}"
    );
    eprintln!("scan of 10000 issues: {stats:?}");
}
