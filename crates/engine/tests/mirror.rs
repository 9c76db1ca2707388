//! The core of mirroring: both ways, no duplicates, zero writes when converged, status,
//! comments and concurrent edits, interrupted runs, fault storms, parking.

use std::collections::BTreeMap;

use jira_sync_harness::pair::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issues_mirror_both_ways_and_a_converged_pair_makes_zero_writes() {
    let p = pair(12).await;
    p.sim
        .control()
        .world()
        .clock()
        .advance(chrono::Duration::seconds(4));
    let first = p.run(sec()).await;
    assert_eq!(first.pulled, 12);
    let second = p.run(ops()).await;
    assert_eq!(second.created, 12, "{second:?}");
    assert!(
        second.parked.is_empty() && second.unreachable.is_empty(),
        "{second:?}"
    );
    p.converge().await;

    let mut acme: Vec<Value> = p.issues("acme");
    let mut globex: Vec<Value> = p.issues("globex");
    assert_eq!((acme.len(), globex.len()), (12, 12), "no duplicates");
    acme.sort_by_key(|i| summary(i).to_owned());
    globex.sort_by_key(|i| summary(i).to_owned());
    for (a, g) in acme.iter().zip(&globex) {
        assert_eq!(summary(a), summary(g));
        assert_eq!(a["fields"]["description"], g["fields"]["description"]);
        let set = |v: &Value| -> Vec<String> {
            let mut l: Vec<String> = v
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap().to_owned())
                .collect();
            l.sort();
            l
        };
        assert_eq!(
            set(&a["fields"]["labels"]),
            set(&g["fields"]["labels"]),
            "labels are a set"
        );
        assert_eq!(
            a["fields"]["priority"]["name"],
            g["fields"]["priority"]["name"]
        );
        assert_eq!(
            a["fields"]["customfield_10042"]["value"], g["fields"]["customfield_10077"]["value"],
            "select fields by value"
        );
        assert_eq!(
            a["fields"]["comment"]["total"], g["fields"]["comment"]["total"],
            "comments mirrored once"
        );
        assert!(
            g["properties"]["jira-sync"]["record"].as_u64().is_some(),
            "the link is on the issue too"
        );
    }

    let before = p.write_requests();
    let (a, b) = (p.run(sec()).await, p.run(ops()).await);
    assert_eq!(writes(&a) + writes(&b), 0, "{a:?} {b:?}");
    assert_eq!(
        p.write_requests(),
        before,
        "a converged pair makes zero writes"
    );
    // An idle connector costs exactly one search call per cycle.
    p.sim.control().reset_counters();
    p.run(sec()).await;
    p.run(ops()).await;
    for site in ["acme", "globex"] {
        let calls: Vec<_> = p.sim.control().counters(Some(site)).unwrap();
        let total: u64 = calls.iter().map(|c| c.count).sum();
        assert_eq!(total, 1, "{site}: {calls:?}");
        assert_eq!(calls[0].route, "/rest/api/3/search/jql");
    }

    // A person creates on globex (in the same minute as the watermark): it appears on acme once.
    let c = p.sim.control();
    let fields = json!({ "fields": { "project": { "key": "OPS" }, "issuetype": { "name": "Bug" }, "summary": "made by bob", "customfield_10077": { "value": "High" } } });
    let key = c
        .create_issue("globex", "bob@globex.example", &fields)
        .unwrap();
    p.converge().await;
    let on_acme: Vec<Value> = p
        .issues("acme")
        .into_iter()
        .filter(|i| summary(i) == "made by bob")
        .collect();
    assert_eq!(on_acme.len(), 1, "exactly once");
    assert_eq!(on_acme[0]["fields"]["customfield_10042"]["value"], "High");
    assert_eq!(on_acme[0]["fields"]["issuetype"]["name"], "Bug");
    assert!(
        c.issue("globex", &key).unwrap()["properties"]
            .get("jira-sync")
            .is_none(),
        "a person's issue carries no marker until needed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_comments_and_concurrent_edits_flow_across() {
    let p = pair(2).await;
    p.converge().await;
    let c = p.sim.control();
    let globex_key = |acme_key: &str| -> String {
        let s = summary(&c.issue("acme", acme_key).unwrap()).to_owned();
        let g = p.issues("globex");
        g.iter().find(|i| summary(i) == s).unwrap()["key"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let g1 = globex_key("SEC-1");

    // Status on globex flows to acme through the right transition.
    c.transition_issue("globex", &g1, "bob@globex.example", "Working")
        .unwrap();
    // A comment on each side.
    c.comment_issue("globex", &g1, "bob@globex.example", &json!("from bob"))
        .unwrap();
    c.comment_issue("acme", "SEC-1", "ann@acme.example", &json!("from ann"))
        .unwrap();
    // Different fields edited on both sides: both survive.
    c.edit_issue(
        "acme",
        "SEC-1",
        "ann@acme.example",
        &json!({ "fields": { "summary": "renamed by ann" } }),
    )
    .unwrap();
    c.edit_issue(
        "globex",
        &g1,
        "bob@globex.example",
        &json!({ "fields": { "labels": ["from-bob"] } }),
    )
    .unwrap();
    p.converge().await;

    let a = c.issue("acme", "SEC-1").unwrap();
    let g = c.issue("globex", &g1).unwrap();
    assert_eq!(a["fields"]["status"]["name"], "In Progress");
    assert_eq!(g["fields"]["status"]["name"], "Working");
    assert_eq!(summary(&a), "renamed by ann");
    assert_eq!(summary(&g), "renamed by ann");
    assert_eq!(a["fields"]["labels"], json!(["from-bob"]));
    let texts = |i: &Value| -> Vec<String> {
        i["fields"]["comment"]["comments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| jira_sync_client::adf::to_text(&c["body"]))
            .collect()
    };
    for t in ["from bob", "from ann"] {
        assert_eq!(
            texts(&a).iter().filter(|x| *x == t).count(),
            1,
            "{t} once on acme: {:?}",
            texts(&a)
        );
        assert_eq!(
            texts(&g).iter().filter(|x| *x == t).count(),
            1,
            "{t} once on globex: {:?}",
            texts(&g)
        );
    }

    // The same field on both sides: the newer edit wins (conflict policy `newest`).
    c.edit_issue(
        "acme",
        "SEC-1",
        "ann@acme.example",
        &json!({ "fields": { "summary": "ann's title" } }),
    )
    .unwrap();
    c.world().clock().advance(chrono::Duration::seconds(2));
    c.edit_issue(
        "globex",
        &g1,
        "bob@globex.example",
        &json!({ "fields": { "summary": "bob's title" } }),
    )
    .unwrap();
    p.converge().await;
    assert_eq!(summary(&c.issue("acme", "SEC-1").unwrap()), "bob's title");
    assert_eq!(summary(&c.issue("globex", &g1).unwrap()), "bob's title");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_interrupted_before_its_commit_is_linked_not_repeated() {
    let p = pair(3).await;
    p.converge().await;
    let c = p.sim.control();
    let key = c.create_issue("acme", "ann@acme.example", &json!({ "fields": { "project": { "key": "SEC" }, "issuetype": { "name": "Task" }, "summary": "created before a crash" } })).unwrap();
    p.sim
        .control()
        .world()
        .clock()
        .advance(chrono::Duration::seconds(4));
    p.run(sec()).await;
    let issue_id = c.issue("acme", &key).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let record = p
        .hub
        .link("acme", "sec", &issue_id)
        .unwrap()
        .unwrap()
        .record;

    // What a globex run does before it dies: the intent is stored, the create is sent and
    // lands, and the process is killed before the commit.
    let nonce = "interrupted-nonce-1";
    p.hub
        .record_intent(
            "globex",
            "ops",
            record,
            jira_sync_store::hub::IntentKind::Create {
                nonce: nonce.into(),
            },
            c.world().clock().now(),
        )
        .await
        .unwrap();
    p.globex
        .create(json!({ "fields": { "project": { "key": "OPS" }, "issuetype": { "name": "Task" }, "summary": "created before a crash" },
                        "properties": [{ "key": "jira-sync", "value": { "record": record, "nonce": nonce } }] }))
        .await
        .unwrap();
    let before = c.issue_count("globex").unwrap();

    // Right after the crash, search may not show the create yet: nothing is repeated.
    let r = p.run(ops()).await;
    assert_eq!((r.created, r.deferred), (0, 1), "{r:?}");
    assert_eq!(
        p.hub.pending_intents("globex", "ops").unwrap().len(),
        1,
        "still pending"
    );
    // Once the overlap has passed, search is trusted: the issue is found and linked.
    c.world().clock().advance(chrono::Duration::minutes(6));
    let r = p.run(ops()).await;
    assert_eq!(
        (r.created, r.deferred),
        (0, 0),
        "the interrupted create is found, not repeated: {r:?}"
    );
    assert_eq!(c.issue_count("globex").unwrap(), before);
    assert!(
        p.hub.pending_intents("globex", "ops").unwrap().is_empty(),
        "the intent is settled"
    );
    p.converge().await;
    assert_eq!(
        p.issues("globex")
            .iter()
            .filter(|i| summary(i) == "created before a crash")
            .count(),
        1,
        "no duplicate"
    );
    assert_eq!(
        c.issue_count("acme").unwrap(),
        c.issue_count("globex").unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_faults_ends_converged_with_nothing_lost_or_duplicated() {
    let p = pair(20).await;
    let c = p.sim.control();
    let storm = jira_sim::faults::FaultSpec {
        error_rate: 0.15,
        error_statuses: vec![500, 502, 504],
        html_rate: 0.03,
        close_rate: 0.05,
        seed: std::env::var("STORM_SEED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(7),
        ..Default::default()
    };
    for site in ["acme", "globex"] {
        c.set_faults(site, storm.clone()).unwrap();
        // And 429 storms: Jira's burst limits far below what the cycles send.
        let burst = BTreeMap::from([
            ("GET".to_owned(), 3),
            ("POST".to_owned(), 3),
            ("PUT".to_owned(), 3),
        ]);
        c.set_limits(
            site,
            jira_sim::limits::LimitsSpec {
                burst,
                per_issue_writes: true,
                tenant_quota: None,
                quota_window_seconds: None,
            },
        )
        .unwrap();
    }
    let mut failed_runs = 0;
    for round in 0..12 {
        // Cycles far enough apart for interrupted creates to be settled by search.
        c.world().clock().advance(chrono::Duration::minutes(6));
        if round == 4 {
            // People keep working during the storm.
            let _ = c.edit_issue(
                "acme",
                "SEC-2",
                "ann@acme.example",
                &json!({ "fields": { "summary": "edited in the storm" } }),
            );
            let _ = c.comment_issue(
                "acme",
                "SEC-3",
                "ann@acme.example",
                &json!("said in the storm"),
            );
        }
        for t in [sec(), ops()] {
            let r = p.engine.run(&t).await;
            if std::env::var_os("ENGINE_DEBUG").is_some() {
                let a = c
                    .issue("acme", "SEC-2")
                    .map(|i| summary(&i).to_owned())
                    .unwrap_or_default();
                let g: Vec<String> = p
                    .issues("globex")
                    .iter()
                    .map(|i| format!("{}={}", i["key"].as_str().unwrap(), summary(i)))
                    .filter(|x| x.contains("storm"))
                    .collect();
                eprintln!(
                    "round {round} {t}: {:?} | acme SEC-2: {a} | globex: {g:?}",
                    r.as_ref()
                        .map(|r| (r.pulled, r.created, r.updated, r.conflicts, r.deferred))
                        .map_err(|e| e.to_string())
                );
            }
            // A failed write is noted and the run goes on; a failed pull fails the run.
            failed_runs += r.as_ref().map_or(1, |r| r.failed.len());
        }
    }
    eprintln!("storm: {failed_runs} failed runs and writes in 24 runs");
    assert!(failed_runs > 0, "the storm did hit");
    let throttled: u64 = ["acme", "globex"]
        .iter()
        .map(|s| {
            c.rate_limit_stats(s)
                .unwrap()
                .throttled
                .values()
                .sum::<u64>()
        })
        .sum();
    let early: u64 = ["acme", "globex"]
        .iter()
        .map(|s| c.rate_limit_stats(s).unwrap().early_retries)
        .sum();
    eprintln!(
        "storm: {throttled} 429s, {early} early retries {:?} {:?}",
        c.rate_limit_stats("acme").unwrap().early,
        c.rate_limit_stats("globex").unwrap().early
    );
    assert!(throttled > 0, "the 429 storm did hit");
    assert_eq!(early, 0, "never a retry before Retry-After");
    for site in ["acme", "globex"] {
        c.set_faults(site, Default::default()).unwrap();
        c.set_limits(site, Default::default()).unwrap();
    }
    c.world().clock().advance(chrono::Duration::minutes(6));
    p.converge().await;

    let acme = p.issues("acme");
    let globex = p.issues("globex");
    assert_eq!(acme.len(), 20, "nothing duplicated on acme");
    assert_eq!(globex.len(), 20, "nothing duplicated on globex");
    let mut a: Vec<&str> = acme.iter().map(summary).collect();
    let mut g: Vec<&str> = globex.iter().map(summary).collect();
    a.sort();
    g.sort();
    assert_eq!(a, g, "every issue mirrored");
    assert!(
        g.contains(&"edited in the storm"),
        "the storm's edit is not lost"
    );
    let said: usize = globex
        .iter()
        .flat_map(|i| {
            i["fields"]["comment"]["comments"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|c| jira_sync_client::adf::to_text(&c["body"]) == "said in the storm")
        .count();
    assert_eq!(said, 1, "the storm's comment arrives exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_comment_added_by_an_interrupted_run_is_adopted_not_repeated() {
    let p = pair(2).await;
    p.converge().await;
    let c = p.sim.control();
    let acme_comment = c
        .comment_issue(
            "acme",
            "SEC-1",
            "ann@acme.example",
            &json!("only once please"),
        )
        .unwrap();
    p.sim
        .control()
        .world()
        .clock()
        .advance(chrono::Duration::seconds(4));
    p.run(sec()).await;
    let issue_id = c.issue("acme", "SEC-1").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let record = p
        .hub
        .link("acme", "sec", &issue_id)
        .unwrap()
        .unwrap()
        .record;
    let globex_key = p
        .hub
        .links_of(record)
        .unwrap()
        .into_iter()
        .find(|l| l.site == "globex")
        .unwrap()
        .issue_key;
    // What the globex run did before it died: the intent (flushed), then the comment with its
    // marker; no commit.
    let hub_comment = format!("acme/sec/{acme_comment}");
    p.hub
        .record_intent(
            "globex",
            "ops",
            record,
            jira_sync_store::hub::IntentKind::Comment {
                hub_comment: hub_comment.clone(),
            },
            c.world().clock().now(),
        )
        .await
        .unwrap();
    p.globex
        .add_comment(
            &globex_key,
            jira_sync_client::adf::from_text("only once please"),
            None,
            vec![(
                "jira-sync".into(),
                json!({ "record": record, "comment": hub_comment }),
            )],
        )
        .await
        .unwrap();
    let r = p.run(ops()).await;
    assert_eq!(r.commented, 0, "{r:?}");
    p.converge().await;
    let texts: Vec<String> =
        c.issue("globex", &globex_key).unwrap()["fields"]["comment"]["comments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| jira_sync_client::adf::to_text(&x["body"]))
            .collect();
    assert_eq!(
        texts.iter().filter(|t| *t == "only once please").count(),
        1,
        "{texts:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_value_is_parked_alone_until_the_record_changes() {
    let p = pair(2).await;
    p.converge().await;
    let c = p.sim.control();
    // globex's administrator drops the option "High".
    c.set_field_options("globex", "customfield_10077", vec!["Low".into()])
        .unwrap();
    let key = c
        .create_issue("acme", "ann@acme.example", &json!({ "fields": { "project": { "key": "SEC" }, "issuetype": { "name": "Task" }, "summary": "high severity", "customfield_10042": { "value": "High" } } }))
        .unwrap();
    c.world().clock().advance(chrono::Duration::seconds(4));
    p.run(sec()).await;
    // Issue 17: the issue is created without the value globex lacks; that field alone waits.
    let refused = p.run(ops()).await;
    assert_eq!(refused.created, 1, "{refused:?}");
    assert_eq!(refused.parked.len(), 1, "{refused:?}");
    assert!(
        refused.parked[0].0.ends_with("severity") && refused.parked[0].1.contains("High"),
        "the field and the value are named: {refused:?}"
    );
    let g = p.only_one("globex", "high severity");
    assert!(g["fields"]["customfield_10077"].is_null(), "{g}");

    // Nothing changed: nothing is sent again.
    p.converge().await;
    c.reset_counters();
    for _ in 0..3 {
        c.world().clock().advance(chrono::Duration::seconds(4));
        p.run(sec()).await;
        let r = p.run(ops()).await;
        assert_eq!((r.created, r.updated, r.parked.len()), (0, 0, 0), "{r:?}");
        assert_eq!(r.parked_now.get("value_not_allowed"), Some(&1), "{r:?}");
    }
    assert_eq!(p.write_requests(), 0, "a parked field waits for a change");

    // The record changes: it is tried again, and goes through.
    c.edit_issue(
        "acme",
        &key,
        "ann@acme.example",
        &json!({ "fields": { "customfield_10042": { "value": "Low" } } }),
    )
    .unwrap();
    p.converge().await;
    let g = p.only_one("globex", "high severity");
    assert_eq!(g["fields"]["customfield_10077"]["value"], "Low");
    let r = p.run(ops()).await;
    assert!(r.parked_now.is_empty(), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_revoked_mid_push_ends_the_run_at_the_first_refusal() {
    let p = pair(12).await;
    p.converge().await;
    let c = p.sim.control();
    for i in 1..=12 {
        c.edit_issue(
            "acme",
            &format!("SEC-{i}"),
            "ann@acme.example",
            &serde_json::json!({ "fields": { "summary": format!("edit {i}") } }),
        )
        .unwrap();
    }
    c.world().clock().advance(chrono::Duration::seconds(4));
    p.run(sec()).await;
    // globex's token works for the pull and a few edits, then is revoked.
    c.reset_counters();
    c.revoke_credential_after("globex", "cred-1", 4).unwrap();
    let err = p.engine.run(&ops()).await.unwrap_err();
    assert!(err.to_string().contains("401"), "{err}");
    let served = |status: u16| -> u64 {
        c.counters(Some("globex"))
            .unwrap()
            .iter()
            .filter(|x| x.status == status && x.method == "PUT")
            .map(|x| x.count)
            .sum()
    };
    assert!(served(204) >= 1, "some edits landed before the revocation");
    let refused: u64 = c
        .counters(Some("globex"))
        .unwrap()
        .iter()
        .filter(|x| x.status == 401)
        .map(|x| x.count)
        .sum();
    assert_eq!(refused, 1, "one refused request, not one per pending write");

    // Restored: the rest goes through, and what landed before is not written twice (the
    // refused run committed what it did).
    let landed = served(204);
    c.restore_credential("globex", "cred-1").unwrap();
    p.converge().await;
    assert_eq!(
        served(204),
        12,
        "{landed} edits before the refusal, the rest after"
    );
    let mut edited: Vec<String> = p
        .issues("globex")
        .iter()
        .map(|i| summary(i).to_owned())
        .filter(|s| s.starts_with("edit "))
        .collect();
    edited.sort();
    assert_eq!(edited.len(), 12, "{edited:?}");
}

/// Issue 17: Jira locks the integration account behind a CAPTCHA (`403` with
/// `X-Authentication-Denied-Reason: CAPTCHA_CHALLENGE`) in the middle of a run. That is a
/// credential failure, not a refused write: the run stops at the first denial, nothing is
/// parked, and once a person clears the lock every pending edit and comment goes out, none
/// twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_captcha_lock_mid_run_parks_nothing_and_everything_goes_out_after_it_clears() {
    let p = pair(12).await;
    p.converge().await;
    let c = p.sim.control();
    for i in 1..=12 {
        let key = format!("SEC-{i}");
        c.edit_issue(
            "acme",
            &key,
            "ann@acme.example",
            &json!({ "fields": { "summary": format!("edit {i}") } }),
        )
        .unwrap();
        c.comment_issue(
            "acme",
            &key,
            "ann@acme.example",
            &json!(format!("note {i}")),
        )
        .unwrap();
    }
    c.world().clock().advance(chrono::Duration::seconds(4));
    p.run(sec()).await;
    // globex's account passes a few requests, then Jira demands a CAPTCHA.
    c.reset_counters();
    c.require_captcha("globex", GLOBEX_BOT, 4).unwrap();
    let err = p.engine.run(&ops()).await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("CAPTCHA_CHALLENGE"), "{msg}");
    assert!(msg.contains("sign in once in a browser"), "{msg}");
    assert!(!msg.contains("login-url"), "{msg}");
    let denied: u64 = c
        .counters(Some("globex"))
        .unwrap()
        .iter()
        .filter(|x| x.status == 403)
        .map(|x| x.count)
        .sum();
    assert_eq!(denied, 1, "one denied request, not one per pending write");
    for rid in 1..=40 {
        if let Some(r) = p.hub.record(rid).unwrap() {
            assert!(
                r.parked.is_empty(),
                "record {rid} parked by a credential failure: {:?}",
                r.parked
            );
        }
    }

    // A person signs in once in a browser: the lock clears, and everything goes out.
    c.clear_captcha("globex", GLOBEX_BOT).unwrap();
    p.converge().await;
    let globex = p.issues("globex");
    let mut edited: Vec<&str> = globex
        .iter()
        .map(summary)
        .filter(|s| s.starts_with("edit "))
        .collect();
    edited.sort();
    assert_eq!(edited.len(), 12, "{edited:?}");
    for i in &globex {
        let comments = i["fields"]["comment"]["comments"].as_array().unwrap();
        let notes = comments
            .iter()
            .filter(|c| c["body"].to_string().contains("note "))
            .count();
        assert_eq!(notes, 1, "one mirrored note on {}: {comments:?}", i["key"]);
    }
}
