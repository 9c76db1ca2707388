//! Deleted issues: the census marks them gone; `propagate_deletes` deletes their mirrors.

use jira_sync_harness::pair::*;

#[tokio::test]
async fn the_census_marks_deleted_issues_gone_and_deletes_nothing_elsewhere() {
    let p = pair(4).await;
    p.converge().await;
    let c = p.sim.control();
    let doomed = summary(&c.issue("acme", "SEC-1").unwrap()).to_owned();
    let mirror = p
        .issues("globex")
        .into_iter()
        .find(|i| summary(i) == doomed)
        .unwrap();
    let mirror_key = mirror["key"].as_str().unwrap().to_owned();
    c.delete_issue("acme", "SEC-1").unwrap();

    // An incremental pull cannot see a deletion, and the census waits for its hour.
    c.world().clock().advance(chrono::Duration::seconds(4));
    assert!(p.run(sec()).await.gone.is_empty());

    let globex_count = c.issue_count("globex").unwrap();
    c.world().clock().advance(chrono::Duration::minutes(61));
    let a = p.run(sec()).await;
    assert_eq!(a.gone.len(), 1, "{a:?}");
    assert_eq!(a.gone[0].0, "SEC-1");
    assert!(a.gone[0].1.contains("deleted"), "{a:?}");
    // Its mirror on globex stays (propagate_deletes = false), and is neither deleted nor
    // re-created on acme when someone edits it later.
    c.edit_issue(
        "globex",
        &mirror_key,
        "bob@globex.example",
        &json!({ "fields": { "summary": "edited after the deletion" } }),
    )
    .unwrap();
    p.converge().await;
    assert_eq!(c.issue_count("globex").unwrap(), globex_count);
    assert_eq!(
        summary(&c.issue("globex", &mirror_key).unwrap()),
        "edited after the deletion"
    );
    assert!(
        p.issues("acme")
            .iter()
            .all(|i| summary(i) != "edited after the deletion" && summary(i) != doomed),
        "nothing re-created on acme"
    );
    // Nothing tries to write the deleted issue either.
    c.world().clock().advance(chrono::Duration::seconds(4));
    let quiet = p.run(sec()).await;
    assert!(quiet.failed.is_empty() && writes(&quiet) == 0, "{quiet:?}");
    // The other issues are untouched by the census, and it is counted once.
    c.world().clock().advance(chrono::Duration::minutes(61));
    let again = p.run(sec()).await;
    assert!(again.gone.is_empty(), "{again:?}");
}

#[tokio::test]
async fn with_propagate_deletes_a_deleted_source_deletes_its_mirror_but_a_mass_loss_does_not() {
    let p = pair_with(12, "propagate_deletes = true\n").await;
    p.converge().await;
    let c = p.sim.control();
    let mirror_of = |acme_key: &str| -> String {
        let s = summary(&c.issue("acme", acme_key).unwrap()).to_owned();
        p.issues("globex")
            .into_iter()
            .find(|i| summary(i) == s)
            .unwrap()["key"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let m1 = mirror_of("SEC-1");
    let globex_count = c.issue_count("globex").unwrap();
    c.delete_issue("acme", "SEC-1").unwrap();
    c.world().clock().advance(chrono::Duration::minutes(61));
    assert_eq!(p.run(sec()).await.gone.len(), 1);
    let b = p.run(ops()).await;
    assert_eq!(b.deleted, vec![m1.clone()], "{b:?}");
    assert!(c.issue("globex", &m1).is_err(), "the mirror is deleted");
    assert_eq!(c.issue_count("globex").unwrap(), globex_count - 1);
    // Once: the next cycles neither delete again nor fail.
    p.converge().await;
    let again = p.run(ops()).await;
    assert!(
        again.deleted.is_empty() && again.failed.is_empty(),
        "{again:?}"
    );

    // Six of the remaining eleven vanish at once: more likely lost access than deletions.
    let doomed: Vec<String> = (2..=7).map(|i| format!("SEC-{i}")).collect();
    let mirrors: Vec<String> = doomed.iter().map(|k| mirror_of(k)).collect();
    for k in &doomed {
        c.delete_issue("acme", k).unwrap();
    }
    c.world().clock().advance(chrono::Duration::minutes(61));
    let a = p.run(sec()).await;
    assert_eq!(a.gone.len(), 6, "{a:?}");
    assert!(
        a.gone.iter().all(|(_, why)| why.contains("not propagated")),
        "{a:?}"
    );
    let b = p.run(ops()).await;
    assert!(b.deleted.is_empty(), "{b:?}");
    for m in &mirrors {
        assert!(c.issue("globex", m).is_ok(), "{m} kept");
    }
}
