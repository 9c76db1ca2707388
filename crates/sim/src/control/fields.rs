//! The control API's custom fields: created by type (with options, per-site option ids) and
//! their options replaced, as an administrator would.

use std::hash::{DefaultHasher, Hash, Hasher};

use serde::Deserialize;

use super::{Control, ControlError};
use crate::model::{CustomField, FieldKind};

/// A custom field of a site.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    /// `customfield_NNNNN`; default: the next free number from 10000.
    pub id: Option<String>,
    pub name: String,
    /// `text`, `textarea`, `number`, `date`, `datetime`, `select`, `multiselect`,
    /// `cascading`, `labels`, `sprint`, `user`, `multiuser`, `group`, `multigroup`,
    /// `version` or `multiversion` (the project's versions); `radio` and
    /// `checkboxes` (stored as select and multi-select), `url` (as text) and `app` (a
    /// third-party app's field of type `any`).
    #[serde(rename = "type")]
    pub kind: String,
    /// The options of a `select` or `multiselect` field; `parent>child` for `cascading`.
    #[serde(default)]
    pub options: Vec<String>,
}

impl Control {
    pub fn create_field(&self, site: &str, spec: FieldSpec) -> Result<String, ControlError> {
        let kind = match spec.kind.as_str() {
            "text" => FieldKind::Text,
            "textarea" => FieldKind::Textarea,
            "number" => FieldKind::Number,
            "date" => FieldKind::Date,
            "labels" => FieldKind::Labels,
            "sprint" => FieldKind::Sprint,
            "datetime" => FieldKind::DateTime,
            "user" => FieldKind::User,
            "multiuser" => FieldKind::MultiUser,
            "group" => FieldKind::Group,
            "multigroup" => FieldKind::MultiGroup,
            "version" => FieldKind::Version,
            "multiversion" => FieldKind::MultiVersion,
            "cascading" if !spec.options.is_empty() => {
                // `parent>child` per option.
                let mut tree: Vec<(String, Vec<String>)> = Vec::new();
                for o in &spec.options {
                    let (parent, child) = o.split_once('>').ok_or_else(|| {
                        ControlError::Invalid(format!(
                            "cascading option `{o}` is not `parent>child`"
                        ))
                    })?;
                    match tree.iter_mut().find(|(p, _)| p == parent) {
                        Some((_, children)) => children.push(child.to_owned()),
                        None => tree.push((parent.to_owned(), vec![child.to_owned()])),
                    }
                }
                FieldKind::Cascading(tree)
            }
            "select" | "radio" if !spec.options.is_empty() => FieldKind::Select(spec.options),
            "multiselect" | "checkboxes" if !spec.options.is_empty() => {
                FieldKind::MultiSelect(spec.options)
            }
            "url" | "app" => FieldKind::Text,
            other => {
                return Err(ControlError::Invalid(format!(
                    "field type `{other}` is not one of text, textarea, url, number, date, datetime, labels, sprint, user, multiuser, group, multigroup, version, multiversion, app (a third-party app's field), select, radio, multiselect, checkboxes or cascading (the last five with options)"
                )));
            }
        };
        self.with_site(site, |s| {
            let id = spec
                .id
                .unwrap_or_else(|| format!("customfield_{}", 10000 + s.fields.len()));
            let valid = id
                .strip_prefix("customfield_")
                .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
            if !valid || s.field(&id).is_some() {
                return Err(ControlError::Invalid(format!(
                    "field id `{id}` must be a new customfield_NNNNN"
                )));
            }
            // Option ids differ between sites, as Jira's do.
            let mut h = DefaultHasher::new();
            (s.name.as_str(), id.as_str()).hash(&mut h);
            let option_base = 10000 + (h.finish() % 900) * 100;
            let schema: Option<(&'static str, &'static str)> = match spec.kind.as_str() {
                "radio" => Some((
                    "option",
                    "com.atlassian.jira.plugin.system.customfieldtypes:radiobuttons",
                )),
                "checkboxes" => Some((
                    "array",
                    "com.atlassian.jira.plugin.system.customfieldtypes:multicheckboxes",
                )),
                "url" => Some((
                    "string",
                    "com.atlassian.jira.plugin.system.customfieldtypes:url",
                )),
                "app" => Some(("any", "com.example.jira-app:risk-score")),
                _ => None,
            };
            s.fields.push(CustomField {
                id: id.clone(),
                name: spec.name,
                kind,
                option_base,
                schema,
            });
            Ok(id)
        })
    }

    /// Replaces the options of a select field (an administrator's change).
    pub fn set_field_options(
        &self,
        site: &str,
        field: &str,
        options: Vec<String>,
    ) -> Result<(), ControlError> {
        self.with_site(site, |s| {
            let f = s
                .fields
                .iter_mut()
                .find(|f| f.id == field)
                .ok_or_else(|| ControlError::NotFound(format!("no field `{field}`")))?;
            match &mut f.kind {
                FieldKind::Select(o) | FieldKind::MultiSelect(o) if !options.is_empty() => {
                    *o = options;
                    Ok(())
                }
                _ => Err(ControlError::Invalid(format!(
                    "`{field}` is not a select field, or no options were given"
                ))),
            }
        })
    }
}

/// (id, name) for each name, with ids that differ between sites as Jira's do.
pub(super) fn named_ids(
    site: &str,
    project: &str,
    what: &str,
    names: &[String],
) -> Vec<(String, String)> {
    let mut h = DefaultHasher::new();
    (site, project, what).hash(&mut h);
    let base = 10000 + (h.finish() % 900) * 100;
    names
        .iter()
        .enumerate()
        .map(|(i, n)| ((base + i as u64).to_string(), n.clone()))
        .collect()
}
