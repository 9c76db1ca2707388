//! Adversarial tests of commit 5fbf809 (issue 17): the workflow's definition read through
//! `readWorkflows` (complete map, shortest path, "no path" means give up), its per-type cache,
//! and the order of writes to one linked issue (`plan_writes`). Each test asserts what a user
//! of the mirror pair acme/SEC <-> globex/OPS would expect on both sites.
//!
//! A transition hidden by a workflow *condition* is emulated by changing the simulator's
//! workflow after jira-sync has read (and cached) its definition: Jira's definition then
//! shows a transition that `GET /transitions` does not offer, which is what a condition does.

use jira_sim::model::{Category, TransitionSpec, WorkflowSpec};
use jira_sync_harness::pair::*;
use jira_sync_harness::world::{strict_ops_workflow, transition as t};

const ANN: &str = "ann@acme.example";
const BOB: &str = "bob@globex.example";

fn wf(
    statuses: &[(&str, Category)],
    transitions: Vec<TransitionSpec>,
    locked: &[&str],
) -> WorkflowSpec {
    WorkflowSpec {
        name: "ops".into(),
        statuses: statuses.iter().map(|(n, c)| ((*n).into(), *c)).collect(),
        transitions,
        locked: locked.iter().map(|s| (*s).into()).collect(),
    }
}

/// globex's bot may read workflow definitions (`readWorkflows`).
fn readable(g: &mut SiteSpec) {
    view_workflows(g, GLOBEX_BOT);
}

/// Open -> Triage -> Review -> Verify -> Closed (the long way) and Open -> Working -> Closed
/// (the short way); Reopen from Closed; `back` adds Working -> Open.
fn long_and_short(back: bool) -> WorkflowSpec {
    let mut ts = vec![
        t("Triage", &["Open"], "Triage", false),
        t("Review", &["Triage"], "Review", false),
        t("Verify", &["Review"], "Verify", false),
        t("Close", &["Verify", "Working"], "Closed", false),
        t("Start", &["Open"], "Working", false),
        t("Reopen", &["Closed"], "Open", false),
    ];
    if back {
        ts.push(t("Back", &["Working"], "Open", false));
    }
    wf(
        &[
            ("Open", Category::New),
            ("Triage", Category::Indeterminate),
            ("Review", Category::Indeterminate),
            ("Verify", Category::Indeterminate),
            ("Working", Category::Indeterminate),
            ("Closed", Category::Done),
        ],
        ts,
        &[],
    )
}

fn transitions_ok(p: &Pair) -> u64 {
    p.answered("globex", "POST", "/transitions", 204)
}

fn workflow_reads(p: &Pair) -> u64 {
    p.answered("globex", "POST", "/workflows", 200)
}

fn comments_text(i: &Value) -> String {
    i["fields"]["comment"].to_string()
}

fn count_comment(i: &Value, text: &str) -> usize {
    comments_text(i).matches(text).count()
}

async fn assert_quiet(p: &Pair, what: &str) {
    let before = p.write_requests();
    let refused = p.refused_writes("globex");
    p.converge().await;
    let r = p.run(ops()).await;
    let a = p.run(sec()).await;
    assert_eq!(
        p.write_requests(),
        before,
        "converged pair wrote ({what}); ops {r:?} sec {a:?}"
    );
    assert_eq!(
        p.refused_writes("globex"),
        refused,
        "refused writes re-sent ({what})"
    );
}

/// The globex issue mirroring acme's SEC-1 (by its summary).
fn globex_of(p: &Pair, s: &str) -> Value {
    p.only_one("globex", s)
}

fn parked_of(p: &Pair, s: &str) -> std::collections::BTreeMap<String, (String, String)> {
    p.link_of("globex", &key(&globex_of(p, s)))
        .parked
        .into_iter()
        .map(|(k, v)| (k, (v.reason, v.message)))
        .collect()
}

/// Mirrors the pair, then moves acme's SEC-2 to In Progress so that globex's workflow is read
/// (and cached) by a one-hop walk of SEC-2's mirror.
async fn cache_the_workflow(p: &Pair) {
    p.converge().await;
    let c = p.sim.control();
    c.transition_issue("acme", "SEC-2", ANN, "In Progress")
        .unwrap();
    c.reset_counters();
    p.converge().await;
    let s2 = summary(&c.issue("acme", "SEC-2").unwrap()).to_owned();
    assert_eq!(status(&globex_of(p, &s2)), "Working");
    assert_eq!(workflow_reads(p), 1, "the definition was read");
}

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
