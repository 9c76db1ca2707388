//! `src/scopes.json` is derived from Atlassian's OpenAPI document and must not drift; the
//! minimal scopes follow the connectors' directions.

use std::path::PathBuf;

use jira_sync_auth::scopes::{OPERATIONS, TABLE, required};
use serde_json::{Value, json};

#[test]
fn scope_table_is_regenerated_identically_from_the_openapi_document() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("../../../shared/jira-openapi/jira-platform-v3.json"))
            .unwrap(),
    )
    .unwrap();
    let mut regenerated = serde_json::Map::new();
    for (m, p, _) in OPERATIONS {
        let op = &doc["paths"][p][m.to_lowercase()];
        assert!(op.is_object(), "{m} {p} is not in the OpenAPI document");
        let of = |state: &str| -> Vec<String> {
            let mut v: Vec<String> = op["x-atlassian-oauth2-scopes"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|s| s["state"] == state)
                .and_then(|s| s["scopes"].as_array())
                .map(|a| a.iter().map(|x| x.as_str().unwrap().to_owned()).collect())
                .unwrap_or_default();
            v.sort();
            v
        };
        regenerated.insert(
            format!("{m} {p}"),
            json!({ "classic": of("Current"), "granular": of("Beta") }),
        );
    }
    let committed: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("src/scopes.json")).unwrap())
            .unwrap();
    let regenerated = Value::Object(regenerated);
    if std::env::var_os("UPDATE_SCOPES").is_some() {
        std::fs::write(
            root.join("src/scopes.json"),
            serde_json::to_string_pretty(&regenerated).unwrap() + "\n",
        )
        .unwrap();
    }
    assert_eq!(
        committed, regenerated,
        "regenerate with UPDATE_SCOPES=1 cargo test -p jira-sync-auth --test scope_table"
    );
    assert_eq!(TABLE.len(), OPERATIONS.len());
}

#[test]
fn pull_needs_no_write_scopes_and_push_does() {
    let cfg = |direction: &str, deletes: bool| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sites.d")).unwrap();
        std::fs::write(dir.path().join("jira-sync.toml"), "").unwrap();
        std::fs::write(
            dir.path().join("sites.d/acme.toml"),
            format!("url = \"https://acme.atlassian.net\"\n[auth]\nmethod = \"api_token\"\nemail = \"a@b.example\"\ntoken = {{ env = \"T\" }}\n[[connector]]\nname = \"c\"\nproject = \"SEC\"\ndirection = \"{direction}\"\npropagate_deletes = {deletes}\n"),
        )
        .unwrap();
        let env = std::collections::BTreeMap::from([
            ("T".to_owned(), "FAKE".to_owned()),
            ("STATE_DIRECTORY".to_owned(), "/tmp".to_owned()),
        ]);
        let c = jira_sync_config::Loader::with_env(env)
            .load(dir.path())
            .unwrap();
        required(&c.sites[0].connectors)
    };
    let pull = cfg("pull", false);
    assert_eq!(
        pull.classic.iter().map(String::as_str).collect::<Vec<_>>(),
        ["read:jira-user", "read:jira-work"]
    );
    assert!(
        !pull
            .granular
            .iter()
            .any(|s| s.starts_with("write:") || s.starts_with("delete:"))
    );
    let both = cfg("both", false);
    assert!(both.classic.contains("write:jira-work"));
    assert!(
        both.granular.contains("write:issue:jira") && !both.granular.contains("delete:issue:jira")
    );
    assert!(cfg("push", true).granular.contains("delete:issue:jira"));
}
