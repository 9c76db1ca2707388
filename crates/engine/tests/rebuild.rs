//! A lost store is rebuilt from the sites (`jira-sync store rebuild`): every record and link
//! comes back from the `jira-sync` properties, and the cycles after it neither duplicate an
//! issue or a comment nor write anything the sides already agree on.

use std::collections::BTreeMap;

use jira_sync_engine::EngineError;
use jira_sync_harness::pair::*;

/// Summary -> comment bodies (as text) of every issue of a site.
fn comments_by_summary(p: &Pair, site: &str) -> BTreeMap<String, usize> {
    p.issues(site)
        .iter()
        .map(|i| {
            (
                summary(i).to_owned(),
                i["fields"]["comment"]["total"].as_u64().unwrap() as usize,
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_store_is_rebuilt_from_the_sites_without_duplicates_or_writes() {
    let mut p = pair(6).await;
    let c = p.sim.control().clone();
    // Issues made by people on both sides, and comments on both sides of one pair.
    let bobs = c
        .create_issue(
            "globex",
            "bob@globex.example",
            &json!({ "fields": { "project": { "key": "OPS" }, "issuetype": { "name": "Task" }, "summary": "made by bob" } }),
        )
        .unwrap();
    p.converge().await;
    let mirror_of = |p: &Pair, site: &str, s: &str| -> String {
        p.only_one(site, s)["key"].as_str().unwrap().to_owned()
    };
    let on_acme = mirror_of(&p, "acme", "made by bob");
    c.comment_issue("globex", &bobs, "bob@globex.example", &json!("from bob"))
        .unwrap();
    c.comment_issue("acme", &on_acme, "ann@acme.example", &json!("from ann"))
        .unwrap();
    p.converge().await;
    let mirror = c.issue("acme", &on_acme).unwrap();
    assert_eq!(
        mirror["properties"]["jira-sync"]["links"][0]
            .as_str()
            .unwrap(),
        format!(
            "globex/ops/{}",
            c.issue("globex", &bobs).unwrap()["id"].as_str().unwrap()
        ),
        "a mirror names the issue it mirrors"
    );
    let before = (
        comments_by_summary(&p, "acme"),
        comments_by_summary(&p, "globex"),
    );
    assert_eq!(before.0.len(), 7);
    assert_eq!(before.0["made by bob"], 2);
    let max_id = p
        .issues("acme")
        .iter()
        .chain(&p.issues("globex"))
        .filter_map(|i| i["properties"]["jira-sync"]["record"].as_u64())
        .max()
        .unwrap();

    p.lose_store();
    let rebuilt = p.engine.rebuild().await.unwrap();
    assert_eq!(
        (
            rebuilt.scanned,
            rebuilt.records,
            rebuilt.links,
            rebuilt.unlinked
        ),
        (14, 7, 14, 0),
        "{rebuilt:?}"
    );
    assert_eq!(
        rebuilt.comments,
        before.0.values().sum::<usize>(),
        "every comment keeps its hub identity (each is on both sides once)"
    );
    assert!(
        matches!(p.engine.rebuild().await, Err(EngineError::NotEmpty)),
        "a second rebuild refuses a store that holds records"
    );

    let writes_before = p.write_requests();
    p.converge().await;
    assert_eq!(
        p.write_requests(),
        writes_before,
        "the sides agreed: the rebuilt store writes nothing"
    );
    assert_eq!(
        (
            comments_by_summary(&p, "acme"),
            comments_by_summary(&p, "globex"),
        ),
        before,
        "no issue and no comment twice"
    );

    // The links work: an edit on globex reaches acme, a comment on acme reaches globex.
    c.edit_issue(
        "globex",
        &bobs,
        "bob@globex.example",
        &json!({ "fields": { "summary": "made by bob, renamed" } }),
    )
    .unwrap();
    c.comment_issue("acme", &on_acme, "ann@acme.example", &json!("after"))
        .unwrap();
    p.converge().await;
    assert_eq!(
        summary(&c.issue("acme", &on_acme).unwrap()),
        "made by bob, renamed"
    );
    assert_eq!(
        c.issue("globex", &bobs).unwrap()["fields"]["comment"]["total"],
        3
    );
    // A new record's id stays clear of the rebuilt ones.
    c.create_issue(
        "acme",
        "ann@acme.example",
        &json!({ "fields": { "project": { "key": "SEC" }, "issuetype": { "name": "Task" }, "summary": "after the rebuild" } }),
    )
    .unwrap();
    p.converge().await;
    let new = p.only_one("globex", "after the rebuild");
    assert!(new["properties"]["jira-sync"]["record"].as_u64().unwrap() > max_id);
    assert_eq!(p.issues("acme").len(), 8);
    assert_eq!(p.issues("globex").len(), 8);
}
