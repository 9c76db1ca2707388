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
    if c.attachments {
        f.push("attachment".to_owned());
    }
    f.extend(c.fields.values().cloned());
    f
}

/// The hub view of an issue's `fields` (custom fields by the shapes in `types`, field id ->
/// [`jira_sync_client::FieldSchema::shape`]). A field missing from the answer (hidden by the
/// project's field configuration, its context narrowed, not visible to the integration's
/// account) says nothing about its value and is left out; only an explicit `null` is empty.
/// `parent` is the exception: Jira leaves it out when an issue has none.
pub fn to_hub(
    c: &Connector,
    types: &BTreeMap<String, String>,
    site: &str,
    fields: &Value,
) -> BTreeMap<String, Value> {
    let mut out = read_all(c, types, site, fields);
    out.retain(|hub, _| {
        let id = c.fields.get(hub).map_or(hub.as_str(), String::as_str);
        id == "parent" || fields.get(id).is_some()
    });
    out
}

fn read_all(
    c: &Connector,
    types: &BTreeMap<String, String>,
    site: &str,
    fields: &Value,
) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let name = |v: &Value| v["name"].as_str().map_or(Value::Null, |s| json!(s));
    out.insert("summary".into(), fields["summary"].clone());
    // Rich text with its media and mentions tagged with this site (`crate::rich`).
    out.insert(
        "description".into(),
        crate::rich::tag(&fields["description"], site),
    );
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
        let shape = types.get(id).map(String::as_str);
        let v = picker_to_hub(site, shape, &fields[id])
            .unwrap_or_else(|| custom_to_hub(shape, &fields[id]));
        out.insert(hub.clone(), crate::rich::tag(&v, site));
    }
    out
}

/// The hub form of a people picker's value read on `site` (`user`: one person,
/// `array/user`: the people, sorted), each as [`person`] reads assignees: by shown email,
/// else by account on its own site. `None` for other shapes.
pub fn picker_to_hub(site: &str, shape: Option<&str>, v: &Value) -> Option<Value> {
    match shape {
        Some("user") => Some(person(site, v)),
        Some("array/user") if v.is_array() => {
            let mut people: Vec<Value> = v
                .as_array()
                .into_iter()
                .flatten()
                .map(|u| person(site, u))
                .filter(|p| !p.is_null())
                .collect();
            people.sort_by_key(Value::to_string);
            people.dedup();
            Some(json!(people))
        }
        Some("array/user") => Some(Value::Null),
        _ => None,
    }
}

/// Jira's date-time form: milliseconds and an offset without a colon. Jira refuses
/// `+00:00` (reference jira-cloud-api.md section 11.7).
const JIRA_DATETIME: &str = "%Y-%m-%dT%H:%M:%S%.3f%z";

/// The hub form of a custom field's value read from Jira, by its shape; one form per
/// meaning, never a site's internal id (reference jira-cloud-api.md section 11.7):
/// - `option`: the option's value (`"High"`); a cascading option `{"value", "child"}`;
/// - `array/option` (multi-select, checkboxes): the values, sorted;
/// - `datetime`: the instant in UTC, `2026-03-02T15:00:00.000Z` (two sites print the same
///   instant in different offsets);
/// - `number`: a JSON float (`42` and `42.0` are one number);
/// - `group`, `version` (a group or version picker): the name; `array/group`,
///   `array/component`, `array/version` (multi-group pickers, components, fix versions,
///   multi-version pickers): the names, sorted. Group ids, component and version ids are
///   per site (components and versions per project), names are what two sites share;
/// - anything else as read (text, ADF, dates, labels). People pickers (`user`,
///   `array/user`) are read by [`to_hub`] as assignees are ([`person`]).
pub fn custom_to_hub(shape: Option<&str>, v: &Value) -> Value {
    if v.is_null() {
        return Value::Null;
    }
    let value_of = |o: &Value| o.get("value").cloned();
    match shape {
        Some("option" | "option-with-child") | None if v.get("value").is_some() => {
            match v.get("child").and_then(value_of) {
                Some(child) => json!({ "value": v["value"], "child": child }),
                None => v["value"].clone(),
            }
        }
        Some("array/option") => sorted(v, "value"),
        Some("datetime") => v
            .as_str()
            .and_then(|s| chrono::DateTime::parse_from_str(s, JIRA_DATETIME).ok())
            .map_or_else(
                || v.clone(),
                |t| {
                    json!(
                        t.with_timezone(&chrono::Utc)
                            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                    )
                },
            ),
        Some("number") => v.as_f64().map_or_else(|| v.clone(), |n| json!(n)),
        Some("group" | "version") => v.get("name").cloned().unwrap_or_else(|| v.clone()),
        Some("array/group" | "array/component" | "array/version") => sorted(v, "name"),
        _ => v.clone(),
    }
}

/// The `key` strings of a list of objects, sorted and without repeats.
fn sorted(v: &Value, key: &str) -> Value {
    let mut out: Vec<String> = v
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o[key].as_str().map(str::to_owned))
        .collect();
    out.sort();
    out.dedup();
    json!(out)
}

/// Why a field of this shape (and custom type key) cannot be mirrored, or `None` when it
/// can: the shapes [`custom_to_hub`] knows (text, paragraph, URL, number, date, date-time,
/// labels, select, radio, multi-select, checkboxes, cascading select, user and multi-user
/// pickers, group and multi-group pickers, components, versions). `jira-sync check`
/// refuses the others, naming the field, its type and this reason.
pub fn unmappable(shape: &str, custom: Option<&str>) -> Option<String> {
    let ok = [
        "string",
        "number",
        "date",
        "datetime",
        "option",
        "option-with-child",
        "array/option",
        "array/string",
        "user",
        "array/user",
        "group",
        "array/group",
        "version",
        "array/version",
        "array/component",
    ];
    if ok.contains(&shape) {
        return None;
    }
    let custom = custom.unwrap_or_default();
    Some(
        match shape {
            _ if custom.ends_with(":gh-sprint") => {
                "sprint ids belong to one site's boards, so a sprint cannot be copied to another site"
            }
            _ => "jira-sync does not know this field type (a third-party app's field?)",
        }
        .to_owned(),
    )
}

/// A custom field's hub value in the form Jira takes for its shape (the inverse of
/// [`custom_to_hub`]): options by value, date-times in `+0000`.
pub fn custom_to_jira(shape: Option<&str>, v: &Value) -> Value {
    if v.is_null() {
        return Value::Null;
    }
    match shape {
        Some("option" | "option-with-child") => match v {
            Value::Object(o) => {
                json!({ "value": o.get("value"), "child": { "value": o.get("child") } })
            }
            _ => json!({ "value": v }),
        },
        Some("array/option") => Value::Array(
            v.as_array()
                .into_iter()
                .flatten()
                .map(|x| json!({ "value": x }))
                .collect(),
        ),
        // By name: a group's id, a component's or version's id belong to one site.
        Some("group" | "version") => json!({ "name": v }),
        Some("array/group" | "array/component" | "array/version") => Value::Array(
            v.as_array()
                .into_iter()
                .flatten()
                .map(|x| json!({ "name": x }))
                .collect(),
        ),
        Some("datetime") => v
            .as_str()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .map_or_else(
                || v.clone(),
                |t| {
                    json!(
                        t.with_timezone(&chrono::Utc)
                            .format("%Y-%m-%dT%H:%M:%S%.3f+0000")
                            .to_string()
                    )
                },
            ),
        _ => v.clone(),
    }
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
            if picker_shape(c, types, custom).is_some() {
                // People are looked up on the target first (`Engine::picker`).
                return None;
            }
            Some((
                id.clone(),
                custom_to_jira(types.get(id).map(String::as_str), v),
            ))
        }
    }
}

/// The shape of hub field `field` when it is a people picker of this connector (`user` or
/// `array/user`): written after its people are looked up on the target.
pub fn picker_shape<'a>(
    c: &Connector,
    types: &'a BTreeMap<String, String>,
    field: &str,
) -> Option<&'a str> {
    let id = c.fields.get(field)?;
    types
        .get(id)
        .map(String::as_str)
        .filter(|s| matches!(*s, "user" | "array/user"))
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

    #[test]
    fn each_custom_field_shape_reads_to_one_hub_form_and_writes_back_as_jira_takes_it() {
        // (shape, site A's read, site B's read of the same meaning, the hub form, B's write)
        let cases = [
            (
                "option",
                json!({ "self": "https://a.example/rest/api/3/customFieldOption/10100", "value": "Backend", "id": "10100" }),
                json!({ "self": "https://b.example/rest/api/3/customFieldOption/20731", "value": "Backend", "id": "20731" }),
                json!("Backend"),
                json!({ "value": "Backend" }),
            ),
            (
                "array/option",
                json!([{ "value": "Web", "id": "10101" }, { "value": "Backend", "id": "10100" }]),
                json!([{ "value": "Backend", "id": "20731" }, { "value": "Web", "id": "20732" }]),
                json!(["Backend", "Web"]),
                json!([{ "value": "Backend" }, { "value": "Web" }]),
            ),
            (
                "option-with-child",
                json!({ "value": "EMEA", "id": "1", "child": { "value": "Berlin", "id": "2" } }),
                json!({ "value": "EMEA", "id": "7", "child": { "value": "Berlin", "id": "8" } }),
                json!({ "value": "EMEA", "child": "Berlin" }),
                json!({ "value": "EMEA", "child": { "value": "Berlin" } }),
            ),
            (
                "datetime",
                json!("2026-03-02T15:00:00.000+0000"),
                json!("2026-03-02T10:00:00.000-0500"),
                json!("2026-03-02T15:00:00.000Z"),
                json!("2026-03-02T15:00:00.000+0000"),
            ),
            ("number", json!(42), json!(42.0), json!(42.0), json!(42.0)),
            (
                "group",
                json!({ "name": "auditors", "groupId": "a-1", "self": "https://a.example/rest/api/3/group?groupId=a-1" }),
                json!({ "name": "auditors", "groupId": "b-9" }),
                json!("auditors"),
                json!({ "name": "auditors" }),
            ),
            (
                "array/group",
                json!([{ "name": "web", "groupId": "a-2" }, { "name": "auditors", "groupId": "a-1" }]),
                json!([{ "name": "auditors", "groupId": "b-9" }, { "name": "web", "groupId": "b-3" }]),
                json!(["auditors", "web"]),
                json!([{ "name": "auditors" }, { "name": "web" }]),
            ),
            (
                "array/component",
                json!([{ "self": "https://a.example/rest/api/3/component/10000", "id": "10000", "name": "Backend" }]),
                json!([{ "id": "31200", "name": "Backend" }]),
                json!(["Backend"]),
                json!([{ "name": "Backend" }]),
            ),
            (
                "array/version",
                json!([{ "id": "10001", "name": "2.0", "released": false }, { "id": "10000", "name": "1.9" }]),
                json!([{ "id": "45000", "name": "1.9" }, { "id": "45001", "name": "2.0" }]),
                json!(["1.9", "2.0"]),
                json!([{ "name": "1.9" }, { "name": "2.0" }]),
            ),
            (
                "version",
                json!({ "id": "10001", "name": "2.0" }),
                json!({ "id": "45001", "name": "2.0", "archived": false }),
                json!("2.0"),
                json!({ "name": "2.0" }),
            ),
            (
                "date",
                json!("2026-03-02"),
                json!("2026-03-02"),
                json!("2026-03-02"),
                json!("2026-03-02"),
            ),
        ];
        for (shape, a, b, hub, write) in cases {
            let shape = Some(shape);
            assert_eq!(custom_to_hub(shape, &a), hub, "{shape:?} read on A");
            assert_eq!(
                custom_to_hub(shape, &b),
                hub,
                "{shape:?}: the same meaning on B"
            );
            assert_eq!(custom_to_jira(shape, &hub), write, "{shape:?} written");
            // What B stores from that write reads back as the same hub value.
            assert_eq!(custom_to_hub(shape, &write), hub, "{shape:?} read back");
            assert_eq!(custom_to_hub(shape, &Value::Null), Value::Null);
            assert_eq!(custom_to_jira(shape, &Value::Null), Value::Null);
        }
    }

    #[test]
    fn people_pickers_read_by_shown_email_so_two_sites_read_one_value() {
        let a = json!([
            { "accountId": "a-dan", "emailAddress": "Dan@Shared.example", "displayName": "Dan" },
            { "accountId": "a-cara", "emailAddress": "cara@shared.example" }
        ]);
        let b = json!([
            { "accountId": "b-cara", "emailAddress": "cara@shared.example" },
            { "accountId": "b-dan", "emailAddress": "dan@shared.example" }
        ]);
        let hub = json!([{ "email": "cara@shared.example" }, { "email": "dan@shared.example" }]);
        assert_eq!(
            picker_to_hub("acme", Some("array/user"), &a),
            Some(hub.clone())
        );
        assert_eq!(picker_to_hub("globex", Some("array/user"), &b), Some(hub));
        assert_eq!(
            picker_to_hub("acme", Some("user"), &a[0]),
            Some(json!({ "email": "dan@shared.example" }))
        );
        // A hidden email: known by its account on its own site only.
        assert_eq!(
            picker_to_hub("acme", Some("user"), &json!({ "accountId": "a-hal" })),
            Some(json!({ "site": "acme", "accountId": "a-hal" }))
        );
        assert_eq!(
            picker_to_hub("acme", Some("user"), &Value::Null),
            Some(Value::Null)
        );
        assert_eq!(
            picker_to_hub("acme", Some("array/user"), &Value::Null),
            Some(Value::Null)
        );
        assert_eq!(picker_to_hub("acme", Some("option"), &a), None);
        // Written back by account id once looked up on the target (Engine::picker).
        assert_eq!(
            person_on(
                "globex",
                "picker",
                &json!({ "email": "dan@shared.example" })
            ),
            Person::Lookup("dan@shared.example".into())
        );
    }

    #[test]
    fn check_refuses_the_shapes_it_cannot_map_and_says_why() {
        for ok in [
            "string",
            "number",
            "date",
            "datetime",
            "option",
            "option-with-child",
        ] {
            assert_eq!(unmappable(ok, None), None, "{ok}");
        }
        assert_eq!(unmappable("array/option", None), None);
        assert_eq!(unmappable("array/string", None), None);
        let sprint =
            unmappable("array/json", Some("com.pyxis.greenhopper.jira:gh-sprint")).unwrap();
        assert!(sprint.contains("one site's boards"), "{sprint}");
        for ok in [
            "user",
            "array/user",
            "group",
            "array/group",
            "version",
            "array/version",
            "array/component",
        ] {
            assert_eq!(unmappable(ok, None), None, "{ok}");
        }
        assert!(
            unmappable("any", Some("com.acme.app:thing"))
                .unwrap()
                .contains("third-party")
        );
    }
}
