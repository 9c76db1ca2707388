//! ADF conversion: any text becomes a document and reads back as text; any JSON reads as
//! text without a panic; and rich text crosses sites (media, mentions, tables, any nesting)
//! without losing a site's media or leaking its ids.
#![no_main]

use jira_sync_client::adf::{from_text, to_text};
use jira_sync_engine::rich::{self, Mentions, Sources};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// The media ids `media` and `mediaInline` nodes of `v` name.
fn media(v: &Value, out: &mut Vec<String>) {
    if matches!(v["type"].as_str(), Some("media" | "mediaInline"))
        && let Some(id) = v["attrs"]["id"].as_str()
    {
        out.push(id.to_owned());
    }
    for c in v["content"].as_array().into_iter().flatten() {
        media(c, out);
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let doc = from_text(text);
        assert_eq!(doc["type"], "doc");
        // Text through a document and back is stable: a second trip changes nothing (so a
        // description that passes through text twice cannot start an echo).
        let once = to_text(&doc);
        assert_eq!(to_text(&from_text(&once)), once, "{doc}");
    }
    if let Ok(v) = serde_json::from_slice::<Value>(data) {
        let _ = to_text(&v);
        if !rich::is_doc(&v) || v.to_string().contains(rich::SITE_ATTR) {
            return;
        }
        let sources: Sources = [("a".to_owned(), ("A-1".to_owned(), "https://a.example/browse/A-1".to_owned()))].into();
        // Read on site a, written back to a: exactly as read.
        let hub = rich::tag(&v, "a");
        assert_eq!(rich::for_site(&hub, "a", &sources, &Mentions::new()), v);
        // Written on site b: no id of a's media is left, and nothing of the hub's own.
        let on_b = rich::for_site(&hub, "b", &sources, &Mentions::new());
        assert!(!on_b.to_string().contains(rich::SITE_ATTR));
        let mut ids = Vec::new();
        media(&hub, &mut ids);
        let mut leaked = Vec::new();
        media(&on_b, &mut leaked);
        assert!(leaked.iter().all(|id| !ids.contains(id)) || ids.is_empty(), "{on_b}");
        // Read back from b (as is, or emptied), every media node of a is still there.
        for read in [on_b.clone(), Value::Null] {
            let back = rich::to_hub(&rich::tag(&read, "b"), "b", &[&hub], &sources);
            let mut kept = Vec::new();
            media(&back, &mut kept);
            for id in &ids {
                assert!(kept.contains(id), "{id} lost: {back}");
            }
        }
    }
});
