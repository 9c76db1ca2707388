//! A pull never loses an issue while issues change under it (issue 19, point 2): Jira's
//! search pages are not a snapshot, so an edit between two pages moves the issues behind
//! it up, and one slips past the page boundary (`jira-sim`'s `search` test shows it).

use jira_sim::faults::FaultSpec;
use jira_sync_harness::pair::*;

/// Answers to `search/jql` so far on acme.
fn searches(p: &Pair) -> u64 {
    p.sim
        .control()
        .counters(Some("acme"))
        .unwrap()
        .iter()
        .filter(|c| c.route.contains("search/jql"))
        .map(|c| c.count)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_between_two_search_pages_loses_no_issue() {
    let p = pair(250).await;
    p.tick(4);
    let mut order: Vec<(String, String)> = p
        .issues("acme")
        .iter()
        .map(|i| (i["fields"]["updated"].as_str().unwrap().to_owned(), key(i)))
        .collect();
    order.sort();
    // Every request takes a while, so the edit lands between the first page and the next.
    p.sim
        .control()
        .set_faults(
            "acme",
            FaultSpec {
                latency_ms: Some([150, 150]),
                ..Default::default()
            },
        )
        .unwrap();
    let before = searches(&p);
    let edit = async {
        while searches(&p) == before {
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        p.sim
            .control()
            .edit_issue(
                "acme",
                &order[5].1,
                "ann@acme.example",
                &serde_json::json!({ "fields": { "summary": "edited during the pull" } }),
            )
            .unwrap();
        // Indexed before the next page is asked for.
        p.tick(10);
    };
    let (report, ()) = tokio::join!(p.run(sec()), edit);
    assert!(report.pulled >= 250, "{report:?}");
    assert_eq!(
        p.hub.links_of_connector("acme", "sec").unwrap().len(),
        250,
        "the pull itself missed none"
    );
    p.sim
        .control()
        .set_faults("acme", FaultSpec::default())
        .unwrap();
    p.tick(10);
    p.run(sec()).await;
    let linked = p.hub.links_of_connector("acme", "sec").unwrap();
    assert_eq!(linked.len(), 250, "every issue in scope is linked");
}

/// An idle pull is one light search: no issue is read in full again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_pull_is_one_search_and_reads_no_issue() {
    let p = pair(30).await;
    p.tick(4);
    p.converge().await;
    let requests = |route: &str| -> u64 {
        p.sim
            .control()
            .counters(Some("acme"))
            .unwrap()
            .iter()
            .filter(|c| c.route.contains(route))
            .map(|c| c.count)
            .sum()
    };
    let (search, fetch) = (requests("search/jql"), requests("bulkfetch"));
    p.tick(10);
    let r = p.run(sec()).await;
    assert_eq!(r.pulled, 0, "{r:?}");
    assert_eq!(requests("search/jql"), search + 1, "one search");
    assert_eq!(requests("bulkfetch"), fetch, "nothing read in full");
}
