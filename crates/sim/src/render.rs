//! Issues and their parts as Jira's REST API v3 prints them.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::model::{
    Account, Category, Comment, CustomField, FieldKind, Issue, IssueType, PRIORITIES, RESOLUTIONS,
    Site, Status,
};

/// Jira's timestamp format: milliseconds and a numeric offset, `2020-05-08T07:55:44.099+0000`.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3f%z").to_string()
}

/// System fields the simulator keeps, in the order `GET /field` lists them.
pub const SYSTEM_FIELDS: &[(&str, &str, &str)] = &[
    // (id, name, schema type)
    ("summary", "Summary", "string"),
    ("description", "Description", "string"),
    ("status", "Status", "status"),
    ("priority", "Priority", "priority"),
    ("resolution", "Resolution", "resolution"),
    ("parent", "Parent", "issuelink"),
    ("labels", "Labels", "array"),
    ("components", "Components", "array"),
    ("attachment", "Attachment", "array"),
    ("fixVersions", "Fix versions", "array"),
    ("issuetype", "Issue Type", "issuetype"),
    ("project", "Project", "project"),
    ("created", "Created", "datetime"),
    ("updated", "Updated", "datetime"),
    ("duedate", "Due date", "date"),
    ("assignee", "Assignee", "user"),
    ("reporter", "Reporter", "user"),
    ("creator", "Creator", "user"),
    ("comment", "Comment", "comments-page"),
];

/// Which fields a caller asked for (`fields=`): ids, `*all`, `*navigable`, `-field`.
#[derive(Debug, Clone, Default)]
pub struct FieldSelection {
    all: bool,
    navigable: bool,
    include: BTreeSet<String>,
    exclude: BTreeSet<String>,
    /// Who reads: restricted comments are left out for accounts outside their role or
    /// group. `None` shows everything (the control API's view).
    viewer: Option<String>,
    /// The most comments embedded in `fields.comment` (with `total` counting all), and
    /// whether the newest (else the oldest) are kept.
    comment_cap: Option<(usize, bool)>,
}

impl FieldSelection {
    /// Parses `fields`; items may themselves be comma lists.
    pub fn parse<S: AsRef<str>>(items: &[S]) -> Self {
        let mut sel = FieldSelection::default();
        for item in items
            .iter()
            .flat_map(|i| i.as_ref().split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            match item {
                "*all" => sel.all = true,
                "*navigable" => sel.navigable = true,
                x => {
                    if let Some(ex) = x.strip_prefix('-') {
                        sel.exclude.insert(ex.to_owned());
                    } else {
                        sel.include.insert(x.to_owned());
                    }
                }
            }
        }
        // Only exclusions (`-comment`) means the navigable fields less those.
        if !sel.exclude.is_empty() && sel.include.is_empty() && !sel.all {
            sel.navigable = true;
        }
        sel
    }

    pub fn all() -> Self {
        FieldSelection {
            all: true,
            ..Default::default()
        }
    }

    pub fn navigable() -> Self {
        FieldSelection {
            navigable: true,
            ..Default::default()
        }
    }

    /// The same selection, read by `account`.
    pub fn seen_by(mut self, account: &str) -> Self {
        self.viewer = Some(account.to_owned());
        self
    }

    /// The same selection embedding at most `n` comments: the newest when `newest`, else
    /// the oldest (reference jira-cloud-api.md section 11.9: search/jql embeds at most 20,
    /// a single-issue GET the newest 100).
    pub fn comments_capped(mut self, n: usize, newest: bool) -> Self {
        self.comment_cap = Some((n, newest));
        self
    }

    /// True when only issue ids were asked for (search's default).
    pub fn ids_only(&self) -> bool {
        !self.all && !self.navigable && self.include.iter().all(|f| f == "id")
    }

    fn wants(&self, field: &str) -> bool {
        if self.exclude.contains(field) {
            return false;
        }
        self.include.contains(field) || self.all || (self.navigable && field != "comment")
    }
}

pub fn status_category(c: Category, base: &str) -> Value {
    let (id, key, name, color) = match c {
        Category::New => (2, "new", "To Do", "blue-gray"),
        Category::Indeterminate => (4, "indeterminate", "In Progress", "yellow"),
        Category::Done => (3, "done", "Done", "green"),
    };
    json!({ "self": format!("{base}/rest/api/3/statuscategory/{id}"), "id": id, "key": key, "colorName": color, "name": name })
}

pub fn status(s: &Status, base: &str) -> Value {
    json!({
        "self": format!("{base}/rest/api/3/status/{}", s.id),
        "description": "",
        "iconUrl": format!("{base}/images/icons/statuses/generic.png"),
        "name": s.name,
        "id": s.id,
        "statusCategory": status_category(s.category, base),
    })
}

pub fn issue_type(t: &IssueType, base: &str) -> Value {
    let mut v = json!({
        "self": format!("{base}/rest/api/3/issuetype/{}", t.id),
        "id": t.id,
        "description": format!("A {}.", t.name.to_lowercase()),
        "iconUrl": format!("{base}/images/icons/issuetypes/{}.png", t.name.to_lowercase()),
        "name": t.name,
        "subtask": t.hierarchy_level < 0,
        "hierarchyLevel": t.hierarchy_level,
    });
    if let Some(p) = t.scope_project {
        v["scope"] = json!({ "type": "PROJECT", "project": { "id": p.to_string() } });
    }
    v
}

pub fn avatar_urls(account_id: &str) -> Value {
    let url =
        |size: u32| format!("https://avatar-management.example.invalid/{account_id}/{size}.png");
    json!({ "16x16": url(16), "24x24": url(24), "32x32": url(32), "48x48": url(48) })
}

/// A user as other users see it: the email only when the profile shows it.
pub fn user(a: &Account, base: &str, myself: bool) -> Value {
    let mut v = json!({
        "self": format!("{base}/rest/api/3/user?accountId={}", a.account_id),
        "accountId": a.account_id,
        "accountType": a.account_type,
        "avatarUrls": avatar_urls(&a.account_id),
        "displayName": a.display_name,
        "active": true,
        "timeZone": a.time_zone.name(),
    });
    if let Some(email) = a.email.as_ref().filter(|_| a.email_visible || myself) {
        v["emailAddress"] = json!(email);
    }
    v
}

fn user_ref(site: &Site, account_id: Option<&String>, base: &str) -> Value {
    account_id
        .and_then(|id| site.accounts.get(id))
        .map_or(Value::Null, |a| user(a, base, false))
}

pub fn comment(
    site: &Site,
    issue: &Issue,
    c: &Comment,
    base: &str,
    with_properties: bool,
) -> Value {
    let mut v = json!({
        "self": format!("{base}/rest/api/3/issue/{}/comment/{}", issue.id, c.id),
        "id": c.id.to_string(),
        "author": user_ref(site, Some(&c.author), base),
        "updateAuthor": user_ref(site, Some(&c.update_author), base),
        "body": c.body,
        "created": timestamp(c.created),
        "updated": timestamp(c.updated),
    });
    if let Some(a) = &c.visibility {
        let identifier = match a.kind.as_str() {
            "group" => site
                .groups
                .get(&a.name)
                .map_or(a.name.clone(), |(id, _)| id.clone()),
            _ => a.name.clone(),
        };
        v["visibility"] = json!({ "type": a.kind, "value": a.name, "identifier": identifier });
    }
    if site
        .project(issue.project_id)
        .is_some_and(|p| p.service_desk)
    {
        v["jsdPublic"] = json!(!c.internal());
    }
    if with_properties {
        v["properties"] = c
            .properties
            .iter()
            .map(|(k, val)| json!({ "key": k, "value": val }))
            .collect();
    }
    v
}

const CFT_USER: &str = "com.atlassian.jira.plugin.system.customfieldtypes:userpicker";
const CFT_MULTI_USER: &str = "com.atlassian.jira.plugin.system.customfieldtypes:multiuserpicker";
const CFT_GROUP: &str = "com.atlassian.jira.plugin.system.customfieldtypes:grouppicker";
const CFT_MULTI_GROUP: &str = "com.atlassian.jira.plugin.system.customfieldtypes:multigrouppicker";
const CFT_VERSION: &str = "com.atlassian.jira.plugin.system.customfieldtypes:version";
const CFT_MULTI_VERSION: &str = "com.atlassian.jira.plugin.system.customfieldtypes:multiversion";

/// A stored component, version or group (`{"id"|"groupId", "name"}`) as Jira reads it,
/// with its `self` URL.
fn with_self_of(kind: &str, v: &Value, base: &str) -> Value {
    let mut o = v.clone();
    match kind {
        "group" => {
            o["self"] = json!(format!(
                "{base}/rest/api/3/group?groupId={}",
                v["groupId"].as_str().unwrap_or_default()
            ));
        }
        _ => {
            o["self"] = json!(format!(
                "{base}/rest/api/3/{kind}/{}",
                v["id"].as_str().unwrap_or_default()
            ));
            if kind == "version" {
                o["archived"] = json!(false);
                o["released"] = json!(false);
            }
        }
    }
    o
}

fn list_of(v: &Value, one: impl Fn(&Value) -> Value) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.iter().map(one).collect()),
        _ => Value::Null,
    }
}

pub fn custom_field_schema(f: &CustomField) -> Value {
    let custom_id: i64 = f.id.trim_start_matches("customfield_").parse().unwrap_or(0);
    let (ty, custom, items) = match &f.kind {
        FieldKind::Text => (
            "string",
            "com.atlassian.jira.plugin.system.customfieldtypes:textfield",
            None,
        ),
        FieldKind::Textarea => (
            "string",
            "com.atlassian.jira.plugin.system.customfieldtypes:textarea",
            None,
        ),
        FieldKind::Number => (
            "number",
            "com.atlassian.jira.plugin.system.customfieldtypes:float",
            None,
        ),
        FieldKind::Date => (
            "date",
            "com.atlassian.jira.plugin.system.customfieldtypes:datepicker",
            None,
        ),
        FieldKind::Select(_) => (
            "option",
            "com.atlassian.jira.plugin.system.customfieldtypes:select",
            None,
        ),
        FieldKind::MultiSelect(_) => (
            "array",
            "com.atlassian.jira.plugin.system.customfieldtypes:multiselect",
            Some("option"),
        ),
        FieldKind::DateTime => (
            "datetime",
            "com.atlassian.jira.plugin.system.customfieldtypes:datetime",
            None,
        ),
        FieldKind::Cascading(_) => (
            "option-with-child",
            "com.atlassian.jira.plugin.system.customfieldtypes:cascadingselect",
            None,
        ),
        FieldKind::Labels => (
            "array",
            "com.atlassian.jira.plugin.system.customfieldtypes:labels",
            Some("string"),
        ),
        FieldKind::Sprint => (
            "array",
            "com.pyxis.greenhopper.jira:gh-sprint",
            Some("json"),
        ),
        FieldKind::User => ("user", CFT_USER, None),
        FieldKind::MultiUser => ("array", CFT_MULTI_USER, Some("user")),
        FieldKind::Group => ("group", CFT_GROUP, None),
        FieldKind::MultiGroup => ("array", CFT_MULTI_GROUP, Some("group")),
        FieldKind::Version => ("version", CFT_VERSION, None),
        FieldKind::MultiVersion => ("array", CFT_MULTI_VERSION, Some("version")),
    };
    let (ty, custom) = f.schema.unwrap_or((ty, custom));
    let mut v = json!({ "type": ty, "custom": custom, "customId": custom_id });
    if let Some(items) = items {
        v["items"] = json!(items);
    }
    v
}

/// An attachment as Jira prints it (`Attachment`): `self`, `id`, `filename`, `author`,
/// `created`, `size`, `mimeType`, `content` (the download URL).
pub fn attachment(site: &Site, a: &crate::media::Attachment, base: &str) -> Value {
    json!({
        "self": format!("{base}/rest/api/3/attachment/{}", a.id),
        "id": a.id.to_string(),
        "filename": a.filename,
        "author": user_ref(site, Some(&a.author), base),
        "created": timestamp(a.created),
        "size": a.size,
        "mimeType": a.mime_type,
        "content": format!("{base}/rest/api/3/attachment/content/{}", a.id),
    })
}

/// A resolution as Jira prints it: `{self, id, name, description}`.
pub fn resolution(id: &str, base: &str) -> Value {
    let name = RESOLUTIONS
        .iter()
        .find(|(i, _)| *i == id)
        .map_or("", |(_, n)| n);
    json!({ "self": format!("{base}/rest/api/3/resolution/{id}"), "id": id, "name": name,
            "description": format!("{name}.") })
}

fn field_value(
    site: &Site,
    issue: &Issue,
    id: &str,
    base: &str,
    sel: &FieldSelection,
) -> Option<Value> {
    // A field the project's field configuration hides is left out of every answer, not
    // answered null (reference jira-cloud-api.md section 11.3: only visible fields are
    // returned); the control API's view (no viewer) shows it.
    if sel.viewer.is_some()
        && site
            .project(issue.project_id)
            .is_some_and(|p| p.hidden_fields.iter().any(|h| h == id))
    {
        return None;
    }
    Some(match id {
        "summary" => json!(issue.summary),
        "description" => issue.description.clone().unwrap_or(Value::Null),
        "status" => status(site.status(&issue.status)?, base),
        "priority" => match &issue.priority {
            None => Value::Null,
            Some(p) => {
                let name = PRIORITIES
                    .iter()
                    .find(|(i, _)| i == p)
                    .map_or("", |(_, n)| n);
                json!({ "self": format!("{base}/rest/api/3/priority/{p}"), "id": p, "name": name,
                        "iconUrl": format!("{base}/images/icons/priorities/{}.svg", name.to_lowercase()) })
            }
        },
        // Absent without a parent, as Jira leaves it out.
        "parent" => {
            let parent = site.issues().get(&issue.parent?)?;
            let status = site.status(&parent.status).map(|s| status(s, base));
            let ty = site
                .issue_type(&parent.issue_type)
                .map(|t| issue_type(t, base));
            json!({ "id": parent.id.to_string(), "key": parent.key,
                    "self": format!("{base}/rest/api/3/issue/{}", parent.id),
                    "fields": { "summary": parent.summary, "status": status, "issuetype": ty } })
        }
        "resolution" => match &issue.resolution {
            None => Value::Null,
            Some(r) => resolution(r, base),
        },
        "labels" => json!(issue.labels),
        "issuetype" => issue_type(site.issue_type(&issue.issue_type)?, base),
        "project" => {
            let p = site.project(issue.project_id)?;
            json!({ "self": format!("{base}/rest/api/3/project/{}", p.id), "id": p.id.to_string(), "key": p.key,
                    "name": p.name, "projectTypeKey": "software", "simplified": false,
                    "avatarUrls": avatar_urls(&p.key) })
        }
        "created" => json!(timestamp(issue.created)),
        "updated" => json!(timestamp(issue.updated)),
        "duedate" => issue
            .duedate
            .map_or(Value::Null, |d| json!(d.format("%Y-%m-%d").to_string())),
        "assignee" => user_ref(site, issue.assignee.as_ref(), base),
        "reporter" => user_ref(site, issue.reporter.as_ref(), base),
        "creator" => user_ref(site, Some(&issue.creator), base),
        "comment" => {
            let seen: Vec<&Comment> = issue
                .comments
                .iter()
                .filter(|c| sel.viewer.as_ref().is_none_or(|a| site.can_see(a, c)))
                .collect();
            let total = seen.len();
            let kept: &[&Comment] = match sel.comment_cap {
                Some((n, true)) if total > n => &seen[total - n..],
                Some((n, false)) if total > n => &seen[..n],
                _ => &seen,
            };
            let start_at = if matches!(sel.comment_cap, Some((_, true))) {
                total - kept.len()
            } else {
                0
            };
            let comments: Vec<Value> = kept
                .iter()
                .map(|c| comment(site, issue, c, base, false))
                .collect();
            json!({ "comments": comments, "self": format!("{base}/rest/api/3/issue/{}/comment", issue.id),
                    "maxResults": comments.len(), "total": total, "startAt": start_at })
        }
        "attachment" => Value::Array(
            issue
                .attachments
                .iter()
                .map(|a| attachment(site, a, base))
                .collect(),
        ),
        "components" => list_of(issue.custom.get(id).unwrap_or(&Value::Null), |x| {
            with_self_of("component", x, base)
        }),
        "fixVersions" => list_of(issue.custom.get(id).unwrap_or(&Value::Null), |x| {
            with_self_of("version", x, base)
        }),
        custom => {
            let def = site.field(custom)?;
            let v = issue.custom.get(custom).cloned().unwrap_or(Value::Null);
            let with_self = |o: &Value| {
                let mut o = o.clone();
                if let Some(id) = o.get("id").and_then(Value::as_str).map(str::to_owned) {
                    o["self"] = json!(format!("{base}/rest/api/3/customFieldOption/{id}"));
                }
                o
            };
            match (&def.kind, &v) {
                (FieldKind::Select(_), Value::Object(_)) => with_self(&v),
                (FieldKind::MultiSelect(_), Value::Array(items)) => {
                    Value::Array(items.iter().map(with_self).collect())
                }
                (FieldKind::Cascading(_), Value::Object(_)) => {
                    let mut o = with_self(&v);
                    if let Some(child) = v.get("child") {
                        o["child"] = with_self(child);
                    }
                    o
                }
                // Read in the site's default user time zone, as Jira renders timestamps.
                (FieldKind::DateTime, Value::String(t)) => DateTime::parse_from_rfc3339(t)
                    .map(|t| {
                        json!(
                            t.with_timezone(&site.default_time_zone)
                                .format("%Y-%m-%dT%H:%M:%S%.3f%z")
                                .to_string()
                        )
                    })
                    .unwrap_or(Value::Null),
                (FieldKind::User, Value::String(id)) => user_ref(site, Some(id), base),
                (FieldKind::MultiUser, _) => list_of(&v, |id| {
                    user_ref(site, id.as_str().map(str::to_owned).as_ref(), base)
                }),
                (FieldKind::Group, Value::Object(_)) => with_self_of("group", &v, base),
                (FieldKind::MultiGroup, _) => list_of(&v, |g| with_self_of("group", g, base)),
                (FieldKind::Version, Value::Object(_)) => with_self_of("version", &v, base),
                (FieldKind::MultiVersion, _) => list_of(&v, |x| with_self_of("version", x, base)),
                (FieldKind::Sprint, Value::Number(n)) => {
                    json!([{ "id": n, "name": format!("Sprint {n}"),
                    "state": "active", "boardId": 1, "goal": "" }])
                }
                _ => v,
            }
        }
    })
}

/// Every field id the site knows, system then custom.
pub fn all_field_ids(site: &Site) -> impl Iterator<Item = &str> {
    SYSTEM_FIELDS
        .iter()
        .map(|(id, _, _)| *id)
        .chain(site.fields.iter().map(|f| f.id.as_str()))
}

/// An issue as `GET /issue`, search and bulkfetch return it.
pub fn issue(
    site: &Site,
    issue: &Issue,
    sel: &FieldSelection,
    properties: &[String],
    base: &str,
) -> Value {
    let mut v = Map::new();
    v.insert("id".into(), json!(issue.id.to_string()));
    if !sel.ids_only() || !properties.is_empty() {
        v.insert(
            "expand".into(),
            json!(
                "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations"
            ),
        );
        v.insert(
            "self".into(),
            json!(format!("{base}/rest/api/3/issue/{}", issue.id)),
        );
        v.insert("key".into(), json!(issue.key));
    }
    if !sel.ids_only() {
        let fields: Map<String, Value> = all_field_ids(site)
            .filter(|f| sel.wants(f))
            .filter_map(|f| Some((f.to_owned(), field_value(site, issue, f, base, sel)?)))
            .collect();
        v.insert("fields".into(), Value::Object(fields));
    }
    if !properties.is_empty() {
        let props: Map<String, Value> = properties
            .iter()
            .filter_map(|k| Some((k.clone(), issue.properties.get(k)?.clone())))
            .collect();
        v.insert("properties".into(), Value::Object(props));
    }
    Value::Object(v)
}
