//! The OAuth scopes each served operation needs, from the official OpenAPI document
//! (`x-atlassian-oauth2-scopes`: the "Current" entry is the classic set, "Beta" the granular
//! one). `scopes.json` is derived from the document; a test checks it has not drifted.

use std::collections::BTreeMap;
use std::sync::LazyLock;

#[derive(Debug, Clone, serde::Deserialize)]
pub struct OpScopes {
    /// The operation allows anonymous access (`security` has an empty entry).
    pub anonymous: bool,
    pub classic: Vec<String>,
    pub granular: Vec<String>,
}

impl OpScopes {
    /// A credential may call the operation when it holds every classic scope or every
    /// granular scope of it.
    pub fn granted_by<'a>(&self, held: impl Fn(&str) -> bool + 'a) -> bool {
        self.classic.iter().all(|s| held(s))
            || (!self.granular.is_empty() && self.granular.iter().all(|s| held(s)))
    }
}

/// `"METHOD /rest/api/3/path/{template}"` -> scopes.
pub static TABLE: LazyLock<BTreeMap<String, OpScopes>> = LazyLock::new(|| {
    serde_json::from_str(include_str!("scopes.json")).expect("scopes.json is valid")
});

pub fn for_operation(method: &str, template: &str) -> Option<&'static OpScopes> {
    TABLE.get(&format!("{method} {template}"))
}
