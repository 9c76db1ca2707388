//! Issue 18, field shapes that name people, groups, components and versions: each is
//! mirrored by what two sites share (a person's shown email, a group's, component's or
//! version's name), never by one site's id; a value the target lacks is parked for that
//! field, never replaced or dropped from a list. A converged pair writes nothing.

use jira_sim::control::AudienceSpec;
use jira_sync_harness::pair::*;
use jira_sync_harness::world::field;

/// A pair mirroring a user picker, a multi-user picker, a group picker, a multi-version
/// picker and the system `components` and `fixVersions` fields. Cara and Dan work on both
/// sites, Eve only on acme; both sites have the group `auditors`, only acme has `web`.
async fn pickers() -> Pair {
    let mirrored: Vec<MirroredField> = vec![
        (
            "owner".into(),
            field("customfield_10100", "Owner", "user"),
            field("customfield_20100", "Owner", "user"),
        ),
        (
            "reviewers".into(),
            field("customfield_10101", "Reviewers", "multiuser"),
            field("customfield_20101", "Reviewers", "multiuser"),
        ),
        (
            "team".into(),
            field("customfield_10102", "Team", "group"),
            field("customfield_20102", "Team", "group"),
        ),
        (
            "affects".into(),
            field("customfield_10103", "Affects", "multiversion"),
            field("customfield_20103", "Affects", "multiversion"),
        ),
        (
            "components".into(),
            field("components", "Components", "system"),
            field("components", "Components", "system"),
        ),
        (
            "fix".into(),
            field("fixVersions", "Fix versions", "system"),
            field("fixVersions", "Fix versions", "system"),
        ),
    ];
    pair_with_fields(0, &mirrored, |a, g| {
        a.accounts.extend([
            person_utc("Cara", "cara@shared.example"),
            person_utc("Dan", "dan@shared.example"),
            person_utc("Eve", "eve@acme.example"),
        ]);
        g.accounts.extend([
            person_utc("Cara", "cara@shared.example"),
            person_utc("Dan", "dan@shared.example"),
        ]);
        a.projects[0].components = vec!["Backend".into(), "Web".into()];
        g.projects[0].components = vec!["Web".into(), "Backend".into()];
        a.projects[0].versions = vec!["1.9".into(), "2.0".into(), "3.0".into()];
        g.projects[0].versions = vec!["2.0".into(), "1.9".into()];
    })
    .await
}

/// acme's groups `auditors` and `web`, globex's `auditors` (its own group id).
fn groups(p: &Pair) {
    let g = |name: &str, id: &str| AudienceSpec {
        name: name.into(),
        id: Some(id.into()),
        members: vec![],
    };
    let c = p.sim.control();
    c.create_audiences("acme", &[], &[g("auditors", "a-0001"), g("web", "a-0002")])
        .unwrap();
    c.create_audiences("globex", &[], &[g("auditors", "b-7701")])
        .unwrap();
}

fn id_of(p: &Pair, site: &str, email: &str) -> String {
    p.sim.control().account_id(site, email).unwrap()
}

fn fields(p: &Pair, site: &str, key: &str) -> Value {
    p.sim.control().issue(site, key).unwrap()["fields"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_groups_components_and_versions_are_mirrored_by_name_and_email() {
    let p = pickers().await;
    let c = p.sim.control();
    groups(&p);
    let sec = p.acme_task(
        "Pickers",
        json!({
            "customfield_10100": { "accountId": id_of(&p, "acme", "cara@shared.example") },
            "customfield_10101": [
                { "accountId": id_of(&p, "acme", "dan@shared.example") },
                { "accountId": id_of(&p, "acme", "cara@shared.example") }
            ],
            "customfield_10102": { "name": "auditors" },
            "customfield_10103": [{ "name": "2.0" }, { "name": "1.9" }],
            "components": [{ "name": "Web" }, { "name": "Backend" }],
            "fixVersions": [{ "name": "2.0" }]
        }),
    );
    p.converge().await;
    let ops = key(&p.only_one("globex", "Pickers"));
    let g = fields(&p, "globex", &ops);
    // globex's own accounts, groups, components and versions: found by email and name.
    assert_eq!(
        g["customfield_20100"]["accountId"],
        id_of(&p, "globex", "cara@shared.example")
    );
    let mut reviewers: Vec<&str> = g["customfield_20101"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["accountId"].as_str().unwrap())
        .collect();
    reviewers.sort();
    let mut want = vec![
        id_of(&p, "globex", "cara@shared.example"),
        id_of(&p, "globex", "dan@shared.example"),
    ];
    want.sort();
    assert_eq!(reviewers, want);
    assert_eq!(g["customfield_20102"]["name"], "auditors");
    let names = |v: &Value| -> Vec<String> {
        let mut n: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["name"].as_str().unwrap().to_owned())
            .collect();
        n.sort();
        n
    };
    assert_eq!(names(&g["customfield_20103"]), ["1.9", "2.0"]);
    assert_eq!(names(&g["components"]), ["Backend", "Web"]);
    assert_eq!(names(&g["fixVersions"]), ["2.0"]);
    let a = fields(&p, "acme", &sec);
    assert_ne!(
        g["components"][0]["id"], a["components"][0]["id"],
        "each site's own ids"
    );
    p.assert_quiet("pickers mirrored").await;

    // Bob's edit on globex comes back to acme by name and email.
    c.edit_issue(
        "globex",
        &ops,
        "bob@globex.example",
        &json!({ "fields": {
            "customfield_20100": { "accountId": id_of(&p, "globex", "dan@shared.example") },
            "components": [{ "name": "Backend" }]
        } }),
    )
    .unwrap();
    p.converge().await;
    let a = fields(&p, "acme", &sec);
    assert_eq!(
        a["customfield_10100"]["accountId"],
        id_of(&p, "acme", "dan@shared.example")
    );
    assert_eq!(names(&a["components"]), ["Backend"]);
    p.assert_quiet("after an edit on globex").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_group_or_version_the_target_lacks_is_parked_never_dropped_or_replaced() {
    let p = pickers().await;
    groups(&p);
    let sec = p.acme_task(
        "Lacking",
        json!({
            "customfield_10101": [
                { "accountId": id_of(&p, "acme", "cara@shared.example") },
                { "accountId": id_of(&p, "acme", "eve@acme.example") }
            ],
            "customfield_10102": { "name": "web" },
            "fixVersions": [{ "name": "3.0" }, { "name": "2.0" }]
        }),
    );
    p.converge().await;
    let ops = key(&p.only_one("globex", "Lacking"));
    let g = fields(&p, "globex", &ops);
    // Nothing half-written: no list without Eve, no other group, no version without 3.0.
    assert!(
        g["customfield_20101"].is_null(),
        "{}",
        g["customfield_20101"]
    );
    assert!(g["customfield_20102"].is_null());
    assert!(
        g["fixVersions"].as_array().is_none_or(Vec::is_empty),
        "{}",
        g["fixVersions"]
    );
    let link = p.link_of("globex", &ops);
    for f in ["reviewers", "team", "fix"] {
        let parked = link
            .parked
            .get(f)
            .unwrap_or_else(|| panic!("{f} parked: {:?}", link.parked));
        assert_eq!(parked.reason, "value_not_allowed", "{f}");
    }
    // acme keeps what it had: the parked values never read back as removals.
    let a = fields(&p, "acme", &sec);
    assert_eq!(a["customfield_10101"].as_array().unwrap().len(), 2);
    assert_eq!(a["customfield_10102"]["name"], "web");
    assert_eq!(a["fixVersions"].as_array().unwrap().len(), 2);
    p.assert_quiet("parked pickers wait").await;
}

fn with_options(id: &str, name: &str, kind: &str, options: &[&str]) -> FieldSpec {
    FieldSpec {
        options: options.iter().map(|o| (*o).to_owned()).collect(),
        ..field(id, name, kind)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn radio_buttons_checkboxes_and_urls_are_mirrored_by_value() {
    let opts = ["Low", "High"];
    let boxes = ["Web", "API", "CLI"];
    let mirrored: Vec<MirroredField> = vec![
        (
            "risk".into(),
            with_options("customfield_10110", "Risk", "radio", &opts),
            with_options("customfield_20110", "Risk", "radio", &opts),
        ),
        (
            "surfaces".into(),
            with_options("customfield_10111", "Surfaces", "checkboxes", &boxes),
            with_options("customfield_20111", "Surfaces", "checkboxes", &boxes),
        ),
        (
            "link".into(),
            field("customfield_10112", "Link", "url"),
            field("customfield_20112", "Link", "url"),
        ),
    ];
    let p = pair_with_fields(0, &mirrored, |_, _| {}).await;
    let sec = p.acme_task(
        "Shapes",
        json!({
            "customfield_10110": { "value": "High" },
            "customfield_10111": [{ "value": "CLI" }, { "value": "Web" }],
            "customfield_10112": "https://example.com/advisory/42"
        }),
    );
    p.converge().await;
    let ops = key(&p.only_one("globex", "Shapes"));
    let g = fields(&p, "globex", &ops);
    assert_eq!(g["customfield_20110"]["value"], "High");
    let mut ticked: Vec<&str> = g["customfield_20111"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["value"].as_str().unwrap())
        .collect();
    ticked.sort();
    assert_eq!(ticked, ["CLI", "Web"]);
    assert_ne!(
        g["customfield_20111"][0]["id"],
        fields(&p, "acme", &sec)["customfield_10111"][0]["id"],
        "each site's own option ids"
    );
    assert_eq!(g["customfield_20112"], "https://example.com/advisory/42");
    p.assert_quiet("radio, checkboxes and URL mirrored").await;
}
