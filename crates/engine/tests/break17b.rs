//! Adversarial tests of commit 5fbf809 (issue 17): the workflow's definition read through
//! `readWorkflows` (complete map, shortest path, "no path" means give up), its per-type cache,
//! and the order of writes to one linked issue (`plan_writes`). Each test asserts what a user
//! of the mirror pair acme/SEC <-> globex/OPS would expect on both sites.
//!
//! A transition hidden by a workflow *condition* is emulated by changing the simulator's
//! workflow after jira-sync has read (and cached) its definition: Jira's definition then
//! shows a transition that `GET /transitions` does not offer, which is what a condition does.

#[path = "support/workflows.rs"]
mod support;
use support::*;

// ---------------------------------------------------------------------------------------
// Global transitions and loops.

/// A global transition ("Escalate", to Triage from anywhere) makes Triage -> Closed the
/// shortest way; then a reopen and a second close go one hop each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_global_transition_is_part_of_the_shortest_path() {
    let p = pair_shaped(1, "", |g| {
        readable(g);
        g.workflows = vec![wf(
            &[
                ("Open", Category::New),
                ("Working", Category::Indeterminate),
                ("Review", Category::Indeterminate),
                ("Triage", Category::Indeterminate),
                ("Closed", Category::Done),
            ],
            vec![
                t("Start", &["Open"], "Working", false),
                t("Submit", &["Working"], "Review", false),
                t("Close", &["Review"], "Closed", false),
                t("Escalate", &[], "Triage", false),
                t("Resolve", &["Triage"], "Closed", false),
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
    p.converge().await;
    let g = globex_of(&p, &s);
    assert_eq!(status(&g), "Closed", "parked: {:?}", parked_of(&p, &s));
    assert_eq!(transitions_ok(&p), 2, "Escalate (global), Resolve");
    assert_eq!(status(&c.issue("acme", "SEC-1").unwrap()), "Done");
    assert_quiet(&p, "after the close").await;

    c.transition_issue("acme", "SEC-1", ANN, "To Do").unwrap();
    c.reset_counters();
    p.converge().await;
    assert_eq!(status(&globex_of(&p, &s)), "Open");
    assert_eq!(transitions_ok(&p), 1, "Reopen");
    assert_eq!(status(&c.issue("acme", "SEC-1").unwrap()), "To Do");
    assert!(parked_of(&p, &s).is_empty());
    assert_quiet(&p, "after the reopen").await;
}

/// A workflow full of loops (Working <-> Blocked, Working <-> Review, Working -> Open): each
/// move of acme's issue is mirrored by the shortest way, no hop repeated, nothing echoed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_with_loops_is_walked_by_the_shortest_way_each_time() {
    let p = pair_shaped(1, "", |g| {
        readable(g);
        g.workflows = vec![wf(
            &[
                ("Open", Category::New),
                ("Working", Category::Indeterminate),
                ("Blocked", Category::Indeterminate),
                ("Review", Category::Indeterminate),
                ("Closed", Category::Done),
            ],
            vec![
                t("Block", &["Working"], "Blocked", false),
                t("Unblock", &["Blocked"], "Working", false),
                t("Start", &["Open", "Blocked"], "Working", false),
                t("Stop", &["Working", "Blocked"], "Open", false),
                t("Rework", &["Review"], "Working", false),
                t("Submit", &["Working"], "Review", false),
                t("Close", &["Review"], "Closed", false),
                t("Reopen", &["Closed"], "Open", false),
            ],
            &[],
        )];
    })
    .await;
    p.converge().await;
    let c = p.sim.control();
    let s = summary(&c.issue("acme", "SEC-1").unwrap()).to_owned();
    let mut steps = Vec::new();
    for (acme_to, globex_want, hops) in [
        ("Done", "Closed", 3),
        ("To Do", "Open", 1),
        ("In Progress", "Working", 1),
        ("Done", "Closed", 2),
    ] {
        c.transition_issue("acme", "SEC-1", ANN, acme_to).unwrap();
        c.reset_counters();
        p.converge().await;
        let got = status(&globex_of(&p, &s)).to_owned();
        steps.push((
            acme_to,
            got.clone(),
            transitions_ok(&p),
            status(&c.issue("acme", "SEC-1").unwrap()).to_owned(),
        ));
        assert_eq!(
            (got.as_str(), transitions_ok(&p)),
            (globex_want, hops),
            "steps so far (acme to, globex, hops, acme): {steps:?}; parked {:?}",
            parked_of(&p, &s)
        );
        assert_eq!(status(&c.issue("acme", "SEC-1").unwrap()), acme_to);
    }
    assert_quiet(&p, "after the loops").await;
}

// ---------------------------------------------------------------------------------------
// Conditions (a transition the definition shows but Jira does not offer now) and a workflow
// changed after it was read.

/// The short way's first hop (Start) is not offered (a condition): the long way is taken
/// (Triage, Review, Verify, Close), nothing parked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_hop_hidden_by_a_condition_takes_the_other_way() {
    let p = pair_shaped(2, "", |g| {
        readable(g);
        g.workflows = vec![long_and_short(false)];
    })
    .await;
    cache_the_workflow(&p).await;
    let c = p.sim.control();
    // The condition: Start is no longer offered from Open.
    let mut w = long_and_short(false);
    w.transitions.retain(|t| t.name != "Start");
    c.create_workflow("globex", w).unwrap();

    let s = summary(&c.issue("acme", "SEC-1").unwrap()).to_owned();
    c.transition_issue("acme", "SEC-1", ANN, "Done").unwrap();
    c.reset_counters();
    p.converge().await;
    let g = globex_of(&p, &s);
    assert_eq!(status(&g), "Closed", "parked: {:?}", parked_of(&p, &s));
    assert_eq!(transitions_ok(&p), 4, "Triage, Review, Verify, Close");
    assert!(parked_of(&p, &s).is_empty());
    assert_eq!(status(&c.issue("acme", "SEC-1").unwrap()), "Done");
    assert_quiet(&p, "after the long way").await;
}

/// Every way out of Open is closed by conditions (Start and Triage not offered): no
/// transition is taken, the status is parked once as `no_transition`, a comment still
/// flows, acme stays Done, and later cycles neither ask for transitions nor write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_hop_hidden_on_the_only_path_is_reported_without_a_transition() {
    let p = pair_shaped(2, "", |g| {
        readable(g);
        g.workflows = vec![long_and_short(false)];
    })
    .await;
    cache_the_workflow(&p).await;
    let c = p.sim.control();
    let mut w = long_and_short(false);
    w.transitions
        .retain(|t| t.name != "Start" && t.name != "Triage");
    c.create_workflow("globex", w).unwrap();

    let s = summary(&c.issue("acme", "SEC-1").unwrap()).to_owned();
    c.transition_issue("acme", "SEC-1", ANN, "Done").unwrap();
    c.comment_issue("acme", "SEC-1", ANN, &json!("closing it"))
        .unwrap();
    c.reset_counters();
    p.converge().await;
    let g = globex_of(&p, &s);
    assert_eq!(status(&g), "Open");
    assert_eq!(transitions_ok(&p), 0, "no hop taken in vain");
    assert_eq!(count_comment(&g, "closing it"), 1);
    let parked = parked_of(&p, &s);
    assert_eq!(
        parked.get("status").map(|x| x.0.as_str()),
        Some("no_transition"),
        "{parked:?}"
    );
    assert_eq!(status(&c.issue("acme", "SEC-1").unwrap()), "Done");
    c.reset_counters();
    assert_quiet(&p, "parked").await;
    assert_eq!(p.answered("globex", "GET", "/transitions", 200), 0);
}

/// The short way's second hop (Close from Working) is not offered (a condition); Working
/// has a way back (Back -> Open). The walk must not go back and forth between Open and
/// Working: the issue ends Closed, by at most Start, Back and the long way (6 transitions),
/// and acme stays Done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_hop_hidden_by_a_condition_does_not_make_the_walk_oscillate() {
    let p = pair_shaped(2, "", |g| {
        readable(g);
        g.workflows = vec![long_and_short(true)];
    })
    .await;
    cache_the_workflow(&p).await;
    let c = p.sim.control();
    // The condition: Close is not offered from Working.
    let mut w = long_and_short(true);
    w.transitions
        .iter_mut()
        .find(|t| t.name == "Close")
        .unwrap()
        .from = vec!["Verify".into()];
    c.create_workflow("globex", w).unwrap();

    let s = summary(&c.issue("acme", "SEC-1").unwrap()).to_owned();
    c.transition_issue("acme", "SEC-1", ANN, "Done").unwrap();
    c.reset_counters();
    // One run of each side first: what one push does.
    c.world().clock().advance(chrono::Duration::seconds(4));
    p.run(sec()).await;
    c.world().clock().advance(chrono::Duration::seconds(4));
    let r = p.run(ops()).await;
    let after_one = (
        status(&globex_of(&p, &s)).to_owned(),
        transitions_ok(&p),
        r.transitioned,
    );
    p.converge().await;
    let g = globex_of(&p, &s);
    let hops = transitions_ok(&p);
    assert!(
        status(&g) == "Closed" && hops <= 6,
        "globex {} after {hops} transitions (after one push: status, transitions, report: {after_one:?}); parked {:?}; acme {}",
        status(&g),
        parked_of(&p, &s),
        status(&c.issue("acme", "SEC-1").unwrap())
    );
    assert_eq!(status(&c.issue("acme", "SEC-1").unwrap()), "Done");
}

/// An admin changes globex's workflow after jira-sync read it: Closed now comes only from a
/// new status Review (Working -> Review -> Closed). A move to Done on acme must still reach
/// Closed on globex, at the latest once the hour-long cache of the definition has expired,
/// and must not strand the issue half way for a day.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_changed_after_it_was_cached_is_followed() {
    let before = || {
        wf(
            &[
                ("Open", Category::New),
                ("Working", Category::Indeterminate),
                ("Closed", Category::Done),
            ],
            vec![
                t("Start", &["Open"], "Working", false),
                t("Close", &["Working"], "Closed", false),
                t("Reopen", &["Closed"], "Open", false),
            ],
            &[],
        )
    };
    let p = pair_shaped(2, "", |g| {
        readable(g);
        g.workflows = vec![before()];
    })
    .await;
    cache_the_workflow(&p).await;
    let c = p.sim.control();
    c.create_workflow(
        "globex",
        wf(
            &[
                ("Open", Category::New),
                ("Working", Category::Indeterminate),
                ("Review", Category::Indeterminate),
                ("Closed", Category::Done),
            ],
            vec![
                t("Start", &["Open"], "Working", false),
                t("Submit", &["Working"], "Review", false),
                t("Close", &["Review"], "Closed", false),
                t("Reopen", &["Closed"], "Open", false),
            ],
            &[],
        ),
    )
    .unwrap();

    let s = summary(&c.issue("acme", "SEC-1").unwrap()).to_owned();
    c.transition_issue("acme", "SEC-1", ANN, "Done").unwrap();
    c.reset_counters();
    p.converge().await;
    let first = (
        status(&globex_of(&p, &s)).to_owned(),
        parked_of(&p, &s),
        transitions_ok(&p),
    );
    // The definition's cache (an hour) expires; later cycles run.
    c.world().clock().advance(chrono::Duration::minutes(61));
    p.converge().await;
    let g = globex_of(&p, &s);
    assert_eq!(
        status(&g),
        "Closed",
        "right after the change: {first:?}; an hour later parked {:?}, POST /workflows read {} times",
        parked_of(&p, &s),
        workflow_reads(&p)
    );
    assert_eq!(status(&c.issue("acme", "SEC-1").unwrap()), "Done");
    assert!(parked_of(&p, &s).is_empty());
}

// ---------------------------------------------------------------------------------------
// Issue types named differently ([connector.issuetypes]).

async fn bug_goes_done_through_defects_workflow(issuetypes: &str) {
    let p = pair_shaped(0, &format!("[connector.issuetypes]\n{issuetypes}\n"), |g| {
        readable(g);
        g.workflows = vec![long_and_short(false)];
        g.projects[0].team_managed = Some(true);
        g.projects[0].issue_types = Some(vec![
            "Task".into(),
            "Defect".into(),
            "Epic".into(),
            "Sub-task".into(),
        ]);
    })
    .await;
    let c = p.sim.control();
    let a = c
        .create_issue(
            "acme",
            ANN,
            &json!({ "fields": { "project": { "key": "SEC" }, "issuetype": { "name": "Bug" }, "summary": "a bug" } }),
        )
        .unwrap();
    p.converge().await;
    assert_eq!(
        globex_of(&p, "a bug")["fields"]["issuetype"]["name"],
        "Defect"
    );
    c.transition_issue("acme", &a, ANN, "Done").unwrap();
    c.reset_counters();
    p.converge().await;
    let g = globex_of(&p, "a bug");
    assert_eq!(status(&g), "Closed", "parked {:?}", parked_of(&p, "a bug"));
    assert_eq!(
        (transitions_ok(&p), workflow_reads(&p)),
        (2, 1),
        "(transitions, workflow reads): Defect's workflow read once and the short way taken"
    );
    let acme = c.issue("acme", &a).unwrap();
    assert_eq!(status(&acme), "Done");
    assert_eq!(acme["fields"]["issuetype"]["name"], "Bug");
    assert!(parked_of(&p, "a bug").is_empty());
    assert_quiet(&p, "after the close").await;
}

/// `Bug = "Defect"`: the Bug's mirror is a Defect, and its status walks Defect's workflow as
/// read from its definition (the short way, one read).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mapped_issue_type_walks_its_own_workflow() {
    bug_goes_done_through_defects_workflow("Bug = \"Defect\"").await;
}

/// The same with the key written as the configuration's own error message suggests
/// (`bug = "Defect"`): type names match without regard to case elsewhere (the create finds
/// Defect), so the workflow must be found too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mapped_issue_type_with_a_lower_case_key_walks_its_own_workflow() {
    bug_goes_done_through_defects_workflow("bug = \"Defect\"").await;
}
