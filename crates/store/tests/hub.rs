//! The hub: one commit stores records, links, the watermark and finished intents together;
//! the change feed lists each record at its latest change; intents survive until committed.

use std::collections::BTreeMap;

use chrono::Utc;
use jira_sync_store::hub::{Commit, IntentKind, Link, Record, Watermark};
use jira_sync_store::{Store, StoreError};
use serde_json::json;

fn record(id: u64, summary: &str) -> Record {
    Record {
        fields: BTreeMap::from([("summary".to_owned(), json!(summary))]),
        field_times: BTreeMap::from([("summary".to_owned(), Utc::now())]),
        ..Record::new(id)
    }
}

fn link(site: &str, connector: &str, record: u64, issue: &str) -> Link {
    Link {
        site: site.into(),
        connector: connector.into(),
        record,
        issue_id: issue.into(),
        issue_key: format!("K-{issue}"),
        base: BTreeMap::from([("summary".to_owned(), json!("s"))]),
        comments: BTreeMap::new(),
        comment_seen: BTreeMap::new(),
        written: BTreeMap::new(),
        attachments: BTreeMap::new(),
        updated: None,
        missing: None,
        parked: BTreeMap::new(),
    }
}

#[tokio::test]
async fn a_commit_stores_everything_and_the_feed_lists_latest_changes() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        let hub = store.hub().unwrap();
        let (a, b) = (hub.new_record_id().unwrap(), hub.new_record_id().unwrap());
        assert_ne!(a, b);
        let intent = hub
            .record_intent(
                "acme",
                "sec",
                a,
                IntentKind::Create {
                    nonce: "n-1".into(),
                },
                Utc::now(),
            )
            .await
            .unwrap();
        assert_eq!(
            hub.pending_intents("acme", "sec").unwrap(),
            vec![intent.clone()]
        );
        let w = Watermark {
            updated: Some(Utc::now()),
            seen: vec![("10001".into(), "2026-11-23T10:00:00.000+0000".into())],
            recent_writes: vec!["10001".into()],
            ..Watermark::default()
        };
        let stored = hub
            .commit(Commit {
                records: vec![record(a, "one"), record(b, "two")],
                links: vec![
                    link("acme", "sec", a, "10001"),
                    link("globex", "ops", a, "20001"),
                    link("acme", "sec", b, "10002"),
                ],
                watermark: Some(("acme".into(), "sec".into(), w.clone())),
                done: vec![("acme".into(), "sec".into(), intent.id)],
                ..Commit::default()
            })
            .await
            .unwrap();
        assert_eq!(stored.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2]);
        assert!(
            hub.pending_intents("acme", "sec").unwrap().is_empty(),
            "the intent is done"
        );
        // `a` changes again: the feed lists it once, at its new position.
        hub.commit(Commit {
            records: vec![record(a, "one, edited")],
            ..Default::default()
        })
        .await
        .unwrap();
        assert_eq!(hub.changes_after(0, 10).unwrap(), vec![(2, b), (3, a)]);
        assert_eq!(hub.changes_after(2, 10).unwrap(), vec![(3, a)]);
        assert_eq!(hub.watermark("acme", "sec").unwrap(), w);
    }
    // Everything is still there after a reopen.
    let store = Store::open(dir.path()).unwrap();
    let hub = store.hub().unwrap();
    let a = hub.changes_after(2, 1).unwrap()[0].1;
    assert_eq!(
        hub.record(a).unwrap().unwrap().fields["summary"],
        json!("one, edited")
    );
    let mut sites: Vec<String> = hub
        .links_of(a)
        .unwrap()
        .into_iter()
        .map(|l| l.site)
        .collect();
    sites.sort();
    assert_eq!(
        sites,
        ["acme", "globex"],
        "a record's links across connectors"
    );
    assert_eq!(hub.links_of_connector("acme", "sec").unwrap().len(), 2);
    assert_eq!(
        hub.link("globex", "ops", "20001").unwrap().unwrap().record,
        a
    );
    assert!(hub.link("acme", "sec", "nope").unwrap().is_none());
    assert!(
        hub.new_record_id().unwrap() > a,
        "ids keep growing after a reopen"
    );
}

#[tokio::test]
async fn a_commit_that_fails_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let hub = store.hub().unwrap();
    let intent = hub
        .record_intent(
            "acme",
            "sec",
            7,
            IntentKind::Edit {
                fields: vec!["summary".into()],
            },
            Utc::now(),
        )
        .await
        .unwrap();
    // A stored record whose bytes are unreadable makes the transaction abort midway.
    store_corrupt_record(&store, 7);
    let result = hub
        .commit(Commit {
            records: vec![record(8, "fine"), record(7, "over the corrupt one")],
            links: vec![link("acme", "sec", 8, "10008")],
            watermark: Some((
                "acme".into(),
                "sec".into(),
                Watermark {
                    updated: Some(Utc::now()),
                    seen: vec![],
                    recent_writes: vec![],
                    ..Watermark::default()
                },
            )),
            done: vec![("acme".into(), "sec".into(), intent.id)],
            ..Commit::default()
        })
        .await;
    assert!(
        matches!(result, Err(StoreError::Corrupt { .. })),
        "{result:?}"
    );
    assert!(
        hub.record(8).unwrap().is_none(),
        "the first record was not stored either"
    );
    assert!(hub.link("acme", "sec", "10008").unwrap().is_none());
    assert_eq!(hub.watermark("acme", "sec").unwrap(), Watermark::default());
    assert_eq!(
        hub.pending_intents("acme", "sec").unwrap().len(),
        1,
        "the intent stays pending"
    );
    assert!(hub.changes_after(0, 10).unwrap().is_empty());
}

/// Writes garbage where record `id` lives (through the public tree API of the same database).
fn store_corrupt_record(store: &Store, id: u64) {
    store
        .raw_tree_for_tests("records")
        .unwrap()
        .insert(id.to_be_bytes(), vec![1u8, b'{'])
        .unwrap();
}

#[tokio::test]
async fn after_a_rebuild_new_record_ids_stay_above_the_ids_taken_from_the_sites() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        let hub = store.hub().unwrap();
        assert!(hub.is_empty());
        hub.raise_record_floor(5000).await.unwrap();
        // A lower floor later never lowers it.
        hub.raise_record_floor(10).await.unwrap();
        assert!(hub.new_record_id().unwrap() > 5000);
        hub.commit(Commit {
            records: vec![record(5000, "rebuilt")],
            ..Default::default()
        })
        .await
        .unwrap();
        assert!(!hub.is_empty());
    }
    let store = Store::open(dir.path()).unwrap();
    let hub = store.hub().unwrap();
    let ids: Vec<u64> = (0..3).map(|_| hub.new_record_id().unwrap()).collect();
    assert!(
        ids.iter().all(|&i| i > 5000),
        "the floor survives a reopen: {ids:?}"
    );
}

#[tokio::test]
async fn two_writers_of_one_record_lose_neither_change() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let hub = store.hub().unwrap();
    let mut r = record(7, "first");
    r.fields.insert("priority".into(), json!("Low"));
    r.field_times
        .insert("priority".into(), r.field_times["summary"]);
    hub.commit(Commit {
        records: vec![r],
        ..Default::default()
    })
    .await
    .unwrap();
    // Both read the same version.
    let (mut a, mut b) = (
        hub.record(7).unwrap().unwrap(),
        hub.record(7).unwrap().unwrap(),
    );
    let later = Utc::now() + chrono::Duration::seconds(5);
    a.fields.insert("summary".into(), json!("from acme"));
    a.field_times.insert("summary".into(), later);
    b.fields.insert("priority".into(), json!("High"));
    b.field_times.insert("priority".into(), later);
    b.comments.push(jira_sync_store::hub::HubComment {
        id: "globex/ops/1".into(),
        body: json!("c"),
        author: "Bob".into(),
        created: later,
        origin: None,
        visibility: None,
        internal: false,
        edited: None,
        deleted: None,
    });
    let w = |c: &str| Some(("acme".to_owned(), c.to_owned(), Watermark::default()));
    hub.commit(Commit {
        records: vec![a],
        watermark: w("sec"),
        ..Default::default()
    })
    .await
    .unwrap();
    hub.commit(Commit {
        records: vec![b],
        watermark: w("other"),
        ..Default::default()
    })
    .await
    .unwrap();
    let r = hub.record(7).unwrap().unwrap();
    assert_eq!(
        r.fields["summary"],
        json!("from acme"),
        "the first writer's change stays"
    );
    assert_eq!(r.fields["priority"], json!("High"));
    assert_eq!(r.comments.len(), 1);
}
