//! Every operation the simulator serves, checked against Atlassian's OpenAPI document:
//! response bodies validate against the operation's response schema (nested field values
//! against their own schemas), and the document's request examples are answered with a
//! documented status and a well-formed body.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::LazyLock;

use jira_sync_harness::acme::*;
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

/// Where validation knowingly differs from the document's schemas, and why. Each rule is
/// applied in `to_json_schema` and nowhere else.
const RELAXATIONS: &[(&str, &str)] = &[(
    "format: date-time accepts Jira's timestamp form",
    "Jira Cloud prints timestamps as 2020-05-08T07:55:44.099+0000 (offset without a colon), \
     which is not RFC 3339; clients must parse what Jira sends, so the simulator sends the same",
)];

/// Jira's timestamp form, used in place of `format: date-time` (see `RELAXATIONS`).
const JIRA_TIMESTAMP: &str = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{4}$";

fn openapi() -> &'static Value {
    static DOC: LazyLock<Value> = LazyLock::new(|| {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/jira-openapi/jira-platform-v3.json");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_str(&text).expect("OpenAPI JSON")
    });
    &DOC
}

/// OpenAPI 3.0 schema objects -> JSON Schema: `nullable: true` admits null.
fn to_json_schema(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out: Map<String, Value> = m
                .iter()
                .map(|(k, v)| (k.clone(), to_json_schema(v)))
                .collect();
            if out.get("format") == Some(&json!("date-time")) {
                out.remove("format");
                out.insert("pattern".into(), json!(JIRA_TIMESTAMP));
            }
            if out.remove("nullable") == Some(Value::Bool(true)) {
                match out.get("type").cloned() {
                    Some(Value::String(t)) => {
                        out.insert("type".into(), json!([t, "null"]));
                    }
                    _ => {
                        let inner = Value::Object(out);
                        return json!({ "anyOf": [inner, { "type": "null" }] });
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(to_json_schema).collect()),
        other => other.clone(),
    }
}

fn components() -> &'static Value {
    static C: LazyLock<Value> = LazyLock::new(|| to_json_schema(&openapi()["components"]));
    &C
}

fn validate(schema: &Value, instance: &Value, what: &str) {
    let mut root = to_json_schema(schema);
    root["components"] = components().clone();
    let validator =
        jsonschema::draft7::new(&root).unwrap_or_else(|e| panic!("{what}: schema: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what}: {} errors:\n{}\nbody: {instance}",
        errors.len(),
        errors.join("\n")
    );
}

fn named(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// The response schema the document gives for `status`, if any.
fn response_schema(method: &str, template: &str, status: u16) -> Option<Value> {
    let op = &openapi()["paths"][template][method.to_lowercase()];
    assert!(
        op.is_object(),
        "{method} {template} is not in the OpenAPI document"
    );
    let resp = op["responses"].get(status.to_string())?;
    resp["content"]["application/json"].get("schema").cloned()
}

/// Field values inside `fields` are open in `IssueBean`; check them against their own schemas.
fn validate_issue_fields(issue: &Value, what: &str) {
    let Some(fields) = issue.get("fields").and_then(Value::as_object) else {
        return;
    };
    let by_field: BTreeMap<&str, &str> = BTreeMap::from([
        ("status", "StatusDetails"),
        ("issuetype", "IssueTypeDetails"),
        ("priority", "Priority"),
        ("project", "ProjectDetails"),
        ("assignee", "UserDetails"),
        ("reporter", "UserDetails"),
        ("creator", "UserDetails"),
        ("comment", "PageOfComments"),
    ]);
    for (field, value) in fields {
        if let Some(schema) = by_field.get(field.as_str()).filter(|_| !value.is_null()) {
            validate(&named(schema), value, &format!("{what} fields.{field}"));
        }
    }
}

struct Check<'a> {
    f: &'a Fixture,
}

impl Check<'_> {
    /// Calls the operation and validates the response against the document.
    async fn op(
        &self,
        method: Method,
        template: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let (status, v) = self
            .f
            .call(&self.f.gateway(), method.clone(), path, body)
            .await;
        let what = format!("{method} {template} -> {status}");
        let full = format!("/rest/api/3{template}");
        let documented = openapi()["paths"][&full][method.as_str().to_lowercase()]["responses"]
            .as_object()
            .unwrap()
            .contains_key(status.as_str());
        assert!(
            documented,
            "{what}: status not documented for the operation; body {v}"
        );
        if let Some(schema) = response_schema(method.as_str(), &full, status.as_u16()) {
            validate(&schema, &v, &what);
        } else if status.is_client_error() && v.is_object() && v.get("errorMessages").is_some() {
            validate(&named("ErrorCollection"), &v, &what);
        }
        for issue in v
            .get("issues")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            validate_issue_fields(issue, &what);
        }
        if v.get("fields").is_some() {
            validate_issue_fields(&v, &what);
        }
        (status, v)
    }
}

#[tokio::test]
async fn every_served_operation_answers_as_the_document_says() {
    let f = Fixture::new().await;
    f.sim
        .control()
        .seed_issues("acme", "SEC", 5, 1, Some(ALICE))
        .unwrap();
    let c = Check { f: &f };
    let ok = |s: StatusCode, v: &Value| assert!(s.is_success(), "{s}: {v}");

    let (s, v) = c.op(Method::GET, "/myself", "/myself", None).await;
    ok(s, &v);
    let (s, v) = c.op(Method::GET, "/serverInfo", "/serverInfo", None).await;
    ok(s, &v);
    let (s, v) = c
        .op(Method::GET, "/user/search", "/user/search?query=al", None)
        .await;
    ok(s, &v);
    assert_eq!(v.as_array().map(Vec::len), Some(1), "{v}");
    let (s, v) = c
        .op(Method::GET, "/user/search", "/user/search", None)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, v) = c.op(Method::GET, "/field", "/field", None).await;
    ok(s, &v);
    let (s, v) = c.op(Method::GET, "/issuetype", "/issuetype", None).await;
    ok(s, &v);
    let (s, v) = c
        .op(
            Method::GET,
            "/project/{projectIdOrKey}",
            "/project/SEC?expand=issueTypes",
            None,
        )
        .await;
    ok(s, &v);
    c.op(
        Method::GET,
        "/project/{projectIdOrKey}",
        "/project/NOPE",
        None,
    )
    .await;
    let (s, v) = c
        .op(
            Method::GET,
            "/issue/createmeta/{projectIdOrKey}/issuetypes",
            "/issue/createmeta/SEC/issuetypes",
            None,
        )
        .await;
    ok(s, &v);

    let create = json!({ "fields": { "project": { "key": "SEC" }, "issuetype": { "name": "Bug" }, "summary": "conformance",
        "description": adf("body"), "labels": ["a"], "priority": { "name": "High" }, "duedate": "2027-01-31",
        "assignee": { "accountId": "acc-bob" }, "customfield_10042": { "value": "Low" }, "customfield_10060": adf("notes") },
        "properties": [{ "key": "jira-sync", "value": { "record": "r" } }] });
    let (s, v) = c
        .op(Method::POST, "/issue", "/issue", Some(create.clone()))
        .await;
    ok(s, &v);
    let key = v["key"].as_str().unwrap().to_owned();
    c.op(
        Method::POST,
        "/issue",
        "/issue",
        Some(json!({ "fields": {} })),
    )
    .await;
    let (s, v) = c
        .op(
            Method::POST,
            "/issue/bulk",
            "/issue/bulk",
            Some(json!({ "issueUpdates": [create.clone(), { "fields": {} }] })),
        )
        .await;
    ok(s, &v);

    let (s, v) = c
        .op(
            Method::GET,
            "/issue/{issueIdOrKey}",
            &format!("/issue/{key}?expand=changelog&properties=jira-sync"),
            None,
        )
        .await;
    ok(s, &v);
    c.op(Method::GET, "/issue/{issueIdOrKey}", "/issue/NOPE-1", None)
        .await;
    let (s, v) = c
        .op(
            Method::PUT,
            "/issue/{issueIdOrKey}",
            &format!("/issue/{key}"),
            Some(json!({ "fields": { "summary": "edited" } })),
        )
        .await;
    ok(s, &v);
    let (s, v) = c
        .op(
            Method::PUT,
            "/issue/{issueIdOrKey}",
            &format!("/issue/{key}?returnIssue=true"),
            Some(json!({ "update": { "labels": [{ "add": "b" }] } })),
        )
        .await;
    ok(s, &v);
    c.op(
        Method::PUT,
        "/issue/{issueIdOrKey}",
        &format!("/issue/{key}"),
        Some(json!({ "fields": { "summary": "" } })),
    )
    .await;

    let (s, v) = c
        .op(
            Method::GET,
            "/issue/{issueIdOrKey}/transitions",
            &format!("/issue/{key}/transitions"),
            None,
        )
        .await;
    ok(s, &v);
    let tid = v["transitions"][0]["id"].as_str().unwrap().to_owned();
    let (s, v) = c
        .op(
            Method::POST,
            "/issue/{issueIdOrKey}/transitions",
            &format!("/issue/{key}/transitions"),
            Some(json!({ "transition": { "id": tid } })),
        )
        .await;
    ok(s, &v);
    c.op(
        Method::POST,
        "/issue/{issueIdOrKey}/transitions",
        &format!("/issue/{key}/transitions"),
        Some(json!({ "transition": { "id": "999" } })),
    )
    .await;

    let (s, v) = c
        .op(
            Method::POST,
            "/issue/{issueIdOrKey}/comment",
            &format!("/issue/{key}/comment"),
            Some(json!({ "body": adf("hi"), "properties": [{ "key": "k", "value": 1 }] })),
        )
        .await;
    ok(s, &v);
    let (s, v) = c
        .op(
            Method::GET,
            "/issue/{issueIdOrKey}/comment",
            &format!("/issue/{key}/comment?expand=properties"),
            None,
        )
        .await;
    ok(s, &v);
    c.op(
        Method::POST,
        "/issue/{issueIdOrKey}/comment",
        &format!("/issue/{key}/comment"),
        Some(json!({ "body": "text" })),
    )
    .await;

    let (s, v) = c
        .op(
            Method::PUT,
            "/issue/{issueIdOrKey}/properties/{propertyKey}",
            &format!("/issue/{key}/properties/jira-sync"),
            Some(json!({ "record": "r2" })),
        )
        .await;
    ok(s, &v);
    let (s, v) = c
        .op(
            Method::GET,
            "/issue/{issueIdOrKey}/properties/{propertyKey}",
            &format!("/issue/{key}/properties/jira-sync"),
            None,
        )
        .await;
    ok(s, &v);
    c.op(
        Method::GET,
        "/issue/{issueIdOrKey}/properties/{propertyKey}",
        &format!("/issue/{key}/properties/absent"),
        None,
    )
    .await;

    let (s, v) = c.op(Method::POST, "/search/jql", "/search/jql", Some(json!({ "jql": "project = SEC ORDER BY updated ASC", "fields": ["*all"], "properties": ["jira-sync"], "maxResults": 2 }))).await;
    ok(s, &v);
    let (s, v) = c
        .op(
            Method::GET,
            "/search/jql",
            "/search/jql?jql=project%3DSEC&fields=id",
            None,
        )
        .await;
    ok(s, &v);
    c.op(
        Method::POST,
        "/search/jql",
        "/search/jql",
        Some(json!({ "jql": "summary ~ x" })),
    )
    .await;
    let (s, v) = c
        .op(
            Method::POST,
            "/search/approximate-count",
            "/search/approximate-count",
            Some(json!({ "jql": "project = SEC" })),
        )
        .await;
    ok(s, &v);
    let (s, v) = c
        .op(
            Method::POST,
            "/issue/bulkfetch",
            "/issue/bulkfetch",
            Some(json!({ "issueIdsOrKeys": [key, "SEC-1"], "fields": ["summary", "status"] })),
        )
        .await;
    ok(s, &v);
    // Deleted, then gone: a second delete is a 404.
    for expected in [StatusCode::NO_CONTENT, StatusCode::NOT_FOUND] {
        let (s, v) = c
            .op(
                Method::DELETE,
                "/issue/{issueIdOrKey}",
                "/issue/SEC-5",
                None,
            )
            .await;
        assert_eq!(s, expected, "{v}");
    }
}

#[tokio::test]
async fn workflows_are_read_by_accounts_that_may_view_them_and_refused_to_others() {
    let f = Fixture::new().await;
    let c = Check { f: &f };
    let body =
        json!({ "projectAndIssueTypes": [{ "projectId": "10000", "issueTypeId": "10001" }] });
    // Alice's scoped token lacks `manage:jira-configuration` and `read:workflow:jira`.
    let (s, v) = c
        .op(Method::POST, "/workflows", "/workflows", Some(body.clone()))
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    // Her classic token may (she administers the site): the document's response shape.
    let (s, v) = f
        .call(&f.site(), Method::POST, "/workflows", Some(body.clone()))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    validate(
        &response_schema("POST", "/rest/api/3/workflows", 200).unwrap(),
        &v,
        "POST /workflows -> 200",
    );
    let wf = &v["workflows"][0];
    assert_eq!(wf["transitions"][0]["type"], "INITIAL", "{wf}");
    assert!(
        wf["transitions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["type"] == "DIRECTED" && !t["links"].as_array().unwrap().is_empty()),
        "{wf}"
    );
    // A field the request schema does not have is refused (additionalProperties: false).
    let (s, _) = f
        .call(
            &f.site(),
            Method::POST,
            "/workflows",
            Some(json!({ "projects": [] })),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

fn example(method: &str, template: &str) -> Value {
    openapi()["paths"][template][method]["requestBody"]["content"]["application/json"]["example"]
        .clone()
}

#[tokio::test]
async fn the_documents_own_request_examples_are_understood() {
    let f = Fixture::new().await;
    let control = f.sim.control();
    control
        .create_project(
            "acme",
            jira_sim::control::ProjectSpec {
                key: "HSP".into(),
                ..Default::default()
            },
        )
        .unwrap();
    control
        .seed_issues("acme", "HSP", 3, 2, Some(ALICE))
        .unwrap();
    let c = Check { f: &f };

    let (s, v) = c
        .op(
            Method::POST,
            "/search/approximate-count",
            "/search/approximate-count",
            Some(example("post", "/rest/api/3/search/approximate-count")),
        )
        .await;
    assert_eq!((s, &v), (StatusCode::OK, &json!({ "count": 3 })));
    let (s, v) = c
        .op(
            Method::POST,
            "/issue/bulkfetch",
            "/issue/bulkfetch",
            Some(example("post", "/rest/api/3/issue/bulkfetch")),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v["issueErrors"].as_array().unwrap().len(),
        3,
        "EX-1, EX-2 and 10005 do not exist here"
    );
    let (s, v) = c
        .op(
            Method::POST,
            "/issue/{issueIdOrKey}/comment",
            "/issue/HSP-1/comment",
            Some(example("post", "/rest/api/3/issue/{issueIdOrKey}/comment")),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["visibility"]["value"], "Administrators", "{v}");
    // A role the site does not have is refused in Jira's words, never widened to public.
    let mut restricted = example("post", "/rest/api/3/issue/{issueIdOrKey}/comment");
    restricted["visibility"] = json!({ "type": "role", "value": "Auditors" });
    let (s, v) = c
        .op(
            Method::POST,
            "/issue/{issueIdOrKey}/comment",
            "/issue/HSP-1/comment",
            Some(restricted),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v.to_string()
            .contains("Role with id: Auditors does not exist."),
        "{v}"
    );

    // The create, edit and transition examples name fields, screens and ids this site does not
    // have: Jira answers those with per-field errors, and so must the simulator.
    for (method, template, path) in [
        ("post", "/issue", "/issue".to_owned()),
        ("post", "/issue/bulk", "/issue/bulk".to_owned()),
        ("put", "/issue/{issueIdOrKey}", "/issue/HSP-1".to_owned()),
        (
            "post",
            "/issue/{issueIdOrKey}/transitions",
            "/issue/HSP-1/transitions".to_owned(),
        ),
    ] {
        let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let (s, v) = c
            .op(
                m,
                template,
                &path,
                Some(example(method, &format!("/rest/api/3{template}"))),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{method} {template}: {v}");
        let text = v.to_string();
        assert!(
            !text.contains("Unexpected character") && !text.contains("Invalid request"),
            "parsed, not refused as malformed: {v}"
        );
    }
    assert_eq!(
        control.issue_count("acme").unwrap(),
        3,
        "no example created anything"
    );
}

#[test]
fn relaxations_say_why() {
    for (rule, why) in RELAXATIONS {
        assert!(!rule.is_empty() && why.len() > 40, "{rule}: {why}");
    }
    // The relaxed pattern still refuses what Jira never sends.
    let re = regex_lite_check(JIRA_TIMESTAMP);
    assert!(re("2020-05-08T07:55:44.099+0000"));
    assert!(!re("2020-05-08 07:55"));
}

/// Checks a timestamp against `JIRA_TIMESTAMP` through the schema validator itself.
fn regex_lite_check(pattern: &str) -> impl Fn(&str) -> bool {
    let v = jsonschema::draft7::new(&json!({ "type": "string", "pattern": pattern })).unwrap();
    move |s: &str| v.is_valid(&json!(s))
}
