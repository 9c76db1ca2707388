//! The hub API (`/v1`) of a running daemon against the simulator: a record made through it
//! becomes one issue on its site (and its mirror), Jira's changes reach the change feed, the
//! cursor survives a restart, bad requests write nothing. Every response is checked against
//! the committed OpenAPI document.

use std::time::{Duration, Instant};

use crate::harness::*;
use serde_json::{Value, json};

const TOKEN: &str = "FAKE-demo-hub-api-token-not-a-secret";

fn openapi() -> Value {
    serde_json::from_str(include_str!("../../crates/daemon/src/openapi.json")).unwrap()
}

/// The document's path template of a concrete path (`/v1/records/7` -> `/v1/records/{id}`).
fn template(path: &str) -> String {
    path.split('/')
        .enumerate()
        .map(|(i, p)| {
            if i == 3 && p.parse::<u64>().is_ok() {
                "{id}"
            } else {
                p
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The schema the document gives `method path` answering `status`.
fn response_schema(doc: &Value, method: &str, path: &str, status: u16) -> Value {
    let template = template(path);
    let op = &doc["paths"][&template][method.to_lowercase()];
    assert!(
        op.is_object(),
        "no operation {method} {template} in openapi.json"
    );
    let schema = &op["responses"][status.to_string()]["content"]["application/json"]["schema"];
    assert!(
        schema.is_object(),
        "openapi.json has no {status} response for {method} {template}"
    );
    schema.clone()
}

fn validate(method: &str, path: &str, status: u16, body: &Value) {
    let doc = openapi();
    let path = path.split('?').next().unwrap();
    let mut root = response_schema(&doc, method, path, status);
    root["components"] = doc["components"].clone();
    let v = jsonschema::validator_for(&root).unwrap();
    let errors: Vec<String> = v
        .iter_errors(body)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {path} {status} does not match openapi.json: {errors:?}\n{body}"
    );
}

/// A call to the API with the demo's token (or `token`), its answer checked against the
/// document.
async fn call(
    d: &Daemon,
    method: &str,
    path: &str,
    body: Option<Value>,
    token: Option<&str>,
) -> (u16, Value) {
    let url = format!("http://{}{path}", d.addr);
    let mut req = d
        .http
        .request(method.parse().unwrap(), &url)
        .timeout(Duration::from_secs(70));
    if let Some(t) = token.or(Some(TOKEN)).filter(|t| !t.is_empty()) {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let v: Value = r.json().await.unwrap();
    validate(method, path, status, &v);
    (status, v)
}

async fn api(d: &Daemon, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    call(d, method, path, body, None).await
}

/// Every change after `after`, following the cursor to the end; returns them and the cursor.
async fn feed(d: &Daemon, after: u64) -> (Vec<Value>, u64) {
    let (mut all, mut cursor) = (Vec::new(), after);
    loop {
        let (code, page) = api(
            d,
            "GET",
            &format!("/v1/changes?after={cursor}&limit=50"),
            None,
        )
        .await;
        assert_eq!(code, 200);
        let changes = page["changes"].as_array().unwrap().clone();
        cursor = page["next"].as_u64().unwrap();
        if changes.is_empty() {
            return (all, cursor);
        }
        all.extend(changes);
    }
}

fn with_summary<'a>(issues: &'a [Value], s: &str) -> Vec<&'a Value> {
    issues
        .iter()
        .filter(|i| i["fields"]["summary"] == s)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_made_through_the_api_becomes_one_issue_and_jira_changes_reach_the_feed() {
    let (sim, dir) = demo_with("*/1 * * * * *").await;
    for s in ["acme", "globex"] {
        sim.control().set_search_lag(s, 0.0).unwrap();
    }
    let log = dir.path().join("daemon.log");
    let d = Daemon::start_logged(dir.path(), &[("JIRA_SYNC_LOG", "debug")], &log);
    let (_, start) = feed(&d, 0).await;

    let new = json!({
        "external_id": "scan-42",
        "targets": ["acme/sec"],
        "fields": {
            "summary": "CVE-2026-0042 in libfoo",
            "description": "Found by the nightly scan.\nUpgrade libfoo.",
            "priority": "High",
            "labels": ["security", "scanner"],
            "severity": "Critical"
        }
    });
    let (code, rec) = api(&d, "POST", "/v1/records", Some(new.clone())).await;
    assert_eq!(code, 201, "{rec}");
    let id = rec["id"].as_u64().unwrap();
    assert_eq!(rec["sync"][0]["state"], "pending");
    // The same external id is the same record, however often it is sent.
    let (code, again) = api(&d, "POST", "/v1/records", Some(new.clone())).await;
    assert_eq!((code, again["id"].as_u64()), (200, Some(id)));
    let (code, found) = api(&d, "GET", "/v1/records?external_id=scan-42", None).await;
    assert_eq!((code, found["id"].as_u64()), (200, Some(id)));

    // The next cycles write it to acme, and through the mirror to globex: once each.
    let deadline = Instant::now() + Duration::from_secs(60);
    let rec = loop {
        let (_, r) = api(&d, "GET", &format!("/v1/records/{id}"), None).await;
        if r["links"].as_array().unwrap().len() == 2 {
            break r;
        }
        assert!(Instant::now() < deadline, "never linked: {r}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let acme_link = rec["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["site"] == "acme")
        .unwrap()
        .clone();
    let key = acme_link["issue_key"].as_str().unwrap().to_owned();
    assert!(
        acme_link["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/browse/{key}"))
    );
    let acme = all_issues(&sim, "acme", "SEC");
    let mine = with_summary(&acme, "CVE-2026-0042 in libfoo");
    assert_eq!(mine.len(), 1, "exactly one issue on acme");
    assert_eq!(mine[0]["fields"]["priority"]["name"], "High");
    assert_eq!(mine[0]["fields"]["customfield_10042"]["value"], "Critical");
    assert_eq!(
        with_summary(
            &all_issues(&sim, "globex", "OPS"),
            "CVE-2026-0042 in libfoo"
        )
        .len(),
        1,
        "and one on its mirror"
    );
    let (seen, _) = feed(&d, start).await;
    assert!(seen.iter().any(|c| c["record"]["id"] == id));
    let (_, cursor) = feed(&d, start).await;

    // A person moves it in Jira: the change reaches the feed (long-polled).
    sim.control()
        .transition_issue("acme", &key, "alice@acme.example", "Done")
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut after = cursor;
    loop {
        let (code, page) = api(
            &d,
            "GET",
            &format!("/v1/changes?after={after}&wait=20"),
            None,
        )
        .await;
        assert_eq!(code, 200);
        after = page["next"].as_u64().unwrap();
        if page["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["record"]["id"] == id && c["record"]["fields"]["status"] == "closed")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Jira's status change never reached the feed"
        );
    }

    // Changes and comments through the API reach Jira.
    let (code, patched) = api(
        &d,
        "PATCH",
        &format!("/v1/records/{id}?sync=now"),
        Some(json!({ "fields": { "priority": "Low" } })),
    )
    .await;
    assert_eq!(code, 200, "{patched}");
    let (code, _) = api(
        &d,
        "POST",
        &format!("/v1/records/{id}/comments?sync=now"),
        Some(json!({ "body": "Fixed in libfoo 2.1.", "author": "scanner" })),
    )
    .await;
    assert_eq!(code, 201);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let i = sim.control().issue("acme", &key).unwrap();
        let comments = i["fields"]["comment"]["comments"]
            .as_array()
            .unwrap()
            .clone();
        if i["fields"]["priority"]["name"] == "Low"
            && comments
                .iter()
                .any(|c| c["body"].to_string().contains("Fixed in libfoo 2.1."))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the API's change never reached Jira: {i}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    let (_, metrics) = d.get("/metrics").await;
    assert!(
        value(
            &metrics,
            "jira_sync_api_requests_total",
            &[("route", "/v1/records"), ("status", "201")]
        ) == Some(1.0),
        "API requests are counted by route and status"
    );
    drop(d);
    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(!logs.is_empty());
    assert!(!logs.contains(TOKEN), "the API token is never logged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthorized_and_malformed_requests_are_refused_and_write_nothing() {
    let (sim, dir) = demo_with(NEVER).await;
    let d = Daemon::start(dir.path());
    let record = json!({ "targets": ["acme/sec"], "fields": { "summary": "x" } });
    for token in ["", "FAKE-wrong-token"] {
        let (code, body) = call(&d, "POST", "/v1/records", Some(record.clone()), Some(token)).await;
        assert_eq!(code, 401, "{body}");
        assert!(body["error"].as_str().unwrap().contains("bearer"));
    }
    let (code, _) = call(&d, "GET", "/v1/changes", None, Some("")).await;
    assert_eq!(code, 401);
    // The document is public.
    let (code, doc) = call(&d, "GET", "/v1/openapi.json", None, Some("")).await;
    assert_eq!((code, &doc), (200, &openapi()));

    let bad = [
        (
            json!({ "targets": ["acme/sec"], "fields": {} }),
            "fields.summary",
        ),
        (
            json!({ "targets": ["acme/sec"], "fields": { "summary": "" } }),
            "fields.summary",
        ),
        (
            json!({ "targets": ["acme/sec"], "fields": { "summary": "x", "bogus": 1 } }),
            "fields.bogus",
        ),
        (
            json!({ "targets": ["acme/nope"], "fields": { "summary": "x" } }),
            "targets[0]",
        ),
        (
            json!({ "targets": "acme/sec", "fields": { "summary": "x" } }),
            "targets",
        ),
        (
            json!({ "targets": ["acme/sec"], "fields": { "summary": "x", "duedate": "tomorrow" } }),
            "fields.duedate",
        ),
        (
            json!({ "targets": ["acme/sec"], "fields": { "summary": "x", "status": "nowhere" } }),
            "fields.status",
        ),
        (
            json!({ "targets": ["acme/sec"], "fields": { "summary": "x", "labels": ["a b"] } }),
            "fields.labels",
        ),
        (
            json!({ "targets": ["acme/sec"], "fields": { "summary": "x" }, "extra": true }),
            "extra",
        ),
    ];
    for (body, field) in bad {
        let (code, answer) = api(&d, "POST", "/v1/records", Some(body.clone())).await;
        assert_eq!(
            (code, answer["field"].as_str()),
            (400, Some(field)),
            "{body} -> {answer}"
        );
    }
    // Not JSON, too large, unknown record, bad query.
    let raw = |body: String| {
        d.http
            .post(format!("http://{}/v1/records", d.addr))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let r = raw("{ not json".into()).await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let v: Value = r.json().await.unwrap();
    validate("POST", "/v1/records", 400, &v);
    let huge = json!({ "targets": ["acme/sec"], "fields": { "summary": "x", "description": "y".repeat(300_000) } });
    let r = raw(huge.to_string()).await.unwrap();
    assert_eq!(r.status().as_u16(), 413);
    let (code, _) = api(&d, "GET", "/v1/records/999999", None).await;
    assert_eq!(code, 404);
    let (code, body) = api(&d, "GET", "/v1/changes?limit=0", None).await;
    assert_eq!((code, body["field"].as_str()), (400, Some("limit")));

    // Nothing was written: no record, no change, no issue.
    let (_, page) = api(&d, "GET", "/v1/changes?after=0", None).await;
    assert_eq!(page["changes"], json!([]));
    assert_eq!(sim.control().issue_count("acme").unwrap(), 25);
    drop(d);

    // Without `api_token` the API is off.
    let text = std::fs::read_to_string(dir.path().join("jira-sync.toml")).unwrap();
    let off: String = text
        .lines()
        .filter(|l| !l.starts_with("api_token"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(dir.path().join("jira-sync.toml"), off).unwrap();
    let d = Daemon::start(dir.path());
    let (code, body) = api(&d, "POST", "/v1/records", Some(record)).await;
    assert_eq!(code, 404, "{body}");
    assert!(body["error"].as_str().unwrap().contains("api_token"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_change_feed_cursor_resumes_after_a_restart_and_long_polls() {
    let (sim, dir) = demo_with(NEVER).await;
    let d = Daemon::start(dir.path());
    let make = |summary: &str| json!({ "targets": ["acme/sec"], "fields": { "summary": summary } });
    let (code, first) = api(&d, "POST", "/v1/records", Some(make("first"))).await;
    assert_eq!(code, 201);
    let (changes, cursor) = feed(&d, 0).await;
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0]["record"]["id"], first["id"]);
    d.signal("-TERM");
    assert_eq!(d.wait().code(), Some(0));

    let d = Daemon::start(dir.path());
    let (again, _) = feed(&d, cursor).await;
    assert!(again.is_empty(), "nothing new after the cursor: {again:?}");
    // A long poll returns as soon as a change lands.
    let poll = {
        let http = d.http.clone();
        let url = format!("http://{}/v1/changes?after={cursor}&wait=30", d.addr);
        tokio::spawn(async move {
            let started = Instant::now();
            let v: Value = http
                .get(url)
                .bearer_auth(TOKEN)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            (v, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, second) = api(&d, "POST", "/v1/records", Some(make("second"))).await;
    let (page, waited) = poll.await.unwrap();
    validate("GET", "/v1/changes", 200, &page);
    assert_eq!(page["changes"][0]["record"]["id"], second["id"]);
    assert!(
        waited < Duration::from_secs(25),
        "answered when the change landed"
    );
    let (all, _) = feed(&d, 0).await;
    assert_eq!(all.len(), 2, "both records, in order: {all:?}");

    // No cycle is scheduled here: `?sync=now` writes the record at once.
    let (code, now) = api(&d, "POST", "/v1/records?sync=now", Some(make("right now"))).await;
    assert_eq!(code, 201);
    assert_eq!(now["links"][0]["site"], "acme", "{now}");
    assert_eq!(now["sync"][0]["state"], "linked");
    assert_eq!(
        with_summary(&all_issues(&sim, "acme", "SEC"), "right now").len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_text_description_through_the_api_keeps_the_sites_images() {
    let (sim, dir) = demo_with("*/1 * * * * *").await;
    for s in ["acme", "globex"] {
        sim.control().set_search_lag(s, 0.0).unwrap();
    }
    let d = Daemon::start(dir.path());
    let new = json!({ "targets": ["acme/sec"], "fields": { "summary": "Screenshot attached" } });
    let (code, rec) = api(&d, "POST", "/v1/records?sync=now", Some(new)).await;
    assert_eq!(code, 201, "{rec}");
    let id = rec["id"].as_u64().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let key = loop {
        let (_, r) = api(&d, "GET", &format!("/v1/records/{id}"), None).await;
        if let Some(l) = r["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["site"] == "acme")
        {
            break l["issue_key"].as_str().unwrap().to_owned();
        }
        assert!(Instant::now() < deadline, "never linked: {r}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    // A person puts an image in the description on acme; the record learns it.
    let c = sim.control();
    let file = c.attach("acme", &key, "screen.png", 2_048).unwrap();
    let image = json!({ "type": "mediaSingle", "attrs": { "layout": "center" }, "content": [
        { "type": "media", "attrs": { "id": file.media_id, "type": "file", "collection": "", "alt": "screen.png" } }
    ] });
    c.edit_issue(
        "acme",
        &key,
        "alice@acme.example",
        &json!({ "fields": { "description": { "version": 1, "type": "doc", "content": [image.clone()] } } }),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, r) = api(&d, "GET", &format!("/v1/records/{id}"), None).await;
        if r["fields"]["description"]
            .to_string()
            .contains(&file.media_id)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the image never reached the record: {r}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // The scanner replaces the description with plain text: acme keeps its image (Jira
    // would delete the attachment of a node the rewrite drops).
    let (code, patched) = api(
        &d,
        "PATCH",
        &format!("/v1/records/{id}?sync=now"),
        Some(json!({ "fields": { "description": "Rescanned: still vulnerable." } })),
    )
    .await;
    assert_eq!(code, 200, "{patched}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let desc = loop {
        let desc = c.issue("acme", &key).unwrap()["fields"]["description"].clone();
        if desc.to_string().contains("Rescanned") {
            break desc;
        }
        assert!(
            Instant::now() < deadline,
            "the edit never reached acme: {desc}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(
        desc["content"][0]["content"][0]["text"],
        "Rescanned: still vulnerable."
    );
    assert_eq!(desc["content"][1], image, "{desc:#}");
    assert_eq!(c.attachments("acme", &key).unwrap().len(), 1);
}
