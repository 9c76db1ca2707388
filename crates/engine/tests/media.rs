//! Issue 18, rich text across sites: an image in a description or comment is a media node
//! naming a file of its own site. The mirror shows a placeholder that names the file and
//! links to the source issue, never a broken file; edits on the mirror keep the source's
//! media nodes in place (Jira deletes an attachment whose node a rewrite drops); mentions
//! name the person's account on the target where their email maps, else their name as
//! text. A converged pair writes nothing.

use jira_sync_harness::pair::*;
use jira_sync_harness::rich::*;

const ANN: &str = "ann@acme.example";
const BOB: &str = "bob@globex.example";

/// A new acme issue with `crash.png` attached and shown in its description between two
/// paragraphs, mirrored: (acme key, the file's media id, globex key).
async fn with_image(p: &Pair) -> (String, String, String) {
    let c = p.sim.control();
    let sec = p.acme_task("Crash on login", json!({}));
    let file = c.attach("acme", &sec, "crash.png", 48_213).unwrap();
    c.edit_issue(
        "acme",
        &sec,
        ANN,
        &json!({ "fields": { "description": doc(vec![
            para("Steps to reproduce:"),
            image(&file.media_id, "crash.png"),
            para("Seen since Monday."),
        ]) } }),
    )
    .unwrap();
    p.converge().await;
    let ops = key(&p.only_one("globex", "Crash on login"));
    (sec, file.media_id, ops)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_shows_on_the_mirror_as_a_placeholder_linking_to_the_source_issue() {
    let p = pair(0).await;
    let (sec, media, ops) = with_image(&p).await;

    // globex holds no node naming acme's file (it would render as a broken file), but a
    // placeholder with the file's name and a link to SEC's issue, where the image stays.
    let mirror = description(&p, "globex", &ops);
    assert!(media_ids(&mirror).is_empty(), "{mirror:#}");
    let shown = mirror.to_string();
    assert!(shown.contains("crash.png"), "{mirror:#}");
    assert!(shown.contains(&format!("/browse/{sec}")), "{mirror:#}");
    assert_eq!(mirror["content"][0], para("Steps to reproduce:"));
    assert_eq!(mirror["content"][2], para("Seen since Monday."));
    assert_eq!(
        media_ids(&description(&p, "acme", &sec)),
        vec![media.clone()]
    );
    assert_eq!(p.sim.control().attachments("acme", &sec).unwrap().len(), 1);
    // The mirror's placeholder reads back as the hub's image: nothing is written again.
    p.assert_quiet("a description with an image").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_on_the_mirror_keeps_the_image_in_place_on_the_source() {
    let p = pair(0).await;
    let (sec, media, ops) = with_image(&p).await;
    let c = p.sim.control();

    // Bob rewrites the first paragraph on globex, around the placeholder.
    let mut edited = description(&p, "globex", &ops);
    edited["content"][0] = para("Steps to reproduce (on Firefox):");
    c.edit_issue(
        "globex",
        &ops,
        BOB,
        &json!({ "fields": { "description": edited } }),
    )
    .unwrap();
    p.converge().await;
    let acme = description(&p, "acme", &sec);
    assert_eq!(acme["content"][0], para("Steps to reproduce (on Firefox):"));
    assert_eq!(acme["content"][1]["type"], "mediaSingle", "{acme:#}");
    assert_eq!(media_ids(&acme), vec![media.clone()]);
    assert_eq!(acme["content"][2], para("Seen since Monday."));
    assert_eq!(
        c.attachments("acme", &sec).unwrap().len(),
        1,
        "the attachment is not deleted"
    );
    p.assert_quiet("after an edit on the mirror").await;

    // Bob deletes the placeholder: acme's image is not globex's to delete.
    let mut cut = description(&p, "globex", &ops);
    cut["content"].as_array_mut().unwrap().remove(1);
    c.edit_issue(
        "globex",
        &ops,
        BOB,
        &json!({ "fields": { "description": cut } }),
    )
    .unwrap();
    p.converge().await;
    assert_eq!(
        media_ids(&description(&p, "acme", &sec)),
        vec![media.clone()]
    );
    assert_eq!(c.attachments("acme", &sec).unwrap().len(), 1);
    p.assert_quiet("after the placeholder was deleted on the mirror")
        .await;

    // Ann may delete her own image: that reaches the hub and globex's placeholder goes.
    c.edit_issue(
        "acme",
        &sec,
        ANN,
        &json!({ "fields": { "description": doc(vec![para("No image any more.")]) } }),
    )
    .unwrap();
    p.converge().await;
    assert!(c.attachments("acme", &sec).unwrap().is_empty());
    assert_eq!(
        description(&p, "globex", &ops),
        doc(vec![para("No image any more.")])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentions_name_the_persons_account_on_the_target_or_their_name() {
    let p = pair(0).await;
    let c = p.sim.control();
    // Cara works on both sites (one email, an account on each); Dan only on acme.
    let account = |site: &str, name: &str, email: &str| {
        c.create_account(site, person_utc(name, email)).unwrap()
    };
    let cara_acme = account("acme", "Cara", "cara@shared.example");
    let cara_globex = account("globex", "Cara", "cara@shared.example");
    let dan = account("acme", "Dan", "dan@acme.example");
    let mention = |id: &str, text: &str| json!({ "type": "mention", "attrs": { "id": id, "text": text, "accessLevel": "" } });
    let body = doc(vec![json!({ "type": "paragraph", "content": [
        { "type": "text", "text": "Ask " }, mention(&cara_acme, "@Cara"),
        { "type": "text", "text": " or " }, mention(&dan, "@Dan"),
    ] })]);
    let sec = p.acme_task("Who knows", json!({ "description": body }));
    c.comment_issue("acme", &sec, ANN, &body).unwrap();
    p.converge().await;
    let ops = key(&p.only_one("globex", "Who knows"));
    let on_globex = description(&p, "globex", &ops);
    let line = &on_globex["content"][0]["content"];
    assert_eq!(line[1], mention(&cara_globex, "@Cara"), "{on_globex:#}");
    assert_eq!(line[3], json!({ "type": "text", "text": "@Dan" }));
    let comment =
        &p.sim.control().issue("globex", &ops).unwrap()["fields"]["comment"]["comments"][0]["body"];
    assert_eq!(
        comment["content"][0]["content"][1],
        mention(&cara_globex, "@Cara")
    );
    assert_eq!(
        description(&p, "acme", &sec),
        body,
        "the source is untouched"
    );
    p.assert_quiet("mentions mapped across sites").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_in_a_comment_is_a_placeholder_and_an_edit_of_the_copy_keeps_it() {
    let p = pair(0).await;
    let (sec, _, ops) = with_image(&p).await;
    let c = p.sim.control();
    let shot = c.attach("acme", &sec, "screenshot.png", 1_024).unwrap();
    c.comment_issue(
        "acme",
        &sec,
        ANN,
        &doc(vec![para("Here:"), image(&shot.media_id, "screenshot.png")]),
    )
    .unwrap();
    p.converge().await;
    let copy = p.comment_thread("globex", &ops);
    assert_eq!(copy.len(), 1);
    let issue = c.issue("globex", &ops).unwrap();
    let body = &issue["fields"]["comment"]["comments"][0]["body"];
    assert!(media_ids(body).is_empty(), "{body:#}");
    assert!(body.to_string().contains("screenshot.png"));
    p.assert_quiet("a comment with an image").await;

    // Bob fixes the copy's first line: acme's comment keeps its image.
    let cid: u64 = issue["fields"]["comment"]["comments"][0]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let mut fixed = body.clone();
    fixed["content"][0] = para("Here it is:");
    c.edit_comment("globex", &ops, cid, BOB, &fixed, None)
        .unwrap();
    p.converge().await;
    let acme = c.issue("acme", &sec).unwrap();
    let original = &acme["fields"]["comment"]["comments"][0]["body"];
    assert_eq!(original["content"][0], para("Here it is:"));
    assert_eq!(media_ids(original), vec![shot.media_id.clone()]);
    assert_eq!(c.attachments("acme", &sec).unwrap().len(), 2);
    p.assert_quiet("after an edit of the comment's copy").await;
}
