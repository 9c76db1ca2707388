//! One field of an issue set from its write value, as Jira validates it: system fields,
//! screens that leave a field out, priority schemes, assignable people, parents, and the
//! custom field types.

use chrono::NaiveDate;
use serde_json::Value;

use super::{ADF_ERROR, cannot_set, id_string};
use crate::adf;
use crate::model::{CustomField, FieldKind, Issue, PRIORITIES, Site};

/// Sets one field from its `fields` value; the error is Jira's message for that field.
pub fn set_field(site: &Site, issue: &mut Issue, field: &str, value: &Value) -> Result<(), String> {
    if site
        .project(issue.project_id)
        .is_some_and(|p| p.hidden_fields.iter().any(|f| f == field))
    {
        return Err(cannot_set(field));
    }
    match field {
        "summary" => match value.as_str().map(str::trim) {
            Some("") => Err("You must specify a summary of the issue.".into()),
            Some(s) if s.chars().count() > 255 => {
                Err("Summary must be less than 255 characters.".into())
            }
            Some(_) if value.as_str().is_some_and(|s| s.contains('\n')) => {
                Err("The summary is invalid because it contains newline characters.".into())
            }
            Some(_) => {
                issue.summary = value.as_str().unwrap_or_default().to_owned();
                Ok(())
            }
            None => Err("Operation value must be a string".into()),
        },
        "description" => {
            if value.is_null() {
                issue.description = None;
                return Ok(());
            }
            adf::validate(value).map_err(|_| ADF_ERROR.to_owned())?;
            issue.description = Some(value.clone());
            Ok(())
        }
        "labels" => {
            issue.labels = labels(value)?;
            Ok(())
        }
        "priority" => {
            let by_id = value.get("id").and_then(id_string);
            let by_name = value.get("name").and_then(Value::as_str);
            let p = PRIORITIES
                .iter()
                .find(|(i, n)| {
                    by_id.as_deref() == Some(*i)
                        || by_name.is_some_and(|b| b.eq_ignore_ascii_case(n))
                })
                .ok_or("Specify a valid 'id' or 'name' for Priority")?;
            // The project's priority scheme offers only some priorities.
            let allowed = site
                .project(issue.project_id)
                .and_then(|p| p.priorities.as_ref())
                .is_none_or(|names| names.iter().any(|n| n.eq_ignore_ascii_case(p.1)));
            if !allowed {
                return Err("The priority selected is invalid.".into());
            }
            issue.priority = Some(p.0.to_owned());
            Ok(())
        }
        // Resolution is set through a transition whose screen has it, never by an edit.
        "resolution" => Err(cannot_set(field)),
        "parent" => set_parent(site, issue, value),
        "duedate" => {
            issue.duedate = date(value)?;
            Ok(())
        }
        // Components and versions by name or by this site's id, the project's own
        // (reference jira-cloud-api.md section 11.7).
        "components" | "fixVersions" => {
            let list = named_list(site, issue.project_id, field, value)?;
            if list.is_null() {
                issue.custom.remove(field);
            } else {
                issue.custom.insert(field.to_owned(), list);
            }
            Ok(())
        }
        "reporter" if !site.reporter_on_screens => Err(cannot_set(field)),
        "assignee" | "reporter" => {
            let who = if value.is_null() {
                None
            } else {
                let id = value.get("accountId").and_then(Value::as_str);
                match id.filter(|id| site.accounts.contains_key(*id)) {
                    Some(id) => Some(id.to_owned()),
                    None => return Err(format!("Specify a valid value for {field}")),
                }
            };
            if field == "assignee"
                && let Some(a) = who.as_ref().and_then(|id| site.accounts.get(id))
                && !a.assignable
            {
                return Err(unassignable(&a.display_name));
            }
            if field == "assignee"
                && site.assignee_edit_ignored
                && site.issues().contains_key(&issue.id)
            {
                // Accepted, not applied (the Cloud quirk this site models).
                return Ok(());
            }
            if field == "assignee" {
                issue.assignee = who;
            } else {
                issue.reporter = who;
            }
            Ok(())
        }
        custom => {
            let Some(def) = site.field(custom) else {
                return Err(cannot_set(custom));
            };
            let v = custom_value(site, issue.project_id, def, value)?;
            if v.is_null() {
                issue.custom.remove(custom);
            } else {
                issue.custom.insert(custom.to_owned(), v);
            }
            Ok(())
        }
    }
}

pub(super) fn labels(value: &Value) -> Result<Vec<String>, String> {
    let list = value
        .as_array()
        .ok_or("Operation value must be an array of strings")?;
    let mut out = Vec::new();
    for l in list {
        let l = l
            .as_str()
            .ok_or("Operation value must be an array of strings")?;
        check_label(l)?;
        if !out.iter().any(|o| o == l) {
            out.push(l.to_owned());
        }
    }
    Ok(out)
}

pub(super) fn check_label(l: &str) -> Result<(), String> {
    if l.is_empty() || l.chars().any(char::is_whitespace) {
        return Err(format!("The label '{l}' contains spaces which is invalid."));
    }
    if l.chars().count() > 255 {
        return Err("The label must not be longer than 255 characters.".into());
    }
    Ok(())
}

pub(super) fn date(value: &Value) -> Result<Option<NaiveDate>, String> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| format!("Error parsing date string: {s}")),
        _ => Err("Operation value must be a string".into()),
    }
}

/// The stored value of custom field `def`, or Jira's error. Options are stored as Jira
/// reads them (`{"self","value","id"}`, the id this site gives the option); a date-time as
/// an RFC 3339 instant.
pub(super) fn custom_value(
    site: &Site,
    project: u64,
    def: &CustomField,
    value: &Value,
) -> Result<Value, String> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    match &def.kind {
        FieldKind::User => account(site, value),
        FieldKind::MultiUser => each(value, |v| account(site, v)),
        FieldKind::Group => group(site, value),
        FieldKind::MultiGroup => each(value, |v| group(site, v)),
        FieldKind::Version => named(site, project, "fixVersions", value),
        FieldKind::MultiVersion => named_list(site, project, "fixVersions", value),
        FieldKind::Text => match value.as_str() {
            Some(s) if s.chars().count() <= 255 => Ok(value.clone()),
            Some(_) => Err("Text fields are limited to 255 characters.".into()),
            None => Err("Operation value must be a string".into()),
        },
        FieldKind::Textarea => adf::validate(value)
            .map(|()| value.clone())
            .map_err(|_| ADF_ERROR.to_owned()),
        FieldKind::Number => value
            .as_f64()
            .map(|_| value.clone())
            .ok_or_else(|| "Operation value must be a number".into()),
        FieldKind::Date => {
            date(value).map(|d| d.map_or(Value::Null, |d| Value::String(d.to_string())))
        }
        FieldKind::DateTime => datetime(value),
        FieldKind::Cascading(tree) => cascading(def, tree, value),
        FieldKind::Labels => labels(value).map(|l| serde_json::json!(l)),
        FieldKind::Sprint => value
            .as_u64()
            .map(|n| serde_json::json!(n))
            .ok_or_else(|| "Number value expected as the Sprint id.".into()),
        FieldKind::Select(_) => option(def, value),
        FieldKind::MultiSelect(_) => {
            let items = value
                .as_array()
                .ok_or_else(|| "Operation value must be an array of options".to_owned())?;
            let mut out: Vec<Value> = Vec::new();
            for item in items {
                let o = option(def, item)?;
                if !out.contains(&o) {
                    out.push(o);
                }
            }
            Ok(if out.is_empty() {
                Value::Null
            } else {
                Value::Array(out)
            })
        }
    }
}

/// A list written as an array, each item by `one`; an empty list is empty (null).
fn each(value: &Value, one: impl Fn(&Value) -> Result<Value, String>) -> Result<Value, String> {
    let items = value
        .as_array()
        .ok_or_else(|| "Operation value must be an array".to_owned())?;
    let mut out: Vec<Value> = Vec::new();
    for item in items {
        let v = one(item)?;
        if !out.contains(&v) {
            out.push(v);
        }
    }
    Ok(if out.is_empty() {
        Value::Null
    } else {
        Value::Array(out)
    })
}

/// A user picker's value `{"accountId"}`: stored as the account id.
fn account(site: &Site, value: &Value) -> Result<Value, String> {
    match value.get("accountId").and_then(Value::as_str) {
        Some(id) if site.accounts.contains_key(id) => Ok(Value::String(id.to_owned())),
        Some(id) => Err(format!("User '{id}' does not exist.")),
        None => Err("Specify a valid value: an object with accountId".into()),
    }
}

/// A group picker's value `{"name"}` or `{"groupId"}` (a bare string is refused, as Jira
/// refuses it): stored as `{"name", "groupId"}`.
fn group(site: &Site, value: &Value) -> Result<Value, String> {
    if value.is_string() {
        return Err("Can not instantiate value of type [simple type, class com.atlassian.jira.rest.api.util.GroupJsonBean] from JSON String; no single-String constructor/factory method".into());
    }
    let by_name = value.get("name").and_then(Value::as_str);
    let by_id = value.get("groupId").and_then(Value::as_str);
    site.groups
        .iter()
        .find(|(name, (gid, _))| by_name == Some(name.as_str()) || by_id == Some(gid.as_str()))
        .map(|(name, (gid, _))| serde_json::json!({ "name": name, "groupId": gid }))
        .ok_or_else(|| {
            format!(
                "Group '{}' does not exist.",
                by_name.or(by_id).unwrap_or_default()
            )
        })
}

/// One component or version of the issue's project (`kind` `components` or
/// `fixVersions`), by `{"name"}` or this site's `{"id"}`: stored as `{"id", "name"}`.
fn named(site: &Site, project: u64, kind: &str, value: &Value) -> Result<Value, String> {
    let Some(p) = site.project(project) else {
        return Err("The project does not exist.".into());
    };
    let list = if kind == "components" {
        &p.components
    } else {
        &p.versions
    };
    let by_name = value.get("name").and_then(Value::as_str);
    let by_id = value.get("id").and_then(id_string);
    match list
        .iter()
        .find(|(id, name)| by_name == Some(name.as_str()) || by_id.as_deref() == Some(id.as_str()))
    {
        Some((id, name)) => Ok(serde_json::json!({ "id": id, "name": name })),
        None if kind == "components" => Err(format!(
            "Component name '{}' is not valid",
            by_name.map(str::to_owned).or(by_id).unwrap_or_default()
        )),
        None => Err(format!(
            "Version name '{}' is not valid",
            by_name.map(str::to_owned).or(by_id).unwrap_or_default()
        )),
    }
}

/// Components or versions of the issue's project, as a list.
fn named_list(site: &Site, project: u64, kind: &str, value: &Value) -> Result<Value, String> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    each(value, |v| named(site, project, kind, v))
}

/// One option of `def` named by `{"value"}` or by this site's `{"id"}`; another site's id
/// is refused as Jira refuses it.
fn option(def: &CustomField, value: &Value) -> Result<Value, String> {
    let by_value = value.get("value").and_then(Value::as_str);
    let by_id = value.get("id").and_then(id_string);
    let found = def.kind.options().iter().enumerate().find(|(i, o)| {
        by_value == Some(o.as_str()) || by_id.as_deref() == Some(def.option_id(*i).as_str())
    });
    match (found, by_value) {
        (Some((i, o)), _) => {
            Ok(serde_json::json!({ "self": "", "value": o, "id": def.option_id(i) }))
        }
        (None, Some(v)) => Err(format!("Option value '{v}' is not valid")),
        (None, None) => Err(format!(
            "Option id '{}' is not valid",
            by_id.unwrap_or_default()
        )),
    }
}

/// A cascading select's value: a parent option and, optionally, one of its children, each
/// by value or by this site's id.
fn cascading(
    def: &CustomField,
    tree: &[(String, Vec<String>)],
    value: &Value,
) -> Result<Value, String> {
    let named = |v: &Value, name: &str, id: String| {
        v.get("value").and_then(Value::as_str) == Some(name)
            || v.get("id").and_then(id_string).as_deref() == Some(id.as_str())
    };
    let shown = |v: &Value| {
        v.get("value")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| v.get("id").and_then(id_string))
            .unwrap_or_default()
    };
    let Some((i, (parent, children))) = tree
        .iter()
        .enumerate()
        .find(|(i, (p, _))| named(value, p, def.option_id(*i)))
    else {
        return Err(format!("Option value '{}' is not valid", shown(value)));
    };
    let mut out = serde_json::json!({ "self": "", "value": parent, "id": def.option_id(i) });
    if let Some(child) = value.get("child").filter(|c| !c.is_null()) {
        let Some((j, c)) = children
            .iter()
            .enumerate()
            .find(|(j, c)| named(child, c, def.child_id(i, *j)))
        else {
            return Err(format!(
                "Option value '{}' is not valid for the parent option '{parent}'",
                shown(child)
            ));
        };
        out["child"] = serde_json::json!({ "self": "", "value": c, "id": def.child_id(i, j) });
    }
    Ok(out)
}

/// A date-time as Jira takes it: `yyyy-MM-ddTHH:mm:ss.SSS+hhmm` (an offset without a colon;
/// `+00:00` is refused, reference jira-cloud-api.md section 11.7).
fn datetime(value: &Value) -> Result<Value, String> {
    let s = value
        .as_str()
        .ok_or_else(|| "Operation value must be a string".to_owned())?;
    chrono::DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.3f%z")
        .ok()
        .filter(|_| !s.ends_with('Z') && s.as_bytes().get(s.len().saturating_sub(3)) != Some(&b':'))
        .map(|t| {
            Value::String(
                t.with_timezone(&chrono::Utc)
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            )
        })
        .ok_or_else(|| format!("Error parsing time: {s}"))
}

/// Sets `parent` (`{"key"}` or `{"id"}`; null removes an epic parent). A sub-task's parent is
/// a standard issue of its project and is fixed at create (moving it is a separate
/// operation); a standard issue's parent is an epic; an epic has none (reference
/// jira-cloud-api.md section 11.4).
pub(super) fn set_parent(site: &Site, issue: &mut Issue, value: &Value) -> Result<(), String> {
    let level = |id: &str| site.issue_type(id).map_or(0, |t| t.hierarchy_level);
    let own = level(&issue.issue_type);
    let creating = !site.issues().contains_key(&issue.id);
    if own < 0 && !creating {
        return Err(cannot_set("parent"));
    }
    // `update.parent.set.none` (or null) removes a standard issue's parent.
    if value.is_null() || value.get("none").and_then(Value::as_bool) == Some(true) {
        if own < 0 {
            return Err(
                "Issue type is a sub-task but parent issue key or id not specified.".into(),
            );
        }
        issue.parent = None;
        return Ok(());
    }
    let by_key = value.get("key").and_then(Value::as_str);
    let by_id = value.get("id").and_then(id_string);
    let parent = site.issues().values().find(|i| {
        by_key.is_some_and(|k| k.eq_ignore_ascii_case(&i.key))
            || by_id.as_deref() == Some(i.id.to_string().as_str())
    });
    let Some(parent) = parent else {
        return Err("Could not find issue by id or key.".into());
    };
    let ok = match own {
        l if l < 0 => level(&parent.issue_type) == 0 && parent.project_id == issue.project_id,
        0 => level(&parent.issue_type) == 1,
        _ => false,
    };
    if !ok {
        return Err(format!(
            "Issue '{}' cannot be the parent of an issue of this type.",
            parent.key
        ));
    }
    issue.parent = Some(parent.id);
    Ok(())
}

/// Jira's refusal of an assignee without the *Assignable user* permission.
pub(super) fn unassignable(name: &str) -> String {
    format!("User '{name}' cannot be assigned issues.")
}
