//! A run costs what changed (issue 19, point 1): an idle run looks at no record, commits
//! nothing and leaves the change feed where it was; a change is looked at by the connectors
//! that must write it; what failed or waits is retried without a change; a daily full
//! reconcile repairs what no change named, and counts it.

use jira_sync_harness::pair::*;

/// The change feed's newest sequence number and the watermarks' bytes: what an idle run
/// must leave alone.
fn stored_state(p: &Pair) -> (u64, String) {
    let w = |c: jira_sync_config::ConnectorRef| {
        format!("{:?}", p.hub.watermark(&c.site, &c.connector).unwrap())
    };
    (p.hub.last_seq().unwrap(), w(sec()) + &w(ops()))
}

/// Ann edits the summary of acme's issue `key`.
fn edit_summary(p: &Pair, key: &str, summary: &str) {
    p.sim
        .control()
        .edit_issue(
            "acme",
            key,
            "ann@acme.example",
            &serde_json::json!({ "fields": { "summary": summary } }),
        )
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_run_looks_at_no_record_and_writes_nothing_anywhere() {
    let p = pair(30).await;
    p.tick(4);
    p.converge().await;
    // The first runs were full reconciles (nothing reconciled yet).
    assert_eq!(p.issues("globex").len(), 30);
    let before = (stored_state(&p), p.write_requests());
    for _ in 0..3 {
        p.tick(10);
        let a = p.run(sec()).await;
        let b = p.run(ops()).await;
        assert_eq!((a.looked_at, b.looked_at), (0, 0), "{a:?} {b:?}");
        assert_eq!(writes(&a) + writes(&b) + a.pulled + b.pulled, 0);
    }
    assert_eq!(
        (stored_state(&p), p.write_requests()),
        before,
        "idle runs moved the change feed, a watermark, or wrote to Jira"
    );
    assert!(
        p.hub.changes_after(before.0.0, 100).unwrap().is_empty(),
        "the feed lists nothing new"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_edit_is_looked_at_once_per_connector_and_the_feed_moves_by_one() {
    let p = pair(20).await;
    p.tick(4);
    p.converge().await;
    let seq = p.hub.last_seq().unwrap();
    let key = key(&p.issues("acme")[3]);
    edit_summary(&p, &key, "edited once");
    p.tick(10);
    let a = p.run(sec()).await;
    assert_eq!((a.pulled, a.looked_at), (1, 1), "{a:?}");
    let b = p.run(ops()).await;
    assert_eq!((b.looked_at, b.updated), (1, 1), "{b:?}");
    assert_eq!(
        p.only_one("globex", "edited once")["fields"]["summary"],
        "edited once"
    );
    let changes = p.hub.changes_after(seq, 100).unwrap();
    assert_eq!(changes.len(), 1, "one record changed: {changes:?}");
    // The write's echo comes back to ops once; then both sides are idle.
    p.converge().await;
    p.tick(10);
    let a = p.run(sec()).await;
    let b = p.run(ops()).await;
    assert_eq!((a.looked_at, b.looked_at), (0, 0), "{a:?} {b:?}");
    assert_eq!(p.hub.changes_after(seq, 100).unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_mark_is_repaired_by_the_daily_reconcile_and_counted() {
    let p = pair(10).await;
    p.tick(4);
    p.converge().await;
    let key = key(&p.issues("acme")[0]);
    edit_summary(&p, &key, "edited, mark lost");
    p.tick(10);
    assert_eq!(p.run(sec()).await.pulled, 1);
    p.lose_marks(&ops());
    p.tick(10);
    let b = p.run(ops()).await;
    assert_eq!((b.looked_at, writes(&b)), (0, 0), "nothing names it: {b:?}");
    // A day later the full reconcile looks at every record and repairs it.
    p.tick(24 * 3600);
    let b = p.run(ops()).await;
    assert!(b.reconciled, "{b:?}");
    assert_eq!((b.looked_at, b.updated, b.repaired), (10, 1, 1), "{b:?}");
    assert_eq!(p.issues("globex").len(), 10);
    p.only_one("globex", "edited, mark lost");
    // The next run is incremental again.
    p.tick(10);
    let b = p.run(ops()).await;
    assert!(!b.reconciled && b.repaired == 0, "{b:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_of_mapping_makes_the_next_push_a_full_reconcile() {
    let mut p = pair(6).await;
    p.tick(4);
    p.converge().await;
    p.tick(10);
    assert!(!p.run(ops()).await.reconciled);
    p.reconfigure(&ops(), |conn| {
        conn.resolution = Some("Won't Do".into());
    });
    p.tick(10);
    let b = p.run(ops()).await;
    assert!(b.reconciled, "{b:?}");
    assert_eq!(b.looked_at, 6);
}
