//! Attempts to break issue 19 ("a run costs what changed"): marks, retry sets, the
//! two-phase pull that asks again after each page.

use std::time::{Duration, Instant};

use jira_sim::faults::FaultSpec;
use jira_sync_harness::pair::*;
use jira_sync_store::hub::Commit;

fn count(p: &Pair, site: &str, route: &str) -> u64 {
    p.sim
        .control()
        .counters(Some(site))
        .unwrap()
        .iter()
        .filter(|c| c.route.contains(route))
        .map(|c| c.count)
        .sum()
}

fn labels(i: &Value) -> Vec<String> {
    i["fields"]["labels"]
        .as_array()
        .map(|a| a.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

/// sec pulls record R (an acme edit of its summary); while sec's run is between its merge
/// and its push (here: its hourly census search, slowed down), ops commits R with a globex
/// edit of its labels, which marks R for sec. sec's push takes that mark but pushes the copy
/// of R it pulled before ops' commit; the commit then removes the mark (same number) and,
/// as sec "looked at" R, does not mark it for sec again. The labels never reach acme until
/// the daily full reconcile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_change_committed_while_a_run_holds_the_record_reaches_it() {
    let p = pair(5).await;
    p.tick(4);
    p.converge().await;
    let acme_issue = p.issues("acme")[0].clone();
    let acme_key = key(&acme_issue);
    let globex_key = key(&p.only_one("globex", summary(&acme_issue)));
    // Both censuses are due: sec's run reads acme once more after its pull.
    p.tick(3600);
    // Ann edits the summary and puts it back: acme's `updated` moves, the record does not.
    let original = summary(&acme_issue).to_owned();
    for s in ["acme edit", original.as_str()] {
        p.sim
            .control()
            .edit_issue(
                "acme",
                &acme_key,
                "ann@acme.example",
                &json!({ "fields": { "summary": s } }),
            )
            .unwrap();
    }
    p.sim
        .control()
        .edit_issue(
            "globex",
            &globex_key,
            "bob@globex.example",
            &json!({ "fields": { "labels": ["from-globex"] } }),
        )
        .unwrap();
    p.tick(10);
    p.sim
        .control()
        .set_faults(
            "acme",
            FaultSpec {
                latency_ms: Some([700, 700]),
                ..Default::default()
            },
        )
        .unwrap();
    let fetches = count(&p, "acme", "bulkfetch");
    let t0 = Instant::now();
    let peer = async {
        // sec has read the edited issue in full: it merges it now, then takes its census.
        while count(&p, "acme", "bulkfetch") == fetches {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        tokio::time::sleep(Duration::from_millis(60)).await;
        let r = p.run(ops()).await;
        (r, t0.elapsed())
    };
    let sec_run = async {
        let r = p.run(sec()).await;
        (r, t0.elapsed())
    };
    let ((a, a_done), (b, b_done)) = tokio::join!(sec_run, peer);
    eprintln!("sec {a:?} done at {a_done:?}\nops {b:?} done at {b_done:?}");
    assert!(
        b_done < a_done,
        "ops committed while sec's run was going on"
    );
    assert_eq!((a.pulled, b.pulled), (1, 1));
    p.sim
        .control()
        .set_faults("acme", FaultSpec::default())
        .unwrap();
    p.converge().await;
    p.tick(3600);
    p.converge().await;
    let on_acme = p.sim.control().issue("acme", &acme_key).unwrap();
    let lost = labels(&on_acme) != vec!["from-globex".to_owned()];
    let r = p.reconcile(sec()).await;
    eprintln!("full reconcile of sec: {r:?}");
    assert!(
        !lost,
        "globex's label edit, committed during sec's run, never reached acme incrementally \
         (acme labels {:?}); the full reconcile repaired {} record(s)",
        labels(&on_acme),
        r.repaired
    );
}

/// More than a page of issues share one minute (an import), and a later issue exists; an
/// edit between two pages of that minute (the pull follows the page token there) shifts
/// the pages, so one issue of the old minute slips past the boundary. The watermark moves
/// past the later issue, far beyond the overlap: the next pulls never ask for that minute
/// again, so the slipped issue is never linked (the census only checks linked issues).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_within_a_crowded_minute_loses_no_issue() {
    let p = pair(0).await;
    let mut keys = Vec::new();
    for i in 0..150 {
        keys.push(p.acme_task(&format!("imported {i}"), json!({})));
    }
    p.tick(3600);
    p.acme_task("an hour later", json!({}));
    p.tick(10);
    p.sim
        .control()
        .set_faults(
            "acme",
            FaultSpec {
                latency_ms: Some([150, 150]),
                ..Default::default()
            },
        )
        .unwrap();
    let before = count(&p, "acme", "search/jql");
    let edit = async {
        // First page (from no watermark), then the same minute asked again: its first page
        // holds nothing new, so the pull follows the token to the next page; edit then.
        while count(&p, "acme", "search/jql") < before + 2 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        p.sim
            .control()
            .edit_issue(
                "acme",
                &keys[5],
                "ann@acme.example",
                &json!({ "fields": { "summary": "edited during the pull" } }),
            )
            .unwrap();
        p.tick(10);
    };
    let (r, ()) = tokio::join!(p.run(sec()), edit);
    eprintln!(
        "first run: {r:?}; searches {}",
        count(&p, "acme", "search/jql") - before
    );
    p.sim
        .control()
        .set_faults("acme", FaultSpec::default())
        .unwrap();
    p.converge().await;
    p.tick(3600);
    p.converge().await;
    let linked: std::collections::BTreeSet<String> = p
        .hub
        .links_of_connector("acme", "sec")
        .unwrap()
        .into_iter()
        .map(|l| l.issue_key)
        .collect();
    let unlinked: Vec<String> = p
        .issues("acme")
        .iter()
        .map(key)
        .filter(|k| !linked.contains(k))
        .collect();
    assert_eq!(
        linked.len(),
        151,
        "every issue in scope is linked; never linked (nor mirrored): {unlinked:?} (edited {})",
        keys[5]
    );
    assert_eq!(p.issues("globex").len(), 151);
}

/// ops' writes fail (5xx after its pull); faults are cleared and nothing changes: the next
/// incremental run of ops writes what failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_write_is_retried_without_a_further_change() {
    let p = pair(5).await;
    p.tick(4);
    p.converge().await;
    let acme_key = key(&p.issues("acme")[1]);
    p.sim
        .control()
        .edit_issue(
            "acme",
            &acme_key,
            "ann@acme.example",
            &json!({ "fields": { "summary": "edit that fails first" } }),
        )
        .unwrap();
    p.acme_task("new one that fails first", json!({}));
    p.tick(10);
    let a = p.run(sec()).await;
    assert_eq!(a.pulled, 2, "{a:?}");
    p.sim
        .control()
        .set_faults(
            "globex",
            FaultSpec {
                latency_ms: Some([100, 100]),
                ..Default::default()
            },
        )
        .unwrap();
    let searches = count(&p, "globex", "search/jql");
    let fail = async {
        while count(&p, "globex", "search/jql") == searches {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        p.sim
            .control()
            .set_faults(
                "globex",
                FaultSpec {
                    error_rate: 1.0,
                    error_statuses: vec![500],
                    ..Default::default()
                },
            )
            .unwrap();
    };
    let (b, ()) = tokio::join!(async { p.engine.run(&ops()).await }, fail);
    eprintln!("failing run: {b:?}");
    p.sim
        .control()
        .set_faults("globex", FaultSpec::default())
        .unwrap();
    p.tick(10);
    let b = p.run(ops()).await;
    eprintln!("next run: {b:?}");
    assert!(!b.reconciled);
    // The create's intent waits the overlap (search may not show a create that landed).
    for _ in 0..3 {
        p.tick(400);
        let b = p.run(ops()).await;
        eprintln!("later run: {b:?}");
        assert!(!b.reconciled);
    }
    p.converge().await;
    p.only_one("globex", "edit that fails first");
    p.only_one("globex", "new one that fails first");
}

/// A record changed through the hub API (a commit with no watermark) is written by both
/// connectors' incremental pushes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_api_change_reaches_both_connectors() {
    let p = pair(5).await;
    p.tick(4);
    p.converge().await;
    let acme_key = key(&p.issues("acme")[2]);
    let mut r = p.record_of("acme", &acme_key);
    r.fields.insert("summary".into(), json!("from the hub api"));
    r.field_times
        .insert("summary".into(), p.sim.control().world().clock().now());
    p.hub
        .commit(Commit {
            records: vec![r],
            ..Default::default()
        })
        .await
        .unwrap();
    p.tick(10);
    let a = p.run(sec()).await;
    let b = p.run(ops()).await;
    assert!(!a.reconciled && !b.reconciled);
    assert_eq!((a.updated, b.updated), (1, 1), "{a:?} {b:?}");
    p.only_one("acme", "from the hub api");
    p.only_one("globex", "from the hub api");
    p.assert_quiet("after a hub api change").await;
}

/// A converged pair: full reconciles of both sides write nothing and move no feed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_reconcile_of_a_converged_pair_changes_nothing() {
    let p = pair(20).await;
    p.tick(4);
    p.converge().await;
    let (seq, w) = (p.hub.last_seq().unwrap(), p.write_requests());
    p.tick(10);
    let a = p.reconcile(sec()).await;
    let b = p.reconcile(ops()).await;
    assert_eq!((a.repaired, b.repaired), (0, 0), "{a:?} {b:?}");
    assert_eq!(p.write_requests(), w);
    assert_eq!(p.hub.changes_after(seq, 100).unwrap(), vec![]);
    // A revert: updated moves, nothing else does.
    let k = key(&p.issues("acme")[0]);
    let s = summary(&p.issues("acme")[0]).to_owned();
    for x in ["tmp", s.as_str()] {
        p.sim
            .control()
            .edit_issue(
                "acme",
                &k,
                "ann@acme.example",
                &json!({ "fields": { "summary": x } }),
            )
            .unwrap();
    }
    p.tick(10);
    p.run(sec()).await;
    p.run(ops()).await;
    assert_eq!(p.write_requests(), w);
    assert_eq!(p.hub.changes_after(seq, 100).unwrap(), vec![]);
}

/// A child pulled before its parent (the parent was edited after the child was made): ops
/// defers the child, creates the parent; the child follows on the next incremental run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_deferred_for_its_parent_follows_without_a_reconcile() {
    let p = pair(0).await;
    p.tick(4);
    p.converge().await;
    let parent = p.acme_task("the parent", json!({ "issuetype": { "name": "Epic" } }));
    p.tick(61);
    p.sim
        .control()
        .create_issue(
            "acme",
            "ann@acme.example",
            &json!({ "fields": { "project": { "key": "SEC" }, "issuetype": { "name": "Subtask" },
                     "summary": "the child", "parent": { "key": parent } } }),
        )
        .or_else(|_| {
            p.sim.control().create_issue(
                "acme",
                "ann@acme.example",
                &json!({ "fields": { "project": { "key": "SEC" }, "issuetype": { "name": "Task" },
                         "summary": "the child", "parent": { "key": parent } } }),
            )
        })
        .unwrap();
    p.tick(61);
    p.sim
        .control()
        .edit_issue(
            "acme",
            &parent,
            "ann@acme.example",
            &json!({ "fields": { "summary": "the parent, edited" } }),
        )
        .unwrap();
    p.tick(10);
    let a = p.run(sec()).await;
    eprintln!("{a:?}");
    for _ in 0..4 {
        p.tick(10);
        let b = p.run(ops()).await;
        eprintln!("{b:?}");
        assert!(!b.reconciled);
        p.run(sec()).await;
    }
    let child = p.only_one("globex", "the child");
    let parent = p.only_one("globex", "the parent, edited");
    assert_eq!(child["fields"]["parent"]["key"], parent["key"]);
}
