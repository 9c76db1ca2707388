//! Issue 17: writes that get through real workflows and schemes. The globex side is shaped
//! like a company-managed project (a transition that requires a resolution, a status whose
//! issues cannot be edited, a priority scheme without "Highest"), and every refusal is
//! scoped to what Jira refused: that field waits, the rest of the record (other fields,
//! comments) keeps flowing, and nothing is written twice.

use jira_sim::model::{Category, WorkflowSpec};
use jira_sync_harness::pair::*;
use jira_sync_harness::world::{ops_workflow, strict_ops_workflow};

fn strict(globex: &mut SiteSpec) {
    globex.workflows = vec![strict_ops_workflow()];
}

/// Mirrors the pair, then moves SEC-1 to Done on acme; the control API and SEC-1's summary.
async fn mirrored_then_done(p: &Pair) -> (&jira_sim::control::Control, String) {
    p.converge().await;
    let c = p.sim.control();
    let s = summary(&c.issue("acme", "SEC-1").unwrap()).to_owned();
    c.transition_issue("acme", "SEC-1", "ann@acme.example", "Done")
        .unwrap();
    (c, s)
}

/// Transition requests globex answered with `status`.
fn transitions_answered(p: &Pair, status: u16) -> u64 {
    p.answered("globex", "POST", "/transitions", status)
}

/// The globex/ops link of the globex issue with this summary.
fn ops_link(p: &Pair, summary_is: &str) -> jira_sync_store::hub::Link {
    p.link_of("globex", &key(&p.only_one("globex", summary_is)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transition_that_requires_a_resolution_is_parked_alone_and_comments_still_flow() {
    let p = pair_shaped(3, "", strict).await;
    let (c, s) = mirrored_then_done(&p).await;
    c.reset_counters();
    p.converge().await;
    // acme's issue has no resolution and the connector names no default: nothing can fill
    // the required field, so the status is parked with why and no refused request is sent.
    let link = ops_link(&p, &s);
    let parked = link.parked.get("status").expect("status parked");
    assert_eq!(parked.reason, "transition_needs_field");
    assert!(
        parked.message.contains("requires a resolution"),
        "{}",
        parked.message
    );
    assert_eq!(
        transitions_answered(&p, 400),
        0,
        "no refused transition is sent"
    );
    assert_ne!(status(&p.only_one("globex", &s)), "Closed");

    // Later cycles do not send it again, and a comment made meanwhile reaches globex.
    c.comment_issue("acme", "SEC-1", "ann@acme.example", &json!("after done"))
        .unwrap();
    p.converge().await;
    let r = p.run(ops()).await;
    assert!(
        r.parked_now.get("transition_needs_field") == Some(&1),
        "{r:?}"
    );
    let g = p.only_one("globex", &s);
    assert!(
        g["fields"]["comment"].to_string().contains("after done"),
        "the comment arrived: {}",
        g["fields"]["comment"]
    );
    assert_eq!(transitions_answered(&p, 204), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parked_status_is_sent_again_when_the_configuration_changes() {
    let mut p = pair_shaped(1, "", strict).await;
    let (_, s) = mirrored_then_done(&p).await;
    p.converge().await;
    assert_eq!(
        ops_link(&p, &s).parked["status"].reason,
        "transition_needs_field"
    );
    assert_eq!(status(&p.only_one("globex", &s)), "Open");
    // The operator gives the connector a default resolution (a reload): the next run tries
    // again at once, without waiting for the issue or a day, and Close now goes through.
    p.reconfigure(&ops(), |c| c.resolution = Some("Done".into()));
    let c = p.sim.control();
    c.reset_counters();
    p.converge().await;
    let g = p.only_one("globex", &s);
    assert_eq!(status(&g), "Closed");
    assert_eq!(g["fields"]["resolution"]["name"], "Done");
    assert!(ops_link(&p, &s).parked.is_empty());
    assert_eq!(transitions_answered(&p, 400), 0, "nothing refused was sent");
    // acme is Done, as it was, and has no resolution of its own to take back.
    let a = c.issue("acme", "SEC-1").unwrap();
    assert_eq!(status(&a), "Done");
    p.assert_quiet("closed with the default resolution").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_default_resolution_gets_the_issue_closed_with_it() {
    let p = pair_shaped(3, "resolution = \"Done\"\n", strict).await;
    p.converge().await;
    let c = p.sim.control();
    let s = summary(&c.issue("acme", "SEC-2").unwrap()).to_owned();
    c.transition_issue("acme", "SEC-2", "ann@acme.example", "Done")
        .unwrap();
    c.reset_counters();
    p.converge().await;
    let g = p.only_one("globex", &s);
    assert_eq!(status(&g), "Closed");
    assert_eq!(g["fields"]["resolution"]["name"], "Done");
    assert_eq!(
        transitions_answered(&p, 204),
        1,
        "one transition, not one per cycle"
    );
    assert_eq!(transitions_answered(&p, 400), 0);
    // The resolution comes back to acme's record as a field; nothing echoes.
    let before = p.write_requests();
    p.converge().await;
    assert_eq!(
        p.write_requests(),
        before,
        "a converged pair writes nothing"
    );
    assert!(ops_link(&p, &s).parked.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_refused_in_a_closed_status_is_sent_after_the_reopen() {
    let p = pair_shaped(3, "resolution = \"Done\"\n", strict).await;
    p.converge().await;
    let c = p.sim.control();
    let s = summary(&c.issue("acme", "SEC-3").unwrap()).to_owned();
    c.transition_issue("acme", "SEC-3", "ann@acme.example", "Done")
        .unwrap();
    p.converge().await;
    assert_eq!(status(&p.only_one("globex", &s)), "Closed");

    // Reopened on acme and its summary changed: globex's Closed issue refuses the edit, so
    // the reopen goes first and the summary after it.
    c.transition_issue("acme", "SEC-3", "ann@acme.example", "To Do")
        .unwrap();
    c.edit_issue(
        "acme",
        "SEC-3",
        "ann@acme.example",
        &json!({ "fields": { "summary": "reopened and renamed" } }),
    )
    .unwrap();
    p.converge().await;
    let g = p.only_one("globex", "reopened and renamed");
    assert_eq!(status(&g), "Open");
    assert!(ops_link(&p, "reopened and renamed").parked.is_empty());

    // And later comments arrive.
    c.comment_issue(
        "acme",
        "SEC-3",
        "ann@acme.example",
        &json!("after the reopen"),
    )
    .unwrap();
    p.converge().await;
    let g = p.only_one("globex", "reopened and renamed");
    assert!(
        g["fields"]["comment"]
            .to_string()
            .contains("after the reopen")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_priority_the_scheme_lacks_is_parked_alone_and_the_rest_arrives() {
    let p = pair_shaped(2, "", |g| {
        g.projects[0].priorities = Some(vec!["High".into(), "Medium".into(), "Low".into()]);
    })
    .await;
    p.converge().await;
    let c = p.sim.control();
    // A new issue with Highest is created on globex without it; the priority waits alone.
    c.create_issue(
        "acme",
        "ann@acme.example",
        &json!({ "fields": { "project": { "key": "SEC" }, "issuetype": { "name": "Task" },
                              "summary": "urgent one", "priority": { "name": "Highest" } } }),
    )
    .unwrap();
    p.converge().await;
    let g = p.only_one("globex", "urgent one");
    assert_ne!(g["fields"]["priority"]["name"], "Highest");
    let link = ops_link(&p, "urgent one");
    let parked = link.parked.get("priority").expect("priority parked");
    assert_eq!(parked.reason, "value_not_allowed");

    // An existing issue: summary and priority change together; the summary arrives.
    let s = summary(&c.issue("acme", "SEC-1").unwrap()).to_owned();
    c.edit_issue(
        "acme",
        "SEC-1",
        "ann@acme.example",
        &json!({ "fields": { "summary": format!("{s} (renamed)"), "priority": { "name": "Highest" } } }),
    )
    .unwrap();
    p.converge().await;
    let renamed = format!("{s} (renamed)");
    let g = p.only_one("globex", &renamed);
    assert_ne!(g["fields"]["priority"]["name"], "Highest");
    assert_eq!(
        ops_link(&p, &renamed)
            .parked
            .get("priority")
            .map(|x| x.reason.as_str()),
        Some("value_not_allowed")
    );
    c.comment_issue("acme", "SEC-1", "ann@acme.example", &json!("still flowing"))
        .unwrap();
    p.converge().await;
    assert!(
        p.only_one("globex", &renamed)["fields"]["comment"]
            .to_string()
            .contains("still flowing")
    );
    // Parked, not retried every cycle: converged cycles send no write.
    let before = p.write_requests();
    let r = p.run(ops()).await;
    assert_eq!(p.write_requests(), before);
    assert_eq!(r.parked_now.get("value_not_allowed"), Some(&2), "{r:?}");
    // Only the priority waits; acme keeps its Highest, its new summary and its comment.
    assert_eq!(
        ops_link(&p, &renamed).parked.keys().collect::<Vec<_>>(),
        ["priority"]
    );
    let a = c.issue("acme", "SEC-1").unwrap();
    assert_eq!(a["fields"]["priority"]["name"], "Highest");
    assert_eq!(summary(&a), renamed);
    assert_eq!(
        a["fields"]["comment"]
            .to_string()
            .matches("still flowing")
            .count(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sub_task_and_a_storys_epic_are_mirrored_under_their_parents_mirrors() {
    let p = pair(0).await;
    let c = p.sim.control();
    let create = |fields: Value| {
        c.create_issue("acme", "ann@acme.example", &json!({ "fields": fields }))
            .unwrap()
    };
    let epic = create(
        json!({ "project": { "key": "SEC" }, "issuetype": { "name": "Epic" }, "summary": "the epic" }),
    );
    let story = create(
        json!({ "project": { "key": "SEC" }, "issuetype": { "name": "Story" },
                               "summary": "the story", "parent": { "key": epic } }),
    );
    create(
        json!({ "project": { "key": "SEC" }, "issuetype": { "name": "Sub-task" },
                   "summary": "the sub-task", "parent": { "key": story } }),
    );
    p.converge().await;

    let g_epic = p.only_one("globex", "the epic");
    let g_story = p.only_one("globex", "the story");
    let g_sub = p.only_one("globex", "the sub-task");
    assert_eq!(g_sub["fields"]["issuetype"]["name"], "Sub-task");
    assert_eq!(g_sub["fields"]["parent"]["key"], g_story["key"]);
    assert_eq!(g_story["fields"]["parent"]["key"], g_epic["key"]);
    assert_eq!(p.issues("globex").len(), 3, "nothing twice");
    // Converged: the parents read back as their records, so nothing is written again.
    let before = p.write_requests();
    p.converge().await;
    assert_eq!(p.write_requests(), before);

    // A story moved under another epic on acme follows on globex.
    let epic2 = create(
        json!({ "project": { "key": "SEC" }, "issuetype": { "name": "Epic" }, "summary": "epic two" }),
    );
    c.edit_issue(
        "acme",
        &story,
        "ann@acme.example",
        &json!({ "fields": { "parent": { "key": epic2 } } }),
    )
    .unwrap();
    p.converge().await;
    let g_epic2 = p.only_one("globex", "epic two");
    assert_eq!(
        p.only_one("globex", "the story")["fields"]["parent"]["key"],
        g_epic2["key"]
    );
    // acme's hierarchy is as its people made it, and nothing waits on either side.
    assert_eq!(
        p.only_one("acme", "the story")["fields"]["parent"]["key"],
        epic2
    );
    for site in ["acme", "globex"] {
        for i in p.issues(site) {
            assert!(
                p.link_of(site, &key(&i)).parked.is_empty(),
                "{site} {}",
                key(&i)
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_types_are_sent_by_id_of_the_project_mapped_by_name_and_an_unmapped_one_is_reported()
{
    // globex's OPS is team-managed: its types are its own (a create naming "Task" is refused
    // there), and it calls bugs "Defect".
    let p = pair_shaped(0, "[connector.issuetypes]\nBug = \"Defect\"\n", |g| {
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
    for (ty, s) in [("Task", "a task"), ("Bug", "a bug"), ("Story", "a story")] {
        c.create_issue(
            "acme",
            "ann@acme.example",
            &json!({ "fields": { "project": { "key": "SEC" }, "issuetype": { "name": ty }, "summary": s } }),
        )
        .unwrap();
    }
    p.converge().await;
    let task = p.only_one("globex", "a task");
    assert_eq!(task["fields"]["issuetype"]["name"], "Task");
    assert_eq!(
        task["fields"]["issuetype"]["scope"]["type"], "PROJECT",
        "the project's own Task, by id"
    );
    assert_eq!(
        p.only_one("globex", "a bug")["fields"]["issuetype"]["name"],
        "Defect"
    );
    assert_eq!(
        p.issues("globex").len(),
        2,
        "the story has no type on globex"
    );
    let r = p.run(ops()).await;
    assert_eq!(r.parked_now.get("type_unmapped"), Some(&1), "{r:?}");
    // Reported once, not attempted every cycle; the mapped types read back as the hub's.
    let before = p.write_requests();
    p.converge().await;
    assert_eq!(p.write_requests(), before);
    let record_types: Vec<String> = (1..=10)
        .filter_map(|rid| p.hub.record(rid).unwrap())
        .filter_map(|r| r.fields.get("issuetype")?.as_str().map(str::to_owned))
        .collect();
    assert!(record_types.contains(&"Bug".to_owned()), "{record_types:?}");
    assert!(
        !record_types.contains(&"Defect".to_owned()),
        "{record_types:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_two_transitions_away_is_reached_by_walking_the_workflow() {
    // globex's Close leaves only from Working: Open -> Working -> Closed.
    let p = pair_shaped(2, "", |g| {
        let mut w = ops_workflow();
        let close = w
            .transitions
            .iter_mut()
            .find(|t| t.name == "Close")
            .unwrap();
        close.from = vec!["Working".into()];
        g.workflows = vec![w];
    })
    .await;
    p.converge().await;
    let c = p.sim.control();
    let s = summary(&c.issue("acme", "SEC-1").unwrap()).to_owned();
    assert_eq!(status(&p.only_one("globex", &s)), "Open");
    c.transition_issue("acme", "SEC-1", "ann@acme.example", "Done")
        .unwrap();
    c.reset_counters();
    p.converge().await;
    assert_eq!(status(&p.only_one("globex", &s)), "Closed");
    assert_eq!(transitions_answered(&p, 204), 2, "two hops, each once");
    assert!(ops_link(&p, &s).parked.is_empty());
    // The hop on the way never reached acme: it is Done there, and stays so.
    assert_eq!(status(&c.issue("acme", "SEC-1").unwrap()), "Done");
    let before = p.write_requests();
    p.converge().await;
    assert_eq!(p.write_requests(), before, "converged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_create_screen_is_read_first_so_what_it_lacks_is_never_sent() {
    // OPS's screens leave out the severity field; its scheme has no Highest.
    let p = pair_shaped(0, "", |g| {
        g.projects[0].hidden_fields = Some(vec!["customfield_10077".into()]);
        g.projects[0].priorities = Some(vec!["High".into(), "Medium".into(), "Low".into()]);
    })
    .await;
    let c = p.sim.control();
    c.reset_counters();
    c.create_issue(
        "acme",
        "ann@acme.example",
        &json!({ "fields": { "project": { "key": "SEC" }, "issuetype": { "name": "Task" },
                 "summary": "screened", "priority": { "name": "Highest" },
                 "customfield_10042": { "value": "High" } } }),
    )
    .unwrap();
    p.converge().await;
    let g = p.only_one("globex", "screened");
    assert!(g["fields"]["customfield_10077"].is_null(), "{g}");
    let refused_creates: u64 = c
        .counters(Some("globex"))
        .unwrap()
        .iter()
        .filter(|x| {
            x.route.starts_with("/rest/api/3/issue") && x.method == "POST" && x.status == 400
        })
        .map(|x| x.count)
        .sum();
    assert_eq!(refused_creates, 0, "nothing the screen lacks was sent");
    let link = ops_link(&p, "screened");
    assert_eq!(
        link.parked.get("severity").map(|x| x.reason.as_str()),
        Some("field_not_on_screen")
    );
    assert_eq!(
        link.parked.get("priority").map(|x| x.reason.as_str()),
        Some("value_not_allowed")
    );
}

/// globex's `ops` workflow with a long way and a short way to Closed: Open -> Triage ->
/// Review -> Verify -> Closed (listed first, all "in progress" on the way) and Open ->
/// Working -> Closed. A walk that sees one hop at a time cannot tell them apart.
fn long_and_short_way(g: &mut SiteSpec, view_workflows: bool) {
    use jira_sync_harness::world::transition;
    g.workflows = vec![WorkflowSpec {
        name: "ops".into(),
        statuses: vec![
            ("Open".into(), Category::New),
            ("Triage".into(), Category::Indeterminate),
            ("Review".into(), Category::Indeterminate),
            ("Verify".into(), Category::Indeterminate),
            ("Working".into(), Category::Indeterminate),
            ("Closed".into(), Category::Done),
        ],
        transitions: vec![
            transition("Triage", &["Open"], "Triage", false),
            transition("Review", &["Triage"], "Review", false),
            transition("Verify", &["Review"], "Verify", false),
            transition("Close", &["Verify", "Working"], "Closed", false),
            transition("Start", &["Open"], "Working", false),
            transition("Reopen", &["Closed"], "Open", false),
        ],
        locked: vec![],
    }];
    if view_workflows {
        jira_sync_harness::pair::view_workflows(g, GLOBEX_BOT);
    }
}

/// Transitions globex took to mirror SEC-1's move to Done, and the status it ended in.
async fn hops_to_done(view_workflows: bool) -> (u64, String, u64) {
    let p = pair_shaped(1, "", |g| long_and_short_way(g, view_workflows)).await;
    let (c, s) = mirrored_then_done(&p).await;
    c.reset_counters();
    p.converge().await;
    let workflows_read = p.answered("globex", "POST", "/workflows", 200);
    (
        transitions_answered(&p, 204),
        status(&p.only_one("globex", &s)).to_owned(),
        workflows_read,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_workflow_readable_a_distant_status_is_reached_by_the_shortest_path() {
    // The account may view workflows: the definition (`readWorkflows`) gives the whole
    // graph, so the issue goes Open -> Working -> Closed.
    let (hops, end, read) = hops_to_done(true).await;
    assert_eq!(end, "Closed");
    assert_eq!(read, 1, "the workflow is read once and kept");
    assert_eq!(hops, 2, "the shortest path: Start, Close");
    // An account that may not (Jira answers 401) walks one hop at a time, and still gets
    // there, the long way round.
    let (hops, end, read) = hops_to_done(false).await;
    assert_eq!((end.as_str(), read), ("Closed", 0));
    assert_eq!(hops, 4, "Triage, Review, Verify, Close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_the_workflow_cannot_reach_is_reported_without_a_transition_taken() {
    // Closed can only be reached from Working, and nothing leads to Working.
    let p = pair_shaped(1, "", |g| {
        long_and_short_way(g, true);
        let w = &mut g.workflows[0];
        w.transitions.retain(|t| t.name != "Start");
        w.transitions
            .iter_mut()
            .find(|t| t.name == "Close")
            .unwrap()
            .from = vec!["Working".into()];
    })
    .await;
    let (c, s) = mirrored_then_done(&p).await;
    c.comment_issue(
        "acme",
        "SEC-1",
        "ann@acme.example",
        &json!("after the move"),
    )
    .unwrap();
    c.reset_counters();
    p.converge().await;
    assert_eq!(transitions_answered(&p, 204), 0, "no hop taken in vain");
    let globex = p.only_one("globex", &s);
    assert_eq!(status(&globex), "Open");
    let link = ops_link(&p, &s);
    assert_eq!(link.parked["status"].reason, "no_transition");
    assert!(
        link.parked["status"].message.contains("`Closed`"),
        "{}",
        link.parked["status"].message
    );
    // The comment got through all the same, and the next cycle asks nothing again.
    assert!(
        globex["fields"]["comment"]
            .to_string()
            .contains("after the move"),
        "{}",
        globex["fields"]["comment"]
    );
    c.reset_counters();
    let before = p.write_requests();
    let r = p.run(ops()).await;
    assert_eq!(r.parked_now.get("no_transition"), Some(&1), "{r:?}");
    assert_eq!(p.answered("globex", "GET", "/transitions", 200), 0);
    assert_eq!(p.write_requests(), before);
}
