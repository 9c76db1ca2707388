//! The planner's decisions, each from what Jira showed.

use super::*;
use jira_sync_client::{FieldMeta, StatusRef};

fn transition(id: &str, to: &str, fields: &[(&str, bool)]) -> Transition {
    Transition {
        id: id.into(),
        name: format!("to {to}"),
        to: StatusRef {
            id: format!("s-{to}"),
            name: to.into(),
            category: None,
        },
        fields: fields
            .iter()
            .map(|(f, required)| {
                (
                    (*f).to_owned(),
                    FieldMeta {
                        required: *required,
                        name: Some("Resolution".into()),
                        allowed_values: vec![
                            json!({ "id": "10000", "name": "Done" }),
                            json!({ "id": "10001", "name": "Won't Do" }),
                        ],
                    },
                )
            })
            .collect(),
    }
}

#[test]
fn a_required_resolution_comes_from_the_record_then_the_default() {
    let ts = [
        transition("11", "In Progress", &[]),
        transition("31", "Done", &[("resolution", true)]),
    ];
    assert_eq!(
        plan_transition("done", &ts, Some("won't do"), Some("Done")),
        TransitionPlan::Take {
            id: "31".into(),
            fields: json!({ "resolution": { "id": "10001" } }),
            resolution: Some("Won't Do".into()),
        }
    );
    // The record's resolution is not offered here: the connector's default is.
    assert_eq!(
        plan_transition("Done", &ts, Some("Fixed"), Some("Done")),
        TransitionPlan::Take {
            id: "31".into(),
            fields: json!({ "resolution": { "id": "10000" } }),
            resolution: Some("Done".into()),
        }
    );
    // Neither: the transition is parked with why.
    let TransitionPlan::NeedsField { field, message } = plan_transition("Done", &ts, None, None)
    else {
        panic!("a required resolution with nothing to give");
    };
    assert_eq!(field, "resolution");
    assert!(message.contains("no `resolution` default"), "{message}");
}

#[test]
fn a_resolution_goes_only_where_the_screen_has_it() {
    let ts = [
        transition("21", "Closed", &[]),
        transition("41", "Resolved", &[("resolution", false)]),
    ];
    // No screen: nothing but the transition, whatever the record's resolution.
    assert_eq!(
        plan_transition("Closed", &ts, Some("Done"), None),
        TransitionPlan::Take {
            id: "21".into(),
            fields: json!({}),
            resolution: None,
        }
    );
    // An optional resolution on the screen is sent when there is one.
    assert_eq!(
        plan_transition("Resolved", &ts, Some("Done"), None),
        TransitionPlan::Take {
            id: "41".into(),
            fields: json!({ "resolution": { "id": "10000" } }),
            resolution: Some("Done".into()),
        }
    );
    assert_eq!(
        plan_transition("Resolved", &ts, None, None),
        TransitionPlan::Take {
            id: "41".into(),
            fields: json!({}),
            resolution: None,
        }
    );
}

#[test]
fn an_unreachable_status_says_what_is_offered() {
    let ts = [transition("11", "In Progress", &[])];
    let TransitionPlan::NoTransition { message } = plan_transition("Done", &ts, None, None) else {
        panic!("Done is not reachable");
    };
    assert!(
        message.contains("`Done`") && message.contains("In Progress"),
        "{message}"
    );
}

#[test]
fn refusals_are_read_per_field_and_by_kind() {
    let sent = BTreeMap::from([
        ("priority".to_owned(), "priority".to_owned()),
        ("summary".to_owned(), "summary".to_owned()),
        ("customfield_10042".to_owned(), "severity".to_owned()),
    ]);
    let errors = vec![
        (
            "priority".to_owned(),
            "The priority selected is invalid.".to_owned(),
        ),
        (
            "customfield_10042".to_owned(),
            "Field 'customfield_10042' cannot be set. It is not on the appropriate screen, or unknown.".to_owned(),
        ),
        ("parent".to_owned(), "Parent is required.".to_owned()),
    ];
    let (refused, other) = refused_fields(&sent, &errors);
    assert_eq!(
        refused
            .iter()
            .map(|r| (r.field.as_str(), r.reason))
            .collect::<Vec<_>>(),
        vec![
            ("priority", Refusal::ValueNotAllowed),
            ("severity", Refusal::FieldNotOnScreen),
        ]
    );
    assert_eq!(other, vec![("parent".into(), "Parent is required.".into())]);
    assert_eq!(
        Refusal::of_message("Resolution is required."),
        Refusal::TransitionNeedsField
    );
    assert_eq!(Refusal::of_message("Something broke."), Refusal::Refused);
    assert_eq!(
        Refusal::of_message("User 'Cara' cannot be assigned issues."),
        Refusal::PersonUnassignable
    );
}

#[test]
fn issue_types_resolve_per_project_by_the_map_then_the_name() {
    let types = vec![
        ("20001".to_owned(), "Task".to_owned()),
        ("20002".to_owned(), "Defect".to_owned()),
    ];
    let map = BTreeMap::from([("bug".to_owned(), "Defect".to_owned())]);
    assert_eq!(
        issue_type_id("Bug", &map, &types, "OPS"),
        Ok("20002".into())
    );
    assert_eq!(
        issue_type_id("task", &map, &types, "OPS"),
        Ok("20001".into())
    );
    let e = issue_type_id("Story", &map, &types, "OPS").unwrap_err();
    assert!(e.contains("`Story`") && e.contains("Task, Defect"), "{e}");
}

fn to(id: &str, name: &str, category: &str) -> Transition {
    Transition {
        id: id.into(),
        name: format!("to {name}"),
        to: StatusRef {
            id: format!("s-{name}"),
            name: name.into(),
            category: Some(jira_sync_client::StatusCategory {
                key: category.into(),
            }),
        },
        fields: BTreeMap::new(),
    }
}

#[test]
fn a_status_two_hops_away_is_reached_by_the_known_path_or_toward_its_category() {
    let mut known = WorkflowMap::default();
    let from_open = [
        to("11", "Working", "indeterminate"),
        to("12", "Parked", "new"),
    ];
    known.learn("Open", &from_open);
    // Nothing known beyond Open, but Closed's category is: step toward done.
    known.ranks.insert("closed".into(), 2);
    known.ranks.insert("open".into(), 0);
    assert_eq!(
        next_hop("Open", "Closed", &from_open, &known, &[]),
        Some("Working".into())
    );
    // Once Working -> Closed has been seen, the path is known.
    known.learn("Working", &[to("21", "Closed", "done")]);
    assert_eq!(
        next_hop("Open", "Closed", &from_open, &known, &[]),
        Some("Working".into())
    );
    // Going back to To Do from Closed: Reopen leads to Open, then Parked.
    let from_closed = [to("31", "Open", "new")];
    known.learn("Closed", &from_closed);
    assert_eq!(
        next_hop("Closed", "Parked", &from_closed, &known, &[]),
        Some("Open".into())
    );
    // Directly available wins; nothing available or known: none.
    assert_eq!(
        next_hop(
            "Working",
            "Closed",
            &[to("21", "Closed", "done")],
            &known,
            &[]
        ),
        Some("Closed".into())
    );
    assert_eq!(next_hop("Open", "Nowhere", &from_open, &known, &[]), None);
    // A visited status is not stepped into again by the category rule; a status of the
    // same category is taken when it is all there is.
    let unknown = WorkflowMap {
        ranks: BTreeMap::from([("open".into(), 0), ("closed".into(), 2)]),
        ..Default::default()
    };
    assert_eq!(
        next_hop("Open", "Closed", &from_open, &unknown, &["Working".into()]),
        Some("Parked".into())
    );
    assert_eq!(
        next_hop(
            "Open",
            "Closed",
            &from_open,
            &unknown,
            &["Working".into(), "Parked".into()]
        ),
        None
    );
    // A dead end (Blocked leads only back to Open): back to Open, which is known to lead
    // to Working, not tried yet.
    let mut dead = WorkflowMap::default();
    dead.learn(
        "Open",
        &[
            to("12", "Blocked", "indeterminate"),
            to("11", "Working", "indeterminate"),
        ],
    );
    let from_blocked = [to("13", "Open", "new")];
    dead.learn("Blocked", &from_blocked);
    assert_eq!(
        next_hop(
            "Blocked",
            "Closed",
            &from_blocked,
            &dead,
            &["Open".into(), "Blocked".into()]
        ),
        Some("Open".into())
    );
    // Progress first: a side status in the current category is not taken while a step
    // toward the target exists; a same-category step is taken when it is all there is.
    let side = [
        to("12", "Blocked", "new"),
        to("11", "Working", "indeterminate"),
    ];
    assert_eq!(
        next_hop("Open", "Closed", &side, &unknown, &[]),
        Some("Working".into())
    );
    let mut review = WorkflowMap {
        ranks: BTreeMap::from([("working".into(), 1), ("closed".into(), 2)]),
        ..Default::default()
    };
    let from_working = [to("41", "Review", "indeterminate")];
    assert_eq!(
        next_hop("Working", "Closed", &from_working, &review, &[]),
        Some("Review".into())
    );
    review.learn("Review", &[to("51", "Closed", "done")]);
}

#[test]
fn fingerprints_are_stable_across_builds() {
    // FNV-1a test vectors: the same bytes hash the same in every build and version.
    assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
}

/// An edit screen with these fields; `priority` offers High and Low.
fn screen(fields: &[&str]) -> BTreeMap<String, FieldMeta> {
    fields
        .iter()
        .map(|f| {
            let allowed = if *f == "priority" {
                vec![
                    json!({ "id": "2", "name": "High" }),
                    json!({ "id": "4", "name": "Low" }),
                ]
            } else {
                vec![]
            };
            (
                (*f).to_owned(),
                FieldMeta {
                    allowed_values: allowed,
                    ..FieldMeta::default()
                },
            )
        })
        .collect()
}

/// Plans the writes of an edit of summary (and priority `priority`, if given) with one new
/// comment and an assignee change.
fn plan_of(
    priority: Option<&str>,
    status: Option<&str>,
    screen: Option<&BTreeMap<String, FieldMeta>>,
) -> WritePlan {
    let mut edit = Map::new();
    edit.insert("summary".into(), json!("New summary"));
    if let Some(p) = priority {
        edit.insert("priority".into(), json!({ "name": p }));
    }
    let fields_of = BTreeMap::from([
        ("summary".to_owned(), "summary".to_owned()),
        ("priority".to_owned(), "priority".to_owned()),
    ]);
    plan_writes(&WriteInput {
        edit: &edit,
        fields_of: &fields_of,
        assign: true,
        status,
        screen,
        project: "OPS",
        comments: &["c1".to_owned()],
    })
}

fn fields(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

#[test]
fn in_an_editable_status_the_edit_goes_first_then_the_transition_then_comments() {
    let s = screen(&["summary", "priority"]);
    let plan = plan_of(Some("High"), Some("Done"), Some(&s));
    assert_eq!(
        plan.writes,
        [
            Write::Assign,
            Write::Edit(fields(&["priority", "summary"])),
            Write::Transition("Done".into()),
            // A slot for what Jira itself refuses as off this status's screen.
            Write::EditAfterTransition(vec![]),
            Write::Comment("c1".into()),
        ]
    );
    assert!(plan.refused.is_empty() && plan.deferred.is_empty());
}

#[test]
fn a_status_that_cannot_be_edited_is_left_first_and_the_edit_follows_only_if_it_was() {
    // Closed: `jira.issue.editable = false`, so the edit screen offers nothing.
    let none = BTreeMap::new();
    let plan = plan_of(Some("High"), Some("Reopened"), Some(&none));
    assert_eq!(
        plan.writes,
        [
            Write::Transition("Reopened".into()),
            Write::Assign,
            Write::EditAfterTransition(fields(&["priority", "summary"])),
            Write::Comment("c1".into()),
        ]
    );
    assert!(plan.refused.is_empty());
    let deferred: Vec<_> = plan
        .deferred
        .iter()
        .map(|r| (r.field.as_str(), r.reason))
        .collect();
    assert_eq!(
        deferred,
        [
            ("priority", Refusal::FieldNotOnScreen),
            ("summary", Refusal::FieldNotOnScreen)
        ]
    );
    // With no transition to make, nothing is sent there; comments still go.
    let plan = plan_of(None, None, Some(&none));
    assert_eq!(plan.writes, [Write::Assign, Write::Comment("c1".into())]);
    assert_eq!(plan.refused.len(), 1);
    assert_eq!(plan.refused[0].field, "summary");
    assert_eq!(plan.refused[0].reason, Refusal::FieldNotOnScreen);
}

#[test]
fn a_value_the_screen_does_not_offer_is_refused_and_the_rest_is_sent() {
    let s = screen(&["summary", "priority"]);
    // A transition would not make Highest a value of the scheme: refused either way.
    for status in [None, Some("Done")] {
        let plan = plan_of(Some("Highest"), status, Some(&s));
        assert_eq!(
            plan.writes[1],
            Write::Edit(fields(&["summary"])),
            "{status:?}"
        );
        assert_eq!(plan.refused.len(), 1);
        assert_eq!(plan.refused[0].field, "priority");
        assert_eq!(plan.refused[0].reason, Refusal::ValueNotAllowed);
        assert!(
            plan.refused[0].message.contains("Highest"),
            "{:?}",
            plan.refused
        );
        assert!(plan.deferred.is_empty());
    }
}

#[test]
fn a_field_off_the_screen_waits_for_the_transition_or_is_refused_without_one() {
    let s = screen(&["summary"]);
    let plan = plan_of(Some("High"), Some("In Review"), Some(&s));
    assert_eq!(
        plan.writes,
        [
            Write::Assign,
            Write::Edit(fields(&["summary"])),
            Write::Transition("In Review".into()),
            Write::EditAfterTransition(fields(&["priority"])),
            Write::Comment("c1".into()),
        ]
    );
    assert!(plan.refused.is_empty());
    assert_eq!(plan.deferred[0].field, "priority");
    let plan = plan_of(Some("High"), None, Some(&s));
    assert_eq!(
        plan.writes,
        [
            Write::Assign,
            Write::Edit(fields(&["summary"])),
            Write::Comment("c1".into())
        ]
    );
    assert_eq!(plan.refused[0].field, "priority");
    assert_eq!(plan.refused[0].reason, Refusal::FieldNotOnScreen);
}

#[test]
fn with_no_screen_known_everything_is_sent_and_jira_decides() {
    let plan = plan_of(Some("Highest"), None, None);
    assert_eq!(
        plan.writes,
        [
            Write::Assign,
            Write::Edit(fields(&["priority", "summary"])),
            Write::Comment("c1".into())
        ]
    );
    assert!(plan.refused.is_empty());
}

/// A definition: Open -> Triage -> Review -> Closed, Open -> Working -> Closed, Working ->
/// Open, and a global Escalate to Triage.
fn definition() -> WorkflowMap {
    use jira_sync_client::{StatusCategory, WorkflowEdge, WorkflowGraph};
    let status = |name: &str, key: &str| StatusRef {
        id: name.to_lowercase(),
        name: name.into(),
        category: Some(StatusCategory { key: key.into() }),
    };
    let edge = |name: &str, from: &[&str], to: &str| WorkflowEdge {
        id: name.to_lowercase(),
        name: name.into(),
        from: from.iter().map(|s| (*s).to_owned()).collect(),
        to: to.into(),
    };
    WorkflowMap::from_graph(&WorkflowGraph {
        statuses: vec![
            status("Open", "new"),
            status("Triage", "indeterminate"),
            status("Review", "indeterminate"),
            status("Working", "indeterminate"),
            status("Closed", "done"),
        ],
        transitions: vec![
            edge("Triage", &["Open"], "Triage"),
            edge("Review", &["Triage"], "Review"),
            edge("Close", &["Review", "Working"], "Closed"),
            edge("Start", &["Open"], "Working"),
            edge("Back", &["Working"], "Open"),
            edge("Escalate", &[], "Triage"),
        ],
        locked: vec![],
    })
}

#[test]
fn the_definition_gives_the_shortest_path_and_what_jira_offers_corrects_it() {
    let mut known = definition();
    assert!(known.complete);
    // A global transition is an edge from every other status.
    assert!(known.edges["closed"].contains("triage"));
    let from_open = [
        to("1", "Triage", "indeterminate"),
        to("2", "Working", "indeterminate"),
    ];
    assert!(known.learn("Open", &from_open));
    assert_eq!(
        next_hop("Open", "Closed", &from_open, &known, &["Open".into()]),
        Some("Working".into()),
        "two hops by Working, not three by Triage"
    );
    // At Working a condition hides Close: only Back is offered. The walk goes back and
    // takes the other way, and never the same transition twice.
    let from_working = [to("3", "Open", "new")];
    assert!(known.learn("Working", &from_working));
    let walked = ["Open".to_owned(), "Working".to_owned()];
    assert_eq!(
        next_hop("Working", "Closed", &from_working, &known, &walked),
        Some("Open".into())
    );
    let walked = ["Open".to_owned(), "Working".to_owned(), "Open".to_owned()];
    assert_eq!(
        next_hop("Open", "Closed", &from_open, &known, &walked),
        Some("Triage".into())
    );
    // With no way there, the definition has the last word: no guess by category.
    let nowhere = [to("4", "Open", "new")];
    let mut stuck = definition();
    stuck.learn("Working", &nowhere);
    stuck.edges.get_mut("open").unwrap().remove("triage");
    assert_eq!(
        next_hop(
            "Working",
            "Closed",
            &nowhere,
            &stuck,
            &["Working".into(), "Open".into(), "Working".into()]
        ),
        None
    );
    // A status the definition lacks means the workflow changed since it was read.
    assert!(!known.learn("Open", &[to("5", "Blocked", "indeterminate")]));
}
