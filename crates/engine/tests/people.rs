//! Assignees and reporters across two sites: shown emails, hidden ones, fields Jira refuses.

use jira_sync_harness::pair::*;

#[tokio::test]
async fn people_map_by_visible_email_across_sites_and_the_rest_are_left_unset_and_counted() {
    let p = pair(0).await;
    let c = p.sim.control();
    let account = |site: &str, name: &str, email: &str, visible: bool| {
        c.create_account(
            site,
            AccountSpec {
                display_name: name.into(),
                email: Some(email.into()),
                email_visible: Some(visible),
                ..Default::default()
            },
        )
        .unwrap()
    };
    let cara_acme = account("acme", "Cara", "cara@shared.example", true);
    // The same person on globex, her email typed with other capitals; a user whose email
    // merely starts with hers must not be taken for her.
    let cara_globex = account("globex", "Cara", "Cara@Shared.example", true);
    // (Its account id sorts first, so a search lists it before her.)
    c.create_account(
        "globex",
        AccountSpec {
            account_id: Some("000000:decoy".into()),
            display_name: "Cara Decoy".into(),
            email: Some("cara@shared.example.org".into()),
            ..Default::default()
        },
    )
    .unwrap();
    // Dan hides his email on both sites: nothing says the two accounts are one person.
    let dan_acme = account("acme", "Dan", "dan@shared.example", false);
    account("globex", "Dan", "dan@shared.example", false);
    let create = |summary: &str, assignee: &str| {
        c.create_issue(
            "acme",
            "ann@acme.example",
            &json!({ "fields": { "project": { "key": "SEC" }, "issuetype": { "name": "Task" },
                     "summary": summary, "assignee": { "accountId": assignee } } }),
        )
        .unwrap()
    };
    let for_cara = create("for cara", &cara_acme);
    let for_dan = create("for dan", &dan_acme);
    p.converge().await;

    let on_globex = |s: &str| p.only_one("globex", s);
    let g_cara = on_globex("for cara");
    assert_eq!(
        g_cara["fields"]["assignee"]["accountId"],
        json!(cara_globex)
    );
    // Dan cannot be matched, and Ann has no account on globex: left unset (the reporter is
    // the integration's account, as Jira sets it).
    let g_dan = on_globex("for dan");
    assert!(g_dan["fields"]["assignee"].is_null(), "{g_dan}");
    assert_eq!(
        g_dan["fields"]["reporter"]["emailAddress"],
        json!(GLOBEX_BOT)
    );
    // acme keeps its own people.
    let acme = |k: &str| c.issue("acme", k).unwrap();
    assert_eq!(
        acme(&for_dan)["fields"]["assignee"]["accountId"],
        json!(dan_acme)
    );
    assert_eq!(
        acme(&for_cara)["fields"]["reporter"]["emailAddress"],
        json!("ann@acme.example")
    );

    // Converged: an idle round writes nothing and asks no site again who an email is, but
    // says what it left unset (Dan's assignment and Ann as reporter, twice).
    let lookups = || -> u64 {
        c.counters(None)
            .unwrap()
            .iter()
            .filter(|x| x.route.contains("user/search"))
            .map(|x| x.count)
            .sum()
    };
    let (writes_before, lookups_before) = (p.write_requests(), lookups());
    assert!(lookups_before > 0);
    c.world().clock().advance(chrono::Duration::seconds(4));
    // A full reconcile looks at every record again: the people without an account are
    // counted, and still nothing is written or looked up again.
    let a = p.reconcile(sec()).await;
    let b = p.reconcile(ops()).await;
    assert_eq!(writes(&a) + writes(&b), 0, "{a:?} {b:?}");
    assert_eq!(p.write_requests(), writes_before);
    assert_eq!(lookups(), lookups_before);
    assert_eq!((a.unmapped_people, b.unmapped_people), (0, 3));

    // Changes on globex flow back: Cara takes Dan's issue, and her own is unassigned.
    let g_key = |i: &Value| i["key"].as_str().unwrap().to_owned();
    c.edit_issue(
        "globex",
        &g_key(&g_dan),
        "bob@globex.example",
        &json!({ "fields": { "assignee": { "accountId": cara_globex } } }),
    )
    .unwrap();
    c.edit_issue(
        "globex",
        &g_key(&g_cara),
        "bob@globex.example",
        &json!({ "fields": { "assignee": null } }),
    )
    .unwrap();
    p.converge().await;
    assert_eq!(
        acme(&for_dan)["fields"]["assignee"]["accountId"],
        json!(cara_acme)
    );
    assert!(acme(&for_cara)["fields"]["assignee"].is_null());
    // Reporters never move: acme keeps Ann, globex its own account.
    assert_eq!(
        acme(&for_dan)["fields"]["reporter"]["emailAddress"],
        json!("ann@acme.example")
    );
    assert_eq!(
        on_globex("for cara")["fields"]["reporter"]["emailAddress"],
        json!(GLOBEX_BOT)
    );
}

#[tokio::test]
async fn a_reporter_jira_will_not_take_is_left_unset_and_the_rest_is_written() {
    let p = pair(0).await;
    let c = p.sim.control();
    let both = |name: &str, email: &str| -> (String, String) {
        let spec = || AccountSpec {
            display_name: name.into(),
            email: Some(email.into()),
            ..Default::default()
        };
        (
            c.create_account("acme", spec()).unwrap(),
            c.create_account("globex", spec()).unwrap(),
        )
    };
    let (_, cara_g) = both("Cara", "cara@shared.example");
    let (dan_a, dan_g) = both("Dan", "dan@shared.example");
    let create = |summary: &str| {
        c.create_issue(
            "acme",
            "cara@shared.example",
            &json!({ "fields": { "project": { "key": "SEC" }, "issuetype": { "name": "Task" },
                     "summary": summary, "assignee": { "accountId": dan_a } } }),
        )
        .unwrap()
    };
    let on_globex = |s: &str| p.only_one("globex", s);
    // Before: Cara, the reporter, is written on globex too.
    let early = create("before the screen change");
    p.converge().await;
    let g = on_globex("before the screen change");
    assert_eq!(g["fields"]["reporter"]["accountId"], json!(cara_g));

    // globex's administrator takes `reporter` off the screens: Jira refuses writes that set it.
    c.set_reporter_on_screens("globex", false).unwrap();
    create("after the screen change");
    c.edit_issue(
        "acme",
        &early,
        "cara@shared.example",
        &json!({ "fields": { "summary": "renamed", "reporter": { "accountId": dan_a } } }),
    )
    .unwrap();
    c.world().clock().advance(chrono::Duration::seconds(4));
    p.run(sec()).await;
    let b = p.run(ops()).await;
    assert!(b.parked.is_empty() && b.failed.is_empty(), "{b:?}");
    assert!(b.unmapped_people >= 2, "{b:?}");
    p.converge().await;
    // The create went through without its reporter (Jira sets the caller), assignee kept.
    let made = on_globex("after the screen change");
    assert_eq!(
        made["fields"]["reporter"]["emailAddress"],
        json!(GLOBEX_BOT)
    );
    assert_eq!(made["fields"]["assignee"]["accountId"], json!(dan_g));
    // The edit went through without the reporter.
    let renamed = on_globex("renamed");
    assert_eq!(renamed["fields"]["reporter"]["accountId"], json!(cara_g));
}

/// Issue 17: the same person (by email) on both sites.
fn shared_person(
    p: &Pair,
    name: &str,
    email: &str,
    assignable_on_globex: bool,
) -> (String, String) {
    let c = p.sim.control();
    let on = |site: &str, assignable: bool| {
        c.create_account(
            site,
            AccountSpec {
                display_name: name.into(),
                email: Some(email.into()),
                assignable: Some(assignable),
                ..Default::default()
            },
        )
        .unwrap()
    };
    (on("acme", true), on("globex", assignable_on_globex))
}

/// Issue 17: globex answers an edit's `assignee` with 204 and does not apply it (as some
/// Cloud sites do). The assignee goes through `PUT /issue/{key}/assignee`, lands, and the
/// acme side is never reverted by a pull that reads the old value back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_assignee_goes_through_the_assign_endpoint_so_an_ignoring_edit_loses_nothing() {
    let p = pair(2).await;
    let (cara_acme, cara_globex) = shared_person(&p, "Cara", "cara@shared.example", true);
    p.converge().await;
    let c = p.sim.control();
    c.set_assignee_edit_ignored("globex", true).unwrap();
    c.edit_issue(
        "acme",
        "SEC-1",
        "ann@acme.example",
        &json!({ "fields": { "assignee": { "accountId": cara_acme } } }),
    )
    .unwrap();
    p.converge().await;
    let s = summary(&c.issue("acme", "SEC-1").unwrap()).to_owned();
    assert_eq!(
        p.only_one("globex", &s)["fields"]["assignee"]["accountId"],
        json!(cara_globex)
    );
    assert_eq!(
        c.issue("acme", "SEC-1").unwrap()["fields"]["assignee"]["accountId"],
        json!(cara_acme),
        "acme keeps its assignee"
    );
    let before = p.write_requests();
    p.converge().await;
    assert_eq!(p.write_requests(), before, "converged");
}

/// Issue 17: a person who may not be assigned in globex's project is reported for that
/// issue only: other issues are still assigned there, and the rest of the record flows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unassignable_person_parks_that_issues_assignee_only() {
    let p = pair(2).await;
    let (cara_acme, _) = shared_person(&p, "Cara", "cara@shared.example", false);
    let (erin_acme, erin_globex) = shared_person(&p, "Erin", "erin@shared.example", true);
    p.converge().await;
    let c = p.sim.control();
    let assign = |key: &str, who: &str, summary: &str| {
        c.edit_issue(
            "acme",
            key,
            "ann@acme.example",
            &json!({ "fields": { "assignee": { "accountId": who }, "summary": summary } }),
        )
        .unwrap();
    };
    assign("SEC-1", &cara_acme, "for cara");
    assign("SEC-2", &erin_acme, "for erin");
    // And a new issue for Cara: created without the assignee, which waits alone.
    c.create_issue(
        "acme",
        "ann@acme.example",
        &json!({ "fields": { "project": { "key": "SEC" }, "issuetype": { "name": "Task" },
                 "summary": "new for cara", "assignee": { "accountId": cara_acme } } }),
    )
    .unwrap();
    p.converge().await;
    let g1 = p.only_one("globex", "for cara");
    assert!(g1["fields"]["assignee"].is_null(), "{g1}");
    assert!(p.only_one("globex", "new for cara")["fields"]["assignee"].is_null());
    assert_eq!(
        p.only_one("globex", "for erin")["fields"]["assignee"]["accountId"],
        json!(erin_globex),
        "assigning is not turned off for the connector"
    );
    let r = p.run(ops()).await;
    assert_eq!(r.parked_now.get("person_unassignable"), Some(&2), "{r:?}");
    // Waiting, not retried every cycle.
    let before = p.write_requests();
    p.converge().await;
    assert_eq!(p.write_requests(), before);
}
