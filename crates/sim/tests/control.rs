//! The control API: deterministic seeding, acting as a person, HTTP control, seed files.

use std::path::Path;

use jira_sim::Simulator;
use jira_sim::seed::SeedFile;
use jira_sync_harness::acme::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

#[tokio::test]
async fn seeding_is_deterministic_and_realistic() {
    let a = Fixture::new().await;
    let b = Fixture::new().await;
    let ka = a
        .sim
        .control()
        .seed_issues("acme", "SEC", 40, 42, Some(ALICE))
        .unwrap();
    let kb = b
        .sim
        .control()
        .seed_issues("acme", "SEC", 40, 42, Some(ALICE))
        .unwrap();
    assert_eq!(ka, kb);
    let mut summary_lens = Vec::new();
    for k in &ka {
        let ia = a.sim.control().issue("acme", k).unwrap();
        let ib = b.sim.control().issue("acme", k).unwrap();
        for field in [
            "summary",
            "description",
            "labels",
            "priority",
            "customfield_10042",
            "customfield_10060",
        ] {
            assert_eq!(ia["fields"][field], ib["fields"][field], "{k} {field}");
        }
        assert!(ia["fields"]["created"].as_str() <= ia["fields"]["updated"].as_str());
        summary_lens.push(ia["fields"]["summary"].as_str().unwrap().len());
    }
    let other = Fixture::new().await;
    let kc = other
        .sim
        .control()
        .seed_issues("acme", "SEC", 40, 43, Some(ALICE))
        .unwrap();
    let differs = ka.iter().zip(&kc).any(|(x, y)| {
        a.sim.control().issue("acme", x).unwrap()["fields"]["summary"]
            != other.sim.control().issue("acme", y).unwrap()["fields"]["summary"]
    });
    assert!(differs, "another seed gives other data");
    let min = *summary_lens.iter().min().unwrap();
    let max = *summary_lens.iter().max().unwrap();
    assert!(
        min >= 10 && max <= 255 && max > min,
        "summaries vary in length: {min}..{max}"
    );
}

#[tokio::test]
async fn a_person_edits_transitions_comments_and_deletes() {
    let f = Fixture::new().await;
    let key = f.create("OPS", "person").await;
    let c = f.sim.control();
    c.edit_issue(
        "acme",
        &key,
        "bob@acme.example",
        &json!({ "fields": { "summary": "edited by bob" } }),
    )
    .unwrap();
    c.transition_issue("acme", &key, "acc-bob", "Closed")
        .unwrap();
    c.comment_issue("acme", &key, "acc-bob", &json!("looks done\nthanks"))
        .unwrap();
    let (_, v) = f.get(&format!("/issue/{key}?expand=changelog")).await;
    assert_eq!(v["fields"]["summary"], "edited by bob");
    assert_eq!(v["fields"]["status"]["name"], "Closed");
    let comment = &v["fields"]["comment"]["comments"][0];
    assert_eq!(comment["author"]["accountId"], "acc-bob");
    assert!(
        comment["author"].get("emailAddress").is_none(),
        "Bob hides his email"
    );
    assert_eq!(comment["body"]["content"].as_array().unwrap().len(), 2);
    let authors: Vec<&str> = v["changelog"]["histories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["author"]["accountId"].as_str().unwrap())
        .collect();
    assert_eq!(authors, ["acc-bob", "acc-bob"]);

    assert!(
        c.transition_issue("acme", &key, "acc-bob", "Working")
            .is_err(),
        "no transition Closed -> Working"
    );
    assert!(
        c.edit_issue(
            "acme",
            &key,
            "acc-bob",
            &json!({ "fields": { "summary": "" } })
        )
        .is_err()
    );
    c.delete_issue("acme", &key).unwrap();
    assert_eq!(
        f.get(&format!("/issue/{key}")).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, s) = f.search(json!({ "jql": "project = OPS" })).await;
    assert!(
        s["issues"].as_array().unwrap().is_empty(),
        "deleted issues leave search"
    );
}

async fn control(
    http: &reqwest::Client,
    sim: &Simulator,
    method: Method,
    path: &str,
    body: Value,
) -> (StatusCode, Value) {
    let r = http
        .request(method, format!("{}/_sim{path}", sim.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    let s = r.status();
    let text = r.text().await.unwrap();
    (s, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn http_control_api_sets_up_a_site_and_acts_on_it() {
    let sim = Simulator::start().await.unwrap();
    let http = http_client();
    let (s, site) = control(&http, &sim, Method::POST, "/sites", json!({
        "name": "initech",
        "accounts": [{ "display_name": "Peter", "email": "peter@initech.example", "time_zone": "America/Chicago" }],
        "projects": [{ "key": "TPS", "seed_issues": 3, "seed": 9 }],
    })).await;
    assert_eq!(s, StatusCode::CREATED, "{site}");
    let (s, cred) = control(
        &http,
        &sim,
        Method::POST,
        "/sites/initech/credentials",
        json!({ "kind": "classic_token", "account": "peter@initech.example" }),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{cred}");
    let token = cred["token"].as_str().unwrap();
    assert!(
        token.starts_with("FAKE-"),
        "generated tokens are obviously fake"
    );
    let (s, _) = control(
        &http,
        &sim,
        Method::POST,
        "/sites/initech/issues/TPS-1/edit",
        json!({ "as": "peter@initech.example", "fields": { "summary": "new cover sheet" } }),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = control(
        &http,
        &sim,
        Method::POST,
        "/sites/initech/issues/TPS-1/transition",
        json!({ "as": "peter@initech.example", "to": "Done" }),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = control(
        &http,
        &sim,
        Method::POST,
        "/sites/initech/issues/TPS-1/edit",
        json!({ "as": "peter@initech.example", "fields": { "labels": ["a b"] } }),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["jira"]["errors"]["labels"].is_string(), "{v}");
    let (s, _) = control(
        &http,
        &sim,
        Method::POST,
        "/sites/nope/accounts",
        json!({ "display_name": "x" }),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = control(
        &http,
        &sim,
        Method::POST,
        "/sites",
        json!({ "name": "initech" }),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);

    let r = http
        .get(format!(
            "{}/rest/api/3/issue/TPS-1?fields=summary,status",
            sim.site_url("initech")
        ))
        .basic_auth("peter@initech.example", Some(token))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["fields"]["summary"], "new cover sheet");
    assert_eq!(v["fields"]["status"]["name"], "Done");
    let (_, counters) = control(&http, &sim, Method::GET, "/counters", json!(null)).await;
    assert_eq!(counters[0]["route"], "/rest/api/3/issue/{issueIdOrKey}");
    let (s, _) = control(&http, &sim, Method::DELETE, "/counters", json!(null)).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn http_control_api_creates_issues_and_writes_restricted_comments_as_a_person() {
    let sim = Simulator::start().await.unwrap();
    let http = http_client();
    let (s, v) = control(
        &http,
        &sim,
        Method::POST,
        "/sites",
        json!({
            "name": "initech",
            "accounts": [{ "display_name": "Peter", "email": "peter@initech.example" },
                         { "display_name": "Milton", "email": "milton@initech.example" }],
            "roles": [{ "name": "Developers", "members": ["peter@initech.example"] }],
            "projects": [{ "key": "TPS", "service_desk": true }],
        }),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = control(&http, &sim, Method::POST, "/sites/initech/issues", json!({
        "as": "peter@initech.example",
        "fields": { "project": { "key": "TPS" }, "issuetype": { "name": "Task" }, "summary": "cover sheets" },
    })).await;
    assert_eq!(
        (s, v["key"].as_str()),
        (StatusCode::CREATED, Some("TPS-1")),
        "{v}"
    );
    let comment = |who: &str, extra: Value| {
        let mut body = json!({ "as": who, "body": "new cover sheets" });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let (s, v) = control(
        &http,
        &sim,
        Method::POST,
        "/sites/initech/issues/TPS-1/comment",
        comment(
            "peter@initech.example",
            json!({ "visibility": ["role", "Developers"] }),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_str().unwrap().to_owned();
    // Milton is not a developer: Jira refuses the restriction rather than widen it.
    let (s, v) = control(
        &http,
        &sim,
        Method::POST,
        "/sites/initech/issues/TPS-1/comment",
        comment(
            "milton@initech.example",
            json!({ "visibility": ["role", "Developers"] }),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, _) = control(
        &http,
        &sim,
        Method::POST,
        "/sites/initech/issues/TPS-1/comment",
        comment("milton@initech.example", json!({ "internal": true })),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let issue = sim.control().issue("initech", "TPS-1").unwrap();
    let thread = issue["fields"]["comment"]["comments"].as_array().unwrap();
    assert_eq!(thread[0]["visibility"]["value"], "Developers");
    assert_eq!(
        (
            thread[0]["jsdPublic"].as_bool(),
            thread[1]["jsdPublic"].as_bool()
        ),
        (Some(true), Some(false))
    );
    // Edited public (`visibility: null`), then deleted.
    let (s, _) = control(
        &http,
        &sim,
        Method::PUT,
        &format!("/sites/initech/issues/TPS-1/comment/{id}"),
        json!({ "as": "peter@initech.example", "body": "fixed", "visibility": null }),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let issue = sim.control().issue("initech", "TPS-1").unwrap();
    assert!(issue["fields"]["comment"]["comments"][0]["visibility"].is_null());
    let (s, _) = control(
        &http,
        &sim,
        Method::DELETE,
        &format!("/sites/initech/issues/TPS-1/comment/{id}"),
        json!(null),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let issue = sim.control().issue("initech", "TPS-1").unwrap();
    assert_eq!(issue["fields"]["comment"]["total"], 1);
}

/// `config/sim-seed.toml` serves exactly what `config/` expects: each demo site's credential
/// authenticates on the URL form its auth method uses, and each connector's project exists.
#[tokio::test]
async fn demo_seed_serves_the_demo_config() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
    let seed = SeedFile::read(&root.join("sim-seed.toml")).unwrap();
    let sim = Simulator::start().await.unwrap();
    let mut cloud_ids = std::collections::BTreeMap::new();
    for site in seed.site {
        let name = site.name.clone();
        cloud_ids.insert(name, sim.control().create_site(site).unwrap().cloud_id);
    }
    // As installed: the secret files readable by their owner only.
    let installed = jira_sync_harness::config_dir::private_repo_config();
    let config = jira_sync_config::Loader::with_env(Default::default())
        .load(installed.path())
        .unwrap();
    let http = http_client();
    for site in &config.sites {
        let (email, token) = match &site.auth {
            jira_sync_config::Auth::ApiToken(t) | jira_sync_config::Auth::ServiceAccount(t) => {
                (t.email.clone(), t.token.expose().to_owned())
            }
            other => panic!("demo uses API tokens, got {other:?}"),
        };
        let base = if site.auth.method().uses_gateway() {
            sim.gateway_site_url(&cloud_ids[&site.name])
        } else {
            assert!(site.url.as_str().ends_with(&format!("/site/{}", site.name)));
            sim.site_url(&site.name)
        };
        for c in &site.connectors {
            let r = http
                .get(format!("{base}/rest/api/3/search/jql"))
                .query(&[
                    ("jql", format!("project = {}", c.project)),
                    ("fields", "summary".to_owned()),
                ])
                .basic_auth(&email, Some(&token))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{}/{}", site.name, c.name);
            let v: Value = r.json().await.unwrap();
            assert!(
                !v["issues"].as_array().unwrap().is_empty(),
                "{} has seeded issues",
                c.project
            );
            for jira_id in c.fields.values() {
                let r = http
                    .get(format!("{base}/rest/api/3/field"))
                    .basic_auth(&email, Some(&token))
                    .send()
                    .await
                    .unwrap();
                let fields: Value = r.json().await.unwrap();
                assert!(
                    fields
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|f| f["id"] == json!(jira_id)),
                    "{jira_id} on {}",
                    site.name
                );
            }
            for status in c.statuses.keys() {
                let jql = format!("project = {} AND status = \"{status}\"", c.project);
                let r = http
                    .post(format!("{base}/rest/api/3/search/jql"))
                    .json(&json!({ "jql": jql }))
                    .basic_auth(&email, Some(&token))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(
                    r.status(),
                    StatusCode::OK,
                    "status `{status}` exists on {}",
                    site.name
                );
            }
        }
    }
}

/// Every key of a seed site applies: its rate limits and its faults as well as its search
/// lag (a seed's `limits` and `faults` were once read and dropped).
#[tokio::test]
async fn a_seed_files_limits_faults_and_search_lag_all_apply() {
    let seed = SeedFile::parse(
        r#"
[[site]]
name = "slow"
search_lag_seconds = 2.5
webhook_faults = { delay_ms = 1500, duplicate = true }
limits = { burst = { GET = 1 }, per_issue_writes = false }
accounts = [{ display_name = "Ann", email = "ann@example.test" }]
credentials = [{ kind = "classic_token", account = "ann@example.test", token = "fake-token-slow" }]

[[site]]
name = "broken"
faults = { error_rate = 1.0, error_statuses = [503] }
accounts = [{ display_name = "Ben", email = "ben@example.test" }]
credentials = [{ kind = "classic_token", account = "ben@example.test", token = "fake-token-broken" }]
"#,
    )
    .unwrap();
    let sim = Simulator::start().await.unwrap();
    for site in seed.site {
        sim.control().create_site(site).unwrap();
    }
    let http = http_client();
    let myself = |site: &'static str, email: &'static str, token: &'static str| {
        let http = http.clone();
        let url = format!("{}/rest/api/3/myself", sim.site_url(site));
        async move {
            http.get(url)
                .basic_auth(email, Some(token))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(myself("slow", "ann@example.test", "fake-token-slow").await);
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "one GET a second: {statuses:?}"
    );
    assert_eq!(
        myself("broken", "ben@example.test", "fake-token-broken").await,
        StatusCode::SERVICE_UNAVAILABLE,
        "the seeded faults answer"
    );
    let lag = sim
        .control()
        .world()
        .site("slow")
        .unwrap()
        .lock()
        .unwrap()
        .search_lag;
    assert_eq!(lag, chrono::Duration::milliseconds(2500));
    let faults = sim
        .control()
        .world()
        .site("slow")
        .unwrap()
        .lock()
        .unwrap()
        .webhooks
        .faults
        .clone();
    assert_eq!(
        faults,
        jira_sim::webhooks::WebhookFaults {
            delay_ms: 1500,
            drop_next: 0,
            duplicate: true
        }
    );
}
