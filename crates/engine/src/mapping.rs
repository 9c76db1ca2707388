//! Jira fields <-> hub fields, per connector. Values are normalized so that what the daemon
//! writes reads back equal: that equality with the link's base is what stops echo loops.

use std::collections::BTreeMap;

use jira_sync_config::Connector;
use serde_json::{Value, json};

/// Hub fields every connector syncs; custom fields are added from `[connector.fields]`.
pub const STANDARD: [&str; 11] = [
    "summary",
    "description",
    "status",
    "resolution",
    "parent",
    "priority",
    "labels",
    "issuetype",
    "duedate",
    "assignee",
    "reporter",
];

/// Hub fields that name a person.
pub const PEOPLE: [&str; 2] = ["assignee", "reporter"];

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
pub fn to_hub(c: &Connector, site: &str, fields: &Value) -> BTreeMap<String, Value> {
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
    // Resolution by name; it is written only with a transition whose screen has it.
    out.insert("resolution".into(), name(&fields["resolution"]));
    // The parent as this site knows it; the engine turns it into the parent's record.
    out.insert(
        "parent".into(),
        match (
            fields["parent"]["id"].as_str(),
            fields["parent"]["key"].as_str(),
        ) {
            (Some(id), Some(key)) => json!({ "site": site, "id": id, "key": key }),
            _ => Value::Null,
        },
    );
    let mut labels: Vec<String> = fields["labels"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l.as_str().map(str::to_owned))
        .collect();
    labels.sort();
    out.insert("labels".into(), json!(labels));
    // An issue type read back as the hub type it was mapped from (`[connector.issuetypes]`).
    let ty = fields["issuetype"]["name"].as_str().map(|n| {
        c.issuetypes
            .iter()
            .find(|(_, name)| name.eq_ignore_ascii_case(n))
            .map_or(n, |(hub, _)| hub.as_str())
    });
    out.insert("issuetype".into(), ty.map_or(Value::Null, |t| json!(t)));
    out.insert("duedate".into(), fields["duedate"].clone());
    for f in PEOPLE {
        out.insert(f.into(), person(site, &fields[f]));
    }
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
        // Status and resolution move by transition, issue type only on create, people
        // and the parent once resolved on the target.
        "status" | "resolution" | "parent" | "issuetype" | "assignee" | "reporter" => None,
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

/// Jira field id -> hub field, for every field a write of this connector may carry: how a
/// refusal keyed by field id is read back.
pub fn sent_fields(c: &Connector) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = STANDARD
        .iter()
        .map(|s| (s.to_string(), s.to_string()))
        .collect();
    out.extend(c.fields.iter().map(|(hub, id)| (id.clone(), hub.clone())));
    out
}

/// The Jira status for a hub status: the map read backwards, else the same name.
pub fn jira_status<'a>(c: &'a Connector, hub: &'a str) -> &'a str {
    c.statuses
        .iter()
        .find(|(_, h)| h.as_str() == hub)
        .map_or(hub, |(j, _)| j.as_str())
}

/// The hub value of a Jira user: `{"email"}` when the email is visible, so the same person
/// reads the same on every site that shows it; otherwise `{"site", "accountId"}`, which only
/// its own site can write back.
pub fn person(site: &str, user: &Value) -> Value {
    match (user["accountId"].as_str(), user["emailAddress"].as_str()) {
        (None, _) => Value::Null,
        (Some(_), Some(email)) if !email.is_empty() => json!({ "email": email.to_lowercase() }),
        (Some(id), _) => json!({ "site": site, "accountId": id }),
    }
}

/// How a hub person is written on `site`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Person {
    /// The Jira value: `{"accountId"}`, or null to unassign.
    Write(Value),
    /// Nothing to write (a reporter is never cleared).
    Skip,
    /// Known only by an account on another site: left unset and counted.
    Unmapped,
    /// Known by email: the site's user search decides.
    Lookup(String),
}

/// The first step of writing hub person `v` to field `field` on `site`.
pub fn person_on(site: &str, field: &str, v: &Value) -> Person {
    if v.is_null() {
        return if field == "reporter" {
            Person::Skip
        } else {
            Person::Write(Value::Null)
        };
    }
    if let Some(email) = v["email"].as_str() {
        return Person::Lookup(email.to_owned());
    }
    match (v["site"].as_str(), v["accountId"].as_str()) {
        (Some(s), Some(id)) if s == site => Person::Write(json!({ "accountId": id })),
        _ => Person::Unmapped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_person_is_known_by_shown_email_else_by_account_on_its_own_site() {
        let shown = json!({ "accountId": "a-1", "emailAddress": "Cara@Shared.example" });
        let hidden = json!({ "accountId": "a-2" });
        assert_eq!(
            person("acme", &shown),
            json!({ "email": "cara@shared.example" })
        );
        let dan = person("acme", &hidden);
        assert_eq!(dan, json!({ "site": "acme", "accountId": "a-2" }));
        assert_eq!(person("acme", &Value::Null), Value::Null);

        // Within a site the account id is written back; elsewhere nothing identifies Dan.
        assert_eq!(
            person_on("acme", "assignee", &dan),
            Person::Write(json!({ "accountId": "a-2" }))
        );
        assert_eq!(person_on("globex", "assignee", &dan), Person::Unmapped);
        assert_eq!(
            person_on("globex", "assignee", &person("acme", &shown)),
            Person::Lookup("cara@shared.example".into())
        );
        // Unassigning is written; a reporter is never cleared.
        assert_eq!(
            person_on("globex", "assignee", &Value::Null),
            Person::Write(Value::Null)
        );
        assert_eq!(person_on("globex", "reporter", &Value::Null), Person::Skip);
    }
}
