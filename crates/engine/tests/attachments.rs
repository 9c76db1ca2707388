//! Issue 18 point 7: with `attachments = true`, files are mirrored both ways
//! (`addAttachment`), matched by name, size and SHA-256 so none is uploaded twice, capped by
//! `max_attachment_size` (larger files are reported and parked), and a file removed from its
//! source is removed from its copies; a copy removed by hand stays removed. Off by default.

use jira_sync_harness::files::*;
use jira_sync_harness::pair::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_copied_both_ways_once_and_removed_with_their_source() {
    let p = with_files(|_| {}).await;
    let c = p.sim.control();
    let (sec, ops) = mirrored(&p, "With files").await;
    c.attach("acme", &sec, "crash.log", 2_000).unwrap();
    p.converge().await;
    // The same bytes on globex, uploaded once.
    assert_eq!(files(&p, "globex", &ops), files(&p, "acme", &sec));
    assert_eq!(names(&p, "globex", &ops), ["crash.log"]);
    c.attach("globex", &ops, "notes.txt", 300).unwrap();
    p.converge().await;
    assert_eq!(names(&p, "acme", &sec), ["crash.log", "notes.txt"]);
    assert_eq!(files(&p, "acme", &sec), files(&p, "globex", &ops));
    p.assert_quiet("files in step").await;

    // Removed from its source: the copy goes. A copy removed by hand stays removed, and
    // its source keeps the file.
    c.detach("acme", &sec, "crash.log").unwrap();
    c.detach("acme", &sec, "notes.txt").unwrap();
    p.converge().await;
    assert!(names(&p, "acme", &sec).is_empty());
    assert_eq!(names(&p, "globex", &ops), ["notes.txt"]);
    p.assert_quiet("after removals").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_already_on_the_target_is_linked_not_uploaded_again() {
    let p = with_files(|_| {}).await;
    let c = p.sim.control();
    let (sec, ops) = mirrored(&p, "Same file").await;
    // Ann and Bob attach the same bytes under the same name (as an upload whose answer was
    // lost leaves it); Bob also has a different file of the same name and size.
    let bytes: Vec<u8> = (0..1_500u32).map(|n| (n * 7 % 256) as u8).collect();
    let other: Vec<u8> = bytes.iter().map(|b| b ^ 0xff).collect();
    c.attach_bytes("acme", &sec, "dump.bin", bytes.clone())
        .unwrap();
    c.attach_bytes("globex", &ops, "dump.bin", bytes.clone())
        .unwrap();
    c.attach_bytes("globex", &ops, "report.bin", other.clone())
        .unwrap();
    p.converge().await;
    let g = files(&p, "globex", &ops);
    assert_eq!(
        g.iter().filter(|f| f.0 == "dump.bin").count(),
        1,
        "matched by name, size and content: not uploaded twice"
    );
    let a = files(&p, "acme", &sec);
    assert_eq!(a.iter().filter(|f| f.0 == "dump.bin").count(), 1);
    assert!(a.contains(&("report.bin".into(), 1_500, other.clone())));
    p.assert_quiet("same file on both sides").await;

    // Same name and size, different content: a different file, copied.
    c.attach_bytes("acme", &sec, "same-size.bin", bytes.clone())
        .unwrap();
    c.attach_bytes("globex", &ops, "same-size.bin", other.clone())
        .unwrap();
    p.converge().await;
    let g = files(&p, "globex", &ops);
    let copies: Vec<&(String, u64, Vec<u8>)> =
        g.iter().filter(|f| f.0 == "same-size.bin").collect();
    assert_eq!(copies.len(), 2, "both contents are on globex");
    p.assert_quiet("two files of one name").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_over_the_size_cap_is_reported_and_not_copied() {
    let p = with_files(|c| c.max_attachment_size = 4_096).await;
    let c = p.sim.control();
    let (sec_key, ops_key) = mirrored(&p, "Big file").await;
    c.attach("acme", &sec_key, "core.dump", 50_000).unwrap();
    c.attach("acme", &sec_key, "small.txt", 100).unwrap();
    p.sim
        .control()
        .world()
        .clock()
        .advance(chrono::Duration::seconds(4));
    p.run(sec()).await;
    let r = p.run(ops()).await;
    assert_eq!(r.files_too_large, 1, "{r:?}");
    assert_eq!(names(&p, "globex", &ops_key), ["small.txt"]);
    let link = p.link_of("globex", &ops_key);
    let parked: Vec<&String> = link
        .parked
        .iter()
        .filter(|(k, _)| k.starts_with("attachment "))
        .map(|(_, v)| &v.message)
        .collect();
    assert_eq!(parked.len(), 1, "{:?}", link.parked);
    assert!(parked[0].contains("core.dump") && parked[0].contains("max_attachment_size"));
    p.assert_quiet("a file too large waits").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_not_mirrored_unless_a_connector_asks() {
    let p = pair(0).await;
    let c = p.sim.control();
    let (sec, ops) = mirrored(&p, "No files").await;
    c.attach("acme", &sec, "crash.log", 2_000).unwrap();
    p.converge().await;
    assert!(names(&p, "globex", &ops).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_whose_answers_are_lost_are_never_made_twice() {
    let p = with_files(|_| {}).await;
    let c = p.sim.control();
    let (acme_key, globex_key) = mirrored(&p, "Flaky").await;
    for n in 0..4 {
        c.attach("acme", &acme_key, &format!("part-{n}.log"), 700 + n)
            .unwrap();
    }
    // globex processes requests but often loses the answer (the upload landed; the
    // daemon cannot know).
    c.set_faults(
        "globex",
        jira_sim::faults::FaultSpec {
            close_rate: 0.4,
            seed: 7,
            ..Default::default()
        },
    )
    .unwrap();
    for _ in 0..20 {
        c.world().clock().advance(chrono::Duration::seconds(4));
        let _ = p.engine.run(&sec()).await;
        let _ = p.engine.run(&ops()).await;
    }
    c.set_faults("globex", Default::default()).unwrap();
    p.converge().await;
    assert_eq!(
        names(&p, "globex", &globex_key),
        ["part-0.log", "part-1.log", "part-2.log", "part-3.log"],
        "each file once"
    );
    assert_eq!(
        files(&p, "globex", &globex_key),
        files(&p, "acme", &acme_key)
    );
    p.assert_quiet("after lost answers").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_shows_the_mirrors_copy_of_its_file_and_reads_back_as_the_original() {
    let p = with_files(|_| {}).await;
    let c = p.sim.control();
    let (sec, ops) = mirrored(&p, "Inline").await;
    let file = c.attach("acme", &sec, "crash.png", 4_000).unwrap();
    let body = json!({ "version": 1, "type": "doc", "content": [
        { "type": "paragraph", "content": [{ "type": "text", "text": "See:" }] },
        { "type": "mediaSingle", "attrs": { "layout": "center" }, "content": [
            { "type": "media", "attrs": { "id": file.media_id, "type": "file", "collection": "", "alt": "crash.png" } }
        ] }
    ] });
    c.edit_issue(
        "acme",
        &sec,
        "ann@acme.example",
        &json!({ "fields": { "description": body } }),
    )
    .unwrap();
    p.converge().await;
    // globex's description names globex's copy of the file: an image, not a placeholder.
    let copy = c.attachments("globex", &ops).unwrap();
    assert_eq!(copy.len(), 1);
    let mirror = c.issue("globex", &ops).unwrap()["fields"]["description"].clone();
    assert_eq!(
        mirror["content"][1]["content"][0]["attrs"]["id"], copy[0].media_id,
        "{mirror:#}"
    );
    assert!(!mirror.to_string().contains(&file.media_id));
    assert_eq!(
        c.issue("acme", &sec).unwrap()["fields"]["description"],
        body,
        "the source is untouched"
    );
    p.assert_quiet("an image shown by its copy").await;

    // Bob edits the text around the image on globex: acme keeps its own image in place.
    let mut edited = mirror.clone();
    edited["content"][0]["content"][0]["text"] = json!("See (from globex):");
    c.edit_issue(
        "globex",
        &ops,
        "bob@globex.example",
        &json!({ "fields": { "description": edited } }),
    )
    .unwrap();
    p.converge().await;
    let acme = c.issue("acme", &sec).unwrap()["fields"]["description"].clone();
    assert_eq!(
        acme["content"][0]["content"][0]["text"],
        "See (from globex):"
    );
    assert_eq!(acme["content"][1], body["content"][1], "{acme:#}");
    assert_eq!(c.attachments("acme", &sec).unwrap().len(), 1);
    assert_eq!(c.attachments("globex", &ops).unwrap().len(), 1);
    p.assert_quiet("after an edit around the copy").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turning_attachments_on_later_replaces_placeholders_with_the_copies() {
    let mut p = pair(0).await;
    let c = p.sim.control().clone();
    let (sec, ops) = mirrored(&p, "Later").await;
    let file = c.attach("acme", &sec, "trace.png", 900).unwrap();
    let image = json!({ "type": "mediaSingle", "attrs": { "layout": "center" }, "content": [
        { "type": "media", "attrs": { "id": file.media_id, "type": "file", "collection": "", "alt": "trace.png" } }
    ] });
    c.edit_issue(
        "acme",
        &sec,
        "ann@acme.example",
        &json!({ "fields": { "description": { "version": 1, "type": "doc", "content": [image] } } }),
    )
    .unwrap();
    p.converge().await;
    let shown = c.issue("globex", &ops).unwrap()["fields"]["description"].clone();
    assert_eq!(
        shown["content"][0]["type"], "paragraph",
        "a placeholder: {shown:#}"
    );
    for conn in [
        jira_sync_harness::pair::sec(),
        jira_sync_harness::pair::ops(),
    ] {
        p.reconfigure(&conn, |x| x.attachments = true);
    }
    // Files of an issue are read when the issue next changes (like a field mapped later).
    c.edit_issue(
        "acme",
        &sec,
        "ann@acme.example",
        &json!({ "fields": { "summary": "Later, touched" } }),
    )
    .unwrap();
    p.converge().await;
    let copy = c.attachments("globex", &ops).unwrap();
    assert_eq!(copy.len(), 1);
    let shown = c.issue("globex", &ops).unwrap()["fields"]["description"].clone();
    assert_eq!(
        shown["content"][0]["content"][0]["attrs"]["id"], copy[0].media_id,
        "{shown:#}"
    );
    p.assert_quiet("placeholders replaced by the copies").await;
}
