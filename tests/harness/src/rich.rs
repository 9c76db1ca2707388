//! Rich text for the tests of media and mentions: ADF nodes, and what a site's issue shows.

use serde_json::{Value, json};

use crate::pair::Pair;

/// A `mediaSingle` showing file `media_id` named `name`.
pub fn image(media_id: &str, name: &str) -> Value {
    json!({ "type": "mediaSingle", "attrs": { "layout": "center" }, "content": [
        { "type": "media", "attrs": { "id": media_id, "type": "file", "collection": "", "alt": name, "width": 640, "height": 480 } }
    ] })
}

/// A `mediaInline` for file `media_id` named `name`.
pub fn inline_file(media_id: &str, name: &str) -> Value {
    json!({ "type": "mediaInline", "attrs": { "id": media_id, "type": "file", "collection": "", "alt": name } })
}

/// A paragraph of one text.
pub fn para(text: &str) -> Value {
    json!({ "type": "paragraph", "content": [{ "type": "text", "text": text }] })
}

/// A document of these blocks.
pub fn doc(content: Vec<Value>) -> Value {
    json!({ "version": 1, "type": "doc", "content": content })
}

/// The media ids a document's `media` and `mediaInline` nodes name, in order.
pub fn media_ids(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if v["type"] == "media" || v["type"] == "mediaInline" {
        out.extend(v["attrs"]["id"].as_str().map(str::to_owned));
    }
    for c in v["content"].as_array().into_iter().flatten() {
        out.extend(media_ids(c));
    }
    out
}

/// The description of `site`'s issue `key`.
pub fn description(p: &Pair, site: &str, key: &str) -> Value {
    p.sim.control().issue(site, key).unwrap()["fields"]["description"].clone()
}

/// `who` sets the description of `site`'s issue `key`.
pub fn set_description(p: &Pair, site: &str, key: &str, who: &str, d: Value) {
    p.sim
        .control()
        .edit_issue(site, key, who, &json!({ "fields": { "description": d } }))
        .unwrap();
}
