//! Reviewer's attempts to break issue 18's comments (they keep their audience and stay in
//! step; its attempts on field values are in `fields.rs`). Each test asserts what a user
//! expects on both sites and that a converged pair writes nothing.

use std::collections::BTreeMap;

use jira_sim::control::{AudienceSpec, CommentOptions};
use jira_sync_config::{CommentAudience, Direction};
use jira_sync_harness::pair::*;
use tokio_util::sync::CancellationToken;

const ANN: &str = "ann@acme.example";
const BOB: &str = "bob@globex.example";

fn thread(p: &Pair, site: &str, key: &str) -> Vec<(String, String, Option<bool>)> {
    p.comment_thread(site, key)
}

fn texts(p: &Pair, site: &str, key: &str) -> Vec<String> {
    thread(p, site, key).into_iter().map(|t| t.0).collect()
}

fn vis(p: &Pair, site: &str, key: &str) -> Vec<(String, String)> {
    thread(p, site, key)
        .into_iter()
        .map(|(t, v, _)| (t, v))
        .collect()
}

fn tv(t: &str, v: &str) -> (String, String) {
    (t.to_owned(), v.to_owned())
}

/// The id of the comment of `site`'s issue `key` whose text is `text`.
fn cid(p: &Pair, site: &str, key: &str, text: &str) -> u64 {
    let issue = p.sim.control().issue(site, key).unwrap();
    let all = issue["fields"]["comment"]["comments"].as_array().unwrap();
    let found: Vec<&Value> = all
        .iter()
        .filter(|c| jira_sync_client::adf::to_text(&c["body"]).trim() == text)
        .collect();
    assert_eq!(found.len(), 1, "{text:?} once on {site}: {all:?}");
    found[0]["id"].as_str().unwrap().parse().unwrap()
}

fn audience(name: &str, members: &[&str]) -> AudienceSpec {
    AudienceSpec {
        name: name.into(),
        members: members.iter().map(|m| (*m).to_owned()).collect(),
        ..Default::default()
    }
}

/// acme's role Developers and group auditors (Ann and the bot in both).
fn acme_audiences(p: &Pair) {
    p.sim
        .control()
        .create_audiences(
            "acme",
            &[audience("Developers", &[ANN, ACME_BOT])],
            &[audience("auditors", &[ANN, ACME_BOT])],
        )
        .unwrap();
}

fn restricted(kind: &str, name: &str) -> CommentOptions {
    CommentOptions {
        visibility: Some((kind.into(), name.into())),
        internal: false,
    }
}

fn internal() -> CommentOptions {
    CommentOptions {
        visibility: None,
        internal: true,
    }
}

fn vis_of(kind: &str, name: &str) -> Option<Option<(String, String)>> {
    Some(Some((kind.into(), name.into())))
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

fn parked_comments(p: &Pair, site: &str, key: &str) -> Vec<(String, String)> {
    p.link_of(site, key)
        .parked
        .iter()
        .filter(|(k, _)| k.starts_with("comment "))
        .map(|(_, v)| (v.reason.clone(), v.message.clone()))
        .collect()
}

fn advance(p: &Pair, d: chrono::Duration) {
    p.sim.control().world().clock().advance(d);
}

// ---------------------------------------------------------------------------------------
// Comments: edits
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b01_both_sites_edit_in_one_cycle_the_later_acme_edit_wins_on_both() {
    let p = pair(0).await;
    let (acme_key, mirror) = mirrored(&p).await;
    let c = p.sim.control();
    let id = c
        .comment_issue("acme", &acme_key, ANN, &json!("first"))
        .unwrap();
    p.converge().await;
    let copy = cid(&p, "globex", &mirror, "first");
    // Bob edits the mirror's copy; 30 s later Ann edits the source: Ann's is the later edit.
    c.edit_comment("globex", &mirror, copy, BOB, &json!("globex's edit"), None)
        .unwrap();
    advance(&p, chrono::Duration::seconds(30));
    c.edit_comment(
        "acme",
        &acme_key,
        id,
        ANN,
        &json!("acme's later edit"),
        None,
    )
    .unwrap();
    p.converge().await;
    assert_eq!(texts(&p, "acme", &acme_key), ["acme's later edit"]);
    assert_eq!(
        texts(&p, "globex", &mirror),
        ["acme's later edit"],
        "the later edit wins on both sites"
    );
    p.assert_quiet("comment edited on both sites").await;
}

// ---------------------------------------------------------------------------------------
// Comments: audience
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b02_public_mode_restricted_comment_widened_then_narrowed_again() {
    let p = pair(0).await;
    acme_audiences(&p);
    let (acme_key, mirror) = mirrored(&p).await;
    let c = p.sim.control();
    let id = c
        .comment_issue_with(
            "acme",
            &acme_key,
            ANN,
            &json!("secret plan"),
            &restricted("role", "Developers"),
        )
        .unwrap();
    p.converge().await;
    assert!(texts(&p, "globex", &mirror).is_empty());
    assert_eq!(p.reconcile(ops()).await.comments_restricted, 1);
    c.edit_comment(
        "acme",
        &acme_key,
        id,
        ANN,
        &json!("plan (public now)"),
        Some(None),
    )
    .unwrap();
    p.converge().await;
    assert_eq!(vis(&p, "globex", &mirror), [tv("plan (public now)", "")]);
    c.edit_comment(
        "acme",
        &acme_key,
        id,
        ANN,
        &json!("plan (developers again)"),
        vis_of("role", "Developers"),
    )
    .unwrap();
    p.converge().await;
    assert!(
        texts(&p, "globex", &mirror).is_empty(),
        "{:?}",
        thread(&p, "globex", &mirror)
    );
    assert_eq!(
        vis(&p, "acme", &acme_key),
        [tv("plan (developers again)", "Developers")]
    );
    p.assert_quiet("widened then narrowed, public mode").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b03_all_mode_restricted_comment_widened_then_narrowed_follows() {
    let p = pair_shaped(0, "comments = \"all\"\n", |g| {
        g.roles = vec![audience("Developers", &[GLOBEX_BOT, BOB])];
    })
    .await;
    acme_audiences(&p);
    let (acme_key, mirror) = mirrored(&p).await;
    let c = p.sim.control();
    let id = c
        .comment_issue_with(
            "acme",
            &acme_key,
            ANN,
            &json!("dev only"),
            &restricted("role", "Developers"),
        )
        .unwrap();
    p.converge().await;
    assert_eq!(vis(&p, "globex", &mirror), [tv("dev only", "Developers")]);
    c.edit_comment(
        "acme",
        &acme_key,
        id,
        ANN,
        &json!("for everyone now"),
        Some(None),
    )
    .unwrap();
    p.converge().await;
    assert_eq!(vis(&p, "globex", &mirror), [tv("for everyone now", "")]);
    c.edit_comment(
        "acme",
        &acme_key,
        id,
        ANN,
        &json!("devs again"),
        vis_of("role", "Developers"),
    )
    .unwrap();
    p.converge().await;
    assert_eq!(vis(&p, "globex", &mirror), [tv("devs again", "Developers")]);
    assert_eq!(vis(&p, "acme", &acme_key), [tv("devs again", "Developers")]);
    p.assert_quiet("widened then narrowed, all mode").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b04_all_mode_narrowed_to_a_group_the_target_lacks_leaves_no_public_copy() {
    let p = pair_shaped(0, "comments = \"all\"\n", |g| {
        g.roles = vec![audience("Developers", &[GLOBEX_BOT, BOB])];
    })
    .await;
    acme_audiences(&p);
    let (acme_key, mirror) = mirrored(&p).await;
    let c = p.sim.control();
    let id = c
        .comment_issue(
            "acme",
            &acme_key,
            ANN,
            &json!("customer address: 1 Main St"),
        )
        .unwrap();
    p.converge().await;
    assert_eq!(
        vis(&p, "globex", &mirror),
        [tv("customer address: 1 Main St", "")]
    );
    // Ann realises and restricts it to auditors; globex has no such group.
    c.edit_comment(
        "acme",
        &acme_key,
        id,
        ANN,
        &json!("customer address: 1 Main St"),
        vis_of("group", "auditors"),
    )
    .unwrap();
    p.converge().await;
    assert_eq!(
        vis(&p, "acme", &acme_key),
        [tv("customer address: 1 Main St", "auditors")]
    );
    let leaked: Vec<_> = thread(&p, "globex", &mirror)
        .into_iter()
        .filter(|(t, v, _)| t.contains("1 Main St") && v.is_empty())
        .collect();
    assert!(
        leaked.is_empty(),
        "restricted on its source, still public on the mirror: {leaked:?}"
    );
    p.assert_quiet("narrowed to a group the target lacks").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b05_all_mode_parked_restricted_comment_made_public_arrives() {
    let p = pair_shaped(0, "comments = \"all\"\n", |g| {
        g.roles = vec![audience("Developers", &[GLOBEX_BOT, BOB])];
    })
    .await;
    acme_audiences(&p);
    let (acme_key, mirror) = mirrored(&p).await;
    let c = p.sim.control();
    let id = c
        .comment_issue_with(
            "acme",
            &acme_key,
            ANN,
            &json!("audit finding"),
            &restricted("group", "auditors"),
        )
        .unwrap();
    p.converge().await;
    assert!(texts(&p, "globex", &mirror).is_empty());
    assert_eq!(parked_comments(&p, "globex", &mirror).len(), 1);
    // Ann makes it public: nothing stops it reaching globex now.
    c.edit_comment(
        "acme",
        &acme_key,
        id,
        ANN,
        &json!("audit finding (public)"),
        Some(None),
    )
    .unwrap();
    p.converge().await;
    assert_eq!(
        vis(&p, "globex", &mirror),
        [tv("audit finding (public)", "")],
        "a comment made public on its source reaches the mirror (parked: {:?})",
        parked_comments(&p, "globex", &mirror)
    );
    assert!(parked_comments(&p, "globex", &mirror).is_empty());
    p.assert_quiet("parked comment made public").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b06_all_mode_role_exists_but_bot_is_not_a_member_parks_never_widens() {
    let p = pair_shaped(0, "comments = \"all\"\n", |g| {
        g.roles = vec![audience("Developers", &[BOB])];
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
    c.comment_issue("acme", &acme_key, ANN, &json!("after"))
        .unwrap();
    p.converge().await;
    assert_eq!(vis(&p, "globex", &mirror), [tv("after", "")]);
    let parked = parked_comments(&p, "globex", &mirror);
    assert_eq!(parked.len(), 1, "{parked:?}");
    assert_eq!(parked[0].0, "audience_unavailable");
    assert!(parked[0].1.contains("not a member"), "{}", parked[0].1);
    let r = p.run(ops()).await;
    assert_eq!(r.parked_now.get("audience_unavailable"), Some(&1), "{r:?}");
    assert_eq!(
        vis(&p, "acme", &acme_key),
        [tv("dev note", "Developers"), tv("after", "")]
    );
    p.assert_quiet("role without the bot").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b07_all_mode_narrowed_to_a_role_the_bot_is_not_in_leaves_no_public_copy() {
    let p = pair_shaped(0, "comments = \"all\"\n", |g| {
        g.roles = vec![audience("Developers", &[BOB])];
    })
    .await;
    acme_audiences(&p);
    let (acme_key, mirror) = mirrored(&p).await;
    let c = p.sim.control();
    let id = c
        .comment_issue("acme", &acme_key, ANN, &json!("root password is xyz"))
        .unwrap();
    p.converge().await;
    assert_eq!(vis(&p, "globex", &mirror), [tv("root password is xyz", "")]);
    c.edit_comment(
        "acme",
        &acme_key,
        id,
        ANN,
        &json!("root password is xyz"),
        vis_of("role", "Developers"),
    )
    .unwrap();
    p.converge().await;
    let leaked: Vec<_> = thread(&p, "globex", &mirror)
        .into_iter()
        .filter(|(_, v, _)| v.is_empty())
        .collect();
    assert!(
        leaked.is_empty(),
        "restricted on its source, still public on the mirror: {leaked:?}"
    );
    p.assert_quiet("narrowed to a role without the bot").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b08_internal_note_edited_stays_internal_in_both_modes() {
    let mut p = pair_with_fields(0, &[], |a, g| {
        a.projects[0].service_desk = Some(true);
        g.projects[0].service_desk = Some(true);
    })
    .await;
    let (acme_key, mirror) = mirrored(&p).await;
    let c = p.sim.control().clone();
    let note = c
        .comment_issue_with(
            "globex",
            &mirror,
            BOB,
            &json!("agents only: refund approved"),
            &internal(),
        )
        .unwrap();
    p.converge().await;
    assert!(texts(&p, "acme", &acme_key).is_empty());
    c.edit_comment(
        "globex",
        &mirror,
        note,
        BOB,
        &json!("agents only: refund approved (50 EUR)"),
        None,
    )
    .unwrap();
    p.converge().await;
    assert!(
        texts(&p, "acme", &acme_key).is_empty(),
        "an edited internal note is still not public: {:?}",
        thread(&p, "acme", &acme_key)
    );
    assert_eq!(p.reconcile(sec()).await.comments_restricted, 1);
    // acme now takes internal notes: written as an internal note.
    p.reconfigure(&sec(), |conn| conn.comments = CommentAudience::All);
    p.converge().await;
    let want = |t: &str| vec![(t.to_owned(), String::new(), Some(false))];
    assert_eq!(
        thread(&p, "acme", &acme_key),
        want("agents only: refund approved (50 EUR)")
    );
    c.edit_comment("globex", &mirror, note, BOB, &json!("v3 from globex"), None)
        .unwrap();
    p.converge().await;
    assert_eq!(thread(&p, "acme", &acme_key), want("v3 from globex"));
    let copy = cid(&p, "acme", &acme_key, "v3 from globex");
    c.edit_comment("acme", &acme_key, copy, ANN, &json!("v4 from acme"), None)
        .unwrap();
    p.converge().await;
    assert_eq!(thread(&p, "globex", &mirror), want("v4 from acme"));
    assert_eq!(thread(&p, "acme", &acme_key), want("v4 from acme"));
    p.assert_quiet("internal note edited").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b09_edits_racing_deletions() {
    let p = pair(0).await;
    let (acme_key, mirror) = mirrored(&p).await;
    let c = p.sim.control();
    let gone = c
        .comment_issue("acme", &acme_key, ANN, &json!("to be deleted"))
        .unwrap();
    let kept = c
        .comment_issue("acme", &acme_key, ANN, &json!("to be edited"))
        .unwrap();
    p.converge().await;
    let copy_gone = cid(&p, "globex", &mirror, "to be deleted");
    let copy_kept = cid(&p, "globex", &mirror, "to be edited");
    // Bob edits the copy of a comment whose author deletes it meanwhile.
    c.edit_comment(
        "globex",
        &mirror,
        copy_gone,
        BOB,
        &json!("bob's edit of a deleted one"),
        None,
    )
    .unwrap();
    c.delete_comment("acme", &acme_key, gone).unwrap();
    // The mirror's copy of another is deleted by hand while its source is edited.
    c.delete_comment("globex", &mirror, copy_kept).unwrap();
    c.edit_comment("acme", &acme_key, kept, ANN, &json!("edited on acme"), None)
        .unwrap();
    p.converge().await;
    assert_eq!(texts(&p, "acme", &acme_key), ["edited on acme"]);
    assert!(
        texts(&p, "globex", &mirror).is_empty(),
        "{:?}",
        texts(&p, "globex", &mirror)
    );
    p.assert_quiet("edits racing deletions").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b10_edit_and_reply_on_a_restricted_comments_mirror() {
    let p = pair_shaped(0, "comments = \"all\"\n", |g| {
        g.roles = vec![audience("Developers", &[GLOBEX_BOT, BOB])];
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
    p.converge().await;
    let copy = cid(&p, "globex", &mirror, "dev note");
    c.edit_comment(
        "globex",
        &mirror,
        copy,
        BOB,
        &json!("dev note (corrected by Bob)"),
        None,
    )
    .unwrap();
    c.comment_issue("globex", &mirror, BOB, &json!("public reply"))
        .unwrap();
    p.converge().await;
    let want = [
        tv("dev note (corrected by Bob)", "Developers"),
        tv("public reply", ""),
    ];
    assert_eq!(vis(&p, "acme", &acme_key), want);
    assert_eq!(vis(&p, "globex", &mirror), want);
    p.assert_quiet("edit on a restricted mirror").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b11_a_thread_over_100_comments_with_edits_and_deletes_in_the_middle() {
    let p = pair(0).await;
    let c = p.sim.control();
    for site in ["acme", "globex"] {
        c.set_limits(
            site,
            jira_sim::limits::LimitsSpec {
                burst: BTreeMap::new(),
                per_issue_writes: false,
                tenant_quota: None,
                quota_window_seconds: None,
            },
        )
        .unwrap();
    }
    let (acme_key, mirror) = mirrored(&p).await;
    let mut ids = vec![0u64];
    for i in 1..=120 {
        ids.push(
            c.comment_issue("acme", &acme_key, ANN, &json!(format!("comment {i}")))
                .unwrap(),
        );
    }
    p.converge().await;
    let all: Vec<String> = (1..=120).map(|i| format!("comment {i}")).collect();
    assert_eq!(texts(&p, "globex", &mirror), all);
    c.edit_comment(
        "acme",
        &acme_key,
        ids[50],
        ANN,
        &json!("comment 50 (edited)"),
        None,
    )
    .unwrap();
    c.delete_comment("acme", &acme_key, ids[70]).unwrap();
    let copy110 = cid(&p, "globex", &mirror, "comment 110");
    let copy115 = cid(&p, "globex", &mirror, "comment 115");
    c.edit_comment(
        "globex",
        &mirror,
        copy110,
        BOB,
        &json!("comment 110 (edited on globex)"),
        None,
    )
    .unwrap();
    c.delete_comment("globex", &mirror, copy115).unwrap();
    c.comment_issue("acme", &acme_key, ANN, &json!("comment 121"))
        .unwrap();
    p.converge().await;
    let want = |drop115: bool| -> Vec<String> {
        (1..=121)
            .filter(|i| *i != 70 && !(drop115 && *i == 115))
            .map(|i| match i {
                50 => "comment 50 (edited)".to_owned(),
                110 => "comment 110 (edited on globex)".to_owned(),
                i => format!("comment {i}"),
            })
            .collect()
    };
    assert_eq!(texts(&p, "acme", &acme_key), want(false));
    assert_eq!(texts(&p, "globex", &mirror), want(true));
    p.assert_quiet("a long thread").await;
}

// ---------------------------------------------------------------------------------------
// Comments: a lost store, interrupted runs
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b12a_comments_added_while_the_store_was_lost_arrive_once() {
    let mut p = pair(0).await;
    let (acme_key, mirror) = mirrored(&p).await;
    let c = p.sim.control().clone();
    c.comment_issue("acme", &acme_key, ANN, &json!("before"))
        .unwrap();
    p.converge().await;
    p.lose_store();
    c.comment_issue("acme", &acme_key, ANN, &json!("while lost, on acme"))
        .unwrap();
    c.comment_issue("globex", &mirror, BOB, &json!("while lost, on globex"))
        .unwrap();
    p.engine.rebuild().await.unwrap();
    p.converge().await;
    let mut a = texts(&p, "acme", &acme_key);
    let mut g = texts(&p, "globex", &mirror);
    a.sort();
    g.sort();
    let want = ["before", "while lost, on acme", "while lost, on globex"];
    assert_eq!(a, want);
    assert_eq!(g, want);
    p.assert_quiet("comments added while the store was lost")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b12b_comments_edited_or_deleted_while_the_store_was_lost_follow() {
    let mut p = pair(0).await;
    let (acme_key, mirror) = mirrored(&p).await;
    let c = p.sim.control().clone();
    let edited = c
        .comment_issue("acme", &acme_key, ANN, &json!("password: hunter2"))
        .unwrap();
    let deleted = c
        .comment_issue("acme", &acme_key, ANN, &json!("wrong issue"))
        .unwrap();
    p.converge().await;
    assert_eq!(
        texts(&p, "globex", &mirror),
        ["password: hunter2", "wrong issue"]
    );
    p.lose_store();
    c.edit_comment(
        "acme",
        &acme_key,
        edited,
        ANN,
        &json!("password: (removed)"),
        None,
    )
    .unwrap();
    c.delete_comment("acme", &acme_key, deleted).unwrap();
    p.engine.rebuild().await.unwrap();
    p.converge().await;
    assert_eq!(texts(&p, "acme", &acme_key), ["password: (removed)"]);
    assert_eq!(
        texts(&p, "globex", &mirror),
        ["password: (removed)"],
        "the mirror follows the source's edit and deletion made while the store was lost"
    );
    p.assert_quiet("comments edited while the store was lost")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b13_a_comment_whose_answer_was_lost_is_not_written_twice() {
    let mut p = pair(0).await;
    let (acme_key, mirror) = mirrored(&p).await;
    let c = p.sim.control().clone();
    // globex's connector only pushes for a while (its people lookups cached by a first run).
    p.reconfigure(&ops(), |conn| conn.direction = Direction::Push);
    advance(&p, chrono::Duration::seconds(4));
    p.run(ops()).await;
    c.comment_issue("acme", &acme_key, ANN, &json!("only once please"))
        .unwrap();
    advance(&p, chrono::Duration::seconds(4));
    p.run(sec()).await;
    // The connection drops after Jira took the comment: the answer is lost.
    c.set_faults(
        "globex",
        jira_sim::faults::FaultSpec {
            close_rate: 1.0,
            ..Default::default()
        },
    )
    .unwrap();
    let lost = p.engine.run(&ops()).await;
    c.set_faults("globex", Default::default()).unwrap();
    assert_eq!(
        texts(&p, "globex", &mirror),
        ["only once please"],
        "the write landed ({lost:?})"
    );
    p.reconfigure(&ops(), |conn| conn.direction = Direction::Both);
    p.converge().await;
    assert_eq!(
        (texts(&p, "acme", &acme_key), texts(&p, "globex", &mirror)),
        (
            vec!["only once please".to_owned()],
            vec!["only once please".to_owned()]
        ),
        "(acme, globex): written once, never echoed"
    );
    p.assert_quiet("a lost answer").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b14_a_restart_between_pull_and_push_loses_nothing() {
    let mut p = pair(0).await;
    let (acme_key, mirror) = mirrored(&p).await;
    let c = p.sim.control().clone();
    c.comment_issue("acme", &acme_key, ANN, &json!("v1"))
        .unwrap();
    p.converge().await;
    let copy = cid(&p, "globex", &mirror, "v1");
    c.edit_comment("globex", &mirror, copy, BOB, &json!("v2 from globex"), None)
        .unwrap();
    c.comment_issue("acme", &acme_key, ANN, &json!("new on acme"))
        .unwrap();
    advance(&p, chrono::Duration::seconds(4));
    // Each side pulls, then the daemon stops before pushing.
    let stop = CancellationToken::new();
    stop.cancel();
    p.engine.run_until(&sec(), &stop).await.unwrap();
    p.engine.run_until(&ops(), &stop).await.unwrap();
    // Restarted: a new engine on the same store.
    p.reconfigure(&ops(), |_| {});
    p.converge().await;
    let want = ["v2 from globex", "new on acme"];
    assert_eq!(texts(&p, "acme", &acme_key), want);
    assert_eq!(texts(&p, "globex", &mirror), want);
    p.assert_quiet("restart between pull and push").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b15_a_comment_with_media_and_a_mention_is_mirrored_without_acme_ids() {
    let p = pair(0).await;
    let (acme_key, mirror) = mirrored(&p).await;
    let c = p.sim.control();
    let ann_id = c.issue("acme", &acme_key).unwrap()["fields"]["reporter"]["accountId"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = json!({ "type": "doc", "version": 1, "content": [
        { "type": "paragraph", "content": [
            { "type": "text", "text": "see the screenshot, " },
            { "type": "mention", "attrs": { "id": ann_id, "text": "@Ann" } }
        ] },
        { "type": "mediaSingle", "attrs": { "layout": "center" }, "content": [
            { "type": "media", "attrs": { "id": "5e2c3f0a-acme-media-0001", "type": "file",
              "collection": "", "alt": "screenshot.png" } }
        ] }
    ] });
    c.comment_issue("acme", &acme_key, ANN, &body).unwrap();
    p.converge().await;
    let g = c.issue("globex", &mirror).unwrap();
    let copy = &g["fields"]["comment"]["comments"][0]["body"];
    let raw = copy.to_string();
    assert!(
        !raw.contains("5e2c3f0a-acme-media-0001"),
        "a media node pointing into acme: {raw}"
    );
    assert!(
        raw.contains("screenshot.png"),
        "a placeholder naming the file: {raw}"
    );
    assert!(
        !raw.contains(&ann_id),
        "a mention of acme's account id: {raw}"
    );
    assert!(raw.contains("Ann"), "the mention as plain text: {raw}");
    p.assert_quiet("media and mentions").await;
}
