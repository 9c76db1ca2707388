//! What tests of a two-site mirror compare: an issue as one line of every synced field, so
//! two sites' issues compare as sorted lists (field by field, duplicates counted).

use serde_json::Value;

/// `summary | description | priority | labels | hub status | select value | N comments`,
/// with the status mapped through `statuses` (Jira name, hub status) and the select field
/// `select` (a custom field id) by its value.
pub fn issue_line(issue: &Value, select: &str, statuses: &[(&str, &str)]) -> String {
    let f = &issue["fields"];
    let status = f["status"]["name"].as_str().unwrap_or_default();
    let hub = statuses
        .iter()
        .find(|(jira, _)| *jira == status)
        .map_or(status, |(_, hub)| hub);
    let mut labels: Vec<&str> = f["labels"]
        .as_array()
        .map(|l| l.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    labels.sort();
    format!(
        "{} | {} | {} | {labels:?} | {hub} | {} | {} comments",
        f["summary"].as_str().unwrap_or_default(),
        f["description"],
        f["priority"]["name"],
        f[select]["value"],
        f["comment"]["total"]
    )
}

/// A number from the environment (long runs of tests), or `default`.
pub fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
