//! Reviewer's attempts to break issue 18 point 7, continued (break18e.rs): new issues,
//! removals, twins, rebuilt stores, comments.

use jira_sync_harness::files::*;
use jira_sync_harness::pair::*;
use jira_sync_harness::pair::{ops as ops_c, sec as sec_c};
use jira_sync_harness::rich::*;

const ANN: &str = "ann@acme.example";
const BOB: &str = "bob@globex.example";

// 17. A new issue created on acme with a file shown in its description: mirrored with the
// copy from the start (the body written with a placeholder is written again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_issue_with_an_image_ends_showing_the_copy() {
    let p = with_files(|_| {}).await;
    let c = p.sim.control();
    let sec = p.acme_task("Born with image", json!({}));
    let f = c.attach("acme", &sec, "born.png", 2_222).unwrap();
    set_description(
        &p,
        "acme",
        &sec,
        ANN,
        doc(vec![image(&f.media_id, "born.png")]),
    );
    c.comment_issue(
        "acme",
        &sec,
        ANN,
        &doc(vec![image(&f.media_id, "born.png")]),
    )
    .unwrap();
    p.converge().await;
    let ops = key(&p.only_one("globex", "Born with image"));
    let copy = c.attachments("globex", &ops).unwrap();
    assert_eq!(copy.len(), 1);
    let g = description(&p, "globex", &ops);
    assert_eq!(media_ids(&g), vec![copy[0].media_id.clone()], "{g:#}");
    p.assert_quiet("a new issue with an image").await;
}

// 18. The source removes its image from the description (the simulator deletes the file):
// the copy and its image go on the mirror, with no placeholder left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_source_removing_its_image_removes_the_copy_and_its_image() {
    let p = with_files(|_| {}).await;
    let (sec, ops, _) = with_image(&p, "Source cut").await;
    set_description(
        &p,
        "acme",
        &sec,
        ANN,
        doc(vec![para("Steps:"), para("Since Monday.")]),
    );
    assert!(names(&p, "acme", &sec).is_empty());
    p.converge().await;
    assert!(names(&p, "globex", &ops).is_empty());
    assert_eq!(
        description(&p, "globex", &ops),
        doc(vec![para("Steps:"), para("Since Monday.")])
    );
    p.assert_quiet("after the source removed its image").await;
}

// 19. A file removed at its source while the source's description still shows its node
// (Jira leaves the node): the mirror shows no broken copy.
// Failed before the fix: the copy is deleted but globex's description (written by jira-sync) still names it; not rewritten to a placeholder (quiet, but broken).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_detached_at_its_source_while_still_shown_leaves_no_broken_copy() {
    let p = with_files(|_| {}).await;
    let c = p.sim.control();
    let (sec, ops, _) = with_image(&p, "Detached shown").await;
    c.detach("acme", &sec, "crash.png").unwrap();
    p.converge().await;
    assert!(names(&p, "globex", &ops).is_empty());
    let a = description(&p, "acme", &sec);
    assert_eq!(media_ids(&a).len(), 1, "acme as Ann left it: {a:#}");
    assert_eq!(
        a["content"].as_array().unwrap().len(),
        3,
        "acme as Ann left it: {a:#}"
    );
    p.assert_quiet("after a detach at the source").await;
    let g = description(&p, "globex", &ops);
    assert!(broken(&p, "globex", &ops, &g).is_empty(), "{g:#}");
}

// 20. The same file attached by hand on both sides, each shown in its own description
// before the first sync of files: matched, not uploaded, and each side keeps its image.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_file_by_hand_on_both_sides_each_shown() {
    let p = with_files(|_| {}).await;
    let c = p.sim.control();
    let (sec, ops) = mirrored(&p, "By hand").await;
    let bytes: Vec<u8> = (0..777u32).map(|n| (n * 5 % 256) as u8).collect();
    let a = c
        .attach_bytes("acme", &sec, "same.png", bytes.clone())
        .unwrap();
    let g = c
        .attach_bytes("globex", &ops, "same.png", bytes.clone())
        .unwrap();
    set_description(
        &p,
        "acme",
        &sec,
        ANN,
        doc(vec![para("acme"), image(&a.media_id, "same.png")]),
    );
    p.converge().await;
    set_description(
        &p,
        "globex",
        &ops,
        BOB,
        doc(vec![para("globex"), image(&g.media_id, "same.png")]),
    );
    p.converge().await;
    assert_eq!(names(&p, "acme", &sec), ["same.png"]);
    assert_eq!(names(&p, "globex", &ops), ["same.png"]);
    let ad = description(&p, "acme", &sec);
    let gd = description(&p, "globex", &ops);
    assert!(broken(&p, "acme", &sec, &ad).is_empty(), "{ad:#}");
    assert!(broken(&p, "globex", &ops, &gd).is_empty(), "{gd:#}");
    assert_eq!(ad["content"][0], para("globex"));
    p.assert_quiet("one file by hand on both sides").await;
}

// 5b. After Bob cut the copy's image on globex (Jira deleted the copy), Ann edits acme's
// text: globex's description is written again, naming the copy that no longer exists?
// Failed before the fix: same root cause: after Bob cut the copy's image (Jira deleted the copy), Ann's next edit makes jira-sync write the deleted copy's media id on globex.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_copys_image_was_cut_a_source_edit_writes_no_broken_file() {
    let p = with_files(|_| {}).await;
    let (sec, ops, media) = with_image(&p, "Image cut, then edit").await;
    let mut cut = description(&p, "globex", &ops);
    cut["content"].as_array_mut().unwrap().remove(1);
    set_description(&p, "globex", &ops, BOB, cut);
    p.converge().await;
    let mut edited = description(&p, "acme", &sec);
    edited["content"][0] = para("Steps (acme, later):");
    set_description(&p, "acme", &sec, ANN, edited);
    p.converge().await;
    assert_eq!(names(&p, "acme", &sec), ["crash.png"]);
    assert_eq!(
        media_ids(&description(&p, "acme", &sec)),
        vec![media.clone()]
    );
    let g = description(&p, "globex", &ops);
    assert_eq!(g["content"][0], para("Steps (acme, later):"), "{g:#}");
    assert!(
        broken(&p, "globex", &ops, &g).is_empty(),
        "jira-sync wrote globex a file it no longer has: {g:#}"
    );
    p.assert_quiet("after the cut and an edit").await;
}

// 11c. The cap raised, then the issue touched: copied then?
// Failed before the fix: even with the issue touched the file waits: the size-refusal park blocks for PARKED_RETRY (a day); 11d shows it copies after 25h.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raising_the_cap_then_touching_the_issue_copies_a_parked_file() {
    let mut p = with_files(|c| c.max_attachment_size = 4_096).await;
    let c = p.sim.control().clone();
    let (sec, ops) = mirrored(&p, "Raised, touched").await;
    c.attach("acme", &sec, "core.dump", 50_000).unwrap();
    p.converge().await;
    for conn in [sec_c(), ops_c()] {
        p.reconfigure(&conn, |x| x.max_attachment_size = 100_000);
    }
    c.edit_issue(
        "acme",
        &sec,
        ANN,
        &json!({ "fields": { "summary": "Raised, touched!" } }),
    )
    .unwrap();
    p.converge().await;
    assert_eq!(names(&p, "globex", &ops), ["core.dump"]);
    p.assert_quiet("after the cap was raised").await;
}

// 21. The same file attached by hand on both sides is linked; when Ann removes hers, Bob's
// own (hand-attached) file is deleted by jira-sync as her file's copy.
// Decided (README, Attachments): a file of the same name, size and content on both sides is
// one file, its copy; removing it at its source removes the copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_attached_twin_is_deleted_when_the_other_side_removes_its_file() {
    let p = with_files(|_| {}).await;
    let c = p.sim.control();
    let (sec, ops) = mirrored(&p, "Twins by hand").await;
    let bytes: Vec<u8> = (0..640u32).map(|n| (n * 11 % 256) as u8).collect();
    c.attach_bytes("acme", &sec, "spec.pdf", bytes.clone())
        .unwrap();
    c.attach_bytes("globex", &ops, "spec.pdf", bytes.clone())
        .unwrap();
    p.converge().await;
    c.detach("acme", &sec, "spec.pdf").unwrap();
    p.converge().await;
    // Bob attached the same bytes himself: they are one file with Ann's, and go with it.
    assert!(names(&p, "globex", &ops).is_empty());
    p.assert_quiet("twins removed together").await;
}

// 22. The store lost with images in comments on both sides.
// Failed before the fix: after a rebuild acme's copy of Bob's comment is rewritten to a placeholder, which deletes acme's copy of g.png; it is uploaded again (5 writes, 1 upload).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuilt_store_keeps_comment_images_as_they_are() {
    let mut p = with_files(|_| {}).await;
    let c = p.sim.control().clone();
    let (sec, ops) = mirrored(&p, "Rebuilt comments").await;
    let a = c.attach("acme", &sec, "a.png", 1_500).unwrap();
    c.comment_issue(
        "acme",
        &sec,
        ANN,
        &doc(vec![para("acme:"), image(&a.media_id, "a.png")]),
    )
    .unwrap();
    p.converge().await;
    let g = c.attach("globex", &ops, "g.png", 1_600).unwrap();
    c.comment_issue(
        "globex",
        &ops,
        BOB,
        &doc(vec![para("globex:"), image(&g.media_id, "g.png")]),
    )
    .unwrap();
    p.converge().await;
    let before_a: Vec<Value> = comments(&p, "acme", &sec)
        .iter()
        .map(|c| c["body"].clone())
        .collect();
    let before_g: Vec<Value> = comments(&p, "globex", &ops)
        .iter()
        .map(|c| c["body"].clone())
        .collect();
    let (fa, fg) = (files(&p, "acme", &sec), files(&p, "globex", &ops));
    assert_eq!(fa.len(), 2);
    let ids_before: Vec<String> = c
        .attachments("acme", &sec)
        .unwrap()
        .into_iter()
        .map(|a| format!("{} {}", a.filename, a.media_id))
        .collect();
    p.lose_store();
    p.engine.rebuild().await.unwrap();
    let w = p.write_requests();
    let uploads = |p: &Pair| p.answered("acme", "POST", "/attachments", 200);
    let up = uploads(&p);
    p.converge().await;
    let up_rebuild = uploads(&p) - up;
    let w_rebuild = p.write_requests() - w;
    c.edit_issue(
        "acme",
        &sec,
        ANN,
        &json!({ "fields": { "summary": "Rebuilt comments!" } }),
    )
    .unwrap();
    p.converge().await;
    let after_a: Vec<Value> = comments(&p, "acme", &sec)
        .iter()
        .map(|c| c["body"].clone())
        .collect();
    let after_g: Vec<Value> = comments(&p, "globex", &ops)
        .iter()
        .map(|c| c["body"].clone())
        .collect();
    let ids = |site: &str, key: &str| -> Vec<String> {
        c.attachments(site, key)
            .unwrap()
            .into_iter()
            .map(|a| format!("{} {}", a.filename, a.media_id))
            .collect()
    };
    let now_a = ids("acme", &sec);
    let now_g = ids("globex", &ops);
    assert_eq!(
        after_g, before_g,
        "files now: acme {now_a:?} globex {now_g:?}"
    );
    assert_eq!(
        after_a,
        before_a,
        "files now: acme {now_a:?} (before {ids_before:?}) globex {now_g:?}; first converge after the rebuild: {w_rebuild} writes, {up_rebuild} uploads to acme; in all {} uploads to acme since",
        uploads(&p) - up
    );
    assert_eq!(files(&p, "acme", &sec), fa);
    assert_eq!(files(&p, "globex", &ops), fg);
    // Only the summary edit was written.
    assert!(
        p.write_requests() - w <= 1,
        "{} writes",
        p.write_requests() - w
    );
}

// 23. The store lost; then Ann removes her file: its copy goes (and does not come back to
// acme as a globex file).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_rebuild_a_file_removed_at_its_source_removes_its_copy() {
    let mut p = with_files(|_| {}).await;
    let c = p.sim.control().clone();
    let (sec, ops) = mirrored(&p, "Rebuilt removal").await;
    c.attach("acme", &sec, "old.log", 900).unwrap();
    p.converge().await;
    assert_eq!(names(&p, "globex", &ops), ["old.log"]);
    p.lose_store();
    p.engine.rebuild().await.unwrap();
    p.converge().await;
    c.detach("acme", &sec, "old.log").unwrap();
    p.converge().await;
    c.edit_issue(
        "globex",
        &ops,
        BOB,
        &json!({ "fields": { "summary": "Rebuilt removal!" } }),
    )
    .unwrap();
    p.converge().await;
    assert!(
        names(&p, "acme", &sec).is_empty(),
        "the removed file came back: {:?}",
        names(&p, "acme", &sec)
    );
    assert!(
        names(&p, "globex", &ops).is_empty(),
        "its copy stays: {:?}",
        names(&p, "globex", &ops)
    );
}

// 24. What a semicolon in a file name becomes on the copy (informational).
// Failed before the fix: sim multipart parser splits Content-Disposition on ';' inside the quoted filename: `a;b.txt` arrives as `a`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_semicolon_in_a_file_name_is_kept_on_the_copy() {
    let p = with_files(|_| {}).await;
    let c = p.sim.control();
    let (sec, ops) = mirrored(&p, "Semicolon").await;
    c.attach("acme", &sec, "a;b.txt", 100).unwrap();
    c.attach("acme", &sec, "résumé ✓.txt", 101).unwrap();
    p.converge().await;
    assert_eq!(names(&p, "globex", &ops), names(&p, "acme", &sec));
}

// 11d. The cap raised, then a day passes: copied then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raising_the_cap_copies_a_parked_file_after_a_day() {
    let mut p = with_files(|c| c.max_attachment_size = 4_096).await;
    let c = p.sim.control().clone();
    let (sec, ops) = mirrored(&p, "Raised, a day").await;
    c.attach("acme", &sec, "core.dump", 50_000).unwrap();
    p.converge().await;
    for conn in [sec_c(), ops_c()] {
        p.reconfigure(&conn, |x| x.max_attachment_size = 100_000);
    }
    c.world().clock().advance(chrono::Duration::hours(25));
    c.edit_issue(
        "acme",
        &sec,
        ANN,
        &json!({ "fields": { "summary": "Raised, a day!" } }),
    )
    .unwrap();
    p.converge().await;
    assert_eq!(names(&p, "globex", &ops), ["core.dump"]);
    p.assert_quiet("after the cap was raised").await;
}

// 25. An image comment on each side, one after the other: each site's comments name only
// that site's files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_comments_on_both_sides_each_name_their_own_sites_files() {
    let p = with_files(|_| {}).await;
    let c = p.sim.control();
    let (sec, ops) = mirrored(&p, "Both comment").await;
    let a = c.attach("acme", &sec, "a.png", 1_500).unwrap();
    c.comment_issue(
        "acme",
        &sec,
        ANN,
        &doc(vec![para("acme:"), image(&a.media_id, "a.png")]),
    )
    .unwrap();
    p.converge().await;
    assert!(
        broken_anywhere(&p, "globex", &ops).is_empty(),
        "step 1 globex {:?}",
        broken_anywhere(&p, "globex", &ops)
    );
    assert!(
        broken_anywhere(&p, "acme", &sec).is_empty(),
        "step 1 acme {:?}",
        broken_anywhere(&p, "acme", &sec)
    );
    let g = c.attach("globex", &ops, "g.png", 1_600).unwrap();
    c.comment_issue(
        "globex",
        &ops,
        BOB,
        &doc(vec![para("globex:"), image(&g.media_id, "g.png")]),
    )
    .unwrap();
    p.converge().await;
    assert!(
        broken_anywhere(&p, "globex", &ops).is_empty(),
        "step 2 globex {:?}",
        broken_anywhere(&p, "globex", &ops)
    );
    assert!(
        broken_anywhere(&p, "acme", &sec).is_empty(),
        "step 2 acme {:?}",
        broken_anywhere(&p, "acme", &sec)
    );
    p.assert_quiet("image comments both sides").await;
}

// 26. Bob shows the copy of Ann's file in a new comment of his: acme shows Ann's original.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mirror_comment_showing_the_copy_shows_the_original_on_the_source() {
    let p = with_files(|_| {}).await;
    let c = p.sim.control();
    let (sec, ops, media) = with_image(&p, "Copy in comment").await;
    let copy = c.attachments("globex", &ops).unwrap()[0].media_id.clone();
    c.comment_issue(
        "globex",
        &ops,
        BOB,
        &doc(vec![para("this one:"), image(&copy, "crash.png")]),
    )
    .unwrap();
    p.converge().await;
    let a = comments(&p, "acme", &sec);
    assert_eq!(
        media_ids(&a[0]["body"]),
        vec![media.clone()],
        "{:#}",
        a[0]["body"]
    );
    assert_eq!(names(&p, "acme", &sec), ["crash.png"]);
    assert_eq!(names(&p, "globex", &ops), ["crash.png"]);
    p.assert_quiet("a mirror comment showing the copy").await;
}

// 27. Turning attachments off again: nothing is deleted, images keep showing, quiet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turning_attachments_off_again_keeps_copies_and_images() {
    let mut p = with_files(|_| {}).await;
    let c = p.sim.control().clone();
    let (sec, ops, _) = with_image(&p, "Off again").await;
    for conn in [sec_c(), ops_c()] {
        p.reconfigure(&conn, |x| x.attachments = false);
    }
    let mut edited = description(&p, "acme", &sec);
    edited["content"][0] = para("Steps (files off):");
    set_description(&p, "acme", &sec, ANN, edited);
    p.converge().await;
    assert_eq!(names(&p, "globex", &ops), ["crash.png"]);
    let g = description(&p, "globex", &ops);
    assert_eq!(g["content"][0], para("Steps (files off):"));
    assert!(broken_anywhere(&p, "globex", &ops).is_empty(), "{g:#}");
    p.assert_quiet("attachments off again").await;
    let _ = c;
}
