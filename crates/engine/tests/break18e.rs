//! Reviewer's attempts to break issue 18 point 7 (attachments mirrored both ways, images
//! shown by the mirror's copy of their file).

use jira_sync_harness::files::*;
use jira_sync_harness::pair::*;
use jira_sync_harness::pair::{ops as ops_c, sec as sec_c};
use jira_sync_harness::rich::*;

const ANN: &str = "ann@acme.example";
const BOB: &str = "bob@globex.example";

// 1. The same file attached twice on one side: two files there, two copies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_file_attached_twice_on_one_side_is_copied_twice() {
    let p = with_files(|_| {}).await;
    let c = p.sim.control();
    let (sec, ops) = mirrored(&p, "Twice").await;
    let bytes: Vec<u8> = (0..900u32).map(|n| (n * 13 % 256) as u8).collect();
    c.attach_bytes("acme", &sec, "twin.bin", bytes.clone())
        .unwrap();
    c.attach_bytes("acme", &sec, "twin.bin", bytes.clone())
        .unwrap();
    p.converge().await;
    assert_eq!(files(&p, "globex", &ops), files(&p, "acme", &sec));
    assert_eq!(names(&p, "globex", &ops), ["twin.bin", "twin.bin"]);
    p.assert_quiet("a file attached twice").await;
    // One of the two removed on acme: one copy goes, one stays.
    c.detach("acme", &sec, "twin.bin").unwrap(); // removes both of that name (sim)
    p.converge().await;
    assert!(names(&p, "globex", &ops).is_empty());
    p.assert_quiet("both removed").await;
}

// 2. A file renamed: removed and attached again under another name (the newest file).
// Failed before the fix: (sim id reuse) the re-attached file gets the removed file's id; merge thinks it is the deleted file, globex keeps ["old-name.txt"], never gets new-name.txt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_file_replaces_its_copy() {
    let p = with_files(|_| {}).await;
    let c = p.sim.control();
    let (sec, ops) = mirrored(&p, "Renamed").await;
    let bytes: Vec<u8> = (0..1_200u32).map(|n| (n * 3 % 256) as u8).collect();
    c.attach_bytes("acme", &sec, "old-name.txt", bytes.clone())
        .unwrap();
    p.converge().await;
    assert_eq!(names(&p, "globex", &ops), ["old-name.txt"]);
    c.detach("acme", &sec, "old-name.txt").unwrap();
    c.attach_bytes("acme", &sec, "new-name.txt", bytes.clone())
        .unwrap();
    p.converge().await;
    assert_eq!(names(&p, "acme", &sec), ["new-name.txt"]);
    assert_eq!(names(&p, "globex", &ops), ["new-name.txt"]);
    p.assert_quiet("after a rename").await;
}

// 2b. The simulator gives a new file the id of a removed one (max + 1 over what is left).
// Failed before the fix: sim bug: new_attachment takes max(remaining ids)+1, so a removed newest file's id (and media id) is given to the next file (10001 twice).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_never_reuses_an_attachment_id() {
    let p = pair(0).await;
    let c = p.sim.control();
    let sec = p.acme_task("Ids", json!({}));
    let a = c.attach("acme", &sec, "a.txt", 10).unwrap();
    c.detach("acme", &sec, "a.txt").unwrap();
    let b = c.attach("acme", &sec, "b.txt", 10).unwrap();
    assert_ne!(a.id, b.id, "Jira never reuses an attachment id");
    assert_ne!(a.media_id, b.media_id);
}

// 2c. A rename where the renamed file is not the newest one (no id reuse in the sim).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_older_file_replaces_its_copy() {
    let p = with_files(|_| {}).await;
    let c = p.sim.control();
    let (sec, ops) = mirrored(&p, "Renamed older").await;
    c.attach("acme", &sec, "first.txt", 500).unwrap();
    c.attach("acme", &sec, "second.txt", 600).unwrap();
    p.converge().await;
    c.detach("acme", &sec, "first.txt").unwrap();
    c.attach("acme", &sec, "first-renamed.txt", 500).unwrap();
    p.converge().await;
    assert_eq!(
        names(&p, "globex", &ops),
        ["first-renamed.txt", "second.txt"]
    );
    assert_eq!(files(&p, "globex", &ops), files(&p, "acme", &sec));
    p.assert_quiet("after a rename").await;
}

// 3. The file removed on acme while Bob edits the text around its copy on globex.
// Failed before the fix: globex's description still names the copy jira-sync deleted (media 2834a2f2-...2711): a broken image left on the mirror.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_removed_at_its_source_while_the_mirror_edits_around_its_copy() {
    let p = with_files(|_| {}).await;
    let c = p.sim.control();
    let (sec, ops, _media) = with_image(&p, "Removed meanwhile").await;
    c.detach("acme", &sec, "crash.png").unwrap();
    let mut edited = description(&p, "globex", &ops);
    edited["content"][0] = para("Steps (globex):");
    set_description(&p, "globex", &ops, BOB, edited);
    p.converge().await;
    assert!(
        names(&p, "globex", &ops).is_empty(),
        "the copy goes with its source"
    );
    let g = description(&p, "globex", &ops);
    assert_eq!(g["content"][0], para("Steps (globex):"));
    let a = description(&p, "acme", &sec);
    assert_eq!(a["content"][0], para("Steps (globex):"), "{a:#}");
    assert!(
        broken(&p, "globex", &ops, &g).is_empty(),
        "globex names a deleted copy: {g:#}"
    );
    assert!(
        names(&p, "acme", &sec).is_empty(),
        "no file comes back to acme"
    );
    p.assert_quiet("after a removal and an edit").await;
}

// 4. The copy deleted by hand on globex while globex's description shows it; Ann then
// edits acme's text.
// Failed before the fix: jira-sync itself WRITES globex a description naming the deleted copy (HubAttachment.media keeps globex's id after the copy is removed by hand).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_deleted_by_hand_while_shown_is_not_shown_as_a_broken_file() {
    let p = with_files(|_| {}).await;
    let c = p.sim.control();
    let (sec, ops, media) = with_image(&p, "Copy deleted").await;
    c.detach("globex", &ops, "crash.png").unwrap();
    p.converge().await;
    let mut edited = description(&p, "acme", &sec);
    edited["content"][2] = para("Since Tuesday.");
    set_description(&p, "acme", &sec, ANN, edited);
    p.converge().await;
    assert!(
        names(&p, "globex", &ops).is_empty(),
        "a copy removed by hand stays removed"
    );
    assert_eq!(
        names(&p, "acme", &sec),
        ["crash.png"],
        "its source keeps the file"
    );
    assert_eq!(
        media_ids(&description(&p, "acme", &sec)),
        vec![media.clone()]
    );
    let g = description(&p, "globex", &ops);
    assert_eq!(g["content"][2], para("Since Tuesday."), "{g:#}");
    assert!(
        broken(&p, "globex", &ops, &g).is_empty(),
        "globex shows a file it no longer has: {g:#}"
    );
    p.assert_quiet("after the copy was deleted").await;
}

// 5. Bob removes the copy's image from globex's description (the simulator, as Jira,
// deletes the copy since no body names it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_copys_image_removed_on_the_mirror_keeps_the_source_and_shows_no_broken_file() {
    let p = with_files(|_| {}).await;
    let (sec, ops, media) = with_image(&p, "Image cut").await;
    let mut cut = description(&p, "globex", &ops);
    cut["content"].as_array_mut().unwrap().remove(1);
    set_description(&p, "globex", &ops, BOB, cut);
    assert!(
        names(&p, "globex", &ops).is_empty(),
        "Jira deleted the copy"
    );
    p.converge().await;
    assert_eq!(names(&p, "acme", &sec), ["crash.png"]);
    assert_eq!(
        media_ids(&description(&p, "acme", &sec)),
        vec![media.clone()]
    );
    let g = description(&p, "globex", &ops);
    assert!(
        broken(&p, "globex", &ops, &g).is_empty(),
        "globex shows a file it no longer has: {g:#}"
    );
    p.assert_quiet("after the copy's image was cut").await;
}

// 6. Images in comments with attachments on: the copy is shown, an edit keeps the source's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_in_a_new_comment_shows_the_copy_and_an_edit_keeps_the_source() {
    let p = with_files(|_| {}).await;
    let c = p.sim.control();
    let (sec, ops) = mirrored(&p, "Comment image").await;
    let shot = c.attach("acme", &sec, "shot.png", 1_024).unwrap();
    c.comment_issue(
        "acme",
        &sec,
        ANN,
        &doc(vec![para("Here:"), image(&shot.media_id, "shot.png")]),
    )
    .unwrap();
    p.converge().await;
    let copy = c.attachments("globex", &ops).unwrap();
    assert_eq!(copy.len(), 1);
    let g = comments(&p, "globex", &ops);
    assert_eq!(g.len(), 1);
    assert_eq!(
        media_ids(&g[0]["body"]),
        vec![copy[0].media_id.clone()],
        "{:#}",
        g[0]["body"]
    );
    p.assert_quiet("a comment with an image").await;
    let cid: u64 = g[0]["id"].as_str().unwrap().parse().unwrap();
    let mut fixed = g[0]["body"].clone();
    fixed["content"][0] = para("Here it is:");
    c.edit_comment("globex", &ops, cid, BOB, &fixed, None)
        .unwrap();
    p.converge().await;
    let a = comments(&p, "acme", &sec);
    assert_eq!(a[0]["body"]["content"][0], para("Here it is:"));
    assert_eq!(
        media_ids(&a[0]["body"]),
        vec![shot.media_id.clone()],
        "{:#}",
        a[0]["body"]
    );
    assert_eq!(names(&p, "acme", &sec), ["shot.png"]);
    assert_eq!(names(&p, "globex", &ops), ["shot.png"]);
    p.assert_quiet("after an edit of the comment's copy").await;
}

// 6b. A comment on globex with globex's own image: acme shows acme's copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_in_a_mirror_comment_reaches_the_source_as_its_copy() {
    let p = with_files(|_| {}).await;
    let c = p.sim.control();
    let (sec, ops) = mirrored(&p, "Mirror comment image").await;
    let shot = c.attach("globex", &ops, "g.png", 2_048).unwrap();
    c.comment_issue(
        "globex",
        &ops,
        BOB,
        &doc(vec![para("From globex:"), image(&shot.media_id, "g.png")]),
    )
    .unwrap();
    p.converge().await;
    let copy = c.attachments("acme", &sec).unwrap();
    assert_eq!(copy.len(), 1);
    let a = comments(&p, "acme", &sec);
    assert_eq!(
        media_ids(&a[0]["body"]),
        vec![copy[0].media_id.clone()],
        "{:#}",
        a[0]["body"]
    );
    p.assert_quiet("a mirror's comment with an image").await;
}

// 7. A file attached on globex and shown in globex's description; Ann edits the text on
// acme around acme's copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mirror_file_shown_on_the_mirror_survives_an_edit_on_the_source() {
    let p = with_files(|_| {}).await;
    let c = p.sim.control();
    let (sec, ops) = mirrored(&p, "Globex image").await;
    let g = c.attach("globex", &ops, "g.png", 3_000).unwrap();
    set_description(
        &p,
        "globex",
        &ops,
        BOB,
        doc(vec![
            para("Look:"),
            image(&g.media_id, "g.png"),
            para("End."),
        ]),
    );
    p.converge().await;
    let copy = c.attachments("acme", &sec).unwrap();
    assert_eq!(copy.len(), 1);
    let a = description(&p, "acme", &sec);
    assert_eq!(media_ids(&a), vec![copy[0].media_id.clone()], "{a:#}");
    p.assert_quiet("globex's image on acme").await;
    let mut edited = a.clone();
    edited["content"][0] = para("Look (acme):");
    set_description(&p, "acme", &sec, ANN, edited);
    p.converge().await;
    let gd = description(&p, "globex", &ops);
    assert_eq!(gd["content"][0], para("Look (acme):"), "{gd:#}");
    assert_eq!(media_ids(&gd), vec![g.media_id.clone()], "{gd:#}");
    assert_eq!(names(&p, "globex", &ops), ["g.png"]);
    assert_eq!(names(&p, "acme", &sec), ["g.png"]);
    p.assert_quiet("after acme's edit around the copy").await;
}

// 8. The store is lost and rebuilt with files and images on both sides.
// Failed before the fix: after lose_store+rebuild the first converge rewrites globex's description with the copy's image twice (appended duplicate), 1 write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuilt_store_keeps_files_and_images_as_they_are() {
    let mut p = with_files(|_| {}).await;
    let c = p.sim.control().clone();
    let (sec, ops, _media) = with_image(&p, "Rebuilt").await;
    c.attach("globex", &ops, "notes.txt", 300).unwrap();
    p.converge().await;
    let acme_before = description(&p, "acme", &sec);
    let globex_before = description(&p, "globex", &ops);
    let acme_files = files(&p, "acme", &sec);
    let globex_files = files(&p, "globex", &ops);
    assert_eq!(acme_files.len(), 2);
    p.lose_store();
    p.engine.rebuild().await.unwrap();
    let before = p.write_requests();
    p.converge().await;
    let wrote = p.write_requests() - before;
    assert_eq!(files(&p, "acme", &sec), acme_files, "no file copied again");
    assert_eq!(
        files(&p, "globex", &ops),
        globex_files,
        "no file copied again"
    );
    let (a, g) = (
        description(&p, "acme", &sec),
        description(&p, "globex", &ops),
    );
    assert_eq!(a, acme_before, "acme {a:#}");
    assert_eq!(g, globex_before, "{wrote} writes; globex {g:#}");
    assert_eq!(
        p.write_requests(),
        before,
        "a rebuilt store writes nothing where the sides agree"
    );
}

// 8b. After a rebuild, a new edit on globex around the copy still reaches acme with acme's
// own image (not a placeholder of globex's copy).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_rebuild_an_edit_around_the_copy_keeps_the_source_image() {
    let mut p = with_files(|_| {}).await;
    let c = p.sim.control().clone();
    let (sec, ops, media) = with_image(&p, "Rebuilt edit").await;
    p.lose_store();
    p.engine.rebuild().await.unwrap();
    p.converge().await;
    let mut edited = description(&p, "globex", &ops);
    edited["content"][0] = para("Steps (after rebuild):");
    set_description(&p, "globex", &ops, BOB, edited);
    p.converge().await;
    let a = description(&p, "acme", &sec);
    assert_eq!(
        a,
        doc(vec![
            para("Steps (after rebuild):"),
            image(&media, "crash.png"),
            para("Since Monday."),
        ]),
        "{a:#}"
    );
    assert_eq!(c.attachments("acme", &sec).unwrap().len(), 1);
    assert_eq!(c.attachments("globex", &ops).unwrap().len(), 1);
    p.assert_quiet("after a rebuild and an edit").await;
}

// 9. Faults (5xx and lost answers) on both sides while files and an image are copied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_during_copies_leave_each_file_once_and_the_image_shown() {
    let p = with_files(|_| {}).await;
    let c = p.sim.control();
    let (sec, ops) = mirrored(&p, "Faulty").await;
    let img = c.attach("acme", &sec, "crash.png", 3_000).unwrap();
    for n in 0..3 {
        c.attach("acme", &sec, &format!("a-{n}.log"), 500 + n)
            .unwrap();
        c.attach("globex", &ops, &format!("g-{n}.log"), 700 + n)
            .unwrap();
    }
    set_description(
        &p,
        "acme",
        &sec,
        ANN,
        doc(vec![para("See:"), image(&img.media_id, "crash.png")]),
    );
    for site in ["acme", "globex"] {
        c.set_faults(
            site,
            jira_sim::faults::FaultSpec {
                close_rate: 0.25,
                error_rate: 0.25,
                seed: 11,
                ..Default::default()
            },
        )
        .unwrap();
    }
    // A dozen rounds at a 25 % error and 25 % close rate hit every kind of write.
    for _ in 0..12 {
        c.world().clock().advance(chrono::Duration::seconds(4));
        let _ = p.engine.run(&sec_c()).await;
        let _ = p.engine.run(&ops_c()).await;
    }
    for site in ["acme", "globex"] {
        c.set_faults(site, Default::default()).unwrap();
    }
    p.converge().await;
    assert_eq!(files(&p, "acme", &sec), files(&p, "globex", &ops));
    assert_eq!(
        names(&p, "acme", &sec).len(),
        7,
        "{:?}",
        names(&p, "acme", &sec)
    );
    let g = description(&p, "globex", &ops);
    let copy = c
        .attachments("globex", &ops)
        .unwrap()
        .into_iter()
        .find(|a| a.filename == "crash.png")
        .unwrap();
    assert_eq!(media_ids(&g), vec![copy.media_id], "{g:#}");
    p.assert_quiet("after faults").await;
}

// 10. A file exactly at the cap is copied; one byte over is parked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_at_the_cap_is_copied_and_one_byte_over_is_not() {
    let p = with_files(|c| c.max_attachment_size = 4_096).await;
    let c = p.sim.control();
    let (sec, ops) = mirrored(&p, "Cap").await;
    c.attach("acme", &sec, "at.bin", 4_096).unwrap();
    c.attach("acme", &sec, "over.bin", 4_097).unwrap();
    p.converge().await;
    assert_eq!(names(&p, "globex", &ops), ["at.bin"]);
    p.assert_quiet("a file at the cap").await;
}

// 11. max_attachment_size raised later: the parked file is copied.
// Failed before the fix: raising max_attachment_size does not copy the parked file (README: parked until the limit changes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raising_the_cap_copies_a_parked_file() {
    let mut p = with_files(|c| c.max_attachment_size = 4_096).await;
    let c = p.sim.control().clone();
    let (sec, ops) = mirrored(&p, "Raised").await;
    c.attach("acme", &sec, "core.dump", 50_000).unwrap();
    p.converge().await;
    assert!(names(&p, "globex", &ops).is_empty());
    for conn in [sec_c(), ops_c()] {
        p.reconfigure(&conn, |x| x.max_attachment_size = 100_000);
    }
    p.converge().await;
    assert_eq!(
        names(&p, "globex", &ops),
        ["core.dump"],
        "copied once the limit changed"
    );
    let link = p.link_of("globex", &ops);
    assert!(
        !link.parked.keys().any(|k| k.starts_with("attachment ")),
        "{:?}",
        link.parked
    );
    p.assert_quiet("after the cap was raised").await;
}

// 11b. Different caps on the two connectors: acme's big file parked for globex; a
// different file of the same name and size on globex must still reach acme (whose cap is
// larger).
// Failed before the fix: merge_attachments' copy_pending skips globex's own core.dump forever (same name+size as acme's file parked for globex), so it never reaches acme.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mirror_file_named_like_a_parked_file_is_still_copied_the_other_way() {
    let mut p = pair(0).await;
    p.reconfigure(&sec_c(), |c| c.attachments = true);
    p.reconfigure(&ops_c(), |c| {
        c.attachments = true;
        c.max_attachment_size = 4_096;
    });
    let c = p.sim.control().clone();
    let (sec, ops) = mirrored(&p, "Caps").await;
    let big: Vec<u8> = vec![1; 8_000];
    let other: Vec<u8> = vec![2; 8_000];
    c.attach_bytes("acme", &sec, "core.dump", big.clone())
        .unwrap();
    p.converge().await;
    assert!(names(&p, "globex", &ops).is_empty());
    c.attach_bytes("globex", &ops, "core.dump", other.clone())
        .unwrap();
    p.converge().await;
    let a = files(&p, "acme", &sec);
    assert!(
        a.contains(&("core.dump".into(), 8_000, other.clone())),
        "globex's file never reaches acme: {:?}",
        a.iter().map(|f| (&f.0, f.1, f.2[0])).collect::<Vec<_>>()
    );
}

// 12. Attachments on only one connector: nothing copied, rich text still placeholders,
// nothing written again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_on_only_one_connector() {
    let mut p = pair(0).await;
    p.reconfigure(&sec_c(), |c| c.attachments = true);
    let c = p.sim.control().clone();
    let (sec, ops) = mirrored(&p, "One side").await;
    let a = c.attach("acme", &sec, "a.png", 1_000).unwrap();
    let g = c.attach("globex", &ops, "g.png", 1_100).unwrap();
    // The description comes after both files (in the same millisecond, `newest` would let
    // globex's attach win the tie).
    p.tick(1);
    set_description(
        &p,
        "acme",
        &sec,
        ANN,
        doc(vec![para("A:"), image(&a.media_id, "a.png")]),
    );
    p.converge().await;
    let mut gd = description(&p, "globex", &ops);
    gd["content"]
        .as_array_mut()
        .unwrap()
        .push(image(&g.media_id, "g.png"));
    set_description(&p, "globex", &ops, BOB, gd);
    p.converge().await;
    let report = format!(
        "acme {:?} globex {:?}",
        names(&p, "acme", &sec),
        names(&p, "globex", &ops)
    );
    let ad = description(&p, "acme", &sec);
    let gd = description(&p, "globex", &ops);
    assert!(broken(&p, "acme", &sec, &ad).is_empty(), "{report} {ad:#}");
    assert!(
        broken(&p, "globex", &ops, &gd).is_empty(),
        "{report} {gd:#}"
    );
    assert_eq!(media_ids(&ad), vec![a.media_id.clone()], "{report} {ad:#}");
    assert_eq!(media_ids(&gd), vec![g.media_id.clone()], "{report} {gd:#}");
    p.assert_quiet("attachments on one connector").await;
}

// 13. An issue with 30 files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_files_are_each_copied_once() {
    let p = with_files(|_| {}).await;
    let c = p.sim.control();
    let (sec, ops) = mirrored(&p, "Thirty").await;
    for n in 0..30u64 {
        c.attach("acme", &sec, &format!("f{n:02}.log"), 100 + n * 10)
            .unwrap();
    }
    p.converge().await;
    assert_eq!(files(&p, "globex", &ops), files(&p, "acme", &sec));
    assert_eq!(names(&p, "globex", &ops).len(), 30);
    p.assert_quiet("thirty files").await;
}

// 14. Binary content holding the multipart boundary the client would pick first, and
// CRLF-dash sequences.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_content_with_the_boundary_inside_is_copied_byte_for_byte() {
    let p = with_files(|_| {}).await;
    let c = p.sim.control();
    let (sec, ops) = mirrored(&p, "Boundary").await;
    // The content's length fixes the first boundary tried; build it to that length.
    let len: u64 = 200;
    let n: u64 = 0x6a09_e667_f3bc_c908 ^ len;
    let b = format!("jira-sync-{n:016x}");
    let mut content: Vec<u8> = Vec::new();
    content.extend_from_slice(b"\r\n--");
    content.extend_from_slice(b.as_bytes());
    content.extend_from_slice(b"\r\n--");
    content.extend_from_slice(b.as_bytes());
    content.extend_from_slice(b"--\r\n\x00\xff\r\n\r\n");
    while (content.len() as u64) < len - 2 {
        content.push(b'-');
    }
    content.extend_from_slice(b"\r\n");
    assert_eq!(content.len() as u64, len);
    c.attach_bytes("acme", &sec, "evil.bin", content.clone())
        .unwrap();
    // Also a file that ends with CRLF and the dashes of a closing delimiter.
    let tail = b"data\r\n--\r\n".to_vec();
    c.attach_bytes("acme", &sec, "tail.bin", tail.clone())
        .unwrap();
    // An empty file.
    c.attach_bytes("acme", &sec, "empty.bin", Vec::new())
        .unwrap();
    p.converge().await;
    assert_eq!(files(&p, "globex", &ops), files(&p, "acme", &sec));
    p.assert_quiet("binary content").await;
}

// 15. File names with quotes, a semicolon, unicode, a newline and a backslash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_file_names_are_copied_once_and_stay_quiet() {
    let p = with_files(|_| {}).await;
    let c = p.sim.control();
    let (sec, ops) = mirrored(&p, "Odd names").await;
    let odd = [
        "crash \"1\".png",
        "a;b.txt",
        "résumé ✓ 日本.txt",
        "line\nbreak.txt",
        "back\\slash.txt",
        "name=x; filename=y.txt",
    ];
    for (n, name) in odd.iter().enumerate() {
        c.attach("acme", &sec, name, 100 + n as u64).unwrap();
    }
    p.converge().await;
    let g = names(&p, "globex", &ops);
    assert_eq!(g.len(), odd.len(), "{g:?}");
    p.assert_quiet("odd names").await;
    assert_eq!(
        names(&p, "acme", &sec).len(),
        odd.len(),
        "{:?}",
        names(&p, "acme", &sec)
    );
}

// 15b. Odd names whose upload answers are lost: matched by name, so never uploaded twice?
// Failed before the fix: same renaming: a lost upload answer for `crash "1".png` is not found by name, uploaded twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_file_names_whose_upload_answers_are_lost_are_not_uploaded_twice() {
    let p = with_files(|_| {}).await;
    let c = p.sim.control();
    let (sec, ops) = mirrored(&p, "Odd lost").await;
    c.attach("acme", &sec, "crash \"1\".png", 321).unwrap();
    c.attach("acme", &sec, "résumé.txt", 222).unwrap();
    c.set_faults(
        "globex",
        jira_sim::faults::FaultSpec {
            close_rate: 0.5,
            seed: 3,
            ..Default::default()
        },
    )
    .unwrap();
    for _ in 0..20 {
        c.world().clock().advance(chrono::Duration::seconds(4));
        let _ = p.engine.run(&sec_c()).await;
        let _ = p.engine.run(&ops_c()).await;
    }
    c.set_faults("globex", Default::default()).unwrap();
    p.converge().await;
    let g = names(&p, "globex", &ops);
    assert_eq!(g.len(), 2, "{g:?}");
    assert_eq!(
        names(&p, "acme", &sec).len(),
        2,
        "{:?}",
        names(&p, "acme", &sec)
    );
    p.assert_quiet("odd names, lost answers").await;
}

// 15c. Odd names and a lost store: the copies are found, not copied again either way.
// Failed before the fix: `crash "1".png` is uploaded as `crash _1_.png`; after a lost store it is not matched by name and is uploaded again (globex: 2x crash _1_.png).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_file_names_after_a_lost_store_are_not_copied_again() {
    let mut p = with_files(|_| {}).await;
    let c = p.sim.control().clone();
    let (sec, ops) = mirrored(&p, "Odd rebuilt").await;
    c.attach("acme", &sec, "crash \"1\".png", 321).unwrap();
    c.attach("acme", &sec, "plain.txt", 222).unwrap();
    p.converge().await;
    p.lose_store();
    p.engine.rebuild().await.unwrap();
    // Files are read when the issue next changes.
    c.edit_issue(
        "acme",
        &sec,
        ANN,
        &json!({ "fields": { "summary": "Odd rebuilt, touched" } }),
    )
    .unwrap();
    p.converge().await;
    assert_eq!(
        names(&p, "globex", &ops).len(),
        2,
        "{:?}",
        names(&p, "globex", &ops)
    );
    assert_eq!(
        names(&p, "acme", &sec).len(),
        2,
        "{:?}",
        names(&p, "acme", &sec)
    );
    p.assert_quiet("odd names after a rebuild").await;
}

// 16. The same image shown twice in a description, and a mediaGroup of two files one of
// which is too large to copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_shown_twice_and_a_group_half_copied() {
    let p = with_files(|c| c.max_attachment_size = 4_096).await;
    let c = p.sim.control();
    let (sec, ops) = mirrored(&p, "Twice shown").await;
    let small = c.attach("acme", &sec, "small.png", 1_000).unwrap();
    let big = c.attach("acme", &sec, "big.png", 9_000).unwrap();
    let group = json!({ "type": "mediaGroup", "content": [
        { "type": "media", "attrs": { "id": small.media_id, "type": "file", "collection": "", "alt": "small.png" } },
        { "type": "media", "attrs": { "id": big.media_id, "type": "file", "collection": "", "alt": "big.png" } }
    ] });
    let body = doc(vec![
        image(&small.media_id, "small.png"),
        para("again"),
        image(&small.media_id, "small.png"),
        group,
    ]);
    set_description(&p, "acme", &sec, ANN, body.clone());
    p.converge().await;
    let g = description(&p, "globex", &ops);
    assert!(broken(&p, "globex", &ops, &g).is_empty(), "{g:#}");
    assert_eq!(names(&p, "globex", &ops), ["small.png"]);
    p.assert_quiet("an image twice, a half-copied group").await;
    // Bob edits the text; acme's body comes back whole.
    let mut edited = g.clone();
    edited["content"][1] = para("again (globex)");
    set_description(&p, "globex", &ops, BOB, edited);
    p.converge().await;
    let mut want = body.clone();
    want["content"][1] = para("again (globex)");
    assert_eq!(description(&p, "acme", &sec), want);
    assert_eq!(names(&p, "acme", &sec), ["big.png", "small.png"]);
    p.assert_quiet("after an edit").await;
}
