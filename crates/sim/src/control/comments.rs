//! The control API's comments: written as a person would (with an audience, as an internal
//! note), edited and deleted; and the site's roles and groups that audiences name.

use serde::Deserialize;
use serde_json::Value;

use super::{Control, ControlError, account_ref, issue_ref};
use crate::adf;
use crate::model::{Audience, Site};
use crate::write;

/// A role or group and its members (account ids or emails).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudienceSpec {
    pub name: String,
    /// The group's id (groups only); default derived from the name.
    pub id: Option<String>,
    #[serde(default)]
    pub members: Vec<String>,
}

/// How a person's comment is written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommentOptions {
    /// `("role" | "group", name)`: who may read it; the author must belong to it.
    pub visibility: Option<(String, String)>,
    /// A service-desk internal note (property `sd.public.comment` = `{"internal": true}`).
    #[serde(default)]
    pub internal: bool,
}

impl Control {
    /// Creates the site's roles and groups.
    pub fn create_audiences(
        &self,
        site: &str,
        roles: &[AudienceSpec],
        groups: &[AudienceSpec],
    ) -> Result<(), ControlError> {
        self.with_site(site, |s| {
            for r in roles {
                let members = members(s, &r.members)?;
                s.roles.insert(r.name.clone(), members);
            }
            for g in groups {
                let members = members(s, &g.members)?;
                let id =
                    g.id.clone()
                        .unwrap_or_else(|| format!("group-{}", g.name.to_lowercase()));
                s.groups.insert(g.name.clone(), (id, members));
            }
            Ok(())
        })
    }

    /// Comments as `as_account`; a string body becomes one paragraph per line.
    pub fn comment_issue(
        &self,
        site: &str,
        issue: &str,
        as_account: &str,
        body: &Value,
    ) -> Result<u64, ControlError> {
        self.comment_issue_with(site, issue, as_account, body, &CommentOptions::default())
    }

    /// Comments as `as_account` with an audience or as an internal note.
    pub fn comment_issue_with(
        &self,
        site: &str,
        issue: &str,
        as_account: &str,
        body: &Value,
        options: &CommentOptions,
    ) -> Result<u64, ControlError> {
        let now = self.world.clock().now();
        let body = adf_of(body);
        self.with_site(site, |s| {
            let who = account_ref(s, as_account)?;
            let id = issue_ref(s, issue)?;
            let visibility = audience(s, &who, options.visibility.as_ref())?;
            let props = if options.internal {
                vec![(
                    "sd.public.comment".to_owned(),
                    serde_json::json!({ "internal": true }),
                )]
            } else {
                Vec::new()
            };
            Ok(write::add_comment(
                s, now, &who, id, &body, props, visibility,
            )?)
        })
    }

    /// Replaces a comment's body as `as_account`; `visibility` `Some` also sets its audience
    /// (`Some(None)`: public).
    pub fn edit_comment(
        &self,
        site: &str,
        issue: &str,
        comment_id: u64,
        as_account: &str,
        body: &Value,
        visibility: Option<Option<(String, String)>>,
    ) -> Result<(), ControlError> {
        let now = self.world.clock().now();
        let body = adf_of(body);
        self.with_site(site, |s| {
            let who = account_ref(s, as_account)?;
            let id = issue_ref(s, issue)?;
            let visibility = match visibility {
                None => None,
                Some(v) => Some(audience(s, &who, v.as_ref())?),
            };
            Ok(write::edit_comment(
                s, now, &who, id, comment_id, &body, visibility,
            )?)
        })
    }

    /// Deletes a comment (as an administrator would: whoever may see it).
    pub fn delete_comment(
        &self,
        site: &str,
        issue: &str,
        comment_id: u64,
    ) -> Result<(), ControlError> {
        let now = self.world.clock().now();
        self.with_site(site, |s| {
            let id = issue_ref(s, issue)?;
            Ok(write::delete_comment(s, now, "", id, comment_id)?)
        })
    }
}

fn adf_of(body: &Value) -> Value {
    match body {
        Value::String(text) => adf::from_text(text),
        other => other.clone(),
    }
}

fn members(s: &Site, refs: &[String]) -> Result<std::collections::BTreeSet<String>, ControlError> {
    refs.iter().map(|r| account_ref(s, r)).collect()
}

fn audience(
    s: &Site,
    who: &str,
    v: Option<&(String, String)>,
) -> Result<Option<Audience>, ControlError> {
    let v = v.map(|(kind, name)| serde_json::json!({ "type": kind, "value": name }));
    Ok(write::parse_visibility(s, who, v.as_ref())?)
}
