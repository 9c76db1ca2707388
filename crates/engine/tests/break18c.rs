//! Hostile tests of issue 18 point 6: rich text media and mentions across sites (pickers
//! are break18d.rs).

use jira_sync_harness::files::media_of;
use jira_sync_harness::pair::*;
use jira_sync_harness::rich::*;

const ANN: &str = "ann@acme.example";
const BOB: &str = "bob@globex.example";

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// The media ids of the files `site`'s issue `key` has, sorted.
fn att_ids(p: &Pair, site: &str, key: &str) -> Vec<String> {
    sorted(media_of(p, site, key))
}

/// An acme issue whose description is `body(media id)` with one attached `crash.png`,
/// mirrored: (acme key, media id, globex key).
async fn acme_with(
    p: &Pair,
    summary: &str,
    body: impl Fn(&str) -> Value,
) -> (String, String, String) {
    let c = p.sim.control();
    let sec = p.acme_task(summary, json!({}));
    let file = c.attach("acme", &sec, "crash.png", 48_213).unwrap();
    set_description(p, "acme", &sec, ANN, body(&file.media_id));
    p.converge().await;
    let ops = key(&p.only_one("globex", summary));
    (sec, file.media_id, ops)
}

// ---------------------------------------------------------------- Feature 1: rich text

// Failed before the fix: a same-cycle conflict the source (acme) wins writes globex's description without globex's own new image: globex's attachment is deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f1_01_both_sides_edit_one_cycle_mirror_added_its_own_image() {
    let p = pair(0).await;
    let c = p.sim.control();
    let (sec, media, ops) = acme_with(&p, "Conflict", |m| {
        doc(vec![para("Steps"), image(m, "crash.png"), para("Tail")])
    })
    .await;
    // Bob attaches his own file on globex and shows it in the mirror's description.
    let gfile = c.attach("globex", &ops, "trace.log.png", 99).unwrap();
    let mut g = description(&p, "globex", &ops);
    g["content"]
        .as_array_mut()
        .unwrap()
        .push(image(&gfile.media_id, "trace.log.png"));
    set_description(&p, "globex", &ops, BOB, g);
    p.tick(2);
    // A moment later, before any cycle, Ann rewrites acme's first line.
    let mut a = description(&p, "acme", &sec);
    a["content"][0] = para("Steps (Ann)");
    set_description(&p, "acme", &sec, ANN, a);
    p.converge().await;
    let gd = description(&p, "globex", &ops);
    assert_eq!(
        att_ids(&p, "globex", &ops),
        vec![gfile.media_id.clone()],
        "globex's own attachment survives; globex body {gd:#}"
    );
    assert!(media_ids(&gd).contains(&gfile.media_id), "{gd:#}");
    assert_eq!(att_ids(&p, "acme", &sec), vec![media.clone()]);
}

// Failed before the fix: the same image shown twice: after an edit on the mirror the second occurrence comes back to acme as placeholder text, not the image.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f1_02_the_same_image_twice_survives_an_edit_on_the_mirror() {
    let p = pair(0).await;
    let (sec, media, ops) = acme_with(&p, "Twice", |m| {
        doc(vec![
            para("Before"),
            image(m, "crash.png"),
            para("Again:"),
            image(m, "crash.png"),
        ])
    })
    .await;
    let mirror = description(&p, "globex", &ops);
    assert!(media_ids(&mirror).is_empty(), "{mirror:#}");
    p.assert_quiet("the same image twice").await;
    let original = description(&p, "acme", &sec);
    let mut edited = mirror.clone();
    edited["content"][0] = para("Before (Bob)");
    set_description(&p, "globex", &ops, BOB, edited);
    p.converge().await;
    let acme = description(&p, "acme", &sec);
    let mut want = original.clone();
    want["content"][0] = para("Before (Bob)");
    assert_eq!(acme, want, "acme keeps both images in place");
    assert_eq!(media_ids(&acme), vec![media.clone(), media.clone()]);
    p.assert_quiet("after an edit around two copies of one image")
        .await;
}

// Two different images with the same alt; the mirror deletes the first placeholder.
// Failed before the fix: placeholders are matched by text, so the survivor is restored as the deleted image A and B is appended at the end (acme: [between, A, B]); nothing is lost, but the images swap places.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f1_03_two_images_with_the_same_alt_one_placeholder_deleted() {
    let p = pair(0).await;
    let c = p.sim.control();
    let sec = p.acme_task("Same alt", json!({}));
    let a = c.attach("acme", &sec, "shot.png", 1).unwrap();
    let b = c.attach("acme", &sec, "shot.png", 2).unwrap();
    set_description(
        &p,
        "acme",
        &sec,
        ANN,
        doc(vec![
            image(&a.media_id, "shot.png"),
            para("between"),
            image(&b.media_id, "shot.png"),
        ]),
    );
    p.converge().await;
    let ops = key(&p.only_one("globex", "Same alt"));
    p.assert_quiet("two images, one alt").await;
    let mut cut = description(&p, "globex", &ops);
    cut["content"].as_array_mut().unwrap().remove(0);
    set_description(&p, "globex", &ops, BOB, cut);
    p.converge().await;
    let acme = description(&p, "acme", &sec);
    assert_eq!(
        sorted(media_ids(&acme)),
        sorted(vec![a.media_id.clone(), b.media_id.clone()]),
        "{acme:#}"
    );
    assert_eq!(att_ids(&p, "acme", &sec).len(), 2);
    // The image that was not deleted stays where it was (after "between").
    let pos_b = acme["content"]
        .as_array()
        .unwrap()
        .iter()
        .position(|n| media_ids(n) == vec![b.media_id.clone()]);
    eprintln!("acme after: {acme:#}");
    assert_eq!(pos_b, Some(1), "b stays after 'between': {acme:#}");
    p.assert_quiet("after the first of two same-alt placeholders was deleted")
        .await;
}

// Images nested in a table cell, a list item and an expand (the same file three times).
// Failed before the fix: same root cause as f1_02: the 2nd and 3rd occurrences of one media id come back to acme as literal placeholder paragraphs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f1_04_images_inside_table_list_and_expand() {
    let p = pair(0).await;
    let (sec, media, ops) = acme_with(&p, "Nested", |m| {
        doc(vec![
            para("Top"),
            json!({ "type": "table", "content": [{ "type": "tableRow", "content": [
                { "type": "tableCell", "content": [para("cell"), image(m, "crash.png")] }
            ] }] }),
            json!({ "type": "bulletList", "content": [{ "type": "listItem", "content": [
                para("item"), image(m, "crash.png")
            ] }] }),
            json!({ "type": "expand", "attrs": { "title": "more" }, "content": [image(m, "crash.png")] }),
        ])
    })
    .await;
    let mirror = description(&p, "globex", &ops);
    assert!(media_ids(&mirror).is_empty(), "{mirror:#}");
    p.assert_quiet("nested images").await;
    let original = description(&p, "acme", &sec);
    let mut edited = mirror;
    edited["content"][0] = para("Top (Bob)");
    set_description(&p, "globex", &ops, BOB, edited);
    p.converge().await;
    let mut want = original;
    want["content"][0] = para("Top (Bob)");
    assert_eq!(description(&p, "acme", &sec), want);
    assert_eq!(att_ids(&p, "acme", &sec), vec![media]);
    p.assert_quiet("after an edit around nested images").await;
}

// Distinct files nested in a table, list and expand (no duplicate ids).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f1_04b_distinct_images_inside_table_list_and_expand() {
    let p = pair(0).await;
    let c = p.sim.control();
    let sec = p.acme_task("Nested distinct", json!({}));
    let f: Vec<String> = ["a.png", "b.png", "c.png"]
        .iter()
        .map(|n| c.attach("acme", &sec, n, 1).unwrap().media_id)
        .collect();
    let body = doc(vec![
        para("Top"),
        json!({ "type": "table", "content": [{ "type": "tableRow", "content": [
            { "type": "tableCell", "content": [para("cell"), image(&f[0], "a.png")] }
        ] }] }),
        json!({ "type": "bulletList", "content": [{ "type": "listItem", "content": [
            para("item"), image(&f[1], "b.png")
        ] }] }),
        json!({ "type": "expand", "attrs": { "title": "more" }, "content": [image(&f[2], "c.png")] }),
    ]);
    set_description(&p, "acme", &sec, ANN, body.clone());
    p.converge().await;
    let ops = key(&p.only_one("globex", "Nested distinct"));
    let mirror = description(&p, "globex", &ops);
    assert!(media_ids(&mirror).is_empty(), "{mirror:#}");
    p.assert_quiet("nested images").await;
    let mut edited = mirror;
    edited["content"][0] = para("Top (Bob)");
    set_description(&p, "globex", &ops, BOB, edited);
    p.converge().await;
    let mut want = body;
    want["content"][0] = para("Top (Bob)");
    assert_eq!(description(&p, "acme", &sec), want);
    assert_eq!(att_ids(&p, "acme", &sec).len(), 3);
    p.assert_quiet("after an edit around nested images").await;
}

// A mediaInline inside a paragraph: placeholder, edit around it, then deleted on the mirror.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f1_05_media_inline_inside_a_paragraph() {
    let p = pair(0).await;
    let (sec, media, ops) = acme_with(&p, "Inline", |m| {
        doc(vec![
            json!({ "type": "paragraph", "content": [
                { "type": "text", "text": "See " }, inline_file(m, "crash.png"), { "type": "text", "text": " for details." }
            ] }),
            para("Second"),
        ])
    })
    .await;
    let mirror = description(&p, "globex", &ops);
    assert!(media_ids(&mirror).is_empty(), "{mirror:#}");
    assert!(mirror.to_string().contains("crash.png"));
    p.assert_quiet("an inline file").await;
    let original = description(&p, "acme", &sec);
    let mut edited = mirror.clone();
    edited["content"][1] = para("Second (Bob)");
    set_description(&p, "globex", &ops, BOB, edited);
    p.converge().await;
    let mut want = original;
    want["content"][1] = para("Second (Bob)");
    assert_eq!(description(&p, "acme", &sec), want);
    // Bob removes the inline placeholder from the sentence.
    let mut cut = description(&p, "globex", &ops);
    cut["content"][0]["content"]
        .as_array_mut()
        .unwrap()
        .remove(1);
    set_description(&p, "globex", &ops, BOB, cut);
    p.converge().await;
    assert_eq!(
        media_ids(&description(&p, "acme", &sec)),
        vec![media.clone()]
    );
    assert_eq!(att_ids(&p, "acme", &sec), vec![media]);
    p.assert_quiet("after the inline placeholder was deleted")
        .await;
}

// An image that is globex's own (added on the mirror), then edited, cut and cleared on acme.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f1_06_globex_image_edited_cut_and_cleared_on_acme() {
    let p = pair(0).await;
    let c = p.sim.control();
    let sec = p.acme_task(
        "Globex image",
        json!({ "description": doc(vec![para("One")]) }),
    );
    p.converge().await;
    let ops = key(&p.only_one("globex", "Globex image"));
    let g = c.attach("globex", &ops, "g.png", 5).unwrap();
    set_description(
        &p,
        "globex",
        &ops,
        BOB,
        doc(vec![
            para("One"),
            image(&g.media_id, "g.png"),
            para("Three"),
        ]),
    );
    p.converge().await;
    let acme = description(&p, "acme", &sec);
    assert!(media_ids(&acme).is_empty(), "{acme:#}");
    assert!(
        acme.to_string().contains(&format!("/browse/{ops}")),
        "{acme:#}"
    );
    p.assert_quiet("globex image on acme").await;
    // Ann edits around it.
    let mut e = acme.clone();
    e["content"][0] = para("One (Ann)");
    set_description(&p, "acme", &sec, ANN, e);
    p.converge().await;
    assert_eq!(
        description(&p, "globex", &ops),
        doc(vec![
            para("One (Ann)"),
            image(&g.media_id, "g.png"),
            para("Three")
        ])
    );
    // Ann deletes the placeholder.
    let mut cut = description(&p, "acme", &sec);
    cut["content"].as_array_mut().unwrap().remove(1);
    set_description(&p, "acme", &sec, ANN, cut);
    p.converge().await;
    assert_eq!(
        media_ids(&description(&p, "globex", &ops)),
        vec![g.media_id.clone()]
    );
    assert_eq!(att_ids(&p, "globex", &ops), vec![g.media_id.clone()]);
    p.assert_quiet("after acme cut globex's placeholder").await;
    // Ann clears the description.
    set_description(&p, "acme", &sec, ANN, Value::Null);
    p.converge().await;
    assert_eq!(
        media_ids(&description(&p, "globex", &ops)),
        vec![g.media_id.clone()]
    );
    assert_eq!(att_ids(&p, "globex", &ops), vec![g.media_id.clone()]);
    p.assert_quiet("after acme cleared the description").await;
}

fn notes_pair_fields() -> Vec<MirroredField> {
    let f = |id: &str| FieldSpec {
        id: Some(id.into()),
        name: "Notes".into(),
        kind: "textarea".into(),
        options: vec![],
    };
    vec![(
        "notes".into(),
        f("customfield_10300"),
        f("customfield_20300"),
    )]
}

// A paragraph (textarea) custom field with an image: placeholder, edit, then cleared on the mirror.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f1_07_textarea_custom_field_with_an_image() {
    let p = pair_with_fields(0, &notes_pair_fields(), |_, _| {}).await;
    let c = p.sim.control();
    let sec = p.acme_task("Notes", json!({}));
    let f = c.attach("acme", &sec, "n.png", 3).unwrap();
    let body = doc(vec![para("Note"), image(&f.media_id, "n.png"), para("End")]);
    c.edit_issue(
        "acme",
        &sec,
        ANN,
        &json!({ "fields": { "customfield_10300": body } }),
    )
    .unwrap();
    p.converge().await;
    let ops = key(&p.only_one("globex", "Notes"));
    let notes = |site: &str, k: &str, id: &str| c.issue(site, k).unwrap()["fields"][id].clone();
    let m = notes("globex", &ops, "customfield_20300");
    assert!(media_ids(&m).is_empty(), "{m:#}");
    assert!(m.to_string().contains("n.png"), "{m:#}");
    p.assert_quiet("a textarea with an image").await;
    let mut e = m.clone();
    e["content"][0] = para("Note (Bob)");
    c.edit_issue(
        "globex",
        &ops,
        BOB,
        &json!({ "fields": { "customfield_20300": e } }),
    )
    .unwrap();
    p.converge().await;
    let mut want = body.clone();
    want["content"][0] = para("Note (Bob)");
    assert_eq!(notes("acme", &sec, "customfield_10300"), want);
    p.assert_quiet("after an edit of the textarea on the mirror")
        .await;
    c.edit_issue(
        "globex",
        &ops,
        BOB,
        &json!({ "fields": { "customfield_20300": null } }),
    )
    .unwrap();
    p.converge().await;
    assert_eq!(
        media_ids(&notes("acme", &sec, "customfield_10300")),
        vec![f.media_id.clone()]
    );
    assert_eq!(att_ids(&p, "acme", &sec), vec![f.media_id.clone()]);
    p.assert_quiet("after the textarea was cleared on the mirror")
        .await;
}

// The description cleared on the mirror.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f1_08_description_cleared_on_the_mirror() {
    let p = pair(0).await;
    let (sec, media, ops) = acme_with(&p, "Cleared", |m| {
        doc(vec![para("Steps"), image(m, "crash.png")])
    })
    .await;
    set_description(&p, "globex", &ops, BOB, Value::Null);
    p.converge().await;
    assert_eq!(
        media_ids(&description(&p, "acme", &sec)),
        vec![media.clone()]
    );
    assert_eq!(att_ids(&p, "acme", &sec), vec![media]);
    assert!(media_ids(&description(&p, "globex", &ops)).is_empty());
    p.assert_quiet("after the mirror cleared the description")
        .await;
}

fn mention(id: &str, text: &str) -> Value {
    json!({ "type": "mention", "attrs": { "id": id, "text": text, "accessLevel": "" } })
}

// A person with an account on both sites whose email acme hides: plain text on globex.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f1_09_mention_of_a_person_whose_email_is_hidden() {
    let p = pair(0).await;
    let c = p.sim.control();
    let mut hidden = person_utc("Hal", "hal@shared.example");
    hidden.email_visible = Some(false);
    let hal_acme = c.create_account("acme", hidden).unwrap();
    let hal_globex = c
        .create_account("globex", person_utc("Hal", "hal@shared.example"))
        .unwrap();
    let body = doc(vec![json!({ "type": "paragraph", "content": [
        { "type": "text", "text": "Ask " }, mention(&hal_acme, "@Hal")
    ] })]);
    let sec = p.acme_task("Hidden", json!({ "description": body.clone() }));
    p.converge().await;
    let ops = key(&p.only_one("globex", "Hidden"));
    let g = description(&p, "globex", &ops);
    let s = g.to_string();
    assert!(
        !s.contains(&hal_acme),
        "no acme account id on globex: {g:#}"
    );
    assert!(!s.contains(&hal_globex), "hidden email: not mapped: {g:#}");
    assert_eq!(
        g["content"][0]["content"][1],
        json!({ "type": "text", "text": "@Hal" })
    );
    assert_eq!(description(&p, "acme", &sec), body);
    p.assert_quiet("hidden-email mention").await;
}

// Failed before the fix: an edit on the mirror turns the source's mention of a person without a globex account into plain text "@Dan" on acme.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f1_10_edit_on_the_mirror_keeps_the_sources_unmapped_mention() {
    let p = pair(0).await;
    let c = p.sim.control();
    let dan = c
        .create_account("acme", person_utc("Dan", "dan@acme.example"))
        .unwrap();
    let body = doc(vec![
        json!({ "type": "paragraph", "content": [{ "type": "text", "text": "Ask " }, mention(&dan, "@Dan")] }),
        para("Second"),
    ]);
    let sec = p.acme_task("Unmapped mention", json!({ "description": body.clone() }));
    p.converge().await;
    let ops = key(&p.only_one("globex", "Unmapped mention"));
    let mut e = description(&p, "globex", &ops);
    e["content"][1] = para("Second (Bob)");
    set_description(&p, "globex", &ops, BOB, e);
    p.converge().await;
    let acme = description(&p, "acme", &sec);
    assert_eq!(
        acme["content"][0]["content"][1]["type"], "mention",
        "acme keeps Dan's mention: {acme:#}"
    );
    assert_eq!(acme["content"][1], para("Second (Bob)"));
}

// Failed before the fix: after a store rebuild, the mirror's own image (globex's) is dropped: globex's attachment deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f1_11_store_rebuilt_with_images_on_both_sides() {
    let mut p = pair(0).await;
    let c = p.sim.control().clone();
    let (sec, media, ops) = acme_with(&p, "Rebuild", |m| {
        doc(vec![para("Steps"), image(m, "crash.png")])
    })
    .await;
    let g = c.attach("globex", &ops, "g.png", 5).unwrap();
    let mut d = description(&p, "globex", &ops);
    d["content"]
        .as_array_mut()
        .unwrap()
        .push(image(&g.media_id, "g.png"));
    set_description(&p, "globex", &ops, BOB, d);
    p.converge().await;
    p.assert_quiet("images on both sides").await;
    let before = (
        description(&p, "acme", &sec),
        description(&p, "globex", &ops),
    );

    p.lose_store();
    p.engine.rebuild().await.unwrap();
    p.converge().await;
    let after = (
        description(&p, "acme", &sec),
        description(&p, "globex", &ops),
    );
    assert_eq!(att_ids(&p, "acme", &sec), vec![media.clone()]);
    assert_eq!(
        att_ids(&p, "globex", &ops),
        vec![g.media_id.clone()],
        "globex after rebuild: {:#}",
        after.1
    );
    assert_eq!(after, before, "a rebuild changes no body");
    p.assert_quiet("after a rebuild with images").await;
}

// Store rebuilt with only the source's image: no write, image kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f1_12_store_rebuilt_with_a_source_image() {
    let mut p = pair(0).await;
    let (sec, media, ops) = acme_with(&p, "Rebuild 1", |m| {
        doc(vec![para("Steps"), image(m, "crash.png")])
    })
    .await;
    let before = (
        description(&p, "acme", &sec),
        description(&p, "globex", &ops),
    );
    p.lose_store();
    p.engine.rebuild().await.unwrap();
    p.converge().await;
    assert_eq!(
        (
            description(&p, "acme", &sec),
            description(&p, "globex", &ops)
        ),
        before
    );
    assert_eq!(att_ids(&p, "acme", &sec), vec![media]);
    p.assert_quiet("after a rebuild with a source image").await;
    // And the mirror's edit after the rebuild still keeps the image in place.
    let mut e = description(&p, "globex", &ops);
    e["content"][0] = para("Steps (Bob)");
    set_description(&p, "globex", &ops, BOB, e);
    p.converge().await;
    let a = description(&p, "acme", &sec);
    assert_eq!(a["content"][1]["type"], "mediaSingle", "{a:#}");
}

fn comment0(p: &Pair, site: &str, k: &str) -> (u64, Value) {
    let issue = p.sim.control().issue(site, k).unwrap();
    let c = &issue["fields"]["comment"]["comments"][0];
    (
        c["id"].as_str().unwrap().parse().unwrap(),
        c["body"].clone(),
    )
}

// A comment with an image edited on its source.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f1_13_comment_with_an_image_edited_on_the_source() {
    let p = pair(0).await;
    let c = p.sim.control();
    let sec = p.acme_task("Comment src", json!({}));
    let f = c.attach("acme", &sec, "shot.png", 1).unwrap();
    c.comment_issue(
        "acme",
        &sec,
        ANN,
        &doc(vec![para("Here:"), image(&f.media_id, "shot.png")]),
    )
    .unwrap();
    p.converge().await;
    let ops = key(&p.only_one("globex", "Comment src"));
    let (aid, _) = comment0(&p, "acme", &sec);
    c.edit_comment(
        "acme",
        &sec,
        aid,
        ANN,
        &doc(vec![para("Here it is:"), image(&f.media_id, "shot.png")]),
        None,
    )
    .unwrap();
    p.converge().await;
    let (_, copy) = comment0(&p, "globex", &ops);
    assert!(media_ids(&copy).is_empty(), "{copy:#}");
    assert_eq!(copy["content"][0], para("Here it is:"));
    assert!(copy.to_string().contains("shot.png"));
    assert_eq!(att_ids(&p, "acme", &sec), vec![f.media_id.clone()]);
    p.assert_quiet("a comment with an image edited on its source")
        .await;
}

// Failed before the fix: Bob adds globex's own image to the copy; Ann edits her comment later in the same cycle: globex's attachment is deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f1_14_comment_both_edited_mirror_added_its_own_image() {
    let p = pair(0).await;
    let c = p.sim.control();
    let sec = p.acme_task("Comment both", json!({}));
    c.comment_issue("acme", &sec, ANN, &doc(vec![para("Look")]))
        .unwrap();
    p.converge().await;
    let ops = key(&p.only_one("globex", "Comment both"));
    let g = c.attach("globex", &ops, "g.png", 1).unwrap();
    let (gid, _) = comment0(&p, "globex", &ops);
    c.edit_comment(
        "globex",
        &ops,
        gid,
        BOB,
        &doc(vec![para("Look"), image(&g.media_id, "g.png")]),
        None,
    )
    .unwrap();
    p.tick(2);
    let (aid, _) = comment0(&p, "acme", &sec);
    c.edit_comment("acme", &sec, aid, ANN, &doc(vec![para("Look here")]), None)
        .unwrap();
    p.converge().await;
    let (_, copy) = comment0(&p, "globex", &ops);
    assert_eq!(
        att_ids(&p, "globex", &ops),
        vec![g.media_id.clone()],
        "globex's attachment survives; copy {copy:#}"
    );
}

// The mirror's edit is pulled, then the engine restarts before pushing it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f1_15_restart_between_pull_and_push() {
    let mut p = pair(0).await;
    let (sec, media, ops) = acme_with(&p, "Restart", |m| {
        doc(vec![para("Steps"), image(m, "crash.png"), para("Tail")])
    })
    .await;
    let mut cut = description(&p, "globex", &ops);
    cut["content"].as_array_mut().unwrap().remove(1);
    cut["content"][0] = para("Steps (Bob)");
    set_description(&p, "globex", &ops, BOB, cut);
    p.tick(4);
    p.run(jira_sync_harness::pair::ops()).await; // pulls Bob's edit into the hub
    p.reconfigure(&jira_sync_harness::pair::sec(), |_| {}); // a new engine (restart), same store
    p.converge().await;
    let a = description(&p, "acme", &sec);
    assert_eq!(media_ids(&a), vec![media.clone()], "{a:#}");
    assert_eq!(a["content"][0], para("Steps (Bob)"));
    assert_eq!(att_ids(&p, "acme", &sec), vec![media]);
    p.assert_quiet("after a restart between pull and push")
        .await;
}

// Bob types text into the placeholder paragraph itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f1_16_text_typed_into_the_placeholder() {
    let p = pair(0).await;
    let (sec, media, ops) = acme_with(&p, "Typed", |m| {
        doc(vec![para("Steps"), image(m, "crash.png"), para("Tail")])
    })
    .await;
    let mut e = description(&p, "globex", &ops);
    e["content"][1]["content"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "type": "text", "text": " see this" }));
    set_description(&p, "globex", &ops, BOB, e);
    p.converge().await;
    let a = description(&p, "acme", &sec);
    eprintln!("acme after typing into placeholder: {a:#}");
    assert_eq!(media_ids(&a), vec![media.clone()], "{a:#}");
    assert_eq!(att_ids(&p, "acme", &sec), vec![media]);
    let g = description(&p, "globex", &ops);
    assert!(media_ids(&g).is_empty(), "{g:#}");
    p.assert_quiet("after text typed into a placeholder").await;
}

// Failed before the fix: Ann deletes her image; Bob's later edit on the mirror (old placeholder) restores a node naming the deleted attachment: a broken image on acme.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f1_17_source_deletes_image_while_mirror_edits() {
    let p = pair(0).await;
    let (sec, media, ops) = acme_with(&p, "Deleted src", |m| {
        doc(vec![para("Steps"), image(m, "crash.png"), para("Tail")])
    })
    .await;
    set_description(
        &p,
        "acme",
        &sec,
        ANN,
        doc(vec![para("Steps"), para("Tail")]),
    );
    assert!(att_ids(&p, "acme", &sec).is_empty(), "Jira deleted it");
    p.tick(2);
    let mut e = description(&p, "globex", &ops);
    e["content"][2] = para("Tail (Bob)");
    set_description(&p, "globex", &ops, BOB, e);
    p.converge().await;
    let a = description(&p, "acme", &sec);
    let g = description(&p, "globex", &ops);
    eprintln!("acme {a:#}\nglobex {g:#}");
    assert!(
        media_ids(&a)
            .iter()
            .all(|m| att_ids(&p, "acme", &sec).contains(m)),
        "acme names a media id ({media}) whose attachment is gone: {a:#}"
    );
}

// A mapped mention edited on the mirror: acme keeps Cara's acme account.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f1_18_mapped_mention_round_trip_after_mirror_edit() {
    let p = pair(0).await;
    let c = p.sim.control();
    let cara_a = c
        .create_account("acme", person_utc("Cara", "cara@shared.example"))
        .unwrap();
    let cara_g = c
        .create_account("globex", person_utc("Cara", "cara@shared.example"))
        .unwrap();
    let body = doc(vec![
        json!({ "type": "paragraph", "content": [{ "type": "text", "text": "Ask " }, mention(&cara_a, "@Cara")] }),
        para("Second"),
    ]);
    let sec = p.acme_task("Mapped", json!({ "description": body.clone() }));
    p.converge().await;
    let ops = key(&p.only_one("globex", "Mapped"));
    let mut e = description(&p, "globex", &ops);
    assert_eq!(e["content"][0]["content"][1]["attrs"]["id"], json!(cara_g));
    e["content"][1] = para("Second (Bob)");
    set_description(&p, "globex", &ops, BOB, e);
    p.converge().await;
    let mut want = body;
    want["content"][1] = para("Second (Bob)");
    assert_eq!(description(&p, "acme", &sec), want);
    p.assert_quiet("mapped mention after a mirror edit").await;
}

// ---------------------------------------------------------------- more attempts

// The store lost, no rebuild, then cycles (the brief's `lose_store` then converge).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f1_19_store_lost_then_converge_without_rebuild() {
    let mut p = pair(0).await;
    let (sec, media, ops) = acme_with(&p, "Lost", |m| {
        doc(vec![para("Steps"), image(m, "crash.png")])
    })
    .await;
    p.lose_store();
    p.converge().await;
    eprintln!(
        "acme issues {} globex issues {}",
        p.issues("acme").len(),
        p.issues("globex").len()
    );
    assert_eq!(att_ids(&p, "acme", &sec), vec![media.clone()]);
    assert_eq!(media_ids(&description(&p, "acme", &sec)), vec![media]);
    assert!(media_ids(&description(&p, "globex", &ops)).is_empty());
    for i in p.issues("acme").iter().chain(&p.issues("globex")) {
        let d = &i["fields"]["description"];
        let shown = d.to_string();
        assert!(
            media_ids(d).iter().all(|m| shown.contains(m)),
            "{}",
            i["key"]
        );
    }
}

// A mediaGroup of two files: placeholder, deleted on the mirror, kept on the source.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f1_20_media_group_of_two_files() {
    let p = pair(0).await;
    let c = p.sim.control();
    let sec = p.acme_task("Group", json!({}));
    let a = c.attach("acme", &sec, "a.log", 1).unwrap();
    let b = c.attach("acme", &sec, "b.log", 1).unwrap();
    let group = json!({ "type": "mediaGroup", "content": [
        { "type": "media", "attrs": { "id": a.media_id, "type": "file", "collection": "", "alt": "a.log" } },
        { "type": "media", "attrs": { "id": b.media_id, "type": "file", "collection": "", "alt": "b.log" } }
    ] });
    set_description(&p, "acme", &sec, ANN, doc(vec![para("Logs"), group]));
    p.converge().await;
    let ops = key(&p.only_one("globex", "Group"));
    let g = description(&p, "globex", &ops);
    assert!(media_ids(&g).is_empty(), "{g:#}");
    assert!(g.to_string().contains("a.log, b.log"), "{g:#}");
    p.assert_quiet("a media group").await;
    let mut cut = g;
    cut["content"].as_array_mut().unwrap().remove(1);
    set_description(&p, "globex", &ops, BOB, cut);
    p.converge().await;
    assert_eq!(
        sorted(media_ids(&description(&p, "acme", &sec))),
        sorted(vec![a.media_id.clone(), b.media_id.clone()])
    );
    assert_eq!(att_ids(&p, "acme", &sec).len(), 2);
    p.assert_quiet("after the group's placeholder was deleted")
        .await;
}
