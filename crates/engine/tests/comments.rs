//! Issue 18, comments: a comment keeps its audience (a role or group restriction, an
//! internal note is never published more widely than on its source), edits and deletions
//! follow it in both directions, and a thread longer than search embeds arrives whole.
//! Each test checks both sites and that a converged pair writes nothing.

use jira_sim::control::{AudienceSpec, CommentOptions};
use jira_sync_harness::pair::*;

const ANN: &str = "ann@acme.example";
const BOB: &str = "bob@globex.example";

fn thread(p: &Pair, site: &str, key: &str) -> Vec<(String, String, Option<bool>)> {
    p.comment_thread(site, key)
}

fn texts(p: &Pair, site: &str, key: &str) -> Vec<String> {
    thread(p, site, key).into_iter().map(|t| t.0).collect()
}

/// acme's roles and groups: Developers (Ann and the bot) and the group auditors (Ann and
/// the bot).
fn acme_audiences(p: &Pair) {
    let members = vec![ANN.to_owned(), ACME_BOT.to_owned()];
    p.sim
        .control()
        .create_audiences(
            "acme",
            &[AudienceSpec {
                name: "Developers".into(),
                members: members.clone(),
                ..Default::default()
            }],
            &[AudienceSpec {
                name: "auditors".into(),
                members,
                ..Default::default()
            }],
        )
        .unwrap();
}

fn restricted(kind: &str, name: &str) -> CommentOptions {
    CommentOptions {
        visibility: Some((kind.into(), name.into())),
        internal: false,
    }
}

/// A new acme issue without comments, mirrored: its key and its globex mirror's key.
async fn mirrored(p: &Pair) -> (String, String) {
    let sec = p
        .sim
        .control()
        .create_issue(
            "acme",
            ANN,
            &json!({ "fields": { "project": { "key": "SEC" }, "issuetype": { "name": "Task" },
                     "summary": "A thread" } }),
        )
        .unwrap();
    p.converge().await;
    (sec, key(&p.only_one("globex", "A thread")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restricted_comments_and_internal_notes_are_not_published_by_default() {
    // globex's OPS is a service-desk project: Bob's internal note reads jsdPublic false.
    let p = pair_shaped(0, "", |g| g.projects[0].service_desk = Some(true)).await;
    acme_audiences(&p);
    let (acme_key, mirror) = mirrored(&p).await;
    let c = p.sim.control();
    c.comment_issue_with(
        "acme",
        &acme_key,
        ANN,
        &json!("for developers only"),
        &restricted("role", "Developers"),
    )
    .unwrap();
    c.comment_issue_with(
        "acme",
        &acme_key,
        ANN,
        &json!("auditors only"),
        &restricted("group", "auditors"),
    )
    .unwrap();
    c.comment_issue("acme", &acme_key, ANN, &json!("everyone may read this"))
        .unwrap();
    c.comment_issue_with(
        "globex",
        &mirror,
        BOB,
        &json!("agents only: customer is on a trial"),
        &CommentOptions {
            visibility: None,
            internal: true,
        },
    )
    .unwrap();
    c.comment_issue("globex", &mirror, BOB, &json!("public reply"))
        .unwrap();
    p.converge().await;
    assert_eq!(
        texts(&p, "globex", &mirror),
        [
            "agents only: customer is on a trial",
            "public reply",
            "everyone may read this"
        ]
    );
    assert_eq!(
        texts(&p, "acme", &acme_key),
        [
            "for developers only",
            "auditors only",
            "everyone may read this",
            "public reply"
        ]
    );
    // Counted and shown on each run that looks at them (a full reconcile looks at all).
    let r = p.reconcile(ops()).await;
    assert_eq!(r.comments_restricted, 2, "{r:?}");
    let r = p.reconcile(sec()).await;
    assert_eq!(r.comments_restricted, 1, "{r:?}");
    p.assert_quiet("comments in step").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_comments_all_a_restriction_is_kept_and_one_the_target_lacks_is_reported() {
    // globex has the role Developers (with its bot) but no group auditors.
    let p = pair_shaped(0, "comments = \"all\"\n", |g| {
        g.roles = vec![AudienceSpec {
            name: "Developers".into(),
            members: vec![GLOBEX_BOT.into(), BOB.into()],
            ..Default::default()
        }];
    })
    .await;
    acme_audiences(&p);
    let (acme_key, mirror) = mirrored(&p).await;
    let c = p.sim.control();
    c.comment_issue_with(
        "acme",
        &acme_key,
        ANN,
        &json!("dev note"),
        &restricted("role", "Developers"),
    )
    .unwrap();
    c.comment_issue_with(
        "acme",
        &acme_key,
        ANN,
        &json!("audit note"),
        &restricted("group", "auditors"),
    )
    .unwrap();
    c.comment_issue("acme", &acme_key, ANN, &json!("after both"))
        .unwrap();
    p.converge().await;
    assert_eq!(
        thread(&p, "globex", &mirror)
            .into_iter()
            .map(|(t, v, _)| (t, v))
            .collect::<Vec<_>>(),
        [
            ("dev note".to_owned(), "Developers".to_owned()),
            ("after both".to_owned(), String::new())
        ],
        "the restriction kept, never widened; the comment after it still arrives"
    );
    let link = p.link_of("globex", &mirror);
    let parked: Vec<_> = link
        .parked
        .iter()
        .map(|(k, v)| (k.starts_with("comment "), v.reason.as_str()))
        .collect();
    assert_eq!(
        parked,
        [(true, "audience_unavailable")],
        "{:?}",
        link.parked
    );
    let message = &link.parked.values().next().unwrap().message;
    assert!(
        message.contains("auditors") && message.contains("does not exist"),
        "{message}"
    );
    let r = p.run(ops()).await;
    assert_eq!(r.parked_now.get("audience_unavailable"), Some(&1), "{r:?}");
    p.assert_quiet("comments in step").await;

    // Switched to `comments = "public"`: the restricted comments are counted as not
    // mirrored, no longer parked as refused (never both).
    let mut p = p;
    p.reconfigure(&ops(), |c| {
        c.comments = jira_sync_config::CommentAudience::Public;
    });
    let r = p.run(ops()).await;
    assert!(r.comments_restricted >= 1, "{r:?}");
    assert_eq!(r.parked_now.get("audience_unavailable"), None, "{r:?}");
    assert!(
        !p.link_of("globex", &mirror)
            .parked
            .keys()
            .any(|k| k.starts_with("comment ")),
        "counted, not parked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_comment_follows_in_both_directions_and_the_later_edit_wins() {
    let p = pair(0).await;
    let (acme_key, mirror) = mirrored(&p).await;
    let c = p.sim.control();
    let id = c
        .comment_issue("acme", &acme_key, ANN, &json!("password: hunter2 (oops)"))
        .unwrap();
    p.converge().await;
    assert_eq!(texts(&p, "globex", &mirror), ["password: hunter2 (oops)"]);
    // Its author removes what was pasted by mistake: the mirror follows.
    c.edit_comment(
        "acme",
        &acme_key,
        id,
        ANN,
        &json!("password: (removed)"),
        None,
    )
    .unwrap();
    p.converge().await;
    assert_eq!(texts(&p, "globex", &mirror), ["password: (removed)"]);
    p.assert_quiet("comments in step").await;
    // An edit of the mirror's copy goes back to the source.
    let copy: u64 =
        p.sim.control().issue("globex", &mirror).unwrap()["fields"]["comment"]["comments"][0]["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
    c.edit_comment(
        "globex",
        &mirror,
        copy,
        BOB,
        &json!("fixed on globex"),
        None,
    )
    .unwrap();
    p.converge().await;
    assert_eq!(texts(&p, "acme", &acme_key), ["fixed on globex"]);
    // Both edited between runs: the later edit wins on both sites.
    c.edit_comment("acme", &acme_key, id, ANN, &json!("acme's edit"), None)
        .unwrap();
    c.world().clock().advance(chrono::Duration::seconds(30));
    c.edit_comment(
        "globex",
        &mirror,
        copy,
        BOB,
        &json!("globex's later edit"),
        None,
    )
    .unwrap();
    p.converge().await;
    assert_eq!(texts(&p, "acme", &acme_key), ["globex's later edit"]);
    assert_eq!(texts(&p, "globex", &mirror), ["globex's later edit"]);
    p.assert_quiet("comments in step").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_comment_deleted_on_its_source_is_deleted_from_its_mirror_and_not_back() {
    let p = pair(0).await;
    let (acme_key, mirror) = mirrored(&p).await;
    let c = p.sim.control();
    let gone = c
        .comment_issue("acme", &acme_key, ANN, &json!("posted to the wrong issue"))
        .unwrap();
    c.comment_issue("acme", &acme_key, ANN, &json!("stays"))
        .unwrap();
    c.comment_issue("globex", &mirror, BOB, &json!("from globex"))
        .unwrap();
    p.converge().await;
    assert_eq!(
        texts(&p, "globex", &mirror),
        ["from globex", "posted to the wrong issue", "stays"]
    );
    c.delete_comment("acme", &acme_key, gone).unwrap();
    p.converge().await;
    assert_eq!(texts(&p, "globex", &mirror), ["from globex", "stays"]);
    // A mirror's copy deleted on its own issue is not added again, and the source keeps it.
    let copy = p.sim.control().issue("acme", &acme_key).unwrap()["fields"]["comment"]["comments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| jira_sync_client::adf::to_text(&c["body"]).contains("from globex"))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    c.delete_comment("acme", &acme_key, copy).unwrap();
    p.converge().await;
    assert_eq!(texts(&p, "acme", &acme_key), ["stays"]);
    assert_eq!(texts(&p, "globex", &mirror), ["from globex", "stays"]);
    p.assert_quiet("comments in step").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_longer_than_search_embeds_arrives_whole() {
    let p = pair(0).await;
    let (acme_key, mirror) = mirrored(&p).await;
    let c = p.sim.control();
    for i in 1..=30 {
        c.comment_issue("acme", &acme_key, ANN, &json!(format!("comment {i}")))
            .unwrap();
    }
    p.converge().await;
    let want: Vec<String> = (1..=30).map(|i| format!("comment {i}")).collect();
    assert_eq!(
        texts(&p, "globex", &mirror),
        want,
        "search embeds 20; the rest is paged"
    );
    c.comment_issue("acme", &acme_key, ANN, &json!("comment 31"))
        .unwrap();
    p.converge().await;
    assert_eq!(texts(&p, "globex", &mirror).len(), 31);
    assert_eq!(texts(&p, "globex", &mirror)[30], "comment 31");
    p.assert_quiet("comments in step").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_comment_restricted_after_it_was_mirrored_leaves_a_public_mirror() {
    let p = pair(0).await;
    acme_audiences(&p);
    let (acme_key, mirror) = mirrored(&p).await;
    let c = p.sim.control();
    let id = c
        .comment_issue(
            "acme",
            &acme_key,
            ANN,
            &json!("the customer's address is ..."),
        )
        .unwrap();
    p.converge().await;
    assert_eq!(texts(&p, "globex", &mirror).len(), 1);
    c.edit_comment(
        "acme",
        &acme_key,
        id,
        ANN,
        &json!("the customer's address is ..."),
        Some(Some(("role".into(), "Developers".into()))),
    )
    .unwrap();
    p.converge().await;
    assert!(
        texts(&p, "globex", &mirror).is_empty(),
        "no longer public anywhere"
    );
    assert_eq!(thread(&p, "acme", &acme_key)[0].1, "Developers");
    // Public again: mirrored anew.
    c.edit_comment(
        "acme",
        &acme_key,
        id,
        ANN,
        &json!("no address here"),
        Some(None),
    )
    .unwrap();
    p.converge().await;
    assert_eq!(texts(&p, "globex", &mirror), ["no address here"]);
    p.assert_quiet("comments in step").await;
}
