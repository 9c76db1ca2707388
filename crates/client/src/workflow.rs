//! A workflow's definition as `readWorkflows` gives it: the whole graph of statuses and
//! transitions, which only accounts that may view workflows can read (reference
//! jira-cloud-api.md section 11.1).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::ops::{StatusCategory, StatusRef};

/// A workflow's definition (`JiraWorkflow` of `readWorkflows`): its statuses with their
/// categories, and every transition between them by status name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkflowGraph {
    /// The workflow's statuses; the category key is Jira's `new`, `indeterminate` or `done`.
    pub statuses: Vec<StatusRef>,
    /// Its transitions (the initial "Create" one left out).
    pub transitions: Vec<WorkflowEdge>,
    /// Names of statuses whose issues cannot be edited (`jira.issue.editable` = `false`).
    pub locked: Vec<String>,
}

/// A transition of a workflow's definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowEdge {
    pub id: String,
    pub name: String,
    /// Status names it starts from; empty for a global transition (from every status).
    pub from: Vec<String>,
    /// The status name it leads to.
    pub to: String,
}

impl WorkflowGraph {
    /// Reads a `WorkflowReadResponse`: its first workflow, status references resolved to
    /// names through `statuses`. A transition reads `toStatusReference`/`links`, or the
    /// deprecated `to`/`from`, never both (the OpenAPI document's `WorkflowTransitions`).
    /// `None` when the answer holds no workflow.
    pub fn from_read(v: &Value) -> Option<WorkflowGraph> {
        let wf = v["workflows"].as_array()?.first()?;
        let mut names: BTreeMap<String, StatusRef> = BTreeMap::new();
        for s in v["statuses"].as_array().into_iter().flatten() {
            let (Some(reference), Some(name)) = (
                s["statusReference"].as_str().or_else(|| s["id"].as_str()),
                s["name"].as_str(),
            ) else {
                continue;
            };
            let key = match s["statusCategory"].as_str() {
                Some("TODO") => Some("new"),
                Some("IN_PROGRESS") => Some("indeterminate"),
                Some("DONE") => Some("done"),
                _ => None,
            };
            names.insert(
                reference.to_owned(),
                StatusRef {
                    id: s["id"].as_str().unwrap_or(reference).to_owned(),
                    name: name.to_owned(),
                    category: key.map(|k| StatusCategory { key: k.to_owned() }),
                },
            );
        }
        let name_of = |r: &Value| {
            r.as_str()
                .or_else(|| r["statusReference"].as_str())
                .and_then(|r| names.get(r))
                .map(|s| s.name.clone())
        };
        let mut graph = WorkflowGraph::default();
        for s in wf["statuses"].as_array().into_iter().flatten() {
            let Some(status) = s["statusReference"].as_str().and_then(|r| names.get(r)) else {
                continue;
            };
            graph.statuses.push(status.clone());
            let props = &s["properties"];
            let editable = props["jira.issue.editable"]
                .as_str()
                .or_else(|| props["issueEditable"].as_str());
            if editable.is_some_and(|e| e.eq_ignore_ascii_case("false")) {
                graph.locked.push(status.name.clone());
            }
        }
        for t in wf["transitions"].as_array().into_iter().flatten() {
            if t["type"] == "INITIAL" {
                continue;
            }
            let Some(to) = name_of(&t["toStatusReference"]).or_else(|| name_of(&t["to"])) else {
                continue;
            };
            let from: Vec<String> = if t["type"] == "GLOBAL" {
                Vec::new()
            } else {
                t["links"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|l| name_of(&l["fromStatusReference"]))
                    .chain(
                        t["from"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(name_of),
                    )
                    .collect()
            };
            if from.is_empty() && t["type"] != "GLOBAL" {
                // A directed transition with no start the answer names: not an edge.
                continue;
            }
            graph.transitions.push(WorkflowEdge {
                id: t["id"].as_str().unwrap_or_default().to_owned(),
                name: t["name"].as_str().unwrap_or_default().to_owned(),
                from,
                to,
            });
        }
        Some(graph)
    }
}
