//! Jira fields <-> hub fields, per connector. Values are normalized so that what the daemon
//! writes reads back equal: that equality with the link's base is what stops echo loops.

use std::collections::BTreeMap;

use jira_sync_config::Connector;
use serde_json::{Value, json};

/// Hub fields every connector syncs; custom fields are added from `[connector.fields]`.
pub const STANDARD: [&str; 7] = [
    "summary",
    "description",
    "status",
    "priority",
    "labels",
    "issuetype",
    "duedate",
];

/// The hub fields of a connector.
pub fn hub_fields(c: &Connector) -> Vec<String> {
    STANDARD
        .iter()
        .map(|s| s.to_string())
        .chain(c.fields.keys().cloned())
        .collect()
}

/// The Jira fields a pull reads.
pub fn jira_fields(c: &Connector) -> Vec<String> {
    let mut f: Vec<String> = STANDARD.iter().map(|s| s.to_string()).collect();
    f.extend(["updated".to_owned(), "comment".to_owned()]);
    f.extend(c.fields.values().cloned());
    f
}

/// The hub view of an issue's `fields`.
pub fn to_hub(c: &Connector, fields: &Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let name = |v: &Value| v["name"].as_str().map_or(Value::Null, |s| json!(s));
    out.insert("summary".into(), fields["summary"].clone());
    out.insert("description".into(), fields["description"].clone());
    let status = fields["status"]["name"].as_str().unwrap_or_default();
    // An unmapped status keeps its Jira name in the hub.
    out.insert(
        "status".into(),
        json!(c.statuses.get(status).map_or(status, String::as_str)),
    );
    out.insert("priority".into(), name(&fields["priority"]));
    let mut labels: Vec<String> = fields["labels"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l.as_str().map(str::to_owned))
        .collect();
    labels.sort();
    out.insert("labels".into(), json!(labels));
    out.insert("issuetype".into(), name(&fields["issuetype"]));
    out.insert("duedate".into(), fields["duedate"].clone());
    for (hub, id) in &c.fields {
        let v = &fields[id];
        // A select field's option is known by its value across sites.
        let v = if v.is_object() && v.get("value").is_some() {
            v["value"].clone()
        } else {
            v.clone()
        };
        out.insert(hub.clone(), v);
    }
    out
}

/// The Jira `fields` entry for a hub field's value; `None` for fields not written by edit
/// (status moves by transition, issue type only on create).
pub fn to_jira(
    c: &Connector,
    types: &BTreeMap<String, String>,
    field: &str,
    v: &Value,
) -> Option<(String, Value)> {
    match field {
        "status" | "issuetype" => None,
        "priority" => Some((
            "priority".into(),
            if v.is_null() {
                Value::Null
            } else {
                json!({ "name": v })
            },
        )),
        "summary" | "description" | "labels" | "duedate" => Some((field.into(), v.clone())),
        custom => {
            let id = c.fields.get(custom)?;
            let v = match types.get(id).map(String::as_str) {
                Some("option") if !v.is_null() => json!({ "value": v }),
                _ => v.clone(),
            };
            Some((id.clone(), v))
        }
    }
}

/// The Jira status for a hub status: the map read backwards, else the same name.
pub fn jira_status<'a>(c: &'a Connector, hub: &'a str) -> &'a str {
    c.statuses
        .iter()
        .find(|(_, h)| h.as_str() == hub)
        .map_or(hub, |(j, _)| j.as_str())
}
