//! Helpers of the workflow tests (break17b.rs, break17w.rs): workflows, counters, quiet checks.
#![allow(dead_code, unused_imports)] // Each test file uses its own share of these.

pub use jira_sim::model::{Category, TransitionSpec, WorkflowSpec};
pub use jira_sync_harness::pair::*;
pub use jira_sync_harness::world::{strict_ops_workflow, transition as t};

pub const ANN: &str = "ann@acme.example";
pub const BOB: &str = "bob@globex.example";

pub fn wf(
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
pub fn readable(g: &mut SiteSpec) {
    view_workflows(g, GLOBEX_BOT);
}

/// Open -> Triage -> Review -> Verify -> Closed (the long way) and Open -> Working -> Closed
/// (the short way); Reopen from Closed; `back` adds Working -> Open.
pub fn long_and_short(back: bool) -> WorkflowSpec {
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

pub fn transitions_ok(p: &Pair) -> u64 {
    p.answered("globex", "POST", "/transitions", 204)
}

pub fn workflow_reads(p: &Pair) -> u64 {
    p.answered("globex", "POST", "/workflows", 200)
}

pub fn comments_text(i: &Value) -> String {
    i["fields"]["comment"].to_string()
}

pub fn count_comment(i: &Value, text: &str) -> usize {
    comments_text(i).matches(text).count()
}

pub async fn assert_quiet(p: &Pair, what: &str) {
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
pub fn globex_of(p: &Pair, s: &str) -> Value {
    p.only_one("globex", s)
}

pub fn parked_of(p: &Pair, s: &str) -> std::collections::BTreeMap<String, (String, String)> {
    p.link_of("globex", &key(&globex_of(p, s)))
        .parked
        .into_iter()
        .map(|(k, v)| (k, (v.reason, v.message)))
        .collect()
}

/// Mirrors the pair, then moves acme's SEC-2 to In Progress so that globex's workflow is read
/// (and cached) by a one-hop walk of SEC-2's mirror.
pub async fn cache_the_workflow(p: &Pair) {
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
