use super::*;

fn doc(content: Value) -> Value {
    json!({ "version": 1, "type": "doc", "content": content })
}

fn para(text: &str) -> Value {
    json!({ "type": "paragraph", "content": [{ "type": "text", "text": text }] })
}

fn image(id: &str, alt: &str) -> Value {
    json!({ "type": "mediaSingle", "attrs": { "layout": "center" }, "content": [
        { "type": "media", "attrs": { "id": id, "type": "file", "collection": "", "alt": alt, "width": 640, "height": 480 } }
    ] })
}

fn mention(id: &str, text: &str) -> Value {
    json!({ "type": "mention", "attrs": { "id": id, "text": text, "accessLevel": "" } })
}

fn sources() -> Sources {
    [(
        "acme".to_owned(),
        (
            "SEC-1".to_owned(),
            "https://acme.example/browse/SEC-1".to_owned(),
        ),
    )]
    .into()
}

/// Every node of `v`, as (type, attrs) pairs: what a site would store.
fn has_tag(v: &Value) -> bool {
    v.to_string().contains(SITE_ATTR)
}

/// A description of site `acme` with an image, a file group, an inline file, a mention and a
/// table holding another image.
fn rich_acme() -> Value {
    doc(json!([
        para("Steps to reproduce:"),
        image("11111111-aaaa", "crash.png"),
        { "type": "mediaGroup", "content": [
            { "type": "media", "attrs": { "id": "22222222-bbbb", "type": "file", "collection": "" } },
            { "type": "media", "attrs": { "id": "33333333-cccc", "type": "file", "collection": "", "alt": "log.txt" } }
        ] },
        { "type": "paragraph", "content": [
            { "type": "text", "text": "see " },
            { "type": "mediaInline", "attrs": { "id": "44444444-dddd", "type": "file", "collection": "", "alt": "trace.txt" } },
            { "type": "text", "text": " and ask " },
            mention("5b10ac8d82e05b22cc7d4ef5", "@Cara"),
        ] },
        { "type": "table", "content": [{ "type": "tableRow", "content": [
            { "type": "tableCell", "content": [image("55555555-eeee", "in-table.png")] },
            { "type": "tableCell", "content": [para("cell")] }
        ] }] }
    ]))
}

#[test]
fn a_body_written_to_another_site_shows_placeholders_and_reads_back_as_the_hub_held_it() {
    let hub = tag(&rich_acme(), "acme");
    // Written on its own site: exactly as read, without the hub's tag.
    assert_eq!(
        for_site(&hub, "acme", &sources(), &Mentions::new()),
        rich_acme()
    );
    // Written on globex: no media node of acme is left, each file is named and linked.
    let mentions: Mentions = [(
        ("acme".to_owned(), "5b10ac8d82e05b22cc7d4ef5".to_owned()),
        Some("globex-cara".to_owned()),
    )]
    .into();
    let mirror = for_site(&hub, "globex", &sources(), &mentions);
    let text = mirror.to_string();
    assert!(!text.contains("aaaa") && !text.contains("eeee") && !text.contains("dddd"));
    assert!(!text.contains("\"media"), "{mirror:#}");
    assert!(!has_tag(&mirror));
    for name in ["crash.png", "a file, log.txt", "trace.txt", "in-table.png"] {
        assert!(text.contains(name), "{name} is named: {mirror:#}");
    }
    assert!(text.contains("https://acme.example/browse/SEC-1"));
    assert!(
        text.contains("globex-cara"),
        "the mention names globex's account"
    );
    // Read back on globex (tagged as globex's), the placeholders are acme's media again.
    let read = tag(&mirror, "globex");
    let back = to_hub(&read, "globex", &[&hub], &sources());
    let mut expected = hub.clone();
    // The mention now names globex's account: the caller recognises its own write by the
    // body's fingerprint, so this form never reaches the hub unedited.
    expected["content"][3]["content"][3] = read["content"][3]["content"][3].clone();
    assert_eq!(back, expected);
}

#[test]
fn a_mention_without_an_account_on_the_target_is_its_display_name() {
    let hub = tag(
        &doc(json!([{ "type": "paragraph", "content": [mention("acc-1", "@Dan")] }])),
        "acme",
    );
    let mentions: Mentions = [(("acme".to_owned(), "acc-1".to_owned()), None)].into();
    assert_eq!(
        foreign_mentions(&hub, "globex"),
        vec![("acme".to_owned(), "acc-1".to_owned())]
    );
    assert!(foreign_mentions(&hub, "acme").is_empty());
    let out = for_site(&hub, "globex", &sources(), &mentions);
    assert_eq!(
        out["content"][0]["content"][0],
        json!({ "type": "text", "text": "@Dan" })
    );
}

#[test]
fn an_edit_on_the_mirror_keeps_the_origin_media_in_place() {
    let hub = tag(&rich_acme(), "acme");
    let mirror = for_site(&hub, "globex", &sources(), &Mentions::new());
    // A person on globex adds a paragraph before the placeholders and fixes the first line.
    let mut edited = mirror.clone();
    edited["content"][0] = para("Steps to reproduce (fixed):");
    edited["content"]
        .as_array_mut()
        .unwrap()
        .insert(1, para("New first step"));
    let back = to_hub(&tag(&edited, "globex"), "globex", &[&hub], &sources());
    // Written back to acme: every media node of acme is where it was.
    let on_acme = for_site(&back, "acme", &sources(), &Mentions::new());
    assert_eq!(on_acme["content"][0], para("Steps to reproduce (fixed):"));
    assert_eq!(on_acme["content"][1], para("New first step"));
    assert_eq!(on_acme["content"][2], rich_acme()["content"][1]);
    assert_eq!(on_acme["content"][3], rich_acme()["content"][2]);
    assert_eq!(on_acme["content"][5], rich_acme()["content"][4]);
}

#[test]
fn a_rewrite_from_a_mirror_or_the_hub_api_never_drops_another_sites_media() {
    let hub = tag(&rich_acme(), "acme");
    // The hub API replaces the description with plain text.
    let text = jira_sync_client::adf::from_text("Rewritten through the hub API");
    let kept = keep_media(&text, &hub, None);
    assert_eq!(kept["content"][0], text["content"][0]);
    let on_acme = for_site(&kept, "acme", &sources(), &Mentions::new()).to_string();
    for id in ["aaaa", "bbbb", "cccc", "dddd", "eeee"] {
        assert!(on_acme.contains(id), "acme's media {id} is kept: {on_acme}");
    }
    // A mirror deleting the placeholders: acme's media stay.
    let gone = to_hub(&tag(&text, "globex"), "globex", &[&hub], &sources());
    assert!(gone.to_string().contains("aaaa"));
    // Acme itself may delete its own image.
    let acme_edit = tag(&text, "acme");
    assert_eq!(to_hub(&acme_edit, "acme", &[&hub], &sources()), acme_edit);
    // Null (cleared) on a mirror keeps them too.
    assert!(
        keep_media(&Value::Null, &hub, Some("globex"))
            .to_string()
            .contains("aaaa")
    );
}

#[test]
fn bodies_without_media_or_mentions_pass_unchanged_and_untagged_media_are_left_alone() {
    let plain = doc(json!([para("a"), { "type": "table", "content": [] }]));
    assert_eq!(tag(&plain, "acme"), plain);
    assert_eq!(
        for_site(&plain, "globex", &sources(), &Mentions::new()),
        plain
    );
    assert_eq!(to_hub(&plain, "globex", &[&plain], &sources()), plain);
    // A document given through the hub API with media of no known site: written as given.
    let given = doc(json!([image("99999999", "x.png")]));
    assert_eq!(
        for_site(&given, "globex", &sources(), &Mentions::new()),
        given
    );
    assert_eq!(tag(&json!("text"), "acme"), json!("text"));
}

#[test]
fn a_placeholder_without_a_source_issue_names_the_site() {
    let hub = tag(&doc(json!([image("1", "a.png")])), "acme");
    let out = for_site(&hub, "globex", &Sources::new(), &Mentions::new());
    assert!(out.to_string().contains("attached on acme"), "{out}");
    let back = to_hub(&tag(&out, "globex"), "globex", &[&hub], &Sources::new());
    assert_eq!(back, hub);
}

#[test]
fn media_anywhere_never_leaks_the_hubs_tag_or_another_sites_id_and_is_never_lost() {
    let bare =
        json!({ "type": "media", "attrs": { "id": "bare-1", "type": "file", "collection": "" } });
    let shapes = [
        // A media node outside any block (not valid ADF, but read as given).
        doc(json!([{ "type": "paragraph", "content": [bare.clone()] }])),
        doc(json!([bare])),
        // Nested in lists, expands, layouts and panels.
        doc(
            json!([{ "type": "bulletList", "content": [{ "type": "listItem", "content": [image("list-1", "")] }] }]),
        ),
        doc(
            json!([{ "type": "expand", "attrs": { "title": "more" }, "content": [image("exp-1", "e.png")] }]),
        ),
        doc(
            json!([{ "type": "layoutSection", "content": [{ "type": "layoutColumn", "attrs": { "width": 50 }, "content": [image("lay-1", "l.png"), para("x")] }] }]),
        ),
        doc(
            json!([{ "type": "panel", "attrs": { "panelType": "info" }, "content": [image("pan-1", "p.png")] }]),
        ),
        rich_acme(),
    ];
    for shape in shapes {
        let hub = tag(&shape, "acme");
        assert_eq!(for_site(&hub, "acme", &sources(), &Mentions::new()), shape);
        let out = for_site(&hub, "globex", &sources(), &Mentions::new());
        assert!(!has_tag(&out), "{out}");
        let mut ids = Vec::new();
        media_units(&hub, &mut ids);
        let ids: Vec<String> = ids.into_iter().flat_map(media_ids).collect();
        assert!(!ids.is_empty());
        for id in &ids {
            assert!(!out.to_string().contains(id.as_str()), "{id} leaked: {out}");
        }
        for read in [out.clone(), Value::Null, doc(json!([para("rewritten")]))] {
            let back = to_hub(&tag(&read, "globex"), "globex", &[&hub], &sources());
            for id in &ids {
                assert!(back.to_string().contains(id.as_str()), "{id} lost: {back}");
            }
        }
        // Read back unchanged, the hub's form comes back exactly (mentions aside: the
        // caller knows its own write of those by the body's fingerprint).
        if !hub.to_string().contains("mention") {
            assert_eq!(
                to_hub(&tag(&out, "globex"), "globex", &[&hub], &sources()),
                hub
            );
        }
    }
}

#[test]
fn repeated_and_same_named_files_each_have_their_own_placeholder() {
    // One file shown twice, and two files under one name.
    let hub = tag(
        &doc(json!([
            image("same", "crash.png"),
            image("same", "crash.png"),
            image("a", "shot.png"),
            para("between"),
            image("b", "shot.png"),
        ])),
        "acme",
    );
    let out = for_site(&hub, "globex", &sources(), &Mentions::new());
    let text = out.to_string();
    assert!(
        text.contains("📎 crash.png #2") && text.contains("📎 shot.png #2"),
        "{out:#}"
    );
    assert_eq!(
        to_hub(&tag(&out, "globex"), "globex", &[&hub], &sources()),
        hub
    );
    // The first `shot.png` placeholder is deleted on the mirror: B keeps its place.
    let mut cut = out.clone();
    cut["content"].as_array_mut().unwrap().remove(2);
    let back = to_hub(&tag(&cut, "globex"), "globex", &[&hub], &sources());
    let ids: Vec<String> = {
        let mut units = Vec::new();
        media_units(&back, &mut units);
        units.into_iter().flat_map(media_ids).collect()
    };
    assert_eq!(ids, ["same", "same", "b", "a"], "{back:#}");
}

#[test]
fn a_placeholder_of_a_file_its_site_deleted_goes_and_an_unmapped_mention_comes_back() {
    let old = tag(
        &doc(json!([
            image("gone", "old.png"),
            { "type": "paragraph", "content": [mention("acc-dan", "@Dan")] },
        ])),
        "acme",
    );
    // acme deleted its image since; globex still shows the old placeholder and Dan as text.
    let mut current = old.clone();
    current["content"].as_array_mut().unwrap().remove(0);
    let unmapped: Mentions = [(("acme".to_owned(), "acc-dan".to_owned()), None)].into();
    let shown = for_site(&old, "globex", &sources(), &unmapped);
    let back = to_hub(
        &tag(&shown, "globex"),
        "globex",
        &[&current, &old],
        &sources(),
    );
    assert_eq!(back, current, "{back:#}");
}

#[test]
fn what_a_site_is_given_keeps_its_own_files_whichever_edit_won() {
    let globex_shows = tag(
        &doc(json!([para("Bob's"), image("g-1", "g.png")])),
        "globex",
    );
    let won = tag(&doc(json!([para("Ann's")])), "acme");
    let kept = keep_own(&won, &globex_shows, "globex");
    assert_eq!(kept["content"][0], para("Ann's"));
    assert_eq!(kept["content"][1], globex_shows["content"][1]);
    // Another site's files in what globex shows are not globex's to keep.
    let other = tag(&doc(json!([image("a-1", "a.png")])), "acme");
    assert_eq!(keep_own(&won, &other, "globex"), won);
    assert_eq!(
        keep_own(&Value::Null, &globex_shows, "globex")["content"][0],
        globex_shows["content"][1]
    );
}

#[test]
fn a_malformed_media_block_is_walked_like_any_container() {
    // Found by the `adf` fuzz target: a `mediaSingle` holding a paragraph with an inline
    // file (Jira would refuse it). Its inner file is placeholdered and restored like any.
    let inline = json!({ "type": "mediaInline", "attrs": { "id": "m4", "type": "file", "collection": "", "alt": "t.txt" } });
    let hub = tag(
        &doc(json!([
            { "type": "paragraph", "content": [inline.clone()] },
            { "type": "mediaSingle", "content": [{ "type": "paragraph", "content": [inline] }] },
        ])),
        "acme",
    );
    let out = for_site(&hub, "globex", &sources(), &Mentions::new());
    assert!(!out.to_string().contains("m4") && !has_tag(&out), "{out}");
    for read in [out, Value::Null] {
        let back = to_hub(&tag(&read, "globex"), "globex", &[&hub], &sources());
        assert_eq!(back.to_string().matches("\"m4\"").count(), 2, "{back}");
    }
}
