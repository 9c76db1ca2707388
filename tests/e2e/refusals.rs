//! A write Jira refuses is reported wherever an operator looks (issue 17): `jira-sync sync`
//! prints each one and exits 1, `jira-sync status` shows them by reason (after a manual
//! `sync` too), and a daemon started afterwards shows them in `/status`, in
//! `jira_sync_parked_writes` and `jira_sync_push_backlog` before its first run, and in the
//! hub API's record view with Jira's reason per field.

use std::process::Output;

use crate::harness::*;
use serde_json::Value;

const TOKEN: &str = "FAKE-demo-hub-api-token-not-a-secret";

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_write_is_reported_by_sync_status_metrics_and_the_hub_api() {
    // globex's OPS priority scheme offers neither Highest nor Lowest.
    let (sim, dir) = demo_shaped(Some((30, 0)), |site| {
        if site.name == "globex" {
            for p in &mut site.projects {
                p.priorities = Some(vec!["High".into(), "Medium".into(), "Low".into()]);
            }
        }
    })
    .await;
    for s in ["acme", "globex"] {
        sim.control().set_search_lag(s, 0.0).unwrap();
    }
    schedule_all(dir.path(), NEVER);
    let refused = all_issues(&sim, "acme", "SEC")
        .iter()
        .filter(|i| {
            matches!(
                i["fields"]["priority"]["name"].as_str(),
                Some("Highest" | "Lowest")
            )
        })
        .count();
    assert!(refused > 0, "the seed has issues the scheme refuses");
    let cfg = dir.path().to_str().unwrap().to_owned();
    let run = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            jira_sync(&args)
        })
    };
    let args = |a: &[&str]| -> Vec<String> {
        a.iter()
            .map(|s| (*s).to_owned())
            .chain(["--config".to_owned(), cfg.clone()])
            .collect()
    };
    let out = run(args(&["sync", "acme/sec"])).await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = run(args(&["sync", "globex/ops"])).await.unwrap();
    let said = text(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a parked write is not a silent success: {said}"
    );
    assert!(
        said.starts_with("globex/ops: pulled 0, created 30,"),
        "{said}"
    );
    assert_eq!(
        said.matches(" priority: value_not_allowed: ").count(),
        refused,
        "one line per refused field: {said}"
    );
    // Every issue was created all the same, without the priority its scheme lacks.
    assert_eq!(sim.control().issue_count("globex").unwrap(), 30);

    let out = run(args(&["status"])).await.unwrap();
    let status = text(&out);
    assert!(
        status.contains(&format!(
            "backlog {refused} (parked: value_not_allowed {refused})"
        )),
        "{status}"
    );

    let d = Daemon::start(dir.path());
    let (_, metrics) = d.get("/metrics").await;
    let parked = format!(
        "jira_sync_parked_writes{{connector=\"ops\",reason=\"value_not_allowed\",site=\"globex\"}} {refused}"
    );
    assert!(metrics.contains(&parked), "before any run:\n{metrics}");
    assert!(
        metrics.contains(&format!(
            "jira_sync_push_backlog{{connector=\"ops\",site=\"globex\"}} {refused}"
        )),
        "{metrics}"
    );
    let (_, body) = d.get("/status").await;
    let s: Value = serde_json::from_str(&body).unwrap();
    let ops = s["connectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["site"] == "globex" && c["connector"] == "ops")
        .unwrap();
    assert_eq!(ops["parked"]["value_not_allowed"], refused, "{ops}");
    // The hub API names the field, the reason and Jira's words, per record.
    let r = d
        .http
        .get(format!("http://{}/v1/changes?after=0&limit=100", d.addr))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let feed: Value = r.json().await.unwrap();
    let fields: Vec<Value> = feed["changes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["record"]["sync"].as_array().cloned().unwrap_or_default())
        .filter(|s| s["connector"] == "globex/ops")
        .flat_map(|s| s["parked_fields"].as_array().cloned().unwrap_or_default())
        .collect();
    assert_eq!(fields.len(), refused, "{fields:?}");
    for f in &fields {
        assert_eq!(
            (f["field"].as_str(), f["reason"].as_str()),
            (Some("priority"), Some("value_not_allowed"))
        );
        assert!(
            f["message"]
                .as_str()
                .is_some_and(|m| m.contains("priority")),
            "{f}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_copies_files_from_the_mirrors_site_and_shows_them_inline() {
    let (sim, dir) = demo_shaped(Some((0, 0)), |_| {}).await;
    for s in ["acme", "globex"] {
        sim.control().set_search_lag(s, 0.0).unwrap();
    }
    schedule_all(dir.path(), NEVER);
    for f in ["sites.d/acme.toml", "sites.d/globex.toml"] {
        edit(
            dir.path(),
            f,
            "[[connector]]\n",
            "[[connector]]\nattachments = true\n",
        );
    }
    let c = sim.control();
    let key = c
        .create_issue(
            "acme",
            "alice@acme.example",
            &serde_json::json!({ "fields": { "project": { "key": "SEC" },
                "issuetype": { "name": "Task" }, "summary": "With a screenshot" } }),
        )
        .unwrap();
    let file = c.attach("acme", &key, "screen.png", 1_200).unwrap();
    c.edit_issue(
        "acme",
        &key,
        "alice@acme.example",
        &serde_json::json!({ "fields": { "description": { "version": 1, "type": "doc", "content": [
            { "type": "mediaSingle", "attrs": { "layout": "center" }, "content": [
                { "type": "media", "attrs": { "id": file.media_id, "type": "file", "collection": "", "alt": "screen.png" } }
            ] }
        ] } } }),
    )
    .unwrap();
    let cfg = dir.path().to_str().unwrap().to_owned();
    for target in ["acme/sec", "globex/ops", "acme/sec", "globex/ops"] {
        let cfg = cfg.clone();
        let out = tokio::task::spawn_blocking(move || {
            jira_sync(&["sync", target, "--config", cfg.as_str()])
        })
        .await
        .unwrap();
        assert!(out.status.success(), "{}", text(&out));
    }
    let all = all_issues(&sim, "globex", "OPS");
    let mirror: Vec<&Value> = all
        .iter()
        .filter(|i| i["fields"]["summary"] == "With a screenshot")
        .collect();
    assert_eq!(mirror.len(), 1);
    let ops = mirror[0]["key"].as_str().unwrap();
    let copies = c.attachments("globex", ops).unwrap();
    assert_eq!(copies.len(), 1, "the file is copied by a manual sync");
    let shown = c.issue("globex", ops).unwrap()["fields"]["description"].clone();
    assert_eq!(
        shown["content"][0]["content"][0]["attrs"]["id"], copies[0].media_id,
        "the image shows the copy: {shown}"
    );
}
