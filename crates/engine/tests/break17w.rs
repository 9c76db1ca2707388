//! Adversarial tests of issue 17's workflow definitions, continued from break17b.rs: locked
//! statuses, fields refused after a transition, credentials revoked mid-walk, comments
//! while the status is parked, long walks.

#[path = "support/workflows.rs"]
mod support;
use support::*;

// ---------------------------------------------------------------------------------------
// Locked (non-editable) statuses.

/// Closed is reached only through Review, and both cannot be edited. acme renames and closes
/// at once: the rename lands (in Working, before the walk) and globex ends Closed. Then acme
/// reopens and renames again: globex reopens first, then takes the rename and a comment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_reached_only_through_a_locked_status_with_edits_on_both_ends() {
    let p = pair_shaped(1, "", |g| {
        readable(g);
        g.workflows = vec![wf(
            &[
                ("Open", Category::New),
                ("Working", Category::Indeterminate),
                ("Review", Category::Indeterminate),
                ("Closed", Category::Done),
            ],
            vec![
                t("Start", &["Open"], "Working", false),
                t("Submit", &["Working"], "Review", false),
                t("Back", &["Review"], "Working", false),
                t("Close", &["Review"], "Closed", false),
                t("Reopen", &["Closed"], "Open", false),
            ],
            &["Review", "Closed"],
        )];
    })
    .await;
    p.converge().await;
    let c = p.sim.control();
    c.transition_issue("acme", "SEC-1", ANN, "In Progress")
        .unwrap();
    p.converge().await;
    let k = key(&p.issues("globex")[0]);
    assert_eq!(status(&c.issue("globex", &k).unwrap()), "Working");

    c.edit_issue(
        "acme",
        "SEC-1",
        ANN,
        &json!({ "fields": { "summary": "renamed and done" } }),
    )
    .unwrap();
    c.transition_issue("acme", "SEC-1", ANN, "Done").unwrap();
    c.reset_counters();
    p.converge().await;
    let g = c.issue("globex", &k).unwrap();
    assert_eq!(
        (status(&g), summary(&g)),
        ("Closed", "renamed and done"),
        "parked {:?}",
        p.link_of("globex", &k).parked
    );
    assert_eq!(transitions_ok(&p), 2, "Submit, Close");
    assert_eq!(
        p.refused_writes("globex"),
        0,
        "no edit sent to a locked status"
    );
    assert!(p.link_of("globex", &k).parked.is_empty());
    assert_quiet(&p, "closed").await;

    c.transition_issue("acme", "SEC-1", ANN, "To Do").unwrap();
    c.edit_issue(
        "acme",
        "SEC-1",
        ANN,
        &json!({ "fields": { "summary": "reopened and renamed" } }),
    )
    .unwrap();
    c.comment_issue("acme", "SEC-1", ANN, &json!("after the reopen"))
        .unwrap();
    c.reset_counters();
    p.converge().await;
    let g = c.issue("globex", &k).unwrap();
    assert_eq!(
        (status(&g), summary(&g)),
        ("Open", "reopened and renamed"),
        "parked {:?}",
        p.link_of("globex", &k).parked
    );
    assert_eq!(count_comment(&g, "after the reopen"), 1);
    assert_eq!(p.refused_writes("globex"), 0, "the reopen went first");
    assert!(p.link_of("globex", &k).parked.is_empty());
    let a = c.issue("acme", "SEC-1").unwrap();
    assert_eq!((status(&a), summary(&a)), ("To Do", "reopened and renamed"));
    assert_quiet(&p, "reopened").await;
}

/// strict `ops` (Close needs a resolution; Closed cannot be edited) with the workflow
/// readable: closed with the default resolution; then acme reopens *and starts work* and
/// renames at once (globex: Reopen, Start, then the rename), and a comment follows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_and_a_two_hop_reopen_from_closed_with_the_workflow_readable() {
    let p = pair_shaped(1, "resolution = \"Done\"\n", |g| {
        readable(g);
        g.workflows = vec![strict_ops_workflow()];
    })
    .await;
    p.converge().await;
    let c = p.sim.control();
    let s = summary(&c.issue("acme", "SEC-1").unwrap()).to_owned();
    c.transition_issue("acme", "SEC-1", ANN, "Done").unwrap();
    c.reset_counters();
    p.converge().await;
    let k = key(&globex_of(&p, &s));
    let g = c.issue("globex", &k).unwrap();
    assert_eq!(status(&g), "Closed");
    assert_eq!(g["fields"]["resolution"]["name"], "Done");
    assert_eq!(workflow_reads(&p), 1);
    assert_quiet(&p, "closed").await;

    c.transition_issue("acme", "SEC-1", ANN, "To Do").unwrap();
    c.transition_issue("acme", "SEC-1", ANN, "In Progress")
        .unwrap();
    c.edit_issue(
        "acme",
        "SEC-1",
        ANN,
        &json!({ "fields": { "summary": "back at work" } }),
    )
    .unwrap();
    c.reset_counters();
    p.converge().await;
    let g = c.issue("globex", &k).unwrap();
    assert_eq!(
        (status(&g), summary(&g)),
        ("Working", "back at work"),
        "parked {:?}",
        p.link_of("globex", &k).parked
    );
    assert!(g["fields"]["resolution"].is_null());
    assert_eq!(transitions_ok(&p), 2, "Reopen, Start");
    assert_eq!(p.refused_writes("globex"), 0, "nothing sent to Closed");
    assert!(p.link_of("globex", &k).parked.is_empty());
    let a = c.issue("acme", "SEC-1").unwrap();
    assert_eq!((status(&a), summary(&a)), ("In Progress", "back at work"));

    c.comment_issue("acme", "SEC-1", ANN, &json!("working again"))
        .unwrap();
    p.converge().await;
    assert_eq!(
        count_comment(&c.issue("globex", &k).unwrap(), "working again"),
        1
    );
    assert_quiet(&p, "reopened").await;
}

/// Closed (locked) on globex; acme reopens, renames and sets Highest (globex's scheme lacks
/// it): the reopen goes first, the rename lands, the priority alone is parked as not allowed
/// (refused again after the transition), a comment flows, and nothing is re-sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_field_refused_after_the_transition_too_is_parked_alone() {
    let p = pair_shaped(1, "resolution = \"Done\"\n", |g| {
        readable(g);
        g.workflows = vec![strict_ops_workflow()];
        g.projects[0].priorities = Some(vec!["High".into(), "Medium".into(), "Low".into()]);
    })
    .await;
    p.converge().await;
    let c = p.sim.control();
    let s = summary(&c.issue("acme", "SEC-1").unwrap()).to_owned();
    c.transition_issue("acme", "SEC-1", ANN, "Done").unwrap();
    p.converge().await;
    let k = key(&globex_of(&p, &s));
    assert_eq!(status(&c.issue("globex", &k).unwrap()), "Closed");

    c.transition_issue("acme", "SEC-1", ANN, "To Do").unwrap();
    c.edit_issue(
        "acme",
        "SEC-1",
        ANN,
        &json!({ "fields": { "summary": "reopened urgent", "priority": { "name": "Highest" } } }),
    )
    .unwrap();
    c.comment_issue("acme", "SEC-1", ANN, &json!("urgent now"))
        .unwrap();
    c.reset_counters();
    p.converge().await;
    let g = c.issue("globex", &k).unwrap();
    let parked = p.link_of("globex", &k).parked;
    assert_eq!(
        (status(&g), summary(&g)),
        ("Open", "reopened urgent"),
        "parked {parked:?}"
    );
    assert_ne!(g["fields"]["priority"]["name"], "Highest");
    assert_eq!(
        parked.keys().cloned().collect::<Vec<_>>(),
        vec!["priority".to_owned()],
        "{parked:?}"
    );
    assert_eq!(parked["priority"].reason, "value_not_allowed");
    assert_eq!(count_comment(&g, "urgent now"), 1);
    let a = c.issue("acme", "SEC-1").unwrap();
    assert_eq!(
        a["fields"]["priority"]["name"], "Highest",
        "acme keeps its value"
    );
    assert_eq!(status(&a), "To Do");
    assert_quiet(&p, "priority parked").await;
}

// ---------------------------------------------------------------------------------------
// Credential revoked in the middle of a walk.

/// The long and the short way, the workflow readable; globex's token is revoked after `n`
/// requests of the ops run that mirrors Done, for each n, then restored. Afterwards acme is
/// still Done, globex Closed by the short way (two transitions in all, as a revocation is not
/// "may not read workflows"), nothing parked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_revoked_mid_walk_loses_nothing_and_takes_the_short_way() {
    let mut bad = Vec::new();
    for n in 0..9u64 {
        let p = pair_shaped(1, "", |g| {
            readable(g);
            g.workflows = vec![long_and_short(false)];
        })
        .await;
        p.converge().await;
        let c = p.sim.control();
        let s = summary(&c.issue("acme", "SEC-1").unwrap()).to_owned();
        c.transition_issue("acme", "SEC-1", ANN, "Done").unwrap();
        c.world().clock().advance(chrono::Duration::seconds(4));
        p.run(sec()).await;
        c.reset_counters();
        c.revoke_credential_after("globex", "cred-1", n).unwrap();
        c.world().clock().advance(chrono::Duration::seconds(4));
        let r = p.engine.run(&ops()).await;
        let mid = status(&globex_of(&p, &s)).to_owned();
        c.restore_credential("globex", "cred-1").unwrap();
        p.converge().await;
        let a = status(&c.issue("acme", "SEC-1").unwrap()).to_owned();
        let g = status(&globex_of(&p, &s)).to_owned();
        let hops = transitions_ok(&p);
        let parked = parked_of(&p, &s);
        eprintln!(
            "n={n} run_ok={} mid={mid} acme={a} globex={g} hops={hops} parked={parked:?}",
            r.is_ok()
        );
        if a != "Done" || g != "Closed" || hops != 2 || !parked.is_empty() {
            bad.push((n, mid, a, g, hops, parked));
        }
    }
    assert!(
        bad.is_empty(),
        "(n, globex after the revoked run, acme, globex, transitions, parked): {bad:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Comments while the status is parked; converged pairs.

/// Closed cannot be reached (Close only from Working, nothing leads there): the status is
/// parked once; three comments from acme and one from Bob, over several cycles, each arrive
/// once; no transition is asked for or taken, and the definition is not read again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comments_flow_both_ways_while_the_status_is_parked() {
    let p = pair_shaped(1, "", |g| {
        readable(g);
        let mut w = long_and_short(false);
        w.transitions.retain(|t| t.name != "Start");
        w.transitions
            .iter_mut()
            .find(|t| t.name == "Close")
            .unwrap()
            .from = vec!["Working".into()];
        g.workflows = vec![w];
    })
    .await;
    p.converge().await;
    let c = p.sim.control();
    let s = summary(&c.issue("acme", "SEC-1").unwrap()).to_owned();
    c.transition_issue("acme", "SEC-1", ANN, "Done").unwrap();
    p.converge().await;
    let k = key(&globex_of(&p, &s));
    assert_eq!(
        p.link_of("globex", &k)
            .parked
            .get("status")
            .map(|x| x.reason.clone()),
        Some("no_transition".to_owned())
    );
    c.reset_counters();
    for i in 1..=3 {
        c.comment_issue("acme", "SEC-1", ANN, &json!(format!("acme note {i}")))
            .unwrap();
        p.converge().await;
    }
    c.comment_issue("globex", &k, BOB, &json!("bob note"))
        .unwrap();
    p.converge().await;
    p.converge().await;
    let g = c.issue("globex", &k).unwrap();
    let a = c.issue("acme", "SEC-1").unwrap();
    for i in 1..=3 {
        assert_eq!(
            count_comment(&g, &format!("acme note {i}")),
            1,
            "{}",
            comments_text(&g)
        );
        assert_eq!(
            count_comment(&a, &format!("acme note {i}")),
            1,
            "{}",
            comments_text(&a)
        );
    }
    assert_eq!(count_comment(&a, "bob note"), 1, "{}", comments_text(&a));
    assert_eq!(count_comment(&g, "bob note"), 1, "{}", comments_text(&g));
    assert_eq!(status(&g), "Open");
    assert_eq!(status(&a), "Done", "acme keeps Done");
    assert_eq!(
        (
            p.answered("globex", "GET", "/transitions", 200),
            transitions_ok(&p),
            workflow_reads(&p),
            p.refused_writes("globex")
        ),
        (0, 0, 0, 0),
        "(transition reads, transitions, workflow reads, refused writes) while parked"
    );
    // Bob's comment is a change of the target issue: the status may be tried again once,
    // but it must still be parked (not lost) afterwards.
    assert_eq!(
        p.link_of("globex", &k)
            .parked
            .get("status")
            .map(|x| x.reason.clone()),
        Some("no_transition".to_owned())
    );
    assert_quiet(&p, "parked status").await;
}

/// A status six transitions away in a straight workflow (Open -> A -> B -> C -> D -> E ->
/// Closed), the workflow readable: reached, six transitions, nothing parked, then quiet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_six_transitions_away_is_reached() {
    let p = pair_shaped(1, "", |g| {
        readable(g);
        g.workflows = vec![wf(
            &[
                ("Open", Category::New),
                ("A", Category::Indeterminate),
                ("B", Category::Indeterminate),
                ("C", Category::Indeterminate),
                ("D", Category::Indeterminate),
                ("E", Category::Indeterminate),
                ("Closed", Category::Done),
            ],
            vec![
                t("to A", &["Open"], "A", false),
                t("to B", &["A"], "B", false),
                t("to C", &["B"], "C", false),
                t("to D", &["C"], "D", false),
                t("to E", &["D"], "E", false),
                t("Close", &["E"], "Closed", false),
                t("Reopen", &["Closed"], "Open", false),
            ],
            &[],
        )];
    })
    .await;
    p.converge().await;
    let c = p.sim.control();
    let s = summary(&c.issue("acme", "SEC-1").unwrap()).to_owned();
    c.transition_issue("acme", "SEC-1", ANN, "Done").unwrap();
    c.reset_counters();
    // One cycle of each side: a user running `jira-sync sync` once.
    c.world().clock().advance(chrono::Duration::seconds(4));
    p.run(sec()).await;
    c.world().clock().advance(chrono::Duration::seconds(4));
    let r = p.run(ops()).await;
    let once = (status(&globex_of(&p, &s)).to_owned(), r.parked.clone());
    p.converge().await;
    let g = globex_of(&p, &s);
    assert_eq!(
        status(&g),
        "Closed",
        "after one run: {once:?}; now parked {:?}",
        parked_of(&p, &s)
    );
    assert_eq!(transitions_ok(&p), 6);
    assert!(parked_of(&p, &s).is_empty(), "{:?}", parked_of(&p, &s));
    assert_eq!(status(&c.issue("acme", "SEC-1").unwrap()), "Done");
    assert_quiet(&p, "six hops").await;
}

/// Once converged (a multi-hop close, an in-progress move, a comment), repeated runs write
/// nothing, park nothing and read no workflow, even after the caches expire.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_converged_pair_with_readable_workflows_stays_quiet() {
    let p = pair_shaped(3, "resolution = \"Done\"\n", |g| {
        readable(g);
        let mut w = long_and_short(true);
        w.locked = vec!["Closed".into()];
        w.transitions
            .iter_mut()
            .find(|t| t.name == "Close")
            .unwrap()
            .screen = vec!["resolution".into()];
        w.transitions
            .iter_mut()
            .find(|t| t.name == "Close")
            .unwrap()
            .required = vec!["resolution".into()];
        g.workflows = vec![w];
    })
    .await;
    p.converge().await;
    let c = p.sim.control();
    c.transition_issue("acme", "SEC-1", ANN, "Done").unwrap();
    c.transition_issue("acme", "SEC-2", ANN, "In Progress")
        .unwrap();
    c.comment_issue("acme", "SEC-3", ANN, &json!("hello"))
        .unwrap();
    p.converge().await;
    c.reset_counters();
    let before = p.write_requests();
    let mut reports = Vec::new();
    for round in 0..4 {
        if round == 2 {
            c.world().clock().advance(chrono::Duration::hours(2));
        }
        p.converge().await;
        reports.push((p.run(sec()).await, p.run(ops()).await));
    }
    assert_eq!(p.write_requests(), before, "{reports:?}");
    assert_eq!(workflow_reads(&p), 0, "nothing to walk, nothing read");
    for (a, b) in &reports {
        assert!(a.parked.is_empty() && b.parked.is_empty(), "{a:?} {b:?}");
    }
    let statuses: Vec<String> = p
        .issues("globex")
        .iter()
        .map(|i| status(i).to_owned())
        .collect();
    let mut sorted = statuses.clone();
    sorted.sort();
    assert_eq!(sorted, vec!["Closed", "Open", "Working"], "{statuses:?}");
    for i in 1..=3 {
        let a = c.issue("acme", &format!("SEC-{i}")).unwrap();
        let g = globex_of(&p, summary(&a));
        assert!(p.link_of("globex", &key(&g)).parked.is_empty());
    }
}
