//! Files for the tests of attachments: what an issue holds, and a pair that mirrors them.

use serde_json::{Value, json};

use crate::pair::{Pair, key, ops, pair, sec};
use crate::rich::{description, doc, image, media_ids, para, set_description};

/// (file name, size, content) of `site`'s issue `key`, sorted by name.
pub fn files(p: &Pair, site: &str, key: &str) -> Vec<(String, u64, Vec<u8>)> {
    let mut out: Vec<(String, u64, Vec<u8>)> = p
        .sim
        .control()
        .attachments(site, key)
        .unwrap()
        .into_iter()
        .map(|a| (a.filename, a.size, a.content))
        .collect();
    out.sort();
    out
}

pub fn names(p: &Pair, site: &str, key: &str) -> Vec<String> {
    files(p, site, key).into_iter().map(|f| f.0).collect()
}

/// The media ids of the files `site`'s issue `key` has.
pub fn media_of(p: &Pair, site: &str, key: &str) -> Vec<String> {
    p.sim
        .control()
        .attachments(site, key)
        .unwrap()
        .into_iter()
        .map(|a| a.media_id)
        .collect()
}

/// Media ids a body names that are not files of its issue (a broken image).
pub fn broken(p: &Pair, site: &str, key: &str, body: &Value) -> Vec<String> {
    let have = media_of(p, site, key);
    media_ids(body)
        .into_iter()
        .filter(|m| !have.contains(m))
        .collect()
}

pub async fn with_files(edit: impl Fn(&mut jira_sync_config::Connector)) -> Pair {
    let mut p = pair(0).await;
    for c in [sec(), ops()] {
        p.reconfigure(&c, |conn| {
            conn.attachments = true;
            edit(conn);
        });
    }
    p
}

pub async fn mirrored(p: &Pair, summary: &str) -> (String, String) {
    let sec = p.acme_task(summary, json!({}));
    p.converge().await;
    (sec, key(&p.only_one("globex", summary)))
}

/// A mirrored acme issue with `crash.png` attached and shown in its description between
/// two paragraphs, converged: (acme key, globex key, acme media id).
pub async fn with_image(p: &Pair, summary: &str) -> (String, String, String) {
    let c = p.sim.control();
    let (sec, ops) = mirrored(p, summary).await;
    let file = c.attach("acme", &sec, "crash.png", 4_000).unwrap();
    set_description(
        p,
        "acme",
        &sec,
        "ann@acme.example",
        doc(vec![
            para("Steps:"),
            image(&file.media_id, "crash.png"),
            para("Since Monday."),
        ]),
    );
    p.converge().await;
    (sec, ops, file.media_id)
}

pub fn comments(p: &Pair, site: &str, key: &str) -> Vec<Value> {
    p.sim.control().issue(site, key).unwrap()["fields"]["comment"]["comments"]
        .as_array()
        .unwrap()
        .clone()
}

/// Every media id the bodies (description, comments) of `site`'s issue `key` name that is
/// not one of its files, with where.
pub fn broken_anywhere(p: &Pair, site: &str, key: &str) -> Vec<String> {
    let mut out = Vec::new();
    for m in broken(p, site, key, &description(p, site, key)) {
        out.push(format!("description: {m}"));
    }
    for (n, c) in comments(p, site, key).iter().enumerate() {
        for m in broken(p, site, key, &c["body"]) {
            out.push(format!("comment {n}: {m}"));
        }
    }
    out
}
