//! Create, bulk create, get, edit, transitions, comments, properties and bulkfetch.

use jira_sync_harness::acme::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn create_by_key_or_id_and_by_type_name_or_id() {
    let f = Fixture::new().await;
    let bodies = [
        json!({ "fields": { "project": { "key": "SEC" }, "issuetype": { "name": "Bug" }, "summary": "by key and name" } }),
        json!({ "fields": { "project": { "id": "10000" }, "issuetype": { "id": "10001" }, "summary": "by ids" } }),
    ];
    for b in bodies {
        let (s, v) = f.post("/issue", b).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        assert!(v["key"].as_str().unwrap().starts_with("SEC-"));
        assert!(
            v["self"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/rest/api/3/issue/{}", v["id"].as_str().unwrap()))
        );
    }
    let (_, v) = f.get("/issue/SEC-2").await;
    assert_eq!(v["fields"]["issuetype"]["name"], "Task");
    assert_eq!(
        v["fields"]["status"]["name"], "To Do",
        "starts in the workflow's initial status"
    );
    assert_eq!(v["fields"]["creator"]["accountId"], "acc-alice");
}

#[tokio::test]
async fn create_reports_every_bad_field_as_jira_does() {
    let f = Fixture::new().await;
    let (s, v) = f
        .post(
            "/issue",
            json!({ "fields": {
                "project": { "key": "SEC" }, "issuetype": { "name": "Task" },
                "description": "plain text is not ADF",
                "labels": ["has space"],
                "status": { "name": "Done" },
                "customfield_99999": "x",
                "customfield_10042": { "value": "Apocalyptic" },
                "duedate": "tomorrow",
            } }),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let e = &v["errors"];
    assert_eq!(e["summary"], "You must specify a summary of the issue.");
    assert!(
        e["description"]
            .as_str()
            .unwrap()
            .contains("Atlassian Document")
    );
    assert!(e["labels"].as_str().unwrap().contains("spaces"));
    assert!(e["status"].as_str().unwrap().contains("cannot be set"));
    assert!(
        e["customfield_99999"]
            .as_str()
            .unwrap()
            .contains("cannot be set")
    );
    assert!(
        e["customfield_10042"]
            .as_str()
            .unwrap()
            .contains("Apocalyptic")
    );
    assert!(e["duedate"].as_str().unwrap().contains("tomorrow"));
    assert_eq!(v["errorMessages"], json!([]));
    assert_eq!(f.sim.control().issue_count("acme").unwrap(), 0);

    let (s, v) = f.post("/issue", json!({ "fields": { "project": { "key": "NOPE" }, "issuetype": { "name": "Task" }, "summary": "x" } })).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["errors"]["project"].is_string());

    // An empty text node is not a valid document either.
    let empty = json!({ "type": "doc", "version": 1, "content": [{ "type": "paragraph", "content": [{ "type": "text", "text": "" }] }] });
    let (s, _) = f.post("/issue", json!({ "fields": { "project": { "key": "SEC" }, "issuetype": { "name": "Task" }, "summary": "x", "description": empty } })).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn create_takes_properties_and_a_transition_in_the_same_request() {
    let f = Fixture::new().await;
    let (s, v) = f
        .post(
            "/issue",
            json!({
                "fields": { "project": { "key": "OPS" }, "issuetype": { "name": "Task" }, "summary": "with marker",
                            "customfield_10042": { "value": "High" }, "customfield_10050": "red team" },
                "properties": [{ "key": "jira-sync", "value": { "record": "r-1", "nonce": "n-1" } }],
                "transition": { "id": "11" },
            }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let key = v["key"].as_str().unwrap();
    let (_, issue) = f.get(&format!("/issue/{key}?properties=jira-sync")).await;
    assert_eq!(
        issue["properties"]["jira-sync"],
        json!({ "record": "r-1", "nonce": "n-1" })
    );
    assert_eq!(issue["fields"]["status"]["name"], "Working");
    assert_eq!(issue["fields"]["customfield_10042"]["value"], "High");
    assert_eq!(issue["fields"]["customfield_10050"], "red team");
}

#[tokio::test]
async fn bulk_create_reports_failures_per_element_and_takes_at_most_50() {
    let f = Fixture::new().await;
    let ok = |s: &str| json!({ "fields": { "project": { "key": "SEC" }, "issuetype": { "name": "Task" }, "summary": s } });
    let bad = json!({ "fields": { "project": { "key": "SEC" }, "issuetype": { "name": "Task" } } });
    let (s, v) = f
        .post(
            "/issue/bulk",
            json!({ "issueUpdates": [ok("a"), bad, ok("c")] }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["issues"].as_array().unwrap().len(), 2);
    assert_eq!(v["errors"][0]["failedElementNumber"], 1);
    assert_eq!(v["errors"][0]["status"], 400);
    assert!(v["errors"][0]["elementErrors"]["errors"]["summary"].is_string());

    let many: Vec<Value> = (0..51).map(|i| ok(&format!("n{i}"))).collect();
    let (s, _) = f.post("/issue/bulk", json!({ "issueUpdates": many })).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        f.sim.control().issue_count("acme").unwrap(),
        2,
        "nothing of the refused batch was created"
    );
}

#[tokio::test]
async fn edit_bumps_updated_only_on_change_and_can_return_the_issue() {
    let f = Fixture::new().await;
    let key = f.create("SEC", "first").await;
    let updated = |v: &Value| v["fields"]["updated"].as_str().unwrap().to_owned();
    let (_, before) = f.get(&format!("/issue/{key}")).await;
    let stamp = updated(&before);
    // Jira's format: milliseconds and a numeric offset.
    assert_eq!(stamp.len(), "2020-05-08T07:55:44.099+0000".len(), "{stamp}");

    let (s, _) = f
        .put(
            &format!("/issue/{key}?notifyUsers=false"),
            json!({ "fields": { "summary": "first" } }),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, same) = f.get(&format!("/issue/{key}")).await;
    assert_eq!(updated(&same), stamp, "a no-op edit leaves updated alone");

    let (s, v) = f
        .put(&format!("/issue/{key}?returnIssue=true"), json!({ "fields": { "summary": "second" }, "update": { "labels": [{ "add": "sync" }] } }))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["fields"]["summary"], "second");
    assert_eq!(v["fields"]["labels"], json!(["sync"]));
    assert!(updated(&v) > stamp, "{} > {stamp}", updated(&v));

    // The change is recorded with its author.
    let (_, h) = f.get(&format!("/issue/{key}?expand=changelog")).await;
    let last = h["changelog"]["histories"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["author"]["accountId"], "acc-alice");
    assert!(
        last["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["field"] == "summary")
    );

    let (s, v) = f
        .put(
            &format!("/issue/{key}"),
            json!({ "fields": { "status": { "name": "Done" } } }),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "status moves through transitions only: {v}"
    );
    let (s, _) = f
        .put("/issue/SEC-999", json!({ "fields": { "summary": "x" } }))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn only_transitions_valid_from_the_current_status_are_offered_and_accepted() {
    let f = Fixture::new().await;
    let key = f.create("OPS", "flow").await;
    let names = |v: &Value| -> Vec<String> {
        v["transitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["to"]["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, v) = f.get(&format!("/issue/{key}/transitions")).await;
    assert_eq!(names(&v), ["Working", "Closed"]);
    let (s, _) = f.post(&format!("/issue/{key}/transitions"), json!({ "transition": { "id": "11" }, "update": { "comment": [{ "add": { "body": adf("started") } }] } })).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, v) = f.get(&format!("/issue/{key}/transitions")).await;
    assert_eq!(names(&v), ["Closed"], "Start is not valid from Working");
    let (s, v) = f
        .post(
            &format!("/issue/{key}/transitions"),
            json!({ "transition": { "id": "11" } }),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        v["errorMessages"][0]
            .as_str()
            .unwrap()
            .contains("not valid")
    );
    let (_, issue) = f.get(&format!("/issue/{key}?fields=status,comment")).await;
    assert_eq!(issue["fields"]["status"]["name"], "Working");
    assert_eq!(issue["fields"]["comment"]["total"], 1);
}

#[tokio::test]
async fn comments_are_adf_and_keep_properties() {
    let f = Fixture::new().await;
    let key = f.create("SEC", "talk").await;
    let (s, c) = f
        .post(&format!("/issue/{key}/comment"), json!({ "body": adf("hello"), "properties": [{ "key": "jira-sync", "value": { "from": "globex" } }] }))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    assert_eq!(c["author"]["accountId"], "acc-alice");
    let (s, v) = f
        .post(&format!("/issue/{key}/comment"), json!({ "body": "plain" }))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (_, page) = f
        .get(&format!("/issue/{key}/comment?expand=properties"))
        .await;
    assert_eq!(page["total"], 1);
    assert_eq!(page["comments"][0]["body"], adf("hello"));
    assert_eq!(
        page["comments"][0]["properties"][0]["value"]["from"],
        "globex"
    );
}

#[tokio::test]
async fn issue_properties_round_trip_within_jiras_limits() {
    let f = Fixture::new().await;
    let key = f.create("SEC", "props").await;
    let path = format!("/issue/{key}/properties/jira-sync");
    let (s, _) = f.get(&path).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        f.put(&path, json!({ "record": "r" })).await.0,
        StatusCode::CREATED
    );
    assert_eq!(
        f.put(&path, json!({ "record": "r2" })).await.0,
        StatusCode::OK
    );
    let (_, v) = f.get(&path).await;
    assert_eq!(
        v,
        json!({ "key": "jira-sync", "value": { "record": "r2" } })
    );

    let fits = "x".repeat(32768 - 2);
    assert_eq!(
        f.put(&path, json!(fits)).await.0,
        StatusCode::OK,
        "32768 characters with the quotes"
    );
    let (s, _) = f.put(&path, json!(format!("{fits}x"))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn bulkfetch_returns_issues_by_ascending_id_with_errors_for_unknown_ones() {
    let f = Fixture::new().await;
    let a = f.create("SEC", "a").await;
    let b = f.create("SEC", "b").await;
    let (s, v) = f
        .post("/issue/bulkfetch", json!({ "issueIdsOrKeys": [b, "SEC-404", a], "fields": ["summary"], "properties": ["jira-sync"] }))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let keys: Vec<&str> = v["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, [a.as_str(), b.as_str()]);
    assert_eq!(v["issueErrors"][0]["id"], "SEC-404");
    let too_many: Vec<String> = (0..101).map(|i| format!("SEC-{i}")).collect();
    assert_eq!(
        f.post("/issue/bulkfetch", json!({ "issueIdsOrKeys": too_many }))
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn project_issue_types_fields_and_createmeta() {
    let f = Fixture::new().await;
    let (s, p) = f.get("/project/SEC?expand=issueTypes").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(p["key"], "SEC");
    assert!(
        p["issueTypes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "Bug")
    );
    assert_eq!(f.get("/project/10000").await.1["key"], "SEC", "by id too");
    let (s, v) = f.get("/project/NOPE").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(v["errorMessages"][0].as_str().unwrap().contains("NOPE"));

    let (_, fields) = f.get("/field").await;
    let sev = fields
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == "customfield_10042")
        .unwrap();
    assert_eq!(sev["schema"]["type"], "option");
    assert_eq!(sev["custom"], true);
    let (_, types) = f.get("/issuetype").await;
    assert_eq!(types.as_array().unwrap().len(), 5);
    let (s, meta) = f.get("/issue/createmeta/SEC/issuetypes?maxResults=2").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(meta["issueTypes"].as_array().unwrap().len(), 2);
    assert_eq!(meta["total"], 5);
}
