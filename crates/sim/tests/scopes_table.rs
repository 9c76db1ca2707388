//! `src/scopes.json` is derived from the OpenAPI document and must not drift from it.

use std::path::PathBuf;

use serde_json::{Value, json};

fn derive(doc: &Value, key: &str) -> Value {
    let (method, path) = key.split_once(' ').unwrap();
    let op = &doc["paths"][path][method.to_lowercase()];
    assert!(op.is_object(), "{key} is not in the OpenAPI document");
    let scopes = op["x-atlassian-oauth2-scopes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let of = |state: &str| -> Vec<String> {
        let mut v: Vec<String> = scopes
            .iter()
            .find(|s| s["state"] == state)
            .and_then(|s| s["scopes"].as_array())
            .map(|a| a.iter().map(|x| x.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default();
        v.sort();
        v
    };
    let anonymous = op["security"]
        .as_array()
        .is_some_and(|s| s.iter().any(|e| e == &json!({})));
    json!({ "anonymous": anonymous, "classic": of("Current"), "granular": of("Beta") })
}

#[test]
fn scope_table_matches_the_openapi_document() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("../../../shared/jira-openapi/jira-platform-v3.json"))
            .unwrap(),
    )
    .unwrap();
    let table: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("src/scopes.json")).unwrap())
            .unwrap();
    let table = table.as_object().unwrap();
    assert_eq!(table.len(), 38, "one entry per served operation");
    for (key, entry) in table {
        assert_eq!(
            entry,
            &derive(&doc, key),
            "{key} drifted from the OpenAPI document"
        );
    }
    assert_eq!(
        table["GET /rest/api/3/myself"]["classic"],
        json!(["read:jira-user"])
    );
    assert_eq!(
        table["POST /rest/api/3/issue"]["classic"],
        json!(["write:jira-work"])
    );
}
