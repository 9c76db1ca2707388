//! Issue 18, field values: a field one side cannot read is never cleared on the other
//! (absent is not empty; only an explicit null is).

use jira_sync_harness::pair::*;

const ANN: &str = "ann@acme.example";
const BOB: &str = "bob@globex.example";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_field_one_side_cannot_read_is_never_cleared_on_the_other() {
    let p = pair(0).await;
    let c = p.sim.control();
    let sec = c
        .create_issue(
            "acme",
            ANN,
            &json!({ "fields": { "project": { "key": "SEC" }, "issuetype": { "name": "Task" },
                     "summary": "hidden severity", "customfield_10042": { "value": "High" } } }),
        )
        .unwrap();
    p.converge().await;
    let ops_key = key(&p.only_one("globex", "hidden severity"));
    assert_eq!(
        c.issue("globex", &ops_key).unwrap()["fields"]["customfield_10077"]["value"],
        "High"
    );
    // Then an administrator hides severity in OPS's field configuration: globex's answers
    // leave it out from now on.
    {
        let site = c.world().site("globex").unwrap();
        let mut g = jira_sim::model::lock(&site);
        g.projects[0].hidden_fields = vec!["customfield_10077".into()];
    }
    let severity = |site: &str, k: &str| {
        let field = if site == "acme" {
            "customfield_10042"
        } else {
            "customfield_10077"
        };
        c.issue(site, k).unwrap()["fields"][field]["value"].clone()
    };
    // A person changes the mirror: its answer still leaves severity out, which is no change.
    c.edit_issue(
        "globex",
        &ops_key,
        BOB,
        &json!({ "fields": { "summary": "hidden severity (edited on globex)" } }),
    )
    .unwrap();
    p.converge().await;
    assert_eq!(
        summary(&c.issue("acme", &sec).unwrap()),
        "hidden severity (edited on globex)"
    );
    assert_eq!(
        severity("acme", &sec),
        "High",
        "never cleared from what globex cannot show"
    );
    // An explicit change on acme stays acme's; globex cannot take it and says so.
    c.edit_issue(
        "acme",
        &sec,
        ANN,
        &json!({ "fields": { "customfield_10042": { "value": "Low" } } }),
    )
    .unwrap();
    p.converge().await;
    assert_eq!(severity("acme", &sec), "Low");
    assert_eq!(
        severity("globex", &ops_key),
        "High",
        "globex keeps what it had"
    );
    assert_eq!(
        p.link_of("globex", &ops_key).parked["severity"].reason,
        "field_not_on_screen"
    );
    // And an explicit null on the side that shows the field is a change to empty.
    c.edit_issue(
        "acme",
        &sec,
        ANN,
        &json!({ "fields": { "customfield_10042": null } }),
    )
    .unwrap();
    p.converge().await;
    assert!(severity("acme", &sec).is_null());
    assert_eq!(
        p.record_of("acme", &sec).fields["severity"],
        Value::Null,
        "the hub holds the explicit empty value"
    );
    p.assert_quiet("a hidden field").await;
}

fn field(id: &str, name: &str, kind: &str, options: &[&str]) -> FieldSpec {
    FieldSpec {
        id: Some(id.into()),
        name: name.into(),
        kind: kind.into(),
        options: options.iter().map(|o| (*o).to_owned()).collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_map_by_value_and_datetimes_by_instant_across_sites() {
    let areas = ["Backend", "Web", "Mobile"];
    let mut acme_areas = areas.to_vec();
    acme_areas.push("Legacy");
    let p = pair_with_fields(
        0,
        &[
            (
                "areas".into(),
                field("customfield_10050", "Areas", "multiselect", &acme_areas),
                field("customfield_20050", "Areas", "multiselect", &areas),
            ),
            (
                "due_at".into(),
                field("customfield_10051", "Due at", "datetime", &[]),
                field("customfield_20051", "Due at", "datetime", &[]),
            ),
        ],
        |acme, globex| {
            acme.time_zone = Some("UTC".into());
            globex.time_zone = Some("America/New_York".into());
        },
    )
    .await;
    let c = p.sim.control();
    let sec = c
        .create_issue(
            "acme",
            ANN,
            &json!({ "fields": { "project": { "key": "SEC" }, "issuetype": { "name": "Task" },
                     "summary": "fields", "customfield_10050": [{ "value": "Web" }, { "value": "Backend" }],
                     "customfield_10051": "2026-03-02T15:00:00.000+0000" } }),
        )
        .unwrap();
    p.converge().await;
    let ops_key = key(&p.only_one("globex", "fields"));
    let read = |site: &str, k: &str, id: &str| c.issue(site, k).unwrap()["fields"][id].clone();
    let values = |v: &Value| {
        let mut x: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["value"].as_str().unwrap().to_owned())
            .collect();
        x.sort();
        x
    };
    let ids = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (a, g) = (
        read("acme", &sec, "customfield_10050"),
        read("globex", &ops_key, "customfield_20050"),
    );
    assert_eq!(values(&g), ["Backend", "Web"], "by value: {g}");
    assert!(
        ids(&a).iter().all(|i| !ids(&g).contains(i)),
        "each site's own option ids: {a} {g}"
    );
    // The same instant, printed in globex's zone.
    assert_eq!(
        read("globex", &ops_key, "customfield_20051"),
        "2026-03-02T10:00:00.000-0500"
    );
    // Two renderings of one instant are one value: no write goes back and forth.
    p.assert_quiet("options and instants").await;

    // Bob moves the time on globex while Ann renames on acme: neither edit is lost.
    c.edit_issue(
        "globex",
        &ops_key,
        BOB,
        &json!({ "fields": { "customfield_20051": "2026-03-02T11:00:00.000-0500" } }),
    )
    .unwrap();
    c.edit_issue(
        "acme",
        &sec,
        ANN,
        &json!({ "fields": { "summary": "fields (renamed)" } }),
    )
    .unwrap();
    p.converge().await;
    assert_eq!(
        read("acme", &sec, "customfield_10051"),
        "2026-03-02T16:00:00.000+0000"
    );
    assert_eq!(
        summary(&c.issue("globex", &ops_key).unwrap()),
        "fields (renamed)"
    );

    // An option globex does not have is reported for that field and value, never replaced.
    c.edit_issue(
        "acme",
        &sec,
        ANN,
        &json!({ "fields": { "customfield_10050": [{ "value": "Legacy" }, { "value": "Web" }] } }),
    )
    .unwrap();
    p.converge().await;
    assert_eq!(
        values(&read("globex", &ops_key, "customfield_20050")),
        ["Backend", "Web"]
    );
    let parked = &p.link_of("globex", &ops_key).parked["areas"];
    assert_eq!(parked.reason, "value_not_allowed");
    assert!(parked.message.contains("Legacy"), "{}", parked.message);
    assert_eq!(
        values(&read("acme", &sec, "customfield_10050")),
        ["Legacy", "Web"]
    );
    p.assert_quiet("a parked option").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn newest_compares_when_each_field_changed_not_when_the_issue_did() {
    let p = pair(0).await;
    let c = p.sim.control();
    let sec = c
        .create_issue(
            "acme",
            ANN,
            &json!({ "fields": { "project": { "key": "SEC" }, "issuetype": { "name": "Task" },
                     "summary": "the original" } }),
        )
        .unwrap();
    p.converge().await;
    let ops_key = key(&p.only_one("globex", "the original"));
    let clock = c.world().clock();
    // Ann renames on acme; half a minute later Bob renames on globex; later still Ann adds a
    // label on acme, so acme's issue changed last, but its summary did not.
    c.edit_issue(
        "acme",
        &sec,
        ANN,
        &json!({ "fields": { "summary": "Ann's summary" } }),
    )
    .unwrap();
    clock.advance(chrono::Duration::seconds(30));
    c.edit_issue(
        "globex",
        &ops_key,
        BOB,
        &json!({ "fields": { "summary": "Bob's later summary" } }),
    )
    .unwrap();
    clock.advance(chrono::Duration::seconds(30));
    c.edit_issue(
        "acme",
        &sec,
        ANN,
        &json!({ "fields": { "labels": ["triaged"] } }),
    )
    .unwrap();
    p.converge().await;
    for (site, k) in [("acme", sec.as_str()), ("globex", ops_key.as_str())] {
        let i = c.issue(site, k).unwrap();
        assert_eq!(
            summary(&i),
            "Bob's later summary",
            "{site}: the later edit of the field wins"
        );
        assert_eq!(
            i["fields"]["labels"],
            json!(["triaged"]),
            "{site}: and the label stays"
        );
    }
    p.assert_quiet("after the conflict").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cascading_select_maps_by_parent_and_child_value() {
    let p = pair_with_fields(
        0,
        &[(
            "region".into(),
            field(
                "customfield_10052",
                "Region",
                "cascading",
                &["EMEA>Berlin", "EMEA>Paris", "APAC>Tokyo", "APAC>Osaka"],
            ),
            field(
                "customfield_20052",
                "Region",
                "cascading",
                &["APAC>Tokyo", "EMEA>Paris", "EMEA>Berlin"],
            ),
        )],
        |_, _| {},
    )
    .await;
    let c = p.sim.control();
    let sec = c
        .create_issue(
            "acme",
            ANN,
            &json!({ "fields": { "project": { "key": "SEC" }, "issuetype": { "name": "Task" },
                     "summary": "cascade", "customfield_10052": { "value": "EMEA", "child": { "value": "Berlin" } } } }),
        )
        .unwrap();
    p.converge().await;
    let ops_key = key(&p.only_one("globex", "cascade"));
    let g = c.issue("globex", &ops_key).unwrap()["fields"]["customfield_20052"].clone();
    let a = c.issue("acme", &sec).unwrap()["fields"]["customfield_10052"].clone();
    assert_eq!(
        (g["value"].as_str(), g["child"]["value"].as_str()),
        (Some("EMEA"), Some("Berlin")),
        "{g}"
    );
    assert_ne!(
        g["child"]["id"], a["child"]["id"],
        "each site's own ids: {a} {g}"
    );
    p.assert_quiet("a cascading select").await;
    // A child globex lacks is reported for that field and value; globex keeps its own.
    c.edit_issue(
        "acme",
        &sec,
        ANN,
        &json!({ "fields": { "customfield_10052": { "value": "APAC", "child": { "value": "Osaka" } } } }),
    )
    .unwrap();
    p.converge().await;
    let g = c.issue("globex", &ops_key).unwrap()["fields"]["customfield_20052"].clone();
    assert_eq!(g["child"]["value"], "Berlin");
    let parked = &p.link_of("globex", &ops_key).parked["region"];
    assert_eq!(parked.reason, "value_not_allowed");
    assert!(parked.message.contains("Osaka"), "{}", parked.message);
    p.assert_quiet("a parked child").await;
}

// The reviewer's attempts to break field values (issue 18), kept as regression tests.

fn advance(p: &Pair, d: chrono::Duration) {
    p.sim.control().world().clock().advance(d);
}

fn values(v: &Value) -> Vec<String> {
    let mut x: Vec<String> = v
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| o["value"].as_str().unwrap().to_owned())
        .collect();
    x.sort();
    x
}

async fn new_issue(p: &Pair, fields: Value) -> (String, String) {
    let mut f = json!({ "project": { "key": "SEC" }, "issuetype": { "name": "Task" },
                        "summary": "fields" });
    for (k, v) in fields.as_object().unwrap() {
        f[k] = v.clone();
    }
    let sec = p
        .sim
        .control()
        .create_issue("acme", ANN, &json!({ "fields": f }))
        .unwrap();
    p.converge().await;
    (sec, key(&p.only_one("globex", "fields")))
}

fn read(p: &Pair, site: &str, k: &str, id: &str) -> Value {
    p.sim.control().issue(site, k).unwrap()["fields"][id].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b16_multiselect_duplicates_and_reordering_write_nothing() {
    let areas = ["Backend", "Web", "Mobile"];
    let p = pair_with_fields(
        0,
        &[(
            "areas".into(),
            field("customfield_10050", "Areas", "multiselect", &areas),
            field("customfield_20050", "Areas", "multiselect", &areas),
        )],
        |_, _| {},
    )
    .await;
    let c = p.sim.control();
    let (sec, ops_key) = new_issue(
        &p,
        json!({ "customfield_10050": [{ "value": "Web" }, { "value": "Web" }, { "value": "Backend" }] }),
    )
    .await;
    assert_eq!(
        values(&read(&p, "globex", &ops_key, "customfield_20050")),
        ["Backend", "Web"]
    );
    p.assert_quiet("multi-select").await;
    c.edit_issue(
        "acme",
        &sec,
        ANN,
        &json!({ "fields": { "customfield_10050": [{ "value": "Backend" }, { "value": "Web" }] } }),
    )
    .unwrap();
    c.edit_issue(
        "globex",
        &ops_key,
        BOB,
        &json!({ "fields": { "customfield_20050": [{ "value": "Web" }, { "value": "Backend" }, { "value": "Web" }] } }),
    )
    .unwrap();
    p.assert_quiet("reordered and duplicated on both sites")
        .await;
    assert_eq!(
        values(&read(&p, "acme", &sec, "customfield_10050")),
        ["Backend", "Web"]
    );
    assert_eq!(
        values(&read(&p, "globex", &ops_key, "customfield_20050")),
        ["Backend", "Web"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b17_datetime_same_instant_in_another_offset_is_no_change() {
    let p = pair_with_fields(
        0,
        &[(
            "due_at".into(),
            field("customfield_10051", "Due at", "datetime", &[]),
            field("customfield_20051", "Due at", "datetime", &[]),
        )],
        |acme, globex| {
            acme.time_zone = Some("UTC".into());
            globex.time_zone = Some("Asia/Kolkata".into());
        },
    )
    .await;
    let c = p.sim.control();
    let (sec, ops_key) = new_issue(
        &p,
        json!({ "customfield_10051": "2026-03-02T15:00:00.000+0000" }),
    )
    .await;
    assert_eq!(
        read(&p, "globex", &ops_key, "customfield_20051"),
        "2026-03-02T20:30:00.000+0530"
    );
    // Bob moves it to 17:00 UTC; a minute later Ann re-enters the old instant in +0100.
    c.edit_issue(
        "globex",
        &ops_key,
        BOB,
        &json!({ "fields": { "customfield_20051": "2026-03-02T22:30:00.000+0530" } }),
    )
    .unwrap();
    advance(&p, chrono::Duration::seconds(60));
    c.edit_issue(
        "acme",
        &sec,
        ANN,
        &json!({ "fields": { "customfield_10051": "2026-03-02T16:00:00.000+0100" } }),
    )
    .unwrap();
    p.converge().await;
    assert_eq!(
        read(&p, "acme", &sec, "customfield_10051"),
        "2026-03-02T17:00:00.000+0000",
        "re-entering the same instant is no change; Bob's move stands"
    );
    assert_eq!(
        read(&p, "globex", &ops_key, "customfield_20051"),
        "2026-03-02T22:30:00.000+0530"
    );
    // The same instant in yet another offset, on globex: nothing to write.
    c.edit_issue(
        "globex",
        &ops_key,
        BOB,
        &json!({ "fields": { "customfield_20051": "2026-03-02T12:00:00.000-0500" } }),
    )
    .unwrap();
    p.assert_quiet("an instant in another offset").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b18_a_field_hidden_on_the_mirror_then_shown_again_catches_up() {
    let p = pair(0).await;
    let c = p.sim.control();
    let (sec, ops_key) = new_issue(&p, json!({ "customfield_10042": { "value": "High" } })).await;
    let set_hidden = |hidden: Vec<String>| {
        let site = c.world().site("globex").unwrap();
        let mut g = jira_sim::model::lock(&site);
        g.projects[0].hidden_fields = hidden;
    };
    set_hidden(vec!["customfield_10077".into()]);
    c.edit_issue(
        "acme",
        &sec,
        ANN,
        &json!({ "fields": { "customfield_10042": { "value": "Low" } } }),
    )
    .unwrap();
    p.converge().await;
    assert_eq!(
        p.link_of("globex", &ops_key).parked["severity"].reason,
        "field_not_on_screen"
    );
    // Shown again; a day later (the parked retry) globex has acme's value.
    set_hidden(vec![]);
    advance(&p, chrono::Duration::hours(25));
    p.converge().await;
    assert_eq!(
        read(&p, "globex", &ops_key, "customfield_10077")["value"],
        "Low"
    );
    assert_eq!(read(&p, "acme", &sec, "customfield_10042")["value"], "Low");
    assert!(p.link_of("globex", &ops_key).parked.is_empty());
    // And an explicit null now clears both.
    c.edit_issue(
        "acme",
        &sec,
        ANN,
        &json!({ "fields": { "customfield_10042": null } }),
    )
    .unwrap();
    p.converge().await;
    assert!(read(&p, "globex", &ops_key, "customfield_10077").is_null());
    p.assert_quiet("hidden then shown").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b19_numbers_1_and_1_0_are_one_value() {
    let p = pair_with_fields(
        0,
        &[(
            "points".into(),
            field("customfield_10052", "Points", "number", &[]),
            field("customfield_20052", "Points", "number", &[]),
        )],
        |_, _| {},
    )
    .await;
    let c = p.sim.control();
    let (sec, ops_key) = new_issue(&p, json!({ "customfield_10052": 1 })).await;
    assert_eq!(
        read(&p, "globex", &ops_key, "customfield_20052").as_f64(),
        Some(1.0)
    );
    p.assert_quiet("a number").await;
    c.edit_issue(
        "globex",
        &ops_key,
        BOB,
        &json!({ "fields": { "customfield_20052": 1.0 } }),
    )
    .unwrap();
    c.edit_issue(
        "acme",
        &sec,
        ANN,
        &json!({ "fields": { "customfield_10052": 1 } }),
    )
    .unwrap();
    p.assert_quiet("1 and 1.0 re-entered").await;
    c.edit_issue(
        "acme",
        &sec,
        ANN,
        &json!({ "fields": { "customfield_10052": 2.5 } }),
    )
    .unwrap();
    p.converge().await;
    assert_eq!(
        read(&p, "globex", &ops_key, "customfield_20052").as_f64(),
        Some(2.5)
    );
    p.assert_quiet("a number changed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b20_a_field_mapped_later_is_never_cleared_on_either_site() {
    let mut p = pair_with_fields(0, &[], |a, g| {
        a.fields
            .push(field("customfield_10060", "Team", "text", &[]));
        g.fields
            .push(field("customfield_20060", "Team", "text", &[]));
    })
    .await;
    let c = p.sim.control().clone();
    let (sk, ops_key) = new_issue(&p, json!({ "customfield_10060": "Red" })).await;
    c.edit_issue(
        "globex",
        &ops_key,
        BOB,
        &json!({ "fields": { "customfield_20060": "Red" } }),
    )
    .unwrap();
    p.converge().await;
    // An hour later the administrator maps Team on both connectors.
    advance(&p, chrono::Duration::hours(1));
    p.reconfigure(&sec(), |conn| {
        conn.fields
            .insert("team".into(), "customfield_10060".into());
    });
    p.reconfigure(&ops(), |conn| {
        conn.fields
            .insert("team".into(), "customfield_20060".into());
    });
    p.converge().await;
    assert_eq!(
        (
            read(&p, "acme", &sk, "customfield_10060"),
            read(&p, "globex", &ops_key, "customfield_20060")
        ),
        (json!("Red"), json!("Red")),
        "(acme, globex): never cleared"
    );
    p.assert_quiet("a field mapped later").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b21_a_field_its_source_never_shows_is_not_written_back_to_it() {
    let p = pair_with_fields(0, &[], |a, _| {
        a.projects[0].hidden_fields = Some(vec!["customfield_10042".into()]);
    })
    .await;
    let (sec, ops_key) = new_issue(&p, json!({})).await;
    assert!(read(&p, "globex", &ops_key, "customfield_10077").is_null());
    assert_eq!(
        p.refused_writes("acme"),
        0,
        "nothing to write to acme's hidden severity; parked: {:?}",
        p.link_of("acme", &sec).parked
    );
    let parked = p.link_of("acme", &sec).parked;
    assert!(parked.is_empty(), "{parked:?}");
    p.assert_quiet("a field its source never shows").await;
}
