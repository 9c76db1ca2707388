//! Decisions of the push as pure functions of their inputs: how Jira's refusal of a write
//! reads (which fields, why), and which transition reaches a status with which screen
//! fields. No I/O: the push feeds them what it read and acts on what they return.
//!
//! Jira's behaviour they follow is in `../shared/reference/jira-cloud-api.md` section 11:
//! a write with a field it cannot take fails whole with 400 and an `errors` map keyed by
//! field id (11.3); transitions list their screen's fields with
//! `expand=transitions.fields`, and a validator may require one, typically `resolution`
//! (11.1).

use std::collections::BTreeMap;

use jira_sync_client::Transition;
use serde_json::{Map, Value, json};

/// Why a write (or one field of it) is parked: the bounded `reason` label of
/// `jira_sync_parked_writes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Refusal {
    /// The field is not on the create, edit or transition screen (or the status does not
    /// allow edits): `Field 'x' cannot be set. It is not on the appropriate screen, or unknown.`
    FieldNotOnScreen,
    /// The value is not one the target offers (a priority outside the scheme, an option,
    /// a version).
    ValueNotAllowed,
    /// A transition needs a field (a resolution) that neither the record nor the
    /// connector's `resolution` gives.
    TransitionNeedsField,
    /// No transition from the issue's status reaches the wanted one.
    NoTransition,
    /// The parent (a sub-task's issue, a story's epic) is not mirrored on this side.
    ParentUnmapped,
    /// The record's issue type does not exist in the target project (map it in
    /// `[connector.issuetypes]`).
    TypeUnmapped,
    /// The assignee may not be assigned issues in that project.
    PersonUnassignable,
    /// Anything else Jira refused.
    Refused,
}

impl Refusal {
    /// Every reason, in label order.
    pub const ALL: [Refusal; 8] = [
        Refusal::FieldNotOnScreen,
        Refusal::ValueNotAllowed,
        Refusal::TransitionNeedsField,
        Refusal::NoTransition,
        Refusal::ParentUnmapped,
        Refusal::TypeUnmapped,
        Refusal::PersonUnassignable,
        Refusal::Refused,
    ];

    /// The metric label and the stored reason.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::FieldNotOnScreen => "field_not_on_screen",
            Refusal::ValueNotAllowed => "value_not_allowed",
            Refusal::TransitionNeedsField => "transition_needs_field",
            Refusal::NoTransition => "no_transition",
            Refusal::ParentUnmapped => "parent_unmapped",
            Refusal::TypeUnmapped => "type_unmapped",
            Refusal::PersonUnassignable => "person_unassignable",
            Refusal::Refused => "refused",
        }
    }

    /// The reason of a stored label, or `Refused` for any other text.
    pub fn from_label(label: &str) -> Refusal {
        Refusal::ALL
            .into_iter()
            .find(|r| r.as_str() == label)
            .unwrap_or(Refusal::Refused)
    }

    /// Reads Jira's message for one field.
    pub fn of_message(message: &str) -> Refusal {
        let m = message.to_ascii_lowercase();
        if m.contains("cannot be assigned") || m.contains("not assignable") {
            Refusal::PersonUnassignable
        } else if m.contains("not on the appropriate screen") || m.contains("cannot be set") {
            Refusal::FieldNotOnScreen
        } else if m.contains("is required") {
            Refusal::TransitionNeedsField
        } else if m.contains("invalid")
            || m.contains("not valid")
            || m.contains("specify a valid")
            || m.contains("could not find valid")
            || m.contains("does not exist")
        {
            Refusal::ValueNotAllowed
        } else {
            Refusal::Refused
        }
    }
}

/// One hub field Jira refused, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRefusal {
    /// The hub field name (`priority`, `severity`).
    pub field: String,
    pub reason: Refusal,
    /// Jira's words.
    pub message: String,
}

/// Which of the fields sent Jira refused. `sent` maps each Jira field id of the write to its
/// hub field; `errors` is Jira's `errors` map (field id -> message). Errors naming a field
/// that was not sent come back in the second list: the write cannot be fixed by dropping
/// a field of it.
pub fn refused_fields(
    sent: &BTreeMap<String, String>,
    errors: &[(String, String)],
) -> (Vec<FieldRefusal>, Vec<(String, String)>) {
    let mut refused = Vec::new();
    let mut other = Vec::new();
    for (id, message) in errors {
        match sent.get(id) {
            Some(hub) => refused.push(FieldRefusal {
                field: hub.clone(),
                reason: Refusal::of_message(message),
                message: message.clone(),
            }),
            None => other.push((id.clone(), message.clone())),
        }
    }
    (refused, other)
}

/// How to reach a status from the issue's current one.
#[derive(Debug, Clone, PartialEq)]
pub enum TransitionPlan {
    /// Take transition `id` with these screen `fields` (`{}` for none). `resolution` is the
    /// resolution name sent, if any: the link's base takes it once the transition lands.
    Take {
        id: String,
        fields: Value,
        resolution: Option<String>,
    },
    /// The transition exists but needs a field nothing can give.
    NeedsField { field: String, message: String },
    /// No transition valid from the current status goes there.
    NoTransition { message: String },
}

/// Plans the transition to Jira status `target` from `transitions` (those valid from the
/// issue's status, with their screen fields). A `resolution` on the screen is filled from
/// the record's resolution when the screen offers it by name, else from the connector's
/// `default_resolution`; a required field that stays empty makes the plan
/// [`TransitionPlan::NeedsField`]. A resolution is never sent to a transition whose screen
/// lacks it (Jira refuses the whole transition then).
pub fn plan_transition(
    target: &str,
    transitions: &[Transition],
    record_resolution: Option<&str>,
    default_resolution: Option<&str>,
) -> TransitionPlan {
    let Some(t) = transitions
        .iter()
        .find(|t| t.to.name.eq_ignore_ascii_case(target))
    else {
        let offered: Vec<&str> = transitions.iter().map(|t| t.to.name.as_str()).collect();
        return TransitionPlan::NoTransition {
            message: format!(
                "no transition from the issue's status reaches `{target}` (it offers: {})",
                if offered.is_empty() {
                    "none".to_owned()
                } else {
                    offered.join(", ")
                }
            ),
        };
    };
    let mut fields = Map::new();
    let mut resolution = None;
    for (id, meta) in &t.fields {
        if id == "resolution" {
            let pick = [record_resolution, default_resolution]
                .into_iter()
                .flatten()
                .find_map(|name| meta.allowed(name).map(|v| (name, v)));
            match pick {
                Some((name, v)) => {
                    let by = v
                        .get("id")
                        .map_or_else(|| json!({ "name": name }), |id| json!({ "id": id }));
                    fields.insert(id.clone(), by);
                    resolution = Some(
                        v.get("name")
                            .and_then(Value::as_str)
                            .unwrap_or(name)
                            .to_owned(),
                    );
                }
                None if meta.required => {
                    let wanted = [record_resolution, default_resolution]
                        .into_iter()
                        .flatten()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>();
                    return TransitionPlan::NeedsField {
                        field: id.clone(),
                        message: if wanted.is_empty() {
                            format!(
                                "transition `{}` to `{target}` requires a resolution; the source has none and the connector sets no `resolution` default",
                                t.name
                            )
                        } else {
                            format!(
                                "transition `{}` to `{target}` requires a resolution, and this project offers none of {}",
                                t.name,
                                wanted.join(", ")
                            )
                        },
                    };
                }
                None => {}
            }
        } else if meta.required {
            return TransitionPlan::NeedsField {
                field: id.clone(),
                message: format!(
                    "transition `{}` to `{target}` requires the field `{id}`, which jira-sync does not fill",
                    t.name
                ),
            };
        }
    }
    TransitionPlan::Take {
        id: t.id.clone(),
        fields: Value::Object(fields),
        resolution,
    }
}

/// What jira-sync knows of a project's workflow: edges seen (status -> statuses its
/// transitions lead to, by name in lower case) and each status's category rank (new 0,
/// indeterminate 1, done 2). Jira shows transitions one hop at a time, and the workflow
/// graph only to administrators (reference jira-cloud-api.md section 11.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkflowMap {
    pub edges: BTreeMap<String, std::collections::BTreeSet<String>>,
    pub ranks: BTreeMap<String, u8>,
}

impl WorkflowMap {
    /// Learns what a transitions read shows: `from`'s outgoing edges and their targets'
    /// categories.
    pub fn learn(&mut self, from: &str, transitions: &[Transition]) {
        let edges = self.edges.entry(from.to_lowercase()).or_default();
        for t in transitions {
            edges.insert(t.to.name.to_lowercase());
            if let Some(r) = t.to.category_rank() {
                self.ranks.insert(t.to.name.to_lowercase(), r);
            }
        }
    }
}

/// The status to move to next on the way from `current` to `target`, among those
/// `available` from `current`: the target itself; else the first hop of the shortest path
/// through the edges seen so far; else a status that moves the issue's category toward the
/// target's (To Do -> In Progress -> Done, or back) and was not visited on this walk. `None`
/// when nothing leads there.
pub fn next_hop(
    current: &str,
    target: &str,
    available: &[Transition],
    known: &WorkflowMap,
    visited: &[String],
) -> Option<String> {
    let name_of = |lower: &str| {
        available
            .iter()
            .find(|t| t.to.name.to_lowercase() == lower)
            .map(|t| t.to.name.clone())
    };
    let target_l = target.to_lowercase();
    if let Some(n) = name_of(&target_l) {
        return Some(n);
    }
    // Breadth first over the edges seen, starting with what is available now.
    let start = current.to_lowercase();
    let mut first: BTreeMap<String, String> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::new();
    for t in available {
        let to = t.to.name.to_lowercase();
        if to != start && !first.contains_key(&to) {
            first.insert(to.clone(), to.clone());
            queue.push_back(to);
        }
    }
    while let Some(s) = queue.pop_front() {
        if s == target_l {
            return name_of(&first[&s]);
        }
        for next in known.edges.get(&s).into_iter().flatten() {
            if *next != start && !first.contains_key(next) {
                let hop = first[&s].clone();
                first.insert(next.clone(), hop);
                queue.push_back(next.clone());
            }
        }
    }
    // No known path: a hop toward the target's category, else one within the same
    // category (a review step between In Progress and Done), never back, never twice; at a
    // dead end, back to a status passed on the way that is known to lead somewhere new.
    let unvisited = |t: &&Transition| {
        let to = t.to.name.to_lowercase();
        to != start && !visited.iter().any(|v| v.to_lowercase() == to)
    };
    let rank = |t: &&Transition| {
        t.to.category_rank()
            .or_else(|| known.ranks.get(&t.to.name.to_lowercase()).copied())
    };
    let by_category = known
        .ranks
        .get(&start)
        .copied()
        .zip(known.ranks.get(&target_l).copied())
        .and_then(|(here, there)| {
            let toward = |r: u8| {
                if there > here {
                    r > here && r <= there
                } else {
                    r < here && r >= there
                }
            };
            available
                .iter()
                .filter(unvisited)
                .find(|t| rank(t).is_some_and(toward))
                .or_else(|| {
                    available
                        .iter()
                        .filter(unvisited)
                        .find(|t| here != there && rank(t) == Some(here))
                })
        });
    by_category
        .or_else(|| {
            available
                .iter()
                .filter(|t| {
                    let to = t.to.name.to_lowercase();
                    to != start && visited.iter().any(|v| v.to_lowercase() == to)
                })
                .find(|t| {
                    known
                        .edges
                        .get(&t.to.name.to_lowercase())
                        .is_some_and(|next| {
                            next.iter().any(|n| {
                                *n != start && !visited.iter().any(|v| v.to_lowercase() == *n)
                            })
                        })
                })
        })
        .map(|t| t.to.name.clone())
}

/// The issue type id to create hub type `hub` with in a project whose create metadata lists
/// `types` (id, name): the connector's `[connector.issuetypes]` name for it (`map`), else
/// the same name, matched without regard to case. Sent by id, because a name is resolved
/// across the whole site, not the project (reference jira-cloud-api.md section 11.4).
///
/// # Errors
/// The project has no such type: what to configure.
pub fn issue_type_id(
    hub: &str,
    map: &BTreeMap<String, String>,
    types: &[(String, String)],
    project: &str,
) -> Result<String, String> {
    let wanted = map
        .iter()
        .find(|(h, _)| h.eq_ignore_ascii_case(hub))
        .map_or(hub, |(_, name)| name.as_str());
    types
        .iter()
        .find(|(_, name)| name.eq_ignore_ascii_case(wanted))
        .map(|(id, _)| id.clone())
        .ok_or_else(|| {
            let have: Vec<&str> = types.iter().map(|(_, n)| n.as_str()).collect();
            format!(
                "issue type `{wanted}` does not exist in project {project} (it has: {}); map hub type `{hub}` in [connector.issuetypes]",
                have.join(", ")
            )
        })
}

/// FNV-1a (64 bits) of `bytes`: a stable fingerprint for what is stored on disk.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
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
        let TransitionPlan::NeedsField { field, message } =
            plan_transition("Done", &ts, None, None)
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
        let TransitionPlan::NoTransition { message } = plan_transition("Done", &ts, None, None)
        else {
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
}
