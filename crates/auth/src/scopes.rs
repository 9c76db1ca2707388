//! The OAuth scopes jira-sync needs, derived from the operations it calls.
//!
//! `scopes.json` holds, for every Jira operation the project calls, the classic ("Current")
//! and granular ("Beta") scopes of Atlassian's OpenAPI document; a test regenerates it from
//! the document and fails on any difference.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use jira_sync_config::{Auth, Connector, Site};

/// What an operation is needed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Health probe and site facts: every connector.
    Always,
    /// Reading issues: every direction (push reads what it writes).
    Read,
    /// Writing issues: `push` and `both`.
    Write,
    /// Deleting issues: only with `propagate_deletes`.
    Delete,
    /// Copying files: only with `attachments = true` on a pushing connector.
    Attachments,
    /// Registering and refreshing the site's dynamic webhook: `oauth2` sites with
    /// `webhooks = true`.
    Webhooks,
}

/// Every Jira operation jira-sync calls.
pub const OPERATIONS: &[(&str, &str, Need)] = &[
    ("POST", "/rest/api/3/webhook", Need::Webhooks),
    ("GET", "/rest/api/3/webhook", Need::Webhooks),
    ("DELETE", "/rest/api/3/webhook", Need::Webhooks),
    ("PUT", "/rest/api/3/webhook/refresh", Need::Webhooks),
    ("GET", "/rest/api/3/myself", Need::Always),
    ("GET", "/rest/api/3/field", Need::Always),
    // People are mapped across sites by visible email when issues are written.
    ("GET", "/rest/api/3/user/search", Need::Write),
    // A mention is mapped by the email of its account on the site it was read on.
    ("GET", "/rest/api/3/user", Need::Write),
    ("GET", "/rest/api/3/project/{projectIdOrKey}", Need::Always),
    (
        "GET",
        "/rest/api/3/project/{projectIdOrKey}/statuses",
        Need::Always,
    ),
    ("GET", "/rest/api/3/search/jql", Need::Read),
    ("POST", "/rest/api/3/search/jql", Need::Read),
    ("POST", "/rest/api/3/search/approximate-count", Need::Read),
    ("POST", "/rest/api/3/issue/bulkfetch", Need::Read),
    ("GET", "/rest/api/3/issue/{issueIdOrKey}", Need::Read),
    (
        "GET",
        "/rest/api/3/issue/{issueIdOrKey}/comment",
        Need::Read,
    ),
    (
        "GET",
        "/rest/api/3/issue/{issueIdOrKey}/properties/{propertyKey}",
        Need::Read,
    ),
    (
        "GET",
        "/rest/api/3/issue/{issueIdOrKey}/transitions",
        Need::Read,
    ),
    (
        "GET",
        "/rest/api/3/issue/{issueIdOrKey}/editmeta",
        Need::Write,
    ),
    (
        "GET",
        "/rest/api/3/issue/createmeta/{projectIdOrKey}/issuetypes",
        Need::Write,
    ),
    (
        "GET",
        "/rest/api/3/issue/createmeta/{projectIdOrKey}/issuetypes/{issueTypeId}",
        Need::Write,
    ),
    ("POST", "/rest/api/3/issue", Need::Write),
    ("POST", "/rest/api/3/issue/bulk", Need::Write),
    ("PUT", "/rest/api/3/issue/{issueIdOrKey}", Need::Write),
    (
        "PUT",
        "/rest/api/3/issue/{issueIdOrKey}/assignee",
        Need::Write,
    ),
    (
        "POST",
        "/rest/api/3/issue/{issueIdOrKey}/transitions",
        Need::Write,
    ),
    (
        "POST",
        "/rest/api/3/issue/{issueIdOrKey}/comment",
        Need::Write,
    ),
    (
        "PUT",
        "/rest/api/3/issue/{issueIdOrKey}/properties/{propertyKey}",
        Need::Write,
    ),
    ("DELETE", "/rest/api/3/issue/{issueIdOrKey}", Need::Delete),
    (
        "POST",
        "/rest/api/3/issue/{issueIdOrKey}/attachments",
        Need::Attachments,
    ),
    (
        "GET",
        "/rest/api/3/attachment/content/{id}",
        Need::Attachments,
    ),
    ("DELETE", "/rest/api/3/attachment/{id}", Need::Attachments),
];

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize, PartialEq, Eq)]
pub struct OpScopes {
    pub classic: Vec<String>,
    pub granular: Vec<String>,
}

/// `"METHOD /rest/api/3/..."` -> scopes, from `scopes.json`.
pub static TABLE: LazyLock<BTreeMap<String, OpScopes>> = LazyLock::new(|| {
    serde_json::from_str(include_str!("scopes.json")).expect("scopes.json is valid")
});

/// A set of scopes in both of Atlassian's forms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scopes {
    pub classic: BTreeSet<String>,
    pub granular: BTreeSet<String>,
}

impl Scopes {
    /// Classic scopes missing from `granted`, or none if `granted` holds every granular one.
    pub fn missing_from(&self, granted: &BTreeSet<String>) -> Vec<String> {
        if self.granular.is_subset(granted) && !self.granular.is_empty() {
            return Vec::new();
        }
        self.classic.difference(granted).cloned().collect()
    }
}

/// The minimal scopes for a site's connectors.
pub fn required(connectors: &[Connector]) -> Scopes {
    scopes_for(connectors, false)
}

/// The scopes `site` needs: its connectors', and for an `oauth2` site with
/// `webhooks = true` those of its dynamic webhook (`manage:jira-webhook`).
pub fn required_for_site(site: &Site) -> Scopes {
    let webhooks = site.webhooks && matches!(site.auth, Auth::OAuth2(_));
    scopes_for(&site.connectors, webhooks)
}

fn scopes_for(connectors: &[Connector], webhooks: bool) -> Scopes {
    let writes = connectors.iter().any(|c| c.direction.pushes());
    let deletes = connectors
        .iter()
        .any(|c| c.direction.pushes() && c.propagate_deletes);
    // A file is read from its source site and written to its mirror, so every site of a
    // connector with attachments needs both.
    let attachments = connectors.iter().any(|c| c.attachments);
    let wanted = |need: Need| match need {
        Need::Always | Need::Read => true,
        Need::Write => writes,
        Need::Delete => deletes,
        Need::Attachments => attachments,
        Need::Webhooks => webhooks,
    };
    let mut out = Scopes::default();
    for (method, path, need) in OPERATIONS {
        if !wanted(*need) {
            continue;
        }
        let op = &TABLE[&format!("{method} {path}")];
        out.classic.extend(op.classic.iter().cloned());
        out.granular.extend(op.granular.iter().cloned());
    }
    out
}
