//! On the wire, checked against Atlassian's OpenAPI document: every request body the client
//! builds validates against its operation's request schema, and every operation decodes the
//! document's own response example.

use std::path::PathBuf;
use std::sync::LazyLock;

use jira_sync_client::{SearchQuery, adf};
use jira_sync_harness::sites::*;
use serde_json::{Map, Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn openapi() -> &'static Value {
    static DOC: LazyLock<Value> = LazyLock::new(|| {
        let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/jira-openapi/jira-platform-v3.json");
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    });
    &DOC
}

/// OpenAPI 3.0 schema objects -> JSON Schema (`nullable: true` admits null).
fn json_schema(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out: Map<String, Value> =
                m.iter().map(|(k, v)| (k.clone(), json_schema(v))).collect();
            if out.remove("nullable") == Some(Value::Bool(true)) {
                if let Some(Value::String(t)) = out.get("type").cloned() {
                    out.insert("type".into(), json!([t, "null"]));
                } else {
                    return json!({ "anyOf": [Value::Object(out), { "type": "null" }] });
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(json_schema).collect()),
        other => other.clone(),
    }
}

fn operation(m: &str, template: &str) -> &'static Value {
    let op = &openapi()["paths"][format!("/rest/api/3{template}")][m];
    assert!(op.is_object(), "{m} {template} not in the document");
    op
}

fn validate_request(m: &str, template: &str, body: &Value) {
    let schema = &operation(m, template)["requestBody"]["content"]["application/json"]["schema"];
    let mut root = json_schema(schema);
    root["components"] = json_schema(&openapi()["components"]);
    let v = jsonschema::draft7::new(&root).unwrap();
    let errors: Vec<String> = v
        .iter_errors(body)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{m} {template}: {errors:?}\nbody: {body}"
    );
}

fn example(m: &str, template: &str) -> Value {
    let responses = &operation(m, template)["responses"];
    let ex = ["200", "201"]
        .iter()
        .find_map(|c| responses[*c]["content"]["application/json"]["example"].as_str())
        .unwrap_or_else(|| panic!("{m} {template} has no example"));
    serde_json::from_str(ex).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_body_validates_against_its_schema() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/search/jql"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({ "issues": [], "isLast": true })),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/search/approximate-count"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "count": 0 })))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/issue/bulkfetch"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "issues": [] })))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/issue"))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({ "id": "1", "key": "SEC-1" })),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/issue/bulk"))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({ "issues": [], "errors": [] })),
        )
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/rest/api/3/issue/SEC-1"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/issue/SEC-1/transitions"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/issue/SEC-1/comment"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({ "id": "9" })))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/rest/api/3/issue/SEC-1/properties/jira-sync"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/workflows"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({ "statuses": [], "workflows": [] })),
        )
        .mount(&server)
        .await;
    let c = client(&server.uri());
    let details = json!({
        "fields": { "project": { "key": "SEC" }, "issuetype": { "name": "Task" }, "summary": "s", "description": adf::from_text("a\nb\n\nc"), "labels": ["x"] },
        "properties": [{ "key": "jira-sync", "value": { "record": "r", "nonce": "n" } }],
    });
    let long_jql = format!(
        "key in ({})",
        (1..400)
            .map(|i| format!("SEC-{i}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let mut pages = c
        .search(SearchQuery {
            jql: long_jql,
            fields: vec!["summary".into()],
            properties: vec!["jira-sync".into()],
            reconcile: vec![10000, 10001],
            page_size: 100,
        })
        .unwrap();
    pages.next().await.unwrap();
    c.approximate_count("project = SEC").await.unwrap();
    c.bulkfetch(
        &["SEC-1".into()],
        &["summary".into()],
        &["jira-sync".into()],
    )
    .await
    .unwrap();
    c.create(details.clone()).await.unwrap();
    c.bulk_create(&[details.clone(), details]).await.unwrap();
    c.edit("SEC-1", json!({ "fields": { "summary": "t" }, "update": { "labels": [{ "add": "y" }] }, "properties": [{ "key": "jira-sync", "value": { "nonce": "m" } }] })).await.unwrap();
    c.transition("SEC-1", "31", json!({})).await.unwrap();
    c.add_comment(
        "SEC-1",
        adf::from_text("hello"),
        Some(json!({ "type": "role", "value": "Developers" })),
        vec![("jira-sync".into(), json!({ "from": "globex" }))],
    )
    .await
    .unwrap();
    c.set_property("SEC-1", "jira-sync", json!({ "record": "r" }))
        .await
        .unwrap();
    c.workflow("10000", "10001").await.unwrap();

    let templates = [
        ("/workflows", "/workflows"),
        ("/search/jql", "/search/jql"),
        ("/search/approximate-count", "/search/approximate-count"),
        ("/issue/bulkfetch", "/issue/bulkfetch"),
        ("/issue", "/issue"),
        ("/issue/bulk", "/issue/bulk"),
        ("/issue/SEC-1", "/issue/{issueIdOrKey}"),
        (
            "/issue/SEC-1/transitions",
            "/issue/{issueIdOrKey}/transitions",
        ),
        ("/issue/SEC-1/comment", "/issue/{issueIdOrKey}/comment"),
        (
            "/issue/SEC-1/properties/jira-sync",
            "/issue/{issueIdOrKey}/properties/{propertyKey}",
        ),
    ];
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), templates.len(), "one request per operation");
    for r in &requests {
        let concrete = r.url.path().trim_start_matches("/rest/api/3");
        let template = templates
            .iter()
            .find(|(c, _)| *c == concrete)
            .map(|(_, t)| *t)
            .unwrap_or_else(|| panic!("unexpected {concrete}"));
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        validate_request(&r.method.as_str().to_lowercase(), template, &body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_decodes_the_documents_own_response_example() {
    let server = MockServer::start().await;
    let mount = |m: &'static str, concrete: &'static str, template: &'static str, status: u16| {
        let server = &server;
        async move {
            Mock::given(method(m.to_uppercase().as_str()))
                .and(path(format!("/rest/api/3{concrete}")))
                .respond_with(ResponseTemplate::new(status).set_body_json(example(m, template)))
                .mount(server)
                .await;
        }
    };
    mount("get", "/myself", "/myself", 200).await;
    mount("get", "/search/jql", "/search/jql", 200).await;
    mount(
        "post",
        "/search/approximate-count",
        "/search/approximate-count",
        200,
    )
    .await;
    mount("post", "/issue/bulkfetch", "/issue/bulkfetch", 200).await;
    mount("get", "/issue/EX-1", "/issue/{issueIdOrKey}", 200).await;
    mount("post", "/issue", "/issue", 201).await;
    mount("post", "/issue/bulk", "/issue/bulk", 201).await;
    mount(
        "get",
        "/issue/EX-1/transitions",
        "/issue/{issueIdOrKey}/transitions",
        200,
    )
    .await;
    mount(
        "get",
        "/issue/EX-1/comment",
        "/issue/{issueIdOrKey}/comment",
        200,
    )
    .await;
    mount(
        "post",
        "/issue/EX-1/comment",
        "/issue/{issueIdOrKey}/comment",
        201,
    )
    .await;
    mount(
        "get",
        "/issue/EX-1/properties/jira-sync",
        "/issue/{issueIdOrKey}/properties/{propertyKey}",
        200,
    )
    .await;
    mount("get", "/field", "/field", 200).await;
    mount("post", "/workflows", "/workflows", 200).await;
    mount(
        "get",
        "/issue/EX-1/changelog",
        "/issue/{issueIdOrKey}/changelog",
        200,
    )
    .await;
    mount("get", "/user/search", "/user/search", 200).await;
    mount("get", "/project/EX", "/project/{projectIdOrKey}", 200).await;
    mount(
        "get",
        "/issue/createmeta/EX/issuetypes",
        "/issue/createmeta/{projectIdOrKey}/issuetypes",
        200,
    )
    .await;
    let c = client(&server.uri());
    assert!(!c.myself().await.unwrap().account_id.is_empty());
    // The document's users show no email (and are inactive): no one is taken for it.
    assert_eq!(c.user_by_email("mia@example.com").await.unwrap(), None);
    let mut pages = c
        .search(SearchQuery {
            jql: "project = EX".into(),
            page_size: 50,
            ..Default::default()
        })
        .unwrap();
    assert!(!pages.next().await.unwrap().unwrap().issues.is_empty());
    c.approximate_count("project = EX").await.unwrap();
    assert!(
        !c.bulkfetch(&["EX-1".into()], &[], &[])
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(c.get_issue("EX-1", &[], &[]).await.unwrap()["key"], "ED-1");
    assert!(
        !c.create(json!({ "fields": {} }))
            .await
            .unwrap()
            .key
            .is_empty()
    );
    let bulk = c
        .bulk_create(&[json!({ "fields": {} }), json!({ "fields": {} })])
        .await
        .unwrap();
    assert!(!bulk.created.is_empty() || !bulk.failed.is_empty());
    assert!(!c.transitions("EX-1").await.unwrap().is_empty());
    assert!(!c.comments("EX-1").await.unwrap().is_empty());
    assert!(
        !c.add_comment("EX-1", adf::from_text("x"), None, vec![])
            .await
            .unwrap()
            .id
            .is_empty()
    );
    assert!(c.get_property("EX-1", "jira-sync").await.unwrap().is_some());
    assert!(!c.fields().await.unwrap().is_empty());
    assert!(!c.project("EX").await.unwrap().key.is_empty());
    c.createmeta_issue_types("EX").await.unwrap();
    // The document's changelog page names fields by id, with when they changed.
    let times = c.field_change_times("EX-1").await.unwrap();
    assert!(!times.is_empty(), "{times:?}");
    // The document's workflow: To Do, In Progress and Done, three global transitions and one
    // directed (Start work: To Do -> In Progress); the initial Create is not an edge.
    let graph = c.workflow("10000", "10001").await.unwrap().unwrap();
    let names: Vec<&str> = graph.statuses.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["In Progress", "Done", "To Do"]);
    assert_eq!(
        graph
            .statuses
            .iter()
            .map(|s| s.category_rank())
            .collect::<Vec<_>>(),
        [Some(1), Some(2), Some(0)]
    );
    let edges: Vec<(&str, Vec<&str>, &str)> = graph
        .transitions
        .iter()
        .map(|t| {
            (
                t.name.as_str(),
                t.from.iter().map(String::as_str).collect(),
                t.to.as_str(),
            )
        })
        .collect();
    assert_eq!(
        edges,
        [
            ("To Do", vec![], "To Do"),
            ("In Progress", vec![], "In Progress"),
            ("Start work", vec!["To Do"], "In Progress"),
            ("Done", vec![], "Done"),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_the_account_may_not_read_is_none_not_a_credential_failure() {
    // readWorkflows answers 401 to an account without the workflow permissions (OpenAPI:
    // "or the caller doesn't have permissions"); that is not the credential being refused.
    for status in [401_u16, 403, 404] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/rest/api/3/workflows"))
            .respond_with(ResponseTemplate::new(status).set_body_json(
                json!({ "errorMessages": ["You are not authorized to perform this action."] }),
            ))
            .mount(&server)
            .await;
        let c = client(&server.uri());
        assert_eq!(
            c.workflow("10000", "10001").await.unwrap(),
            None,
            "{status}"
        );
        assert_eq!(
            server.received_requests().await.unwrap().len(),
            1,
            "asked once"
        );
    }
}
