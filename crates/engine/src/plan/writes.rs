//! The writes to one linked issue and their order, decided from what Jira showed of the
//! issue: its edit screen as it is in the current status (`getEditIssueMeta`), and
//! whether its status must change. Pure: the engine sends what [`plan_writes`] lists.
//!
//! Why this order (reference jira-cloud-api.md section 11.2): a status whose issues cannot
//! be edited (`jira.issue.editable = false`) shows an edit screen with no field, and
//! integrators get such edits through by transitioning first; status is never an editable
//! field, and resolution only goes with a transition (section 11.1); comments go last, as
//! whether a non-editable status takes them is unconfirmed and they must never wait for a
//! refused field.

use std::collections::BTreeMap;

use jira_sync_client::FieldMeta;
use serde_json::{Map, Value};

use super::{FieldRefusal, Refusal};

/// One write to a linked issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// `assignIssue` (`PUT /issue/{key}/assignee`).
    Assign,
    /// `editIssue` of these hub fields, in the current status.
    Edit(Vec<String>),
    /// The transitions (`doTransition`, one hop or several) to this hub status.
    Transition(String),
    /// `editIssue` of these hub fields once the transition has landed: what the status the
    /// issue leaves does not take. Sent only if the transition landed; else each is parked
    /// with the refusal in [`WritePlan::deferred`]. The engine adds here what Jira itself
    /// refused before the transition as not on the screen.
    EditAfterTransition(Vec<String>),
    /// `addComment` of this hub comment.
    Comment(String),
}

/// What the planner knows of one linked issue.
#[derive(Debug, Clone, Copy)]
pub struct WriteInput<'a> {
    /// The edit to send: Jira field id -> value in the target's form.
    pub edit: &'a Map<String, Value>,
    /// Jira field id -> the hub field it carries.
    pub fields_of: &'a BTreeMap<String, String>,
    /// The assignee changed (sent through `assignIssue`).
    pub assign: bool,
    /// The hub status to reach, when it differs from the and is not parked.
    pub status: Option<&'a str>,
    /// The edit screen in its current status (field id -> metadata), where known.
    /// Known and empty: the status does not let its issues be edited.
    pub screen: Option<&'a BTreeMap<String, FieldMeta>>,
    /// The target project's key (for messages).
    pub project: &'a str,
    /// Hub comments not yet on the issue, in order.
    pub comments: &'a [String],
}

/// The writes in the order to send them, and what is not sent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WritePlan {
    pub writes: Vec<Write>,
    /// Fields not sent at all, with why: a value the screen does not offer, or a field off
    /// the screen when no transition could change that. The engine parks each.
    pub refused: Vec<FieldRefusal>,
    /// The fields of [`Write::EditAfterTransition`], with the refusal each is parked with if
    /// the transition does not land.
    pub deferred: Vec<FieldRefusal>,
}

/// The writes to one linked issue, in order:
/// 1. when the status cannot be edited (its edit screen is known and empty) and the
///    status is to change: the transition first, then the assignee and the whole edit, sent
///    only if the transition landed;
/// 2. otherwise: the assignee, the edit of what the screen takes, the transition, then the
///    fields off the current screen (the next status's screen may take them);
/// 3. new comments last, whatever else happens.
///
/// A value the screen does not offer is refused (`value_not_allowed`); a field off the
/// screen is refused (`field_not_on_screen`) unless a transition follows. With no screen
/// known, everything is sent and Jira's answer decides.
pub fn plan_writes(input: &WriteInput<'_>) -> WritePlan {
    let mut plan = WritePlan::default();
    let hub_of = |id: &String| {
        input
            .fields_of
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.clone())
    };
    let all: Vec<String> = input.edit.keys().map(hub_of).collect();
    let locked = input.screen.is_some_and(BTreeMap::is_empty);
    match (input.status, locked) {
        (Some(status), true) => {
            plan.writes.push(Write::Transition(status.to_owned()));
            if input.assign {
                plan.writes.push(Write::Assign);
            }
            if !all.is_empty() {
                plan.writes.push(Write::EditAfterTransition(all.clone()));
                plan.deferred = all
                    .iter()
                    .map(|field| FieldRefusal {
                        field: field.clone(),
                        reason: Refusal::FieldNotOnScreen,
                        message: format!(
                            "the issue's status in project {} does not let its issues be edited (its edit screen offers no field)",
                            input.project
                        ),
                    })
                    .collect();
            }
        }
        _ => {
            let mut on = input.edit.clone();
            let off = match input.screen {
                Some(screen) => off_screen(&mut on, screen, input.fields_of, input.project, &[]),
                None => Vec::new(),
            };
            let (retry, refused): (Vec<_>, Vec<_>) = off
                .into_iter()
                .partition(|r| input.status.is_some() && r.reason == Refusal::FieldNotOnScreen);
            plan.refused = refused;
            if input.assign {
                plan.writes.push(Write::Assign);
            }
            if !on.is_empty() {
                plan.writes
                    .push(Write::Edit(on.keys().map(hub_of).collect()));
            }
            if let Some(status) = input.status {
                plan.writes.push(Write::Transition(status.to_owned()));
                if !all.is_empty() {
                    plan.writes.push(Write::EditAfterTransition(
                        retry.iter().map(|r| r.field.clone()).collect(),
                    ));
                }
            }
            plan.deferred = retry;
        }
    }
    plan.writes
        .extend(input.comments.iter().cloned().map(Write::Comment));
    plan
}

/// Takes out of a write's `fields` what `screen` (the create or edit screen's fields) does
/// not take: a field it lacks (`field_not_on_screen`), or a value it does not offer
/// (`value_not_allowed`, for fields that list their values: priority, options). `sent` maps
/// Jira field ids to hub fields; the `keep` ids always stay (a create's project, issue type
/// and summary, which Jira itself answers for).
pub fn off_screen(
    fields: &mut Map<String, Value>,
    screen: &BTreeMap<String, FieldMeta>,
    sent: &BTreeMap<String, String>,
    project: &str,
    keep: &[&str],
) -> Vec<FieldRefusal> {
    let mut refused = Vec::new();
    fields.retain(|id, v| {
        if keep.contains(&id.as_str()) {
            return true;
        }
        let field = sent.get(id).cloned().unwrap_or_else(|| id.clone());
        let Some(meta) = screen.get(id) else {
            refused.push(FieldRefusal {
                field,
                reason: Refusal::FieldNotOnScreen,
                message: format!(
                    "Field '{id}' cannot be set. It is not on the screen of project {project} (create or edit metadata)."
                ),
            });
            return false;
        };
        let named = v
            .get("name")
            .or_else(|| v.get("value"))
            .and_then(Value::as_str);
        match named {
            Some(n) if !meta.allowed_values.is_empty() && meta.allowed(n).is_none() => {
                refused.push(FieldRefusal {
                    field,
                    reason: Refusal::ValueNotAllowed,
                    message: format!("`{n}` is not a value `{id}` offers in project {project}"),
                });
                false
            }
            _ => true,
        }
    });
    refused
}
