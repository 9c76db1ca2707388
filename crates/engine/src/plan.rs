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
    /// A restricted comment's role or group does not exist on the target, or the
    /// integration's account is not in it: the comment is not written there, never widened.
    AudienceUnavailable,
    /// Anything else Jira refused.
    Refused,
}

impl Refusal {
    /// Every reason, in label order.
    pub const ALL: [Refusal; 9] = [
        Refusal::FieldNotOnScreen,
        Refusal::ValueNotAllowed,
        Refusal::TransitionNeedsField,
        Refusal::NoTransition,
        Refusal::ParentUnmapped,
        Refusal::TypeUnmapped,
        Refusal::PersonUnassignable,
        Refusal::AudienceUnavailable,
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
            Refusal::AudienceUnavailable => "audience_unavailable",
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
            || m.contains("not a valid")
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

/// What jira-sync knows of a project's workflow for one issue type: edges (status ->
/// statuses its transitions lead to, by name in lower case) and each status's category rank
/// (new 0, indeterminate 1, done 2). Jira shows transitions one hop at a time; the whole
/// graph (`readWorkflows`) only to accounts that may view workflows (reference
/// jira-cloud-api.md section 11.1). `complete` says the edges are the workflow's definition
/// rather than what walks have seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkflowMap {
    pub edges: BTreeMap<String, std::collections::BTreeSet<String>>,
    pub ranks: BTreeMap<String, u8>,
    pub complete: bool,
}

impl WorkflowMap {
    /// Learns what a transitions read shows: `from`'s outgoing edges and their targets'
    /// categories. A walk's map gains them; the definition's map takes them as `from`'s
    /// edges for this issue (a condition can hide a transition the definition has). Returns
    /// false when the read contradicts the definition beyond that: it leads to a status the
    /// definition does not have, so the workflow changed since it was read.
    pub fn learn(&mut self, from: &str, transitions: &[Transition]) -> bool {
        let offered: std::collections::BTreeSet<String> = transitions
            .iter()
            .map(|t| t.to.name.to_lowercase())
            .collect();
        let known = !self.complete || offered.iter().all(|s| self.ranks.contains_key(s));
        for t in transitions {
            if let Some(r) = t.to.category_rank() {
                self.ranks.insert(t.to.name.to_lowercase(), r);
            }
        }
        let edges = self.edges.entry(from.to_lowercase()).or_default();
        if self.complete {
            *edges = offered;
        } else {
            edges.extend(offered);
        }
        known
    }

    /// The whole workflow from its definition: every transition an edge, a global one an
    /// edge from every other status.
    pub fn from_graph(graph: &jira_sync_client::WorkflowGraph) -> WorkflowMap {
        let mut map = WorkflowMap {
            complete: true,
            ..WorkflowMap::default()
        };
        let all: Vec<String> = graph
            .statuses
            .iter()
            .map(|s| s.name.to_lowercase())
            .collect();
        for s in &graph.statuses {
            if let Some(r) = s.category_rank() {
                map.ranks.insert(s.name.to_lowercase(), r);
            }
        }
        for t in &graph.transitions {
            let to = t.to.to_lowercase();
            let from: Vec<String> = if t.from.is_empty() {
                all.iter().filter(|s| **s != to).cloned().collect()
            } else {
                t.from.iter().map(|f| f.to_lowercase()).collect()
            };
            for f in from {
                map.edges.entry(f).or_default().insert(to.clone());
            }
        }
        map
    }
}

/// The status to move to next on the way from `current` to `target`, among those
/// `available` from `current`: the target itself; else the first hop of the shortest path
/// through the edges seen so far; else a status that moves the issue's category toward the
/// target's (To Do -> In Progress -> Done, or back) and was not visited on this walk, unless
/// the map is the workflow's definition (`complete`), which has the last word. `None` when
/// nothing leads there.
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
    // Breadth first over the edges seen, starting with what is available now, never along
    // a transition this walk already took from here (what it learnt on the way, a
    // transition a condition hides, has changed the map since).
    let start = current.to_lowercase();
    let taken = |to: &str| {
        visited
            .windows(2)
            .any(|w| w[0].to_lowercase() == start && w[1].to_lowercase() == to)
    };
    let mut first: BTreeMap<String, String> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::new();
    for t in available {
        let to = t.to.name.to_lowercase();
        if to != start && !taken(&to) && !first.contains_key(&to) {
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
    if known.complete {
        // The workflow's definition has no way there from what is offered now.
        return None;
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

mod writes; // The writes to one linked issue and their order.

pub use writes::{Write, WriteInput, WritePlan, off_screen, plan_writes};

#[cfg(test)]
mod tests;
