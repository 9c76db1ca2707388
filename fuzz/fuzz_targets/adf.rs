//! ADF conversion: any text becomes a document and reads back as text; any JSON reads as
//! text without a panic.
#![no_main]

use jira_sync_client::adf::{from_text, to_text};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let doc = from_text(text);
        assert_eq!(doc["type"], "doc");
        // Text through a document and back is stable: a second trip changes nothing (so a
        // description that passes through text twice cannot start an echo).
        let once = to_text(&doc);
        assert_eq!(to_text(&from_text(&once)), once, "{doc}");
    }
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = to_text(&v);
    }
});
